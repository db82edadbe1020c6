"""The dashboard in headless Chromium with a seeded data set: the charts render, and every group below k is
suppressed, also when the shown numbers of two breakdowns, or of two quarters, are subtracted."""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.integration.hubdata import summary
from tests.integration.hubserver import Hub, create_token

pytestmark = pytest.mark.integration

K = 10
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SECTORS = ["museum"] * 5 + ["archive"] * 3 + ["library"] * 2 + ["other"]
SIZES = ["micro"] * 4 + ["small"] * 3 + ["medium"] * 2 + ["large"]
PROVINCES = ["utrecht"] * 4 + ["noord-holland"] * 3 + ["zeeland", "fryslan", None, None]
# quarter -> how many organisations join then; 2025-Q3's three newcomers are too few to show
JOINS = {"2025-Q1": 64, "2025-Q2": 40, "2025-Q3": 3}
WEEKS = {"2025-Q1": "2025-W07", "2025-Q2": "2025-W20", "2025-Q3": "2025-W33"}


def _seed(database: str) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    org = 0
    with sqlite3.connect(database.removeprefix("sqlite:///")) as conn:
        for quarter, joining in JOINS.items():
            for _ in range(joining):
                body = summary(org, 1, week=WEEKS[quarter], sector=SECTORS[org % 11], size=SIZES[org % 10],
                               province=PROVINCES[org % len(PROVINCES)], level=0.3 + 0.5 * ((org * 7) % 10) / 10)
                rows.setdefault(quarter, []).append(body)
                conn.execute(
                    "INSERT INTO hub_submission (submission_id, organisation, period, week, sector, size, province,"
                    " tool_version, catalogue_version, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (body["submission_id"], body["organisation"], quarter, body["week"], body["sector"],
                     body["size"], body["province"] or "", body["tool_version"], body["catalogue_version"],
                     json.dumps(body)))
                org += 1
    return rows


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium is not installed (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("dashboard")
    database = f"sqlite:///{folder / 'hub.sqlite3'}"
    create_token(database, folder)  # creates the tables
    seeded = _seed(database)
    with Hub(database, folder, k=K) as hub, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(folder / "profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = context.new_page()
        blocked: list[str] = []
        page.on("request", lambda r: blocked.append(r.url) if not r.url.startswith(hub.url) else None)
        page.goto(hub.url + "/?lang=en")
        page.screenshot(path=str(folder / "dashboard.png"), full_page=True)
        facts = page.evaluate("""() => {
          const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
          return {
            charts: [...document.querySelectorAll('svg.chart')].map(s => ({cls: s.getAttribute('class'), size: box(s),
                     bars: [...s.querySelectorAll('rect.bar')].map(box), points: s.querySelectorAll('circle.point').length})),
            total: Number(document.querySelector('#period').dataset.total),
            period: document.querySelector('#period').dataset.period,
            breakdowns: [...document.querySelectorAll('table.breakdown')].map(t => ({
              dimension: t.dataset.dimension,
              rows: [...t.querySelectorAll('tr.group')].map(r => ({value: r.dataset.value,
                     organisations: r.dataset.organisations === undefined ? null : Number(r.dataset.organisations),
                     suppressed: r.dataset.suppressed === 'true', text: r.innerText}))})),
            quarters: [...document.querySelectorAll('tr.quarter')].map(r => [r.dataset.period, Number(r.dataset.organisations)]),
            text: document.body.innerText,
          };
        }""")
        context.close()
    facts["blocked"] = blocked
    facts["seeded"] = seeded
    facts["folder"] = folder
    return facts


def test_charts_render_without_external_assets(dashboard: dict[str, Any]) -> None:
    charts = dashboard["charts"]
    kinds = [c["cls"] for c in charts]
    assert "chart histogram" in kinds and "chart trend" in kinds and kinds.count("chart bars") == 2
    assert all(c["size"][0] > 100 and c["size"][1] > 50 for c in charts)
    for chart in charts:
        if chart["cls"] != "chart trend":
            assert any(w > 1 and h > 1 for w, h in chart["bars"]), chart  # bars with a drawn size
    # every closed quarter since the first is published (organisations keep their latest summary)
    points = next(c for c in charts if c["cls"] == "chart trend")["points"]
    assert points == len(dashboard["quarters"]) >= 2
    assert dashboard["blocked"] == []  # nothing but the hub itself was asked for


def test_every_group_below_k_is_suppressed_also_by_differencing(dashboard: dict[str, Any]) -> None:
    total = dashboard["total"]
    assert total >= K
    seeded = dashboard["seeded"]
    everyone = [s for rows in seeded.values() for s in rows]
    # the three newest are held back until they have company: 107 never shows, nor 64 + 3
    assert total in (JOINS["2025-Q1"], JOINS["2025-Q1"] + JOINS["2025-Q2"])
    sums = {}
    for breakdown in dashboard["breakdowns"]:
        shown = [r for r in breakdown["rows"] if not r["suppressed"]]
        hidden = [r for r in breakdown["rows"] if r["suppressed"]]
        assert all(r["organisations"] >= K for r in shown), breakdown
        assert all(r["organisations"] is None and "hidden" in r["text"] for r in hidden)
        remainder = total - sum(r["organisations"] for r in shown)
        assert remainder == 0 or remainder >= K, breakdown  # total minus the groups shown
        sums[breakdown["dimension"]] = sum(r["organisations"] for r in shown)
        # the truth: a group with fewer than k organisations (even counting everyone seeded) is never shown
        for value in {(s[breakdown["dimension"]] or "") for s in everyone}:
            true_size = sum(1 for s in everyone if (s[breakdown["dimension"]] or "") == value)
            if true_size < K:
                assert any(r["value"] == value for r in hidden), (breakdown["dimension"], value)
    assert {"sector", "size", "province"} <= set(sums)
    # differencing two breakdowns: a fully shown one gives the total; then each other breakdown's hidden rest again
    for full, rows in ((b["dimension"], b["rows"]) for b in dashboard["breakdowns"]):
        if all(not r["suppressed"] for r in rows):
            for other, other_sum in sums.items():
                rest = sums[full] - other_sum
                assert rest == 0 or rest >= K, (full, other)
    # differencing two quarters: the change between published quarters is never a small group
    counts = [n for _, n in dashboard["quarters"]]
    assert all(b - a == 0 or b - a >= K for a, b in itertools.pairwise(counts)), counts
    assert "other" in {r["value"] for b in dashboard["breakdowns"] if b["dimension"] == "sector" for r in b["rows"]
                       if r["suppressed"]}  # nine "other" organisations in all: hidden
