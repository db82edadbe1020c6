"""Where an organisation stands against the sector, computed on its own computer.

Pure: the organisation's own summary (:func:`cyberscan.share.summary.summarise`) and the hub's
published aggregates in, one row per framework item out. The hub only served the aggregates, to
anyone who asked: it never learns which organisation compared itself.

The band of an item is the decile band of the organisation's score among the sector's scores
(1 = the lowest tenth, 10 = the highest), from the nine published cut points; scores tied with cut
points are placed in the middle of the tie. Items without a score, or without published cut points
(too few organisations with a score), have no band.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

AGGREGATES_FORMAT = "cyberscan-aggregates"


@dataclass(frozen=True, slots=True)
class Standing:
    framework: str
    item: str
    status: str
    score: float | None
    band: int | None  # 1..10, None when it cannot be placed
    ready_share: float | None  # share of the peer group that is ready on this item
    group: tuple[str, str]  # the peer group: ("all", "all") or e.g. ("sector", "museum")


def band(score: float | None, cuts: Sequence[float] | None) -> int | None:
    """The decile band (1..10) of ``score`` given nine ascending cut points."""
    if score is None or not cuts or len(cuts) != 9:
        return None
    below = sum(1 for c in cuts if c < score)
    tied = sum(1 for c in cuts if c == score)
    return 1 + below + tied // 2


def is_aggregates(data: Any) -> bool:
    return isinstance(data, Mapping) and data.get("format") == AGGREGATES_FORMAT and isinstance(data.get("periods"), list)


def _group(period: Mapping[str, Any], dimension: str, value: str) -> Mapping[str, Any] | None:
    for g in period.get("groups", []):
        if isinstance(g, Mapping) and g.get("dimension") == dimension and g.get("value") == value and g.get("shown"):
            return g
    return None


def latest_period(aggregates: Mapping[str, Any]) -> Mapping[str, Any] | None:
    shown = [p for p in aggregates.get("periods", []) if isinstance(p, Mapping) and p.get("published")]
    return shown[-1] if shown else None


def peer_group(aggregates: Mapping[str, Any], summary: Mapping[str, Any], *, by: str | None) -> tuple[
        tuple[str, str], Mapping[str, Any] | None, str | None]:
    """The group to compare with: the organisation's own group in breakdown ``by`` when it is shown,
    else the whole sector. Returns (group key, the group's figures or None, the period)."""
    period = latest_period(aggregates)
    if period is None:
        return ("all", "all"), None, None
    if by:
        value = str(summary.get(by) or "")
        own = _group(period, by, value)
        if own is not None:
            return (by, value), own, str(period.get("period"))
    return ("all", "all"), _group(period, "all", "all"), str(period.get("period"))


def standings(summary: Mapping[str, Any], aggregates: Mapping[str, Any], *, by: str | None = "sector") -> list[Standing]:
    """One row per framework item of the summary, placed against the peer group (see module docstring)."""
    key, figures, _ = peer_group(aggregates, summary, by=by)
    rows = []
    for framework, fw in sorted((summary.get("frameworks") or {}).items()):
        for item, mine in sorted((fw.get("items") or {}).items()):
            stats = ((figures or {}).get("items") or {}).get(framework, {}).get(item) if figures else None
            rows.append(Standing(
                framework, item, str(mine.get("status")), mine.get("score"),
                band(mine.get("score"), stats.get("deciles") if stats else None),
                stats.get("ready") if stats else None, key,
            ))
    return rows
