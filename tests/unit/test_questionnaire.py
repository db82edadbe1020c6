"""Questionnaire data, answer normalisation and scoring, answers files and self-reported results."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberscan import catalogue as catalogue_mod
from cyberscan.catalogue import Catalogue
from cyberscan.errors import CatalogueError, ConfigError
from cyberscan.models import Severity, Status
from cyberscan.questionnaire import (
    DONT_KNOW,
    AnswerError,
    Answers,
    answer_results,
    applies,
    dump_answers,
    normalize,
    parse_answers,
    parse_questionnaire,
    questionnaire,
    score,
    selected,
)

TODAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return catalogue_mod.load()


def q(cat: Catalogue, qid: str) -> Any:
    question = questionnaire(cat).get(qid)
    assert question is not None
    return question


# ------------------------------------------------------------------ normalising


@pytest.mark.parametrize(
    ("qid", "raw", "expected"),
    [
        ("q.backup.offline", "ja", "yes"),
        ("q.backup.offline", True, "yes"),  # YAML 1.1 reads a bare yes as a boolean
        ("q.backup.offline", "Nee", "no"),
        ("q.backup.offline", False, "no"),
        ("q.backup.offline", "deels", "partly"),
        ("q.backup.offline", "weet niet", DONT_KNOW),
        ("q.backup.offline", "don't know", DONT_KNOW),
        ("q.backup.offline", "", None),
        ("q.backup.offline", None, None),
        ("q.access.mfa_email", "all", "all"),
        ("q.access.mfa_email", "Voor iedereen", "all"),  # the Dutch label
        ("q.access.mfa_email", "For everyone", "all"),
        ("q.gov.budget", True, "yes"),  # an option whose value is 'yes'
        ("q.backup.scope", ["website", "collection_db", "website"], ["collection_db", "website"]),
        ("q.backup.scope", "geen", []),
        ("q.backup.scope", "website", ["website"]),
        ("q.backup.copies", 3, 3),
        ("q.backup.copies", "2,5", 2.5),
        ("q.backup.copies", "4", 4),
        ("q.backup.rto", {"collection_db": 48, "website": "24"}, {"collection_db": 48, "website": 24}),
        ("q.backup.rto", {"collection_db": None}, None),
        ("q.backup.restore_test", date(2026, 3, 1), "2026-03-01"),
        ("q.backup.restore_test", "1-3-2026", "2026-03-01"),
        ("q.backup.restore_test", "nooit", "never"),
        ("q.contact.coordinator", {"name": " Jan ", "phone": "06-1"}, {"name": "Jan", "phone": "06-1"}),
        ("q.contact.coordinator", "Jan", {"name": "Jan"}),
    ],
)
def test_normalize(cat: Catalogue, qid: str, raw: Any, expected: Any) -> None:
    assert normalize(q(cat, qid), raw) == expected


@pytest.mark.parametrize(
    ("qid", "raw", "key"),
    [
        ("q.backup.offline", "misschien", "answer.bad-yesno"),
        ("q.access.mfa_email", "sometimes", "answer.bad-choice"),
        ("q.backup.scope", ["website", "tape"], "answer.bad-choice"),
        ("q.backup.copies", "veel", "answer.bad-number"),
        ("q.backup.copies", -1, "answer.bad-number"),
        ("q.backup.copies", True, "answer.bad-number"),
        ("q.backup.rto", 24, "answer.bad-per"),
        ("q.backup.rto", {"kantine": 4}, "answer.bad-part"),
        ("q.backup.restore_test", "gisteren", "answer.bad-date"),
        ("q.contact.coordinator", ["Jan"], "answer.bad-contact"),
        ("q.contact.coordinator", {"name": "Jan", "iban": "NL00"}, "answer.bad-contact-field"),
    ],
)
def test_normalize_refuses_answers_that_do_not_fit(cat: Catalogue, qid: str, raw: Any, key: str) -> None:
    with pytest.raises(AnswerError) as info:
        normalize(q(cat, qid), raw)
    assert info.value.key == key


# ------------------------------------------------------------------ scoring


@pytest.mark.parametrize(
    ("qid", "value", "others", "expected"),
    [
        ("q.backup.offline", "yes", {}, "pass"),
        ("q.backup.offline", "partly", {}, "warn"),
        ("q.backup.offline", "no", {}, "fail"),
        ("q.backup.offline", DONT_KNOW, {}, "warn"),  # this question counts not knowing as a warning
        ("q.ir.plan", DONT_KNOW, {}, "info"),  # the default: no evidence either way
        ("q.patch.eol", "yes", {}, "fail"),  # inverted: yes is bad
        ("q.patch.eol", "no", {}, "pass"),
        ("q.access.mfa_email", "admins", {}, "warn"),
        ("q.backup.scope", ["collection_db", "collection_files", "finance", "mail_saas", "website"], {}, "pass"),
        ("q.backup.scope", ["website"], {}, "warn"),
        ("q.backup.scope", [], {}, "fail"),
        ("q.backup.copies", 3, {}, "pass"),
        ("q.backup.copies", 2, {}, "warn"),
        ("q.backup.copies", 1, {}, "fail"),
        ("q.backup.restore_test", "2026-06-01", {}, "pass"),
        ("q.backup.restore_test", "2025-06-01", {}, "warn"),
        ("q.backup.restore_test", "2020-06-01", {}, "fail"),
        ("q.backup.restore_test", "2027-01-01", {}, "pass"),  # a future date is not older than today
        ("q.backup.restore_test", "never", {}, "fail"),
        ("q.backup.restore_duration", 10, {"q.backup.rto": {"collection_db": 48, "website": 8}}, "warn"),
        ("q.backup.restore_duration", 8, {"q.backup.rto": {"collection_db": 48, "website": 8}}, "pass"),
        ("q.backup.restore_duration", 8, {}, "info"),  # nothing to compare with
        ("q.log.retention", 200, {}, "pass"),
        ("q.log.retention", 7, {}, "fail"),
        ("q.scope.nis2", "yes", {}, "info"),
    ],
)
def test_score(cat: Catalogue, qid: str, value: Any, others: dict[str, Any], expected: str) -> None:
    assert score(q(cat, qid), value, others, today=TODAY) == expected


def test_follow_up_questions_apply_only_when_relevant(cat: Catalogue) -> None:
    duration = q(cat, "q.backup.restore_duration")
    assert not applies(duration, {})
    assert not applies(duration, {"q.backup.restore_test": "never"})
    assert not applies(duration, {"q.backup.restore_test": DONT_KNOW})
    assert applies(duration, {"q.backup.restore_test": "2026-01-01"})
    retention = q(cat, "q.log.retention")
    assert applies(retention, {"q.log.enabled": "partly"})
    assert not applies(retention, {"q.log.enabled": "no"})


# ------------------------------------------------------------------ answers files


GOOD = """\
cyberscan-answers: 1
lang: nl
answers:
  q.backup.offline: nee
  q.backup.scope: [collection_db, website]
  q.backup.restore_test: 2026-06-01
  q.access.mfa_email: all
  q.ir.plan: yes
  q.ir.exercise:
  q.contact.coordinator: {name: "Jan de Vries", phone: "06-12345678"}
