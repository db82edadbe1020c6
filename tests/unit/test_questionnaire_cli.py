"""Driving the real `cyberscan questionnaire` command: answer, go back, skip, stop, resume, templates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cyberscan import catalogue as catalogue_mod
from cyberscan.cli import main
from cyberscan.questionnaire import Question, applies, parse_answers, questionnaire, selected
from tests.fixtures.terminal import CTRL_C, run_in_terminal


def run(args: list[str], stdin: str = "") -> Any:
    return CliRunner().invoke(main, ["questionnaire", *args], input=stdin, catch_exceptions=False)


def answers_in(path: Path) -> dict[str, Any]:
    return dict(parse_answers(path.read_text(encoding="utf-8"), catalogue_mod.builtin()).data)


def typed_answer(question: Question) -> tuple[list[str], Any]:
    """What a volunteer types for ``question`` (first option each time), and the value it gives."""
    if question.type == "yesno":
        return ["1"], "yes"
    if question.type == "choice":
        return ["1"], question.options[0].value
    if question.type == "multi":
        return ["1,2"], [question.options[0].value, question.options[1].value]
    if question.type == "number" and question.per:
        return ["8"] * len(question.per), {p.value: 8 for p in question.per}
    if question.type == "number":
        return ["3"], 3
    if question.type == "date":
        return ["1-10-2026"], "2026-10-01"
    if question.type == "contact":
        return ["Jan de Vries", "06-12345678"], {"name": "Jan de Vries", "phone": "06-12345678"}
    return ["tekst"], "tekst"


@pytest.mark.parametrize("profile", ["klein-museum", "default"])
def test_a_volunteer_completes_the_whole_questionnaire(tmp_path: Path, profile: str) -> None:
    cat = catalogue_mod.builtin()
    questions = selected(questionnaire(cat), cat.profiles[profile])
    lines: list[str] = []
    expected: dict[str, Any] = {}
    for question in questions:
        if not applies(question, expected):
            continue
        typed, value = typed_answer(question)
        lines += typed
        expected[question.id] = value
    path = tmp_path / "antwoorden.yaml"
    result = run(["--profile", profile, "-o", str(path)], "\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert f"Vraag 1 van {len(questions)}" in result.output
    assert "Klaar:" in result.output
    assert answers_in(path) == expected
    assert path.stat().st_mode & 0o777 == 0o600
    again = run(["-o", str(path)], "")
    assert "beantwoord of overgeslagen (0 overgeslagen)" in again.output
    assert answers_in(path) == expected


def test_stop_saves_and_a_second_run_resumes_without_losing_answers(tmp_path: Path) -> None:
    path = tmp_path / "antwoorden.yaml"
    first = run(["-o", str(path)], "1\n2\nstop\n")
    assert first.exit_code == 0
    assert "Opgeslagen in" in first.output
    assert answers_in(path) == {"q.gov.owner": "director", "q.gov.board_agenda": "yearly"}
    second = run(["-o", str(path)], "3\nstop\n")
    assert "2 van" in second.output  # "2 van N vragen zijn al beantwoord"
    assert "Vraag 3 van" in second.output and "Vraag 1 van" not in second.output
    assert answers_in(path) == {"q.gov.owner": "director", "q.gov.board_agenda": "yearly", "q.gov.budget": "no"}


def test_end_of_input_works_like_stop(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    result = run(["-o", str(path)], "5\n")
    assert result.exit_code == 0
    assert answers_in(path) == {"q.gov.owner": "nobody"}


def test_back_skip_dont_know_and_retry_on_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    # q1: 1, q2: back, q1 again: 2; q2: skip; q3: don't know; q4 (yes/no): nonsense, then 'deels'
    result = run(["-o", str(path)], "1\nt\n2\no\nw\nmisschien\ndeels\nstop\n")
    assert result.exit_code == 0, result.output
    assert "niet een" in result.output or "geen ja, nee" in result.output
    data = answers_in(path)
    assert data == {"q.gov.owner": "staff", "q.gov.budget": "dont-know", "q.risk.in_riskmgmt": "partly"}
    assert parse_answers(path.read_text(encoding="utf-8"), catalogue_mod.builtin()).skipped == ["q.gov.board_agenda"]
    # resuming continues after the last answered question, not at the skipped one
    again = run(["-o", str(path)], "stop\n")
    assert "Vraag 5 van" in again.output


def test_english_questions_and_shortcuts(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    result = run(["-o", str(path), "--lang", "en"], "d\nb\n1\nstop\n")
    assert "Question 1 of" in result.output and "Who is ultimately accountable" in result.output
    assert answers_in(path) == {"q.gov.owner": "director"}


def test_review_goes_over_answered_questions_and_enter_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    run(["-o", str(path)], "1\n1\nstop\n")
    result = run(["-o", str(path), "--review"], "\n4\nstop\n")
    assert "huidig antwoord" in result.output
    assert answers_in(path) == {"q.gov.owner": "director", "q.gov.board_agenda": "never"}


def test_contacts_stay_in_the_answers_file_only(tmp_path: Path) -> None:
    cat = catalogue_mod.builtin()
    qn = questionnaire(cat)
    path = tmp_path / "a.yaml"
    # answer only the contact questions: skip everything else
    lines = []
    for question in selected(qn, cat.profiles["default"]):
        if not applies(question, {}):
            continue
        lines += (
            ["Piet Jansen", "0612"]
            if question.id == "q.contact.coordinator"
            else (["o"] if question.type != "contact" else ["", ""])
        )
    result = run(["-o", str(path)], "\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert answers_in(path) == {"q.contact.coordinator": {"name": "Piet Jansen", "phone": "0612"}}


def test_template_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    out = run(["--template", "--lang", "en"])
    assert out.exit_code == 0
    assert "Why:" in out.output and "q.backup.offline:" in out.output
    target = tmp_path / "leeg.yaml"
    assert run(["--template", "-o", str(target)]).exit_code == 0
    assert "Waarom:" in target.read_text(encoding="utf-8")
    assert answers_in(target) == {}
    run(["-o", str(target)], "1\nstop\n")
    refused = CliRunner().invoke(main, ["questionnaire", "--template", "-o", str(target)])
    assert refused.exit_code == 2 and "bestaat al" in refused.output
    refused = CliRunner().invoke(main, ["questionnaire", "--template", "-o", str(target), "--lang", "en"])
    assert refused.exit_code == 2 and "already exists" in refused.output
    assert answers_in(target) == {"q.gov.owner": "director"}  # the answers survive


@pytest.mark.parametrize(
    ("lang", "where", "problem"), [(None, "regel 2", "geen ja, nee"), ("en", "line 2", "not yes, no")]
)
def test_a_broken_answers_file_is_reported_not_overwritten(
    tmp_path: Path, lang: str | None, where: str, problem: str
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("answers:\n  q.backup.offline: misschien\n", encoding="utf-8")
    args = ["questionnaire", "-o", str(path), *(["--lang", lang] if lang else [])]
    result = CliRunner().invoke(main, args, input="1\n")
    assert result.exit_code == 2
    assert where in result.output and "q.backup.offline" in result.output and problem in result.output
    assert "Traceback" not in result.output
    assert path.read_text(encoding="utf-8") == "answers:\n  q.backup.offline: misschien\n"


# ------------------------------------------------------------------ a real terminal


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_ctrl_c_in_a_real_terminal_saves_and_resumes(tmp_path: Path) -> None:
    """Ctrl-C typed the moment the prompt appears (the race bench/stress_ctrl_c.py repeats under load)."""
    path = tmp_path / "antwoorden.yaml"
    args = ["questionnaire", "-o", str(path)]
    first = run_in_terminal(args, [b"1\r", b"2\r"], CTRL_C, cwd=tmp_path)  # Ctrl-C at the third question
    assert not first.hung, first.output
    assert first.code == 0, first.output
    assert b"Opgeslagen" in first.output and b"Traceback" not in first.output
    assert answers_in(path) == {"q.gov.owner": "director", "q.gov.board_agenda": "yearly"}
    second = run_in_terminal(args, [b"3\r"], b"stop\r", cwd=tmp_path)
    assert second.code == 0, second.output
    assert answers_in(path) == {"q.gov.owner": "director", "q.gov.board_agenda": "yearly", "q.gov.budget": "no"}


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_ctrl_c_at_a_contact_prompt_in_english(tmp_path: Path) -> None:
    """A sub-prompt (a contact's phone number) is just as safe, in English too."""
    cat = catalogue_mod.builtin()
    qn = questionnaire(cat)
    contact = next(q for q in selected(qn, cat.profiles["default"]) if q.type == "contact")
    path = tmp_path / "a.yaml"
    path.write_text("answers:\n" + "".join(
        f"  {q.id}: dont-know\n" for q in qn.questions if q.type != "contact" and q.id != contact.id
    ), encoding="utf-8")
    run = run_in_terminal(["questionnaire", "-o", str(path), "--lang", "en"], [b"Jan de Vries\r"], CTRL_C,
                          cwd=tmp_path, prompt=[b"Name: ", b"Phone: "])
    assert not run.hung, run.output
    assert run.code == 0, run.output
    assert b"Saved in" in run.output and b"Traceback" not in run.output
    assert contact.id not in answers_in(path)  # a half-typed contact is not an answer
