"""`cyberscan report`: a saved JSON scan judged again under the current catalogue, with answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cyberscan import registry as registry_mod
from cyberscan.cli import main
from cyberscan.demo import scan_demo
from cyberscan.render import Report, render

ANSWERS = """\
cyberscan-answers: 1
answers:
  q.backup.offline: nee
  q.ir.plan: ja
  q.scope.nis2: "yes"
  q.contact.coordinator: {name: "Jan de Vries", phone: "06-12345678"}
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scan") / "scan.json"
    path.write_text(render("json", Report(scan_demo(), "nl"), registry_mod.load()), encoding="utf-8")
    return path


def invoke(*args: str) -> object:
    return CliRunner().invoke(main, ["report", *args], catch_exceptions=False)


def test_report_rejudges_and_adds_answers_to_the_readiness(saved: Path, tmp_path: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text(ANSWERS, encoding="utf-8")
    out = tmp_path / "r.json"
    result = invoke(str(saved), "--answers", str(answers), "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    data = json.loads(out.read_text(encoding="utf-8"))
    stored = json.loads(saved.read_text(encoding="utf-8"))
    scan_ids = {r["check_id"] for r in stored["results"]}
    assert scan_ids <= {r["check_id"] for r in data["results"]}
    self_reported = {r["check_id"]: r for r in data["results"] if r["source"] == "self-reported"}
    assert set(self_reported) == {"q.backup.offline", "q.ir.plan", "q.scope.nis2"}
    items = {i["id"]: i for fw in data["readiness"]["frameworks"] for i in fw["items"]}
    assert items["den.check.backup"]["status"] == "gap"
    assert items["ir.prepare.plan"]["status"] == "ok"
    assert any(e["check_id"] == "q.backup.offline" for e in items["ir.prepare.backup"]["evidence"])
    assert "Jan de Vries" not in out.read_text(encoding="utf-8")  # contacts never reach the JSON report


def test_report_prints_the_incident_sheet_with_contacts(saved: Path, tmp_path: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text(ANSWERS, encoding="utf-8")
    out = tmp_path / "sheet.html"
    result = invoke(str(saved), "--answers", str(answers), "--format", "incident-sheet", "--lang", "en", "-o", str(out))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    html = out.read_text(encoding="utf-8")
    assert "Digital security incident sheet" in html
    assert "Jan de Vries" in html and "06-12345678" in html
    assert "within 24 hours" in html and "Your organisation is in scope of NIS2" in html
    assert "72 hours" in html


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda p: None, 4, "cannot read"),
        (lambda p: p.write_text("{not json", encoding="utf-8"), 2, "not a cyberscan JSON report"),
        (lambda p: p.write_text('{"results": []}', encoding="utf-8"), 2, "not a usable cyberscan report"),
    ],
)
def test_unreadable_results_give_a_message_not_a_traceback(
    tmp_path: Path, make: object, code: int, message: str
) -> None:
    path = tmp_path / "scan.json"
    make(path)  # type: ignore[operator]
    result = CliRunner().invoke(main, ["report", str(path), "--lang", "en"])
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_broken_answers_file_names_line_and_question(saved: Path, tmp_path: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text("answers:\n  q.ir.plan: ja\n  q.backup.copies: veel\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["report", str(saved), "--answers", str(answers), "--lang", "en"])
    assert result.exit_code == 2
    assert "line 3" in result.output and "q.backup.copies" in result.output


def test_scan_accepts_answers_too(tmp_path: Path) -> None:
    """`cyberscan scan --answers` reads the same files (a refused domain stops before any network use)."""
    answers = tmp_path / "a.yaml"
    answers.write_text("answers:\n  q.backup.offline: misschien\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["scan", "museum.test", "--answers", str(answers), "--lang", "en"])
    assert result.exit_code == 2
    assert "line 2" in result.output and "q.backup.offline" in result.output
