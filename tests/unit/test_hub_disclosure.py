"""Small groups never show (src/cyberscan/hub/disclosure.py).

Besides examples, an exact check on random data: whatever the search publishes, no set of fewer than
k organisations can be recomputed by any linear combination of the published cells of one breakdown,
the totals and earlier periods (organisations assumed unchanged between periods, the attacker's best
case). The check is brute force over rational arithmetic, independent of the module's own rule."""

from __future__ import annotations

import itertools
import os
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberscan.hub.disclosure import TOTAL, Member, PeriodInput, PeriodRelease, audit, check_k, release


def _periods(groups_by_period: list[dict[str, dict[str, str]]]) -> list[PeriodInput]:
    return [PeriodInput(f"P{i}", tuple(Member(o, g) for o, g in sorted(period.items())))
            for i, period in enumerate(groups_by_period)]


def _rank(rows: list[list[Fraction]]) -> int:
    rows = [r[:] for r in rows]
    rank, col, width = 0, 0, len(rows[0]) if rows else 0
    while rank < len(rows) and col < width:
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            col += 1
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][col] != 0:
                factor = rows[i][col] / rows[rank][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
        col += 1
    return rank


def recomputable_small_sets(releases: tuple[PeriodRelease, ...], dimension: str, k: int) -> list[frozenset[str]]:
    """Every set of 1..k-1 organisations whose figures follow exactly from the published cells of
    ``dimension`` and the totals, over all published periods (brute force)."""
    orgs = sorted({o for r in releases for o in r.counted})
    if not orgs:
        return []
    vectors = []
    for rel in releases:
        if not rel.published:
            continue
        for (dim, _value), members in rel.cells.items():
            if dim in (dimension, TOTAL[0]):
                vectors.append([Fraction(1 if o in members else 0) for o in orgs])
    if not vectors:
        return []
    classes: dict[tuple[Fraction, ...], list[str]] = {}
    for j, org in enumerate(orgs):
        classes.setdefault(tuple(v[j] for v in vectors), []).append(org)
    groups = [members for signature, members in classes.items() if any(signature)]
    base = _rank(vectors)
    found = []
    for size in range(1, len(groups) + 1):
        for combo in itertools.combinations(groups, size):
            members = frozenset(o for g in combo for o in g)
            if len(members) >= k:
                continue
            candidate = [Fraction(1 if o in members else 0) for o in orgs]
            if _rank([*vectors, candidate]) == base:
                found.append(members)
    return found


VALUES = ("a", "b", "c")


@st.composite
def populations(draw: st.DrawFn) -> list[dict[str, dict[str, str]]]:
    orgs: dict[str, dict[str, str]] = {}
    periods = []
    for _ in range(draw(st.integers(1, 3))):
        for _ in range(draw(st.integers(0, 14))):
            orgs[f"o{len(orgs)}"] = {"d": draw(st.sampled_from(VALUES)), "e": draw(st.sampled_from(VALUES))}
        if orgs and draw(st.booleans()):  # an organisation changes its group
            moved = draw(st.sampled_from(sorted(orgs)))
            orgs[moved] = {**orgs[moved], "d": draw(st.sampled_from(VALUES))}
        periods.append({o: dict(g) for o, g in orgs.items()})
    return periods


@settings(max_examples=int(os.environ.get("CYBERSCAN_SDC_EXAMPLES", "120")), deadline=None)
@given(populations())
def test_no_small_group_can_be_recomputed_from_what_is_published(groups: list[dict[str, dict[str, str]]]) -> None:
    k = 5
    releases = release(_periods(groups), k=k, dimensions={"d": VALUES, "e": VALUES})
    assert audit(releases, {"d": VALUES, "e": VALUES}, k) == []
    for dimension in ("d", "e"):
        assert recomputable_small_sets(releases, dimension, k) == []


def test_a_small_group_is_hidden_with_a_second_one_so_the_total_gives_nothing_away() -> None:
    orgs = {f"m{i}": {"sector": "museum"} for i in range(12)}
    orgs |= {f"a{i}": {"sector": "archive"} for i in range(11)}
    orgs |= {f"l{i}": {"sector": "library"} for i in range(3)}
    (rel,) = release(_periods([orgs]), k=10, dimensions={"sector": ("museum", "archive", "library", "other")})
    assert rel.published and len(rel.cells[TOTAL]) == 26
    shown = {value for (dim, value) in rel.cells if dim == "sector"}
    assert "library" not in shown and len(shown) == 1  # library (3) and the smallest other group hidden together
    hidden = 26 - sum(len(rel.cells[("sector", v)]) for v in shown)
    assert hidden >= 10


def test_a_newcomer_waits_until_it_cannot_be_found_by_subtraction() -> None:
    base = {f"o{i}": {"sector": "museum"} for i in range(20)}
    one_more = {**base, "new0": {"sector": "museum"}}
    ten_more = {**one_more, **{f"new{i}": {"sector": "museum"} for i in range(1, 10)}}
    rels = release(_periods([base, one_more, one_more, ten_more]), k=10, dimensions={"sector": ("museum", "other")})
    assert [len(r.counted) for r in rels] == [20, 20, 20, 30]
    assert "new0" in rels[1].held and "new0" in rels[3].counted
    assert recomputable_small_sets(rels, "sector", 10) == []


def test_too_few_organisations_publish_nothing() -> None:
    (rel,) = release(_periods([{f"o{i}": {"sector": "museum"} for i in range(9)}]), k=10,
                     dimensions={"sector": ("museum",)})
    assert not rel.published and rel.cells == {}


@pytest.mark.parametrize("k", [4, 0, -1, True])
def test_k_is_never_below_five(k: int) -> None:
    with pytest.raises(ValueError):
        check_k(k)
    with pytest.raises(ValueError):
        release([], k=k, dimensions={})


def _naive(groups: list[dict[str, dict[str, str]]]) -> tuple[PeriodRelease, ...]:
    """Publish every cell, as a dashboard without disclosure control would."""
    out = []
    for i, period in enumerate(groups):
        cells = {TOTAL: frozenset(period)}
        for value in {g["d"] for g in period.values()}:
            cells[("d", value)] = frozenset(o for o, g in period.items() if g["d"] == value)
        out.append(PeriodRelease(f"P{i}", True, cells, frozenset(period), values=period))
    return tuple(out)


def test_the_brute_force_check_sees_the_attacks_it_guards_against() -> None:
    big = {f"o{i}": {"d": "a"} for i in range(12)}
    with_small = {**big, "x": {"d": "b"}, "y": {"d": "b"}}
    # total minus the shown group: hiding only the small group does not help
    hidden_alone = (PeriodRelease("P0", True, {TOTAL: frozenset(with_small), ("d", "a"): frozenset(big)},
                                  frozenset(with_small), values=with_small),)
    assert frozenset({"x", "y"}) in recomputable_small_sets(hidden_alone, "d", 5)
    # this quarter minus the last: one newcomer
    newcomer = {**big, "new": {"d": "a"}}
    assert frozenset({"new"}) in recomputable_small_sets(_naive([big, newcomer]), "d", 5)
    assert audit(hidden_alone, {"d": ("a", "b")}, 5) and audit(_naive([big, newcomer]), {"d": ("a", "b")}, 5)