"""


def test_parse_answers_reads_canonical_values(cat: Catalogue) -> None:
    answers = parse_answers(GOOD, cat)
    assert answers.data == {
        "q.backup.offline": "no",
        "q.backup.scope": ["collection_db", "website"],
        "q.backup.restore_test": "2026-06-01",
        "q.access.mfa_email": "all",
        "q.ir.plan": "yes",
        "q.contact.coordinator": {"name": "Jan de Vries", "phone": "06-12345678"},
    }
    assert answers.lines["q.backup.scope"] == 5
    assert "q.contact.coordinator" not in answers.public()
    assert answers.contacts() == {"q.contact.coordinator": {"name": "Jan de Vries", "phone": "06-12345678"}}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "answers:\n  q.backup.offline: nee\n  q.backup.ofline: ja\n",
            r"line 3: unknown question id 'q.backup.ofline' \(did you mean q.backup.offline\?\)",
        ),
        (
            "answers:\n  q.backup.offline: nee\n\n  q.backup.copies: veel\n",
            r"line 4: q.backup.copies: 'veel' is not a number",
        ),
        (
            "answers:\n  q.access.mfa_email: sometimes\n",
            r"line 2: q.access.mfa_email: 'sometimes' is not one of: all, admins, none",
        ),
        ("answers:\n  q.backup.offline: [nee\n", r"line \d+: not valid YAML"),
        ("- q.backup.offline\n", r"line 1: an answers file is"),
        ("answers: [1, 2]\n", r"'answers' must hold"),
    ],
)
def test_broken_answers_files_name_the_line_and_question(cat: Catalogue, content: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_answers(content, cat, where="antwoorden.yaml")


@pytest.mark.parametrize(
    ("content", "nl", "en"),
    [
        (
            "answers:\n  q.backup.offline: nee\n  q.backup.ofline: ja\n",
            "a.yaml regel 3: onbekende vraag 'q.backup.ofline' (bedoelt u q.backup.offline?)",
            "a.yaml line 3: unknown question id 'q.backup.ofline' (did you mean q.backup.offline?)",
        ),
        (
            "answers:\n  q.backup.copies: veel\n",
            "a.yaml regel 2: q.backup.copies: 'veel' is geen getal (0 of meer)",
            "a.yaml line 2: q.backup.copies: 'veel' is not a number (0 or more)",
        ),
        ("- q.backup.offline\n", "a.yaml regel 1: een antwoordenbestand", "a.yaml line 1: an answers file"),
    ],
)
def test_answers_file_problems_are_told_in_the_users_language(cat: Catalogue, content: str, nl: str, en: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_answers(content, cat, where="a.yaml")
    assert info.value.message("nl").startswith(nl)
    assert info.value.message("en").startswith(en)


def test_read_answers_reads_a_file_and_refuses_binary_and_missing_files(
    cat: Catalogue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cyberscan.commands.common import read_answers

    path = tmp_path / "a.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert read_answers(path, cat, lang="nl")["q.ir.plan"] == "yes"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SystemExit) as info:
        read_answers(path, cat, lang="nl")
    assert info.value.code == 2 and "geen tekstbestand" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        read_answers(tmp_path / "missing.yaml", cat, lang="en")
    assert info.value.code == 4 and "cannot read answers file" in capsys.readouterr().err


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_answers_or_a_config_error(text: str) -> None:
    cat = catalogue_mod.builtin()
    try:
        parse_answers(text, cat)
    except ConfigError:
        pass


_QIDS = [
    "q.backup.offline",
    "q.backup.scope",
    "q.backup.rto",
    "q.backup.copies",
    "q.ir.exercise",
    "q.contact.deputy",
    "q.risk.ot",
]
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(_QIDS), _VALUES))
def test_any_answer_values_give_answers_or_a_config_error(values: dict[str, Any]) -> None:
    import yaml

    cat = catalogue_mod.builtin()
    try:
        answers = parse_answers(yaml.safe_dump({"answers": values}), cat)
    except ConfigError:
        return
    for result in answer_results(cat, None, answers, target="museum.test", today=TODAY):
        assert result.status in (Status.PASS, Status.WARN, Status.FAIL, Status.INFO)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_template_is_valid_empty_and_commented_in_its_language(cat: Catalogue, lang: str) -> None:
    qn = questionnaire(cat)
    questions = selected(qn, cat.profiles["default"])
    content = dump_answers(qn, questions, Answers(), lang=lang)
    assert parse_answers(content, cat).data == {}
    for question in questions:
        assert f"\n  {question.id}:\n" in content
    assert ("Waarom:" in content) == (lang == "nl")
    assert ("Why:" in content) == (lang == "en")


def test_written_answers_read_back_identically(cat: Catalogue) -> None:
    qn = questionnaire(cat)
    answers = parse_answers(GOOD, cat)
    answers.data["q.backup.rto"] = {"collection_db": 48, "website": 2.5}
    answers.data["q.scope.nis2"] = DONT_KNOW
    for lang in ("nl", "en"):
        again = parse_answers(dump_answers(qn, qn.questions, answers, lang=lang), cat)
        assert again.data == answers.data
        assert again.lang == lang


# ------------------------------------------------------------------ results


def test_answers_become_self_reported_results(cat: Catalogue) -> None:
    answers = parse_answers(GOOD, cat)
    results = {
        r.check_id: r for r in answer_results(cat, cat.profiles["default"], answers, target="museum.test", today=TODAY)
    }
    offline = results["q.backup.offline"]
    assert offline.status is Status.FAIL
    assert offline.source == "self-reported"
    assert offline.severity is Severity.CRITICAL
    assert "den.check.backup" in offline.maps_to and "ir.prepare.backup" in offline.maps_to
    assert offline.message == "answer.given"
    assert offline.params["answer_nl"] == "nee" and offline.params["answer_en"] == "no"
    assert results["q.backup.restore_test"].status is Status.PASS
    assert "q.ir.exercise" not in results  # left empty: no evidence
    assert not any(r.check_id.startswith("q.contact.") for r in results.values())
    for result in results.values():
        assert "Jan de Vries" not in repr(result)


def test_profile_chooses_questions_and_severity(cat: Catalogue) -> None:
    answers = parse_answers(
        "answers:\n  q.log.retention: 7\n  q.log.enabled: ja\n  q.backup.restore_test: never\n", cat
    )
    small = answer_results(cat, cat.profiles["klein-museum"], answers, target="m.test", today=TODAY)
    assert "q.log.retention" not in {r.check_id for r in small}
    archive = {
        r.check_id: r for r in answer_results(cat, cat.profiles["archief"], answers, target="m.test", today=TODAY)
    }
    assert archive["q.backup.restore_test"].severity is Severity.CRITICAL
    assert archive["q.log.retention"].status is Status.FAIL


def test_messages_render_for_self_reported_results(cat: Catalogue) -> None:
    from cyberscan.i18n import message

    answers = parse_answers(GOOD, cat)
    result = next(
        r for r in answer_results(cat, None, answers, target="m.test", today=TODAY) if r.check_id == "q.backup.offline"
    )
    # the answer only: the question is the finding's headline already
    assert message(cat, None, result, "nl") == "Uw antwoord: nee"
    assert message(cat, None, result, "en") == "Your answer: no"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"questions": [{"id": "q.x.y", "type": "maybe"}]}, "type must be one of"),
        ({"questions": [{"id": "bad", "type": "yesno"}]}, "look like q.<section>.<slug>"),
        (
            {
                "questions": [
                    {"id": "q.x.y", "type": "choice", "text": {"nl": "a", "en": "b"}, "why": {"nl": "a", "en": "b"}}
                ]
            },
            "needs options",
        ),
        ({"questions": [{"id": "q.x.y", "type": "yesno", "text": {"nl": "a"}}]}, "text needs"),
        ({"questions": [{"id": "q.x.y", "type": "yesno", "scores": {"ja": "pass"}}]}, "scores may only name"),
    ],
)
def test_broken_question_data_is_refused(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(CatalogueError, match=problem):
        parse_questionnaire(raw)
