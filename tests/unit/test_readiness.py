"""The readiness picture: item status from checks and answers, per the evidence model of mapping.md."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan.catalogue import Catalogue, Check, FrameworkItem
from cyberscan.models import Result, Severity, Status
from cyberscan.readiness import GAP, OK, OK_EXTERNAL, UNKNOWN, Evidence, assess, assess_item, readiness_to_dict

ITEM = FrameworkItem(id="den.check.4", framework="den-checklist", title={"nl": "x", "en": "x"}, description={}, confidence="read",
                     continuity=("cont.public",))  # fmt: skip


def res(check_id: str, status: Status, *, source: str = "scan", maps_to: tuple[str, ...] = ("den.check.4",)) -> Result:
    return Result(check_id, 1, "museum.test", status, Severity.HIGH, "m", maps_to=maps_to, source=source)


def ev(status: Status, relation: str, check_id: str = "c") -> Evidence:
    return Evidence(res(check_id, status, source="self-reported" if relation == "answer" else "scan"), relation)


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ([], UNKNOWN),
        ([ev(Status.PASS, "indicator")], UNKNOWN),  # indicators never make an item ok
        ([ev(Status.FAIL, "indicator")], UNKNOWN),  # nor a gap
        ([ev(Status.PASS, "partial")], UNKNOWN),  # partial evidence is never enough on its own
        ([ev(Status.FAIL, "partial")], GAP),
        ([ev(Status.PASS, "direct")], OK_EXTERNAL),
        ([ev(Status.PASS, "direct"), ev(Status.PASS, "answer")], OK),
        ([ev(Status.PASS, "answer")], OK),
        ([ev(Status.PASS, "direct"), ev(Status.FAIL, "direct")], GAP),
        ([ev(Status.PASS, "direct"), ev(Status.FAIL, "answer")], GAP),
        ([ev(Status.PASS, "answer"), ev(Status.WARN, "answer")], GAP),  # "partly" is a gap to close
        ([ev(Status.WARN, "direct")], UNKNOWN),  # a warning is no proof either way
        ([ev(Status.ERROR, "direct"), ev(Status.SKIPPED, "direct")], UNKNOWN),  # errors are never evidence
        ([ev(Status.ERROR, "direct"), ev(Status.PASS, "direct")], OK_EXTERNAL),
        ([ev(Status.INFO, "answer")], UNKNOWN),  # "don't know"
    ],
)
def test_item_status(evidence: list[Evidence], expected: str) -> None:
    assessed = assess_item(ITEM, evidence)
    assert assessed.status == expected
    assert (assessed.score is None) == (expected == UNKNOWN)


def test_counts_and_threatened_areas() -> None:
    evidence = [
        ev(Status.FAIL, "direct", "mail.spf"),
        ev(Status.ERROR, "direct", "dns.x"),
        ev(Status.PASS, "direct", "web.y"),
    ]
    a = assess_item(ITEM, evidence, {"mail.spf": ("cont.public", "cont.information")})
    assert (a.passed, a.failed, a.unassessed) == (1, 1, 1)
    assert a.threatens == ("cont.public", "cont.information")
    # without continuity of its own the failing evidence falls back to the item's areas
    assert assess_item(ITEM, [ev(Status.FAIL, "direct", "other")], {}).threatens == ("cont.public",)
    assert assess_item(ITEM, [ev(Status.PASS, "direct")], {}).threatens == ()


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return catalogue_mod.load()


def _with_check(cat: Catalogue, **mapping: str) -> Catalogue:
    check = Check(
        id="test.check", version=1, severity=Severity.HIGH, evaluator="x", needs=(), title={"nl": "t", "en": "t"},
        risk={"nl": "r", "en": "r"}, remediation={"nl": "r", "en": "r"}, messages={}, maps_to=mapping,
        continuity=("cont.accessibility",),
    )  # fmt: skip
    return catalogue_mod.Catalogue(
        cat.version, {**cat.checks, "test.check": check}, cat.frameworks, cat.profiles, cat.extras
    )


def test_with_no_results_every_item_is_unknown(cat: Catalogue) -> None:
    readiness = assess(cat, [])
    assert {fa.framework_id for fa in readiness.frameworks} == {"den-checklist", "den-stappenplan", "incident-response"}
    for fa in readiness.frameworks:
        assert all(i.status == UNKNOWN for i in fa.items)
        assert fa.score is None and fa.assessed_fraction == 0.0


def test_checks_and_answers_combine_per_item(cat: Catalogue) -> None:
    cat2 = _with_check(cat, **{"den.check.4": "direct", "den.check.5": "indicator"})
    results = [
        res("test.check", Status.PASS, maps_to=("den.check.4", "den.check.5")),
        res("q.backup.offline", Status.FAIL, source="self-reported", maps_to=("den.check.backup", "ir.prepare.backup")),
        res("q.ir.plan", Status.PASS, source="self-reported", maps_to=("ir.prepare.plan",)),
    ]
    readiness = assess(cat2, results, ["den-checklist", "incident-response", "continuity"])
    status = {i.item.id: i.status for fa in readiness.frameworks for i in fa.items}
    assert status["den.check.4"] == OK_EXTERNAL
    assert status["den.check.5"] == UNKNOWN
    assert status["den.check.backup"] == GAP
    assert status["ir.prepare.backup"] == GAP
    assert status["ir.prepare.plan"] == OK
    assert status["den.check.1"] == UNKNOWN
    assert readiness.framework("continuity") is None  # not scored on its own
    assert readiness.continuity["cont.information"] == ("den.check.backup", "ir.prepare.backup")
    assert readiness.continuity["cont.collection"] == ("den.check.backup", "ir.prepare.backup")


def test_readiness_to_dict_lists_every_item_with_status_and_evidence(cat: Catalogue) -> None:
    results = [res("q.backup.offline", Status.FAIL, source="self-reported", maps_to=("den.check.backup",))]
    data: dict[str, Any] = readiness_to_dict(assess(cat, results))
    json.dumps(data)  # plain JSON
    items = {i["id"]: i for fw in data["frameworks"] for i in fw["items"]}
    assert set(items) == {
        i.id for fw in ("den-checklist", "den-stappenplan", "incident-response") for i in cat.frameworks[fw].items
    }
    backup = items["den.check.backup"]
    assert backup["status"] == GAP and backup["provisional"] is True and backup["number"] is None
    assert backup["evidence"] == [
        {"check_id": "q.backup.offline", "source": "self-reported", "relation": "answer", "status": "fail",
         "severity": "high", "target": "museum.test", "key": "q.backup.offline|||||", "message": "m",
             "params": {}}
    ]  # fmt: skip
    assert backup["threatens"] == ["cont.information", "cont.collection"]
    assert items["den.check.4"]["status"] == UNKNOWN and items["den.check.4"]["evidence"] == []
    assert items["ir.prepare.plan"]["phase"] == "prepare"
    den = next(fw for fw in data["frameworks"] if fw["id"] == "den-checklist")
    assert den["counts"] == {"gap": 1, "ok-external": 0, "ok": 0, "unknown": 8}
    assert den["title"]["nl"].startswith("DEN Checklist")


@pytest.mark.parametrize(
    ("evidence", "score"),
    [
        ([ev(Status.PASS, "direct")] * 3 + [ev(Status.FAIL, "direct")], 0.75),  # a gap still shows progress
        ([ev(Status.FAIL, "direct")], 0.0),
        ([ev(Status.PASS, "direct")] * 2, 0.5),  # only the outside is known: half
        ([ev(Status.PASS, "direct"), ev(Status.PASS, "answer")], 1.0),
        ([ev(Status.PASS, "indicator")], None),
    ],
)
def test_item_score_is_the_share_of_positive_evidence(evidence: list[Evidence], score: float | None) -> None:
    assert assess_item(ITEM, evidence).score == score
