"""Published aggregates (pure): hidden groups carry nothing but "shown: false", the CSV hides the same
groups, and an organisation places itself against them on its own computer (share/compare.py)."""

from __future__ import annotations

import csv
import io
from typing import Any

from cyberscan.hub import aggregates
from cyberscan.hub.charts import bars, histogram, trend
from cyberscan.share.compare import band, is_aggregates, standings
from tests.integration.hubdata import ITEMS, summary

K = 10


def _data() -> dict[str, Any]:
    latest: dict[str, dict[str, Any]] = {"2025-Q1": {}}
    for org in range(40):
        sector = "museum" if org < 25 else ("archive" if org < 37 else "library")  # library: 3
        s = summary(org, 1, week="2025-W07", sector=sector, size="small", province=None, level=org / 40)
        latest["2025-Q1"][s["organisation"]] = s
    return aggregates.build(latest, ["2025-Q1"], items=ITEMS, k=K)


def test_hidden_groups_carry_no_figures_and_every_value_is_listed() -> None:
    data = _data()
    (period,) = data["periods"]
    by = {(g["dimension"], g["value"]): g for g in period["groups"]}
    assert set(by) >= {("sector", v) for v in ("museum", "archive", "library", "other")}
    for g in period["groups"]:
        if not g["shown"]:
            assert set(g) == {"dimension", "value", "shown"}
        else:
            assert g["organisations"] >= K
    assert not by[("sector", "library")]["shown"] and not by[("sector", "other")]["shown"]
    assert not by[("sector", "archive")]["shown"]  # else 40 - 25 - 12 = 3 libraries by subtraction
    assert by[("all", "all")]["organisations"] == 40


def test_csv_shows_the_same_groups_as_the_json() -> None:
    data = _data()
    rows = list(csv.DictReader(io.StringIO(aggregates.to_csv(data))))
    shown_json = {(g["dimension"], g["value"]) for g in data["periods"][0]["groups"] if g["shown"]}
    shown_csv = {(r["dimension"], r["group"]) for r in rows if r["shown"] == "true"}
    assert shown_csv == shown_json
    assert all(r["organisations"] == "" and r["value"] == "" for r in rows if r["shown"] == "false")


def test_an_organisation_places_itself_in_decile_bands() -> None:
    assert band(0.0, [0.1 * i for i in range(1, 10)]) == 1
    assert band(1.0, [0.1 * i for i in range(1, 10)]) == 10
    assert band(0.5, [0.5] * 9) == 5  # tied with every cut point: the middle, not the bottom
    assert band(None, [0.5] * 9) is None and band(0.5, None) is None
    data = _data()
    assert is_aggregates(data) and not is_aggregates({"periods": []})
    mine = summary(99, 1, sector="museum", level=1.0)
    rows = standings(mine, data, by="sector")
    assert rows and all(r.group == ("sector", "museum") for r in rows)
    assert all(r.band is None or 1 <= r.band <= 10 for r in rows)
    archive = standings(summary(98, 1, sector="archive"), data, by="sector")
    assert all(r.group == ("all", "all") for r in archive)  # own group hidden: compared with everyone


def test_charts_escape_labels_and_draw_every_value() -> None:
    svg = str(bars([("<script>x</script>", 0.5), ("b", 1.0)], label="a & b"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and svg.count('class="bar"') == 2
    assert str(histogram([0.1] * 10, label="h")).count('class="bar"') == 10
    assert str(trend([("2025-Q1", 0.2), ("2025-Q2", 0.4)], label="t")).count('class="point"') == 2
