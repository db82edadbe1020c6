"""The readiness picture: each framework item's status from the results (checks and answers) mapped to it.

Evidence model (shared/reference/mapping.md section 2):
  gap          at least one direct/partial fail, or a negative answer
  ok-external  all direct scanner evidence passes, the organisational part is not answered
  ok           direct evidence passes and answers are positive
  unknown      no evidence at all (never reads as ok)
Indicators are weak hints: they never make an item ok on their own. Partial evidence can make an item
a gap but never ok on its own. Errors and skipped checks are counted as "not assessed", never as
evidence. Each gap names the continuity areas (cont.*) it threatens: those of the failing checks and
questions, or the item's own when they name none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .catalogue import Catalogue, FrameworkItem
from .models import Result, Status
from .texts import Text

GAP, OK_EXTERNAL, OK, UNKNOWN = "gap", "ok-external", "ok", "unknown"



@dataclass(frozen=True, slots=True)
class Evidence:
    result: Result
    relation: str  # direct | partial | indicator | answer


@dataclass(frozen=True, slots=True)
class ItemAssessment:
    item: FrameworkItem
    status: str
    score: float | None  # 0..1; None when unknown
    evidence: tuple[Evidence, ...]
    passed: int
    failed: int
    unassessed: int  # error/skipped evidence
    threatens: tuple[str, ...] = ()  # continuity areas a gap threatens (empty unless status is gap)


@dataclass(frozen=True, slots=True)
class FrameworkAssessment:
    framework_id: str
    items: tuple[ItemAssessment, ...]
    title: Text = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        scores = [i.score for i in self.items if i.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def assessed_fraction(self) -> float:
        return sum(1 for i in self.items if i.status != UNKNOWN) / len(self.items) if self.items else 0.0


@dataclass(frozen=True, slots=True)
class Readiness:
    frameworks: tuple[FrameworkAssessment, ...]
    checks_total: int
    checks_unassessed: int  # results with status error or skipped
    continuity: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # area -> ids of gap items

    def framework(self, framework_id: str) -> FrameworkAssessment | None:
        return next((f for f in self.frameworks if f.framework_id == framework_id), None)


def _relation_of(result: Result, item_id: str, catalogue: Catalogue) -> str | None:
    check = catalogue.checks.get(result.check_id)
    if check is not None:
        return check.maps_to.get(item_id)
    if result.source == "self-reported" and item_id in result.maps_to:
        return "answer"
    return "direct" if item_id in result.maps_to else None


def assess_item(
    item: FrameworkItem, evidence: Sequence[Evidence], continuity_of: Mapping[str, tuple[str, ...]] | None = None
) -> ItemAssessment:
    """The status of one item from its evidence (see the module docstring for the rules)."""
    passed = failed = unassessed = 0
    negative = positive_direct = positive_answer = False
    threatened: list[str] = []
    for ev in evidence:
        status = ev.result.status
        if ev.result.accepted is not None:
            continue  # accepted or not applicable: neither a gap nor evidence that all is well
        if status in (Status.ERROR, Status.SKIPPED):
            unassessed += 1
            continue
        if status in (Status.INFO, Status.MANUAL) or ev.relation == "indicator":
            continue
        bad = status is Status.FAIL or (status is Status.WARN and ev.relation == "answer")  # "partly" is a gap
        if bad:
            failed += 1
            negative = True
            for area in (continuity_of or {}).get(ev.result.check_id, ()):
                if area not in threatened:
                    threatened.append(area)
        elif status is Status.PASS:
            passed += 1
            if ev.relation == "answer":
                positive_answer = True
            elif ev.relation == "direct":
                positive_direct = True
    if negative:
        status_s = GAP
    elif positive_answer:
        status_s = OK
    elif positive_direct:
        status_s = OK_EXTERNAL
    else:
        status_s = UNKNOWN
    threatens = tuple(threatened or item.continuity) if status_s == GAP else ()
    return ItemAssessment(item, status_s, _score(status_s, passed, failed), tuple(evidence), passed, failed, unassessed, threatens)


def _score(status: str, passed: int, failed: int) -> float | None:
    """Share of the judged evidence that is positive, so progress shows before an item is fully ok.

    An item that is only ``ok-external`` counts half of what is visible from outside: what the
    organisation does inside is not known yet. Unknown items have no score (never 0, never 100).
    """
    if status == UNKNOWN or passed + failed == 0:
        return None
    share = passed / (passed + failed)
    return share * 0.5 if status == OK_EXTERNAL else share


def _continuity_of(catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    """Continuity areas of every check and question, by id."""
    out = {check.id: tuple(check.continuity) for check in catalogue.checks.values()}
    raw = catalogue.extras.get("questions")
    for question in (raw.get("questions") or []) if isinstance(raw, Mapping) else []:
        if isinstance(question, Mapping) and "id" in question:
            out[str(question["id"])] = tuple(str(a) for a in question.get("continuity") or ())
    return out


def assess(catalogue: Catalogue, results: Iterable[Result], frameworks: Sequence[str] | None = None) -> Readiness:
    """Assess every item of ``frameworks`` (default: all scored frameworks) against ``results``."""
    results = list(results)
    by_item: dict[str, list[Evidence]] = {}
    for result in results:
        for item_id in result.maps_to:
            relation = _relation_of(result, item_id, catalogue)
            if relation is not None:
                by_item.setdefault(item_id, []).append(Evidence(result, relation))
    chosen = [catalogue.frameworks[f] for f in frameworks or catalogue.frameworks if f in catalogue.frameworks]
    continuity_of = _continuity_of(catalogue)
    assessments = tuple(
        FrameworkAssessment(
            fw.id, tuple(assess_item(item, by_item.get(item.id, []), continuity_of) for item in fw.items), fw.title
        )
        for fw in chosen
        if fw.scored
    )
    areas: dict[str, list[str]] = {}
    for fa in assessments:
        for ia in fa.items:
            for area in ia.threatens:
                areas.setdefault(area, []).append(ia.item.id)
    unassessed = sum(1 for r in results if r.status in (Status.ERROR, Status.SKIPPED))
    return Readiness(assessments, len(results), unassessed, {a: tuple(ids) for a, ids in areas.items()})


def _evidence_to_dict(ev: Evidence) -> dict[str, Any]:
    r = ev.result
    return {
        "check_id": r.check_id,
        "source": r.source,
        "relation": ev.relation,
        "status": r.status.value,
        "severity": r.severity.value,
        "target": r.target,
        "key": r.key,
        "message": r.message,
        "params": dict(r.params),
    }


def item_to_dict(ia: ItemAssessment) -> dict[str, Any]:
    item = ia.item
    return {
        "id": item.id,
        "framework": item.framework,
        "number": item.number,
        "title": dict(item.title),
        "status": ia.status,
        "score": ia.score,
        "confidence": item.confidence,
        "provisional": item.provisional,
        "manual": item.manual,
        "phase": item.phase,
        "continuity": list(item.continuity),
        "threatens": list(ia.threatens),
        "note": dict(item.note),
        "counts": {"passed": ia.passed, "failed": ia.failed, "unassessed": ia.unassessed},
        "evidence": [_evidence_to_dict(ev) for ev in ia.evidence],
    }


def readiness_to_dict(readiness: Readiness) -> dict[str, Any]:
    """The JSON ``readiness`` section: every framework item by id with its status and evidence."""
    return {
        "frameworks": [
            {
                "id": fa.framework_id,
                "title": dict(fa.title),
                "score": fa.score,
                "assessed_fraction": fa.assessed_fraction,
                "counts": {s: sum(1 for i in fa.items if i.status == s) for s in (GAP, OK_EXTERNAL, OK, UNKNOWN)},
                "items": [item_to_dict(ia) for ia in fa.items],
            }
            for fa in readiness.frameworks
        ],
        "continuity": {area: list(ids) for area, ids in readiness.continuity.items()},
        "checks_total": readiness.checks_total,
        "checks_unassessed": readiness.checks_unassessed,
    }
