"""The published aggregates: statistics of the cells that :mod:`disclosure` lets show. Pure, no Django.

Input: per closed period, each organisation's latest summary (as submitted). Output: the JSON that
``/api/aggregates`` serves, the CSV and the dashboard read, and that an organisation's own computer
reads to place itself (:mod:`cyberscan.share.compare`). Hidden groups carry ``"shown": false`` and
nothing else; the vocabulary of every breakdown is listed in full, so an empty group looks exactly
like a hidden one.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ..share.summary import PROVINCES, SECTORS, SIZES
from .disclosure import ALL, DEFAULT_K, Member, PeriodInput, PeriodRelease, release

FORMAT = "cyberscan-aggregates"
FORMAT_VERSION = 1
DIMENSIONS: dict[str, tuple[str, ...]] = {"sector": SECTORS, "size": SIZES, "province": (*PROVINCES, "")}
FRAMEWORKS = ("den-checklist", "den-stappenplan")
READY = ("ok", "ok-external")
TOP_GAPS = 5

Summary = Mapping[str, Any]


def groups_of(summary: Summary) -> dict[str, str]:
    return {"sector": str(summary.get("sector") or ""), "size": str(summary.get("size") or ""),
            "province": str(summary.get("province") or "")}


def _round(value: float) -> float:
    return round(value, 4)


def deciles(values: Sequence[float]) -> list[float] | None:
    """The nine cut points between tenths (inclusive method), or None for fewer than two values."""
    if len(values) < 2:
        return None
    return [_round(v) for v in statistics.quantiles(sorted(values), n=10, method="inclusive")]


def _framework_stats(states: Sequence[Summary], framework: str, k: int) -> dict[str, Any]:
    scores = [float(s["frameworks"][framework]["score"]) for s in states
              if s.get("frameworks", {}).get(framework, {}).get("score") is not None]
    histogram = [0] * 10
    for score in scores:
        histogram[min(int(score * 10), 9)] += 1
    n = len(states)
    return {
        "mean": _round(statistics.fmean(scores)) if scores else None,
        "deciles": deciles(scores) if len(scores) >= k else None,
        "histogram": [_round(c / n) for c in histogram],
        "unknown": _round((n - len(scores)) / n),
    }


def _item_stats(states: Sequence[Summary], framework: str, item: str, k: int) -> dict[str, Any]:
    n = len(states)
    statuses = [s.get("frameworks", {}).get(framework, {}).get("items", {}).get(item, {}) for s in states]
    ready = sum(1 for st in statuses if st.get("status") in READY)
    gap = sum(1 for st in statuses if st.get("status") == "gap")
    scores = [float(st["score"]) for st in statuses if st.get("score") is not None]
    return {"ready": _round(ready / n), "gap": _round(gap / n), "unknown": _round((n - ready - gap) / n),
            "deciles": deciles(scores) if len(scores) >= k else None}


def cell_stats(states: Sequence[Summary], items: Mapping[str, Sequence[str]], k: int) -> dict[str, Any]:
    """Every statistic of one shown cell (``states``: the latest summary of each of its organisations)."""
    frameworks = {fw: _framework_stats(states, fw, k) for fw in items}
    item_stats = {fw: {item: _item_stats(states, fw, item, k) for item in ids} for fw, ids in items.items()}
    gaps = sorted(((stats["gap"], fw, item) for fw, by_item in item_stats.items() for item, stats in by_item.items()),
                  key=lambda g: (-g[0], g[2]))
    return {
        "organisations": len(states),
        "frameworks": frameworks,
        "items": item_stats,
        "gaps": [{"framework": fw, "item": item, "gap": share} for share, fw, item in gaps[:TOP_GAPS] if share > 0],
    }


def periods_from(latest: Mapping[str, Mapping[str, Summary]], closed: Sequence[str]) -> tuple[list[PeriodInput],
                                                                                            dict[str, dict[str, Summary]]]:
    """Carry each organisation's latest summary forward through the closed periods.

    ``latest[period][org]`` is the organisation's last summary in that period. Returns the inputs of
    :func:`disclosure.release` and each period's state per organisation."""
    state: dict[str, Summary] = {}
    inputs: list[PeriodInput] = []
    states: dict[str, dict[str, Summary]] = {}
    for period in closed:
        state.update(latest.get(period, {}))
        states[period] = dict(state)
        inputs.append(PeriodInput(period, tuple(Member(org, groups_of(s)) for org, s in sorted(state.items()))))
    return inputs, states


def build(latest: Mapping[str, Mapping[str, Summary]], closed: Sequence[str], *, items: Mapping[str, Sequence[str]],
          k: int = DEFAULT_K, catalogue_version: str = "") -> dict[str, Any]:
    """The published aggregates of the closed periods (oldest first)."""
    inputs, states = periods_from(latest, closed)
    releases = release(inputs, k=k, dimensions=DIMENSIONS)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "k": k,
        "catalogue_version": catalogue_version,
        "dimensions": {d: list(v) for d, v in DIMENSIONS.items()},
        "items": {fw: list(ids) for fw, ids in items.items()},
        "periods": [_period(r, states[r.period], items, k) for r in releases],
    }


def _period(rel: PeriodRelease, state: Mapping[str, Summary], items: Mapping[str, Sequence[str]], k: int) -> dict[str, Any]:
    if not rel.published:
        return {"period": rel.period, "published": False}
    groups = []
    for dim, vocabulary in (("all", (ALL,)), *DIMENSIONS.items()):
        for value in vocabulary:
            orgs = rel.cells.get((dim, value))
            if orgs is None:
                groups.append({"dimension": dim, "value": value, "shown": False})
            else:
                stats = cell_stats([state[o] for o in sorted(orgs)], items, k)
                groups.append({"dimension": dim, "value": value, "shown": True, **stats})
    return {"period": rel.period, "published": True, "groups": groups}


def latest_published(aggregates: Mapping[str, Any]) -> Mapping[str, Any] | None:
    shown = [p for p in aggregates.get("periods", []) if p.get("published")]
    return shown[-1] if shown else None


def group(period: Mapping[str, Any], dimension: str, value: str) -> Mapping[str, Any] | None:
    for g in period.get("groups", []):
        if g.get("dimension") == dimension and g.get("value") == value:
            return g if g.get("shown") else None
    return None


CSV_COLUMNS = ("period", "dimension", "group", "shown", "organisations", "framework", "item", "measure", "value")


def to_csv(aggregates: Mapping[str, Any]) -> str:
    """The aggregates as one long table: a row per period, group and measure (hidden groups: one row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for period in aggregates.get("periods", []):
        if not period.get("published"):
            writer.writerow([period["period"], "", "", "false", "", "", "", "", ""])
            continue
        for g in period["groups"]:
            head = [period["period"], g["dimension"], g["value"]]
            if not g["shown"]:
                writer.writerow([*head, "false", "", "", "", "", ""])
                continue
            n = g["organisations"]
            for fw, stats in g["frameworks"].items():
                writer.writerow([*head, "true", n, fw, "", "mean", _csv(stats["mean"])])
                for i, share in enumerate(stats["histogram"]):
                    writer.writerow([*head, "true", n, fw, "", f"histogram.{i * 10}-{i * 10 + 10}", _csv(share)])
            for fw, by_item in g["items"].items():
                for item, stats in by_item.items():
                    for measure in ("ready", "gap", "unknown"):
                        writer.writerow([*head, "true", n, fw, item, measure, _csv(stats[measure])])
    return out.getvalue()


def _csv(value: Any) -> str:
    return "" if value is None else str(value)
