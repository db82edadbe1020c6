"""Small groups never show: which aggregates the hub may publish (statistical disclosure control).

Pure, no Django. docs/hub.md gives the rule, its source and the attacker it is built against. In short,
the hub publishes, per closed period (a quarter), the total and one-way breakdowns (sector, size
class, province): tables whose cells add up to the total. Every statistic of a cell is a sum over its
organisations (counts, shares, score sums) or an order statistic of them. Organisations are counted
with their latest submission (an organisation that does not submit again keeps its last state), so
between two periods a cell changes only by the organisations that joined it.

The rule (threshold rule plus secondary suppression, across breakdowns and in time):

1. *Threshold.* A cell shows only with at least ``k`` organisations (default 10, never below 5);
   a period shows only when its total does.
2. *Nothing small can be recomputed.* No set of 1..k-1 organisations has figures that follow
   exactly from adding and subtracting published cells (the totals and the groups of one breakdown,
   over every published period, organisations assumed unchanged between periods). This covers
   "total minus the groups shown" (secondary suppression), a second breakdown giving the total, and
   "this quarter minus the last" (a newcomer waits until it has company).
   :func:`small_set_recomputable` checks it exactly (see docs/hub.md).

Periods are decided oldest first and what was published stays as it was. For a new period every cell
starts shown and every newcomer counted; fast repairs (hide the smallest cells, hold newcomers back
when a group changes by fewer than ``k``) come first, then the exact check decides, and what it finds
is repaired by keeping the previous period's pattern, holding newcomers back or hiding a breakdown.
Of the safe results the one that shows most is kept. Holding back every newcomer and hiding every
breakdown always satisfies the rule, so the search always ends with a safe answer.
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
        raise ValueError(f"k >= {MIN_K}")
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
    for past in history[-1:]:  # the exact check covers the older periods
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
        for past in history[-1:]:  # the exact check covers the older periods
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
            fixed = _exact_fix(trial, values, dimensions, history, k, old)
            if fixed is None:
                continue
            if best is None or fixed.value(values, dimensions) > best.value(values, dimensions):
                best = fixed
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


def _dimension_cells(history: Sequence[PeriodRelease], dim: str | None) -> list[frozenset[str]]:
    return [orgs for rel in history for (d, _), orgs in rel.cells.items() if d == ALL or d == dim]


def _exact_ok(trial: _Trial, values: Mapping[str, Mapping[str, str]], dims: Mapping[str, Sequence[str]],
              history: Sequence[PeriodRelease], k: int, only: str | None = None) -> str | None:
    """The first breakdown (or ``"all"``) from which a small set could be recomputed, else None."""
    cells = _cells(values, trial.counted, dims, trial.hidden)
    for dim in ([only] if only else [*dims, None]):
        now = [orgs for (d, _), orgs in cells.items() if d == ALL or d == dim]
        if small_set_recomputable([*_dimension_cells(history, dim), *now], k):
            return dim or ALL
    return None


def _exact_fix(trial: _Trial, values: Mapping[str, Mapping[str, str]], dims: Mapping[str, Sequence[str]],
               history: Sequence[PeriodRelease], k: int, old: set[str]) -> _Trial | None:
    """Repair what the exact check finds: per breakdown, the previous period's pattern ("the same
    suppression across periods"), or newcomers held back, or the whole breakdown hidden."""
    previous = history[-1] if history else None
    for _ in range(4 * (len(dims) + 1)):
        failing = _exact_ok(trial, values, dims, history, k)
        if failing is None:
            return trial
        options: list[_Trial] = []
        if failing != ALL and previous is not None:
            same = {**trial.hidden, failing: past_hidden(previous, failing, dims[failing])}
            options.append(_Trial(set(trial.counted), set(trial.newcomers), {d: set(h) for d, h in same.items()}))
        options.append(_Trial(set(old), set(), {d: set(h) for d, h in trial.hidden.items()}))
        if failing != ALL:
            hide = {**trial.hidden, failing: set(dims[failing])}
            options.append(_Trial(set(trial.counted), set(trial.newcomers), {d: set(h) for d, h in hide.items()}))
            options.append(_Trial(set(old), set(), {d: set(h) for d, h in hide.items()}))
        valid = [o for o in options if len(o.counted) >= k and not violations(o, values, dims, history, k)
                 and _exact_ok(o, values, dims, history, k, only=failing if failing != ALL else None) is None]
        if not valid:
            return None
        trial = max(valid, key=lambda o: o.value(values, dims))  # the first of equals: the same pattern as before
    return None


