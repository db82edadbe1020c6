"""What a report shows about history, computed once so renderers compute nothing.

The command that writes a report puts these in ``Report.extra``::

    previous = store.latest(domain)                         # before the new assessment is saved
    extra = {"since": since(previous, assessment), "trend": trend(store, domain, current=assessment)}

``since`` gives the "Sinds de vorige scan" section and the "nieuw"/"opgelost" markers per finding
key; ``trend`` the points of a chart of the overall DEN score and each DEN checklist item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .diff import BETTER, FIXED, NEW, NOT_COMPARABLE, UNCHANGED, WORSE, Change, Diff, RuleChanges, compare
from .record import AssessmentLike, Record, Summary, record_of
from .store import Store

TREND_POINTS = 12


@dataclass(frozen=True, slots=True)
class Since:
    """The change since the previous stored assessment of the same domain."""

    previous: Summary  # id, date (started), scores, versions of the previous assessment
    domain: str | None
    counts: Mapping[str, int]  # fixed, new, worse, better, unchanged, not-comparable
    fixed: tuple[Change, ...]  # includes findings no longer reported (their key is gone now)
    new: tuple[Change, ...]
    worse: tuple[Change, ...]
    better: tuple[Change, ...]
    not_comparable: tuple[Change, ...]
    markers: Mapping[str, str]  # finding key of the current assessment -> "new" | "fixed" | "worse" | "better"
    rules: RuleChanges  # where the rules differ; rules.any: the comparison mixes rule changes with real ones
    score_before: float | None  # overall DEN score then and now (0..1)
    score_now: float | None

    @property
    def changed(self) -> bool:
        return bool(self.fixed or self.new or self.worse or self.better)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One point of the trend chart: an assessment's date and its DEN scores (0..1, None: not scored)."""

    id: int | None  # None for the assessment being reported (not saved yet)
    started: str  # ISO 8601, UTC
    score: float | None
    items: Mapping[str, float | None] = field(default_factory=dict)  # DEN checklist item id -> score
    catalogue_version: str = ""
    complete: bool = True
    rescored: bool = False  # judged again under a later catalogue than the scan's own


def since_diff(diff: Diff) -> Since:
    return Since(
        previous=diff.old,
        domain=diff.domain,
        counts=diff.counts,
        fixed=diff.of(FIXED),
        new=diff.of(NEW),
        worse=diff.of(WORSE),
        better=diff.of(BETTER),
        not_comparable=diff.of(NOT_COMPARABLE),
        markers=diff.markers,
        rules=diff.rules,
        score_before=diff.old.score,
        score_now=diff.new.score,
    )


def since(previous: Record | None, current: AssessmentLike, *, domain: str | None = None) -> Since | None:
    """The change from ``previous`` (a stored assessment, e.g. ``store.latest(domain)``) to
    ``current``; None when there is no previous assessment. ``domain`` limits it to one domain
    (default: the current assessment's only domain, or all when it covers several)."""
    if previous is None:
        return None
    if domain is None and len(current.scan.targets) == 1:
        domain = current.scan.targets[0]
    return since_diff(compare(previous, record_of(current), domain=domain))


def point(summary: Summary) -> TrendPoint:
    return TrendPoint(summary.id, summary.started, summary.score, dict(summary.items), summary.catalogue_version,
                      summary.complete, summary.kind == "rescore")


def trend(store: Store, domain: str, limit: int = TREND_POINTS, *, current: AssessmentLike | None = None
          ) -> list[TrendPoint]:
    """The last ``limit`` assessments of ``domain``, oldest first (each scan's current judgement),
    ending with ``current`` when given (the assessment being reported, not yet saved)."""
    points = [point(s) for s in store.list(domain)]
    if current is not None:
        points.append(point(record_of(current).summary))
    return points[-limit:] if limit > 0 else []


__all__ = ["BETTER", "FIXED", "NEW", "NOT_COMPARABLE", "UNCHANGED", "WORSE", "Since", "TrendPoint", "point", "since",
           "since_diff", "trend"]
