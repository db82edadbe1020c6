"""Bad input gets a clear one-line message, a documented exit code and no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from tests.fixtures.terminal import CTRL_C, run_in_terminal

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


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # a generous guard only: a hang would fail the test instead of blocking CI
    environment = {k: v for k, v in os.environ.items() if k != "CYBERSCAN_LANG"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "cyberscan.cli", *args], capture_output=True, text=True, timeout=60,
                          env=environment)


def _assert_clean(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 4, proc.stderr  # a message, not a dump


def check(args: list[str], code: int, nl: str, en: str) -> None:
    """The same mistake is told in Dutch by default and in English with --lang en."""
    _assert_clean(run(*args), code, nl)
    _assert_clean(run(*args, "--lang", "en"), code, en)


def test_garbage_domain(dns: LocalDnsServer) -> None:
    check(["scan", "not a domain!", "--nameserver", dns.nameserver], 2, "is geen geldige domeinnaam",
          "not a valid domain name")


def test_ip_address_instead_of_domain(dns: LocalDnsServer) -> None:
    check(["scan", "192.0.2.1", "--nameserver", dns.nameserver], 2, "is een IP-adres", "is an IP address")


def test_domain_that_does_not_exist(dns: LocalDnsServer) -> None:
    check(["scan", "nosuch.ok.test", "--nameserver", dns.nameserver], 3, "bestaat niet", "does not exist")


def test_nameserver_that_refuses(dns: LocalDnsServer) -> None:
    check(["scan", "elsewhere.test", "--nameserver", dns.nameserver], 3, "weigerde of kon niet antwoorden",
          "refused or failed")


def test_nameserver_that_never_answers(dns: LocalDnsServer) -> None:
    check(["scan", "slow.test", "--nameserver", dns.nameserver, "--timeout", "1"], 3, "geen antwoord van",
          "no answer from")


def test_the_language_also_comes_from_the_environment(dns: LocalDnsServer) -> None:
    _assert_clean(run("scan", "192.0.2.1", env={"CYBERSCAN_LANG": "en"}), 2, "is an IP address")
    _assert_clean(run("scan", "192.0.2.1", "--lang", "nl", env={"CYBERSCAN_LANG": "en"}), 2, "is een IP-adres")


def test_unreachable_nameserver() -> None:
    proc = run("scan", "ok.test", "--nameserver", f"127.0.0.1:{_free_udp_port()}", "--timeout", "1")
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "ok.test" in proc.stderr


@pytest.mark.parametrize(
    ("args", "nl", "en"),
    [
        (["scan", "ok.test", "--nameserver", "dns.example"], "--nameserver", "--nameserver"),
        (["scan", "ok.test", "--nameserver", "dns.example"], "is geen IP of IP:POORT", "is not IP or IP:PORT"),
        (["scan", "ok.test", "--profile", "nope"], "onbekend profiel", "unknown profile"),
        (["scan", "ok.test", "--format", "pdfx"], "onbekend formaat", "unknown format"),
        (["scan", "ok.test", "--timeout", "-1"], "--timeout", "--timeout"),
        (["scan", "ok.test", "--timeout", "-1"], "Ongeldige waarde voor", "Invalid value for"),
        (["scan", "ok.test", "--fail-on", "huge"], "is geen van", "is not one of"),
        (["scan", "ok.test", "--no-such-option"], "Onbekende optie", "No such option"),
        (["scan"], "geef een of meer domeinen, of --targets BESTAND", "give one or more domains, or --targets FILE"),
        (["scan", "ok.test", "--timeout", "-1"], "Probeer 'cyberscan scan --help'", "Try 'cyberscan scan --help'"),
    ],
)
def test_bad_options(args: list[str], nl: str, en: str) -> None:
    check(args, 2, nl, en)


def test_help_is_dutch_by_default_and_english_on_request() -> None:
    dutch = run("scan", "--help")
    assert dutch.returncode == 0
    assert "Gebruik:" in dutch.stdout and "Opties" in dutch.stdout and "Toon dit bericht en stop." in dutch.stdout
    assert "Scan een of meer DOMEINEN" in dutch.stdout
    english = run("scan", "--help", "--lang", "en")
    assert "Usage:" in english.stdout and "Show this message and exit." in english.stdout
    assert "Scan one or more DOMAINS" in english.stdout
    group = run("--help")
    assert "Opdrachten:" in group.stdout and "Beantwoord vragen" in group.stdout


def test_one_good_and_one_bad_domain_scans_the_good_one(dns: LocalDnsServer) -> None:
    for lang, needle in (("nl", "bestaat niet"), ("en", "does not exist")):
        proc = run("scan", "ok.test", "nosuch.ok.test", "--nameserver", dns.nameserver, "--format", "json",
                   "--timeout", "2", "--lang", lang)
        assert proc.returncode == 3
        assert '"targets": [\n    "ok.test"\n  ]' in proc.stdout
        assert needle in proc.stderr


def test_domain_with_broken_dnssec_behind_a_validating_resolver_is_still_scanned(dns: LocalDnsServer) -> None:
    proc = run("scan", "bogus.test", "--nameserver", dns.nameserver, "--format", "json", "--timeout", "2")
    assert proc.returncode == 0, proc.stderr
    assert '"bogus.test"' in proc.stdout


def test_broken_answers_file_on_scan_names_line_and_question(dns: LocalDnsServer, tmp_path: Path) -> None:
    answers = tmp_path / "antwoorden.yaml"
    answers.write_text("answers:\n  q.backup.ofline: ja\n", encoding="utf-8")
    args = ["scan", "ok.test", "--nameserver", dns.nameserver, "--answers", str(answers)]
    check(args, 2, "regel 2: onbekende vraag 'q.backup.ofline'", "line 2: unknown question id 'q.backup.ofline'")


def test_missing_answers_file_on_scan(dns: LocalDnsServer, tmp_path: Path) -> None:
    args = ["scan", "ok.test", "--nameserver", dns.nameserver, "--answers", str(tmp_path / "none.yaml")]
    check(args, 4, "kan het antwoordenbestand", "cannot read answers file")
    check(args, 4, "bestaat niet", "no such file")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize(("lang", "prompt", "said"), [("nl", b"[j/N] ", b"niets gescand"), ("en", b"[y/N] ", b"nothing was scanned")])
def test_ctrl_c_at_the_port_scan_question_stops_cleanly(tmp_path: Path, lang: str, prompt: bytes, said: bytes) -> None:
    args = ["scan", "museum.test", "--ports", "--nameserver", f"127.0.0.1:{_free_udp_port()}", "--lang", lang]
    run_ = run_in_terminal(args, [], CTRL_C, cwd=tmp_path, prompt=[prompt])
    assert not run_.hung and not run_.problem, run_.output
    assert run_.code == 130, run_.output
    assert said in run_.output and b"Traceback" not in run_.output