def violations(trial: _Trial, values: Mapping[str, Mapping[str, str]], dims: Mapping[str, Sequence[str]],
               history: Sequence[PeriodRelease], k: int) -> bool:
    probe = _Trial(set(trial.counted), set(trial.newcomers), {d: set(h) for d, h in trial.hidden.items()},
                   trial.prefer_hiding)
    return _repair(probe, values, dims, history, k)


def audit(releases: Sequence[PeriodRelease], dimensions: Mapping[str, Sequence[str]], k: int) -> list[str]:
    """Every way ``releases`` break the rule (see the module docstring), as readable lines: empty when safe."""
    problems: list[str] = []
    shown = [r for r in releases if r.published]
    for dim in [*dimensions, None]:
        if small_set_recomputable(_dimension_cells(shown, dim), k):
            problems.append(f"recomputable: < {k} from {dim or 'total'}")
    for rel in shown:
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
    return problems


# ----------------------------------------------------------------------------- the exact check

_PRIME = (1 << 61) - 1  # arithmetic modulo a large prime: a set found "recomputable" here may be a false alarm
MAX_SEARCH = 16  # more independent small combinations than this: treat as recomputable (hide more)


def _rref(rows: list[list[int]]) -> list[tuple[int, list[int]]]:
    """Reduced row echelon form modulo the prime: (pivot column, row) for each independent row."""
    matrix = [[v % _PRIME for v in r] for r in rows]
    width = len(matrix[0]) if matrix else 0
    pivots: list[int] = []
    rank = 0
    for col in range(width):
        found = next((i for i in range(rank, len(matrix)) if matrix[i][col]), None)
        if found is None:
            continue
        matrix[rank], matrix[found] = matrix[found], matrix[rank]
        inverse = pow(matrix[rank][col], _PRIME - 2, _PRIME)
        matrix[rank] = [v * inverse % _PRIME for v in matrix[rank]]
        for i in range(len(matrix)):
            if i != rank and matrix[i][col]:
                factor = matrix[i][col]
                matrix[i] = [(a - factor * b) % _PRIME for a, b in zip(matrix[i], matrix[rank], strict=True)]
        pivots.append(col)
        rank += 1
        if rank == len(matrix):
            break
    return [(col, matrix[i]) for i, col in enumerate(pivots)]


def small_set_recomputable(cells: Sequence[frozenset[str]], k: int) -> bool:
    """Whether some set of 1..k-1 organisations has figures that follow exactly from ``cells`` (sums
    over sets of organisations) by adding and subtracting them. Exact search in the span of the
    cells restricted to the small classes of organisations that no cell tells apart."""
    cells = list(dict.fromkeys(c for c in cells if c))  # a cell published again adds nothing
    classes: dict[tuple[int, ...], int] = {}
    members: dict[str, list[int]] = {}
    for index, cell in enumerate(cells):
        for org in cell:
            members.setdefault(org, []).append(index)
    for indices in members.values():
        key = tuple(indices)
        classes[key] = classes.get(key, 0) + 1
    signatures = list(classes)
    small = [s for s in signatures if classes[s] < k]
    if not small:
        return False
    big = [s for s in signatures if classes[s] >= k]
    # rows: the cells; columns: the large classes first, then the small ones. In reduced row echelon
    # form the rows whose pivot lies among the small columns are zero on every large class, and they
    # span exactly the combinations of cells that concern small classes only.
    columns = [set(s) for s in (*big, *small)]
    matrix = [[1 if i in col else 0 for col in columns] for i in range(len(cells))]
    basis = [(c - len(big), row[len(big):]) for c, row in _rref(matrix) if c >= len(big)]
    if len(basis) > MAX_SEARCH:
        return True
    weights = [classes[s] for s in small]
    width = len(small)

    def search(start: int, vector: list[int], pivot_weight: int) -> bool:
        # the chosen rows' pivots are 1 in the sum; their classes alone weigh ``pivot_weight``
        for i in range(start, len(basis)):
            pivot, row = basis[i]
            weight = pivot_weight + weights[pivot]
            if weight >= k:
                continue
            summed = [(a + b) % _PRIME for a, b in zip(vector, row, strict=True)]
            if all(v in (0, 1) for v in summed) and sum(w for w, v in zip(weights, summed, strict=True) if v) < k:
                return True
            if search(i + 1, summed, weight):
                return True
        return False

    return search(0, [0] * width, 0)
