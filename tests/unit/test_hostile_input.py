"""Answers files and accepted-risk files are input we do not control. Whatever they hold, each command
that reads one ends with one clear line and exit 2: never a traceback, never exit 1, never MemoryError.

    cyberscan scan DOMAIN --answers FILE
    cyberscan questionnaire -o FILE
    cyberscan report SCAN.json --accepted FILE
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberscan import catalogue as catalogue_mod
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.errors import ConfigError
from cyberscan.questionnaire import Answers, parse_answers
from cyberscan.risks import parse_risks

ZONE = """
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
"""


def billion_laughs() -> str:
    """The classic entity-expansion bomb in YAML: nine levels of nine aliases (10^9 "lol"s), 513 bytes."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    text = "\n".join(lines) + "\n"
    text += "#" * (512 - len(text)) + "\n"
    assert len(text.encode()) == 513
    return text


DEEP = "[" * 10_000
BIG_NUMBER = "9" * 5_000

# case -> (answers file content, accepted-risks file content); None content: a special file (see _file)
CASES: dict[str, tuple[str | None, str | None]] = {
    "billion-laughs": (billion_laughs(), billion_laughs()),
    "dev-zero": (None, None),
    "ten-megabytes": (None, None),
    "2026-02-30": (
        "answers:\n  q.backup.restore_test: 2026-02-30\n",
        "accepted:\n  - finding: web.hsts\n    reason: r\n    who: w\n    expires: 2026-02-30\n",
    ),
    "0000-01-01": (
        "answers:\n  q.backup.restore_test: 0000-01-01\n",
        "accepted:\n  - finding: web.hsts\n    reason: r\n    who: w\n    expires: 0000-01-01\n",
    ),
    "5000-digits": (
        f"answers:\n  q.backup.copies: {BIG_NUMBER}\n",
        f"accepted:\n  - finding: web.hsts\n    reason: r\n    who: w\n    expires: {BIG_NUMBER}\n",
    ),
    "10000-brackets": (f"answers: {DEEP}\n", f"accepted: {DEEP}\n"),
    "skipped-5": ("skipped: 5\n", "skipped: 5\n"),
    "lang-list": ("lang: [1]\n", "lang: [1]\n"),
    "updated-mapping": ("updated: {a: b}\n", "updated: {a: b}\n"),
}
# what the one line says (Dutch, the default), per case, for an answers file and a risks file
SAYS: dict[str, tuple[str, str]] = {
    "billion-laughs": ("verwijzingen", "verwijzingen"),
    "dev-zero": ("groter dan", "groter dan"),
    "ten-megabytes": ("groter dan", "groter dan"),
    "2026-02-30": ("regel 2: '2026-02-30' is geen bestaande datum", "regel 5: '2026-02-30' is geen bestaande datum"),
    "0000-01-01": ("regel 2: '0000-01-01' is geen bestaande datum", "regel 5: '0000-01-01' is geen bestaande datum"),
    "5000-digits": ("regel 2: een getal van meer dan", "regel 5: een getal van meer dan"),
    "10000-brackets": ("niveaus diep", "niveaus diep"),
    "skipped-5": ("regel 1: 'skipped' moet een lijst", "regel 1: onbekend veld 'skipped'"),
    "lang-list": ("regel 1: 'lang' moet nl of en zijn", "regel 1: onbekend veld 'lang'"),
    "updated-mapping": ("regel 1: 'updated' moet een datum zijn", "regel 1: onbekend veld 'updated'"),
}


