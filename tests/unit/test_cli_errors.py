"""Bad input gets a clear one-line message, a documented exit code and no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cyberscan.demo.localdns import LocalDnsServer, ZoneSet

ZONE = """
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
"""


@pytest.fixture(scope="module")
def dns() -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    zones.add_text("ok.test.", ZONE)
    zones.add_text("slow.test.", ZONE)
    zones.hang.add("slow.test")
    zones.add_text("bogus.test.", ZONE)
    zones.bogus.add("bogus.test")
    with LocalDnsServer(zones) as server:
        yield server


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # a generous guard only: a hang would fail the test instead of blocking CI
    return subprocess.run([sys.executable, "-m", "cyberscan.cli", *args], capture_output=True, text=True, timeout=60)


def _assert_clean(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr


def test_garbage_domain(dns: LocalDnsServer) -> None:
    _assert_clean(run("scan", "not a domain!", "--nameserver", dns.nameserver), 2, "not a valid domain name")


def test_ip_address_instead_of_domain(dns: LocalDnsServer) -> None:
    _assert_clean(run("scan", "192.0.2.1", "--nameserver", dns.nameserver), 2, "is an IP address")


def test_domain_that_does_not_exist(dns: LocalDnsServer) -> None:
    _assert_clean(run("scan", "nosuch.ok.test", "--nameserver", dns.nameserver), 3, "does not exist")


def test_nameserver_that_refuses(dns: LocalDnsServer) -> None:
    _assert_clean(run("scan", "elsewhere.test", "--nameserver", dns.nameserver), 3, "refused or failed")


def test_nameserver_that_never_answers(dns: LocalDnsServer) -> None:
    proc = run("scan", "slow.test", "--nameserver", dns.nameserver, "--timeout", "1")
    _assert_clean(proc, 3, "no answer from")


def test_unreachable_nameserver() -> None:
    proc = run("scan", "ok.test", "--nameserver", f"127.0.0.1:{_free_udp_port()}", "--timeout", "1")
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "ok.test" in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["scan", "ok.test", "--nameserver", "dns.example"], "--nameserver"),
        (["scan", "ok.test", "--profile", "nope"], "unknown profile"),
        (["scan", "ok.test", "--format", "pdfx"], "unknown format"),
        (["scan", "ok.test", "--timeout", "-1"], "--timeout"),
    ],
)
def test_bad_options(args: list[str], needle: str) -> None:
    _assert_clean(run(*args), 2, needle)


def test_one_good_and_one_bad_domain_scans_the_good_one(dns: LocalDnsServer) -> None:
    proc = run("scan", "ok.test", "nosuch.ok.test", "--nameserver", dns.nameserver, "--format", "json", "--timeout", "2")
    assert proc.returncode == 3
    assert '"targets": [\n    "ok.test"\n  ]' in proc.stdout
    assert "does not exist" in proc.stderr


def test_domain_with_broken_dnssec_behind_a_validating_resolver_is_still_scanned(dns: LocalDnsServer) -> None:
    proc = run("scan", "bogus.test", "--nameserver", dns.nameserver, "--format", "json", "--timeout", "2")
    assert proc.returncode == 0, proc.stderr
    assert '"bogus.test"' in proc.stdout


def test_broken_answers_file_on_scan_names_line_and_question(dns: LocalDnsServer, tmp_path: Path) -> None:
    answers = tmp_path / "antwoorden.yaml"
    answers.write_text("answers:\n  q.backup.ofline: ja\n", encoding="utf-8")
    proc = run("scan", "ok.test", "--nameserver", dns.nameserver, "--answers", str(answers))
    _assert_clean(proc, 2, "q.backup.ofline")
    assert "line 2" in proc.stderr


def test_missing_answers_file_on_scan(dns: LocalDnsServer, tmp_path: Path) -> None:
    _assert_clean(run("scan", "ok.test", "--nameserver", dns.nameserver, "--answers", str(tmp_path / "none.yaml")), 4, "cannot read answers file")
