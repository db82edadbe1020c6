"""The readiness picture: each framework item's status from the results (checks and answers) mapped to it.

Evidence model (shared/reference/mapping.md section 2):
  gap          at least one direct/partial fail, or a negative answer
  ok-external  all direct scanner evidence passes, the organisational part is not answered
  ok           direct evidence passes and answers are positive
  unknown      no evidence at all (never reads as ok)
Indicators are weak hints: they never make an item ok on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .catalogue import Catalogue, FrameworkItem
from .models import Result, Status

GAP, OK_EXTERNAL, OK, UNKNOWN = "gap", "ok-external", "ok", "unknown"

_SCORE = {GAP: 0.0, OK_EXTERNAL: 0.5, OK: 1.0}


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


@dataclass(frozen=True, slots=True)
class FrameworkAssessment:
    framework_id: str
    items: tuple[ItemAssessment, ...]

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

    def framework(self, framework_id: str) -> FrameworkAssessment | None:
        return next((f for f in self.frameworks if f.framework_id == framework_id), None)


def _relation_of(result: Result, item_id: str, catalogue: Catalogue) -> str | None:
    check = catalogue.checks.get(result.check_id)
    if check is not None:
        return check.maps_to.get(item_id)
    if result.source == "self-reported" and item_id in result.maps_to:
        return "answer"
    return "direct" if item_id in result.maps_to else None


def assess_item(item: FrameworkItem, evidence: Sequence[Evidence]) -> ItemAssessment:
    passed = failed = unassessed = 0
    negative = positive_direct = positive_answer = False
    for ev in evidence:
        status = ev.result.status
        if status in (Status.ERROR, Status.SKIPPED):
            unassessed += 1
            continue
        if status in (Status.INFO, Status.MANUAL):
            continue
        is_fail = status is Status.FAIL
        if ev.relation == "indicator":
            continue
        if is_fail:
            failed += 1
            negative = True
        elif status is Status.PASS:
            passed += 1
            if ev.relation == "answer":
                positive_answer = True
            elif ev.relation == "direct":
                positive_direct = True
        elif status is Status.WARN and ev.relation == "answer":
            negative = True  # a "partly" answer is a gap to close
    if negative:
        status_s = GAP
    elif positive_answer:
        status_s = OK
    elif positive_direct:
        status_s = OK_EXTERNAL
    else:
        status_s = UNKNOWN
    return ItemAssessment(item, status_s, _SCORE.get(status_s), tuple(evidence), passed, failed, unassessed)


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
    assessments = tuple(
        FrameworkAssessment(fw.id, tuple(assess_item(item, by_item.get(item.id, [])) for item in fw.items))
        for fw in chosen
        if fw.scored
    )
    unassessed = sum(1 for r in results if r.status in (Status.ERROR, Status.SKIPPED))
    return Readiness(assessments, len(results), unassessed)