@pytest.fixture(scope="module")
def dns() -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    zones.add_text("ok.test.", ZONE)
    with LocalDnsServer(zones) as server:
        yield server


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CYBERSCAN_LANG"}
    return subprocess.run([sys.executable, "-m", "cyberscan.cli", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


@pytest.fixture(scope="module")
def saved_scan(dns: LocalDnsServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    path = folder / "scan.json"
    proc = run("scan", "ok.test", "--nameserver", dns.nameserver, "--timeout", "2", "--format", "json",
               "-o", str(path), cwd=folder)
    assert path.is_file(), proc.stderr
    return path


def _file(tmp_path: Path, case: str, content: str | None) -> Path:
    if case == "dev-zero":
        return Path("/dev/zero")
    path = tmp_path / f"{case}.yaml"
    if case == "ten-megabytes":
        path.write_text("answers:\n" + ("  # " + "x" * 92 + "\n") * 105_000, encoding="utf-8")  # valid YAML, 10 MB
        assert path.stat().st_size >= 10 * 1000 * 1000
        return path
    assert content is not None
    path.write_text(content, encoding="utf-8")
    return path


def _assert_one_clear_line(proc: subprocess.CompletedProcess[str], needle: str, name: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("cyberscan: ") and name in lines[0], lines[0]
    assert needle in lines[0], lines[0]
    assert len(lines[0]) < 400, lines[0]


@pytest.mark.parametrize("case", list(CASES))
def test_scan_with_a_hostile_answers_file(case: str, dns: LocalDnsServer, tmp_path: Path) -> None:
    path = _file(tmp_path, case, CASES[case][0])
    proc = run("scan", "ok.test", "--nameserver", dns.nameserver, "--answers", str(path), cwd=tmp_path)
    _assert_one_clear_line(proc, SAYS[case][0], path.name)


@pytest.mark.parametrize("case", list(CASES))
def test_questionnaire_with_a_hostile_answers_file(case: str, tmp_path: Path) -> None:
    path = _file(tmp_path, case, CASES[case][0])
    before = path.read_bytes() if path.is_file() and path.stat().st_size < 1_000_000 else None
    proc = run("questionnaire", "-o", str(path), cwd=tmp_path)
    _assert_one_clear_line(proc, SAYS[case][0], path.name)
    if before is not None:
        assert path.read_bytes() == before  # never overwritten


@pytest.mark.parametrize("case", list(CASES))
def test_report_with_a_hostile_accepted_risks_file(case: str, saved_scan: Path, tmp_path: Path) -> None:
    path = _file(tmp_path, case, CASES[case][1])
    proc = run("report", str(saved_scan), "--accepted", str(path), cwd=tmp_path)
    _assert_one_clear_line(proc, SAYS[case][1], path.name)


def test_english_on_request(dns: LocalDnsServer, tmp_path: Path) -> None:
    path = _file(tmp_path, "2026-02-30", CASES["2026-02-30"][0])
    proc = run("scan", "ok.test", "--nameserver", dns.nameserver, "--answers", str(path), "--lang", "en", cwd=tmp_path)
    _assert_one_clear_line(proc, "line 2: '2026-02-30' is not a real date", path.name)


# ------------------------------------------------------------------ total on any YAML value

_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
            | st.dates(min_value=date(1, 1, 1)) | st.sampled_from(["nl", "en", "yes", "q.backup.offline", "2026-01-01"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6) | st.sampled_from(["name", "phone", "finding", "kind"]), inner, max_size=3), max_leaves=8)
_ANSWER_KEYS = st.sampled_from(["cyberscan-answers", "lang", "profile", "updated", "skipped", "answers",
                                "q.backup.offline", "q.backup.rto", "q.contact.coordinator", "q.nope"]) | st.text(max_size=8)
_RISK_KEYS = st.sampled_from(["cyberscan-accepted", "accepted", "lang"]) | st.text(max_size=8)
_RISK_ENTRY = st.dictionaries(st.sampled_from(["finding", "kind", "reason", "who", "expires", "status", "x"]), _VALUES)


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_ANSWER_KEYS, _VALUES | st.dictionaries(_ANSWER_KEYS, _VALUES, max_size=4), max_size=6))
def test_parse_answers_is_total_on_any_yaml_value(data: dict[Any, Any]) -> None:
    try:
        answers = parse_answers(_dump(data), catalogue_mod.builtin(), where="a.yaml")
    except ConfigError as exc:
        assert exc.message("nl") and exc.message("en")
        return
    assert isinstance(answers, Answers) and answers.lang in ("nl", "en")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_RISK_KEYS, _VALUES | st.lists(_RISK_ENTRY | _VALUES, max_size=3), max_size=4))
def test_parse_risks_is_total_on_any_yaml_value(data: dict[Any, Any]) -> None:
    try:
        parse_risks(_dump(data), where="r.yaml")
    except ConfigError as exc:
        assert exc.message("nl") and exc.message("en")
