"""Consent on the command line: port checks run only with --ports AND the user's confirmation."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cyberscan.cli import main
from cyberscan.commands.scan import confirm_authorised
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet

ZONE = """
$TTL 300
@   SOA ns.museum.test. hostmaster.museum.test. 1 3600 600 86400 300
@   NS  ns
ns  A   127.0.43.1
@   A   127.0.43.1
www A   127.0.43.1
"""


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    zones.add_text("museum.test.", ZONE)
    with LocalDnsServer(zones) as server:
        yield server


def _scan(dns_server: LocalDnsServer, tmp_path: Path, *flags: str) -> tuple[Any, dict[str, Any]]:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        ["scan", "museum.test", "--nameserver", dns_server.nameserver, "--allow-private", "--timeout", "1",
         "--format", "json", "--output", str(out), "--no-progress", "--lang", "en", *flags],
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    return result, json.loads(out.read_text())


def _net_messages(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["status"], r["message"]) for r in report["results"] if r["check_id"].startswith("net.")}


def test_without_ports_the_net_checks_are_skipped_and_nothing_is_scanned(dns_server: LocalDnsServer, tmp_path: Path) -> None:
    _, report = _scan(dns_server, tmp_path)
    assert _net_messages(report) == {("skipped", "skipped.active-not-requested")}
    assert not any(f["probe"] == "net.ports" for f in report["facts"])
    assert report["options"]["ports"] is False


def test_ports_without_confirmation_in_a_script_are_refused(dns_server: LocalDnsServer, tmp_path: Path) -> None:
    result, report = _scan(dns_server, tmp_path, "--ports")
    assert "--i-am-authorised" in result.output  # the reason, on standard error
    assert _net_messages(report) == {("skipped", "skipped.not-authorised")}
    assert not any(f["probe"] == "net.ports" for f in report["facts"])
    assert report["options"]["authorised"] is False


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "expected"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_the_one_time_question_on_a_terminal(monkeypatch: pytest.MonkeyPatch, answer: str, expected: bool) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    assert confirm_authorised(["museum.test"], "en") is expected
