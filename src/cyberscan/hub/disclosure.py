"""Small groups never show: which aggregates the hub may publish (statistical disclosure control).

Pure, no Django. docs/hub.md gives the rule, its source and the attacker it is built against. In short,
the hub publishes, per closed period (a quarter), the total and one-way breakdowns (sector, size
class, province): tables whose cells add up to the total. Every statistic of a cell is a sum over its
organisations (counts, shares, score sums) or an order statistic of them. Organisations are counted
with their latest submission (an organisation that does not submit again keeps its last state), so
between two periods a cell changes only by the organisations that joined it.

The rule (threshold rule plus secondary suppression, in time as well):

1. *Threshold.* A cell shows only with at least ``k`` organisations (default 10, never below 5);
   a period shows only when its total does.
2. *Secondary suppression.* In each breakdown the hidden cells together hold 0 or at least ``k``
   organisations, so "total minus the groups shown" never isolates a small group. The total is
   always shown with the period, so adding up another breakdown recomputes nothing new: two
   breakdowns of one period are linked only through their common total.
3. *Across periods.* For any two published periods and each breakdown, take the groups that can be
   told apart in both (the common coarsening of the two periods' shown/hidden patterns): the set of
   organisations that entered or left such a group between the two periods is 0 or at least ``k``.
   Newcomers are therefore held back until ``k`` of them (per such group) can be counted together,
   so subtracting last quarter from this one never shows one newcomer.

Periods are decided oldest first and what was published stays as it was. For a new period every cell
starts shown and every newcomer counted; each violation found is repaired by holding back newcomers
or hiding one more cell (the smallest), until none is left. Holding back every newcomer and hiding
every cell always satisfies the rule, so the repair always ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_K = 10
MIN_K = 5
ALL = "all"
TOTAL = (ALL, ALL)

Cell = tuple[str, str]  # (dimension, value); the total is ("all", "all")


@dataclass(frozen=True, slots=True)
class Member:
    """One organisation as counted in one period: its pseudonymous id and its group per dimension."""

    org: str
    groups: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PeriodInput:
    """Every organisation known by the end of ``period`` (each with its latest self-description)."""

    period: str
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class PeriodRelease:
    period: str
    published: bool
    cells: Mapping[Cell, frozenset[str]]  # shown cells (the total among them) -> their organisations
    counted: frozenset[str]  # organisations in the period's figures
    held: frozenset[str] = field(default_factory=frozenset)  # newcomers waiting for company
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)  # org -> dim -> value


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < MIN_K:
        raise ValueError(f"k must be an integer of at least {MIN_K}")
    return k


def _blocks(vocabulary: Sequence[str], shown: Iterable[str]) -> list[frozenset[str]]:
    """The groups that can be told apart: each shown value, and the hidden values together."""
    shown_set = set(shown)
    hidden = frozenset(v for v in vocabulary if v not in shown_set)
    return [frozenset([v]) for v in vocabulary if v in shown_set] + ([hidden] if hidden else [])


def common_coarsening(a: Sequence[frozenset[str]], b: Sequence[frozenset[str]]) -> list[frozenset[str]]:
    """The finest partition that both partitions refine (blocks that overlap are joined)."""
    merged: list[set[str]] = []
    for block in [*a, *b]:
        joined = set(block)
        rest = []
        for existing in merged:
            if existing & joined:
                joined |= existing
            else:
                rest.append(existing)
        merged = [*rest, joined]
    return sorted((frozenset(m) for m in merged), key=sorted)


def _in_block(values: Mapping[str, Mapping[str, str]], orgs: Iterable[str], dim: str, block: frozenset[str]) -> set[str]:
    return {o for o in orgs if values[o].get(dim, "") in block}


@dataclass
class _Trial:
    counted: set[str]
    newcomers: set[str]
    hidden: dict[str, set[str]]  # dimension -> hidden values
    prefer_hiding: bool = False  # repair a small change by hiding a cell rather than holding newcomers back

    def value(self, values: Mapping[str, Mapping[str, str]], dims: Mapping[str, Sequence[str]]) -> int:
        """How much a result shows: the organisations counted in each shown cell, added up."""
        return sum(len(orgs) for orgs in _cells(values, self.counted, dims, self.hidden).values())


def _cells(values: Mapping[str, Mapping[str, str]], counted: Iterable[str], dims: Mapping[str, Sequence[str]],
           hidden: Mapping[str, set[str]]) -> dict[Cell, frozenset[str]]:
    counted = list(counted)
    out: dict[Cell, frozenset[str]] = {TOTAL: frozenset(counted)}
    for dim, vocabulary in dims.items():
        for value in vocabulary:
            if value not in hidden[dim]:
                out[(dim, value)] = frozenset(o for o in counted if values[o].get(dim, "") == value)
    return out


def _repair(trial: _Trial, values: Mapping[str, Mapping[str, str]], dims: Mapping[str, Sequence[str]],
            history: Sequence[PeriodRelease], k: int) -> bool:
    """Find the first violation and repair it (hold newcomers back or hide a cell); False when none."""
    def small(n: int) -> bool:
        return 0 < n < k

    if small(len(trial.counted)) or (trial.newcomers and len(trial.counted) < k):
        if not trial.newcomers:
            return False  # cannot happen: the counted organisations were at least k before
        trial.counted -= trial.newcomers
        trial.newcomers = set()
        return True
    for past in history:
        if small(len(trial.counted - past.counted)):
            trial.counted -= trial.newcomers  # the change since then is below k: newcomers wait
            trial.newcomers = set()
            return True
    for dim, vocabulary in dims.items():
        hidden = trial.hidden[dim]
        sizes = {v: sum(1 for o in trial.counted if values[o].get(dim, "") == v) for v in vocabulary}
        for value in vocabulary:
            if value not in hidden and sizes[value] < k:
                hidden.add(value)
                return True
        remainder = sum(sizes[v] for v in hidden)
        shown = [v for v in vocabulary if v not in hidden]
        if small(remainder) and shown:
            hidden.add(min(shown, key=lambda v: (sizes[v], v)))
            return True
        for past in history:
            for block in common_coarsening(_blocks(vocabulary, [v for v in vocabulary if v not in past_hidden(past, dim,
                                                                                                           vocabulary)]),
                                           _blocks(vocabulary, shown)):
                now = _in_block(values, trial.counted, dim, block)
                then = _in_block(past.values, past.counted, dim, block)
                change = now ^ then
                if not small(len(change)):
                    continue
                waiting = change & trial.newcomers
                candidates = [v for v in shown if v in block] or shown
                if waiting and not (change - waiting) and not (trial.prefer_hiding and candidates):
                    trial.counted -= waiting
                    trial.newcomers -= waiting
                    return True
                if candidates:
                    hidden.add(min(candidates, key=lambda v: (sizes[v], v)))
                    return True
                # every value hidden and still a small change: only newcomers can be the cause
                if trial.newcomers:
                    trial.counted -= trial.newcomers
                    trial.newcomers = set()
                    return True
    return False


def past_hidden(release: PeriodRelease, dim: str, vocabulary: Sequence[str]) -> set[str]:
    return {v for v in vocabulary if (dim, v) not in release.cells}


def release(periods: Sequence[PeriodInput], *, k: int = DEFAULT_K,
            dimensions: Mapping[str, Sequence[str]]) -> tuple[PeriodRelease, ...]:
    """Decide, period after period (oldest first), which cells are shown and who is counted.

    ``dimensions`` maps each breakdown to its full vocabulary (the empty string for "not given"), so
    a group that has no members at all looks exactly like one that is hidden."""
    check_k(k)
    released: set[str] = set()
    history: list[PeriodRelease] = []
    out: list[PeriodRelease] = []
    for period in periods:
        values = {m.org: dict(m.groups) for m in period.members}
        old = {o for o in values if o in released}
        pending = set(values) - old
        best: _Trial | None = None
        for prefer_hiding in (False, True):
            trial = _Trial(old | pending, set(pending), {d: set() for d in dimensions}, prefer_hiding)
            for _ in range(10 * (len(values) + sum(len(v) for v in dimensions.values())) + 10):
                if not _repair(trial, values, dimensions, history, k):
                    break
            if len(trial.counted) < k or violations(trial, values, dimensions, history, k):
                continue
            if best is None or trial.value(values, dimensions) > best.value(values, dimensions):
                best = trial
        if best is not None:
            trial = best
            cells = _cells(values, trial.counted, dimensions, trial.hidden)
            counted = frozenset(trial.counted)
            entry = PeriodRelease(period.period, True, cells, counted, frozenset(pending - counted),
                                  {o: values[o] for o in counted})
            released |= counted
            history.append(entry)
        else:
            entry = PeriodRelease(period.period, False, {}, frozenset(), frozenset(pending))
        out.append(entry)
    return tuple(out)


def violations(trial: _Trial, values: Mapping[str, Mapping[str, str]], dims: Mapping[str, Sequence[str]],
               history: Sequence[PeriodRelease], k: int) -> bool:
    probe = _Trial(set(trial.counted), set(trial.newcomers), {d: set(h) for d, h in trial.hidden.items()},
                   trial.prefer_hiding)
    return _repair(probe, values, dims, history, k)


def audit(releases: Sequence[PeriodRelease], dimensions: Mapping[str, Sequence[str]], k: int) -> list[str]:
    """Every way ``releases`` break the rule (see the module docstring), as readable lines: empty when safe."""
    problems: list[str] = []
    shown = [r for r in releases if r.published]
    for index, rel in enumerate(shown):
        total = len(rel.cells[TOTAL])
        if total < k:
            problems.append(f"{rel.period}: total {total}")
        for dim, vocabulary in dimensions.items():
            hidden = past_hidden(rel, dim, vocabulary)
            for value in vocabulary:
                if value not in hidden and len(rel.cells[(dim, value)]) < k:
                    problems.append(f"{rel.period}: {dim}={value} shows {len(rel.cells[(dim, value)])}")
            remainder = len(_in_block(rel.values, rel.counted, dim, frozenset(hidden)))
            if 0 < remainder < k:
                problems.append(f"{rel.period}: hidden {dim} groups hold {remainder}")
        for earlier in shown[:index]:
            change = rel.counted ^ earlier.counted
            if 0 < len(change) < k:
                problems.append(f"{earlier.period}->{rel.period}: total changes by {len(change)}")
            for dim, vocabulary in dimensions.items():
                blocks = common_coarsening(
                    _blocks(vocabulary, set(vocabulary) - past_hidden(earlier, dim, vocabulary)),
                    _blocks(vocabulary, set(vocabulary) - past_hidden(rel, dim, vocabulary)))
                for block in blocks:
                    moved = (_in_block(rel.values, rel.counted, dim, block)
                             ^ _in_block(earlier.values, earlier.counted, dim, block))
                    if 0 < len(moved) < k:
                        problems.append(f"{earlier.period}->{rel.period}: {dim} {sorted(block)} changes by {len(moved)}")
    return problems
