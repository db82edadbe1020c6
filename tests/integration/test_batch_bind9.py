"""``cyberscan scan --targets FILE`` against the real BIND9 of the integration tests (and its HTTPS
MTA-STS policy server): a CSV of several zones, one of which does not exist. Each domain's assessment
in the history is the one a single ``cyberscan scan DOMAIN`` makes of it, and the summary says so."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from cyberscan.batch.summary import read_csv, read_summary
from cyberscan.history import open_store
from tests.integration.bind9 import NS1, Bind9

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("cyberscan"))
ZONES = {"good.test": ("Museum Goed", "museum"), "expired.test": ("Archief Verlopen", "archief"),
         "openxfr.test": ("Bibliotheek Open", "bibliotheek"), "spfloop.test": ("Museum Lus", "museum")}
MISSING = "nosuch-zone.test"  # BIND answers NXDOMAIN: a row that says so, never a pass or a fail


def _common(ca_file: Path, db: Path) -> list[str]:
    return ["--nameserver", NS1, "--allow-private", "--timeout", "3", "--ca-bundle", str(ca_file), "--db", str(db),
            "--lang", "en"]


def test_a_targets_csv_against_bind9_matches_single_scans(bind9: tuple[Bind9, Path], tmp_path: Path) -> None:
    _, ca_file = bind9
    db = tmp_path / "history.sqlite"
    targets = tmp_path / "provincie.csv"
    lines = ["domain,organisation,sector", *(f"{d},{o},{s}" for d, (o, s) in ZONES.items()), f"{MISSING},Weg,museum"]
    targets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run([CLI, "scan", "--targets", str(targets), "-o", str(tmp_path / "sector"),
                           "--processes", "2", *_common(ca_file, db)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 3, done.stderr  # one domain does not exist
    rows = read_csv(tmp_path / "sector.csv")
    data = read_summary(tmp_path / "sector.json")
    assert [r["domain"] for r in rows] == [*ZONES, MISSING]
    assert data["complete"] is True and data["total"] == data["done"] == len(ZONES) + 1
    missing = rows[-1]
    assert missing["state"] == "not-scanned" and missing["failure"] == "target.nxdomain", missing
    assert missing["pass"] == missing["fail"] == ""
    with open_store(db) as store:
        assert sorted(store.domains()) == sorted(ZONES)  # the missing zone is in the journal, not the history
        for row in rows[:-1]:
            assert (row["organisation"], row["sector"]) == ZONES[row["domain"]]
            assert row["state"] == "assessed" and row["complete"] == "yes"
            [saved] = store.list(row["domain"])
            assert saved.id is not None
            assert str(saved.id) == row["assessment"]
            counts = Counter(r["status"] for r in store.results(saved.id))
            assert all(int(row[s]) == counts[s] for s in ("pass", "fail", "warn", "error", "skipped"))
            single = subprocess.run([CLI, "scan", row["domain"], "--format", "json", "--no-progress", "--no-save",
                                     *_common(ca_file, db)], capture_output=True, text=True, timeout=120, check=False)
            assert single.returncode in (0, 1), single.stderr
            alone = {(r["check_id"], r["status"]) for r in json.loads(single.stdout)["results"]}
            batched = {(r["check_id"], r["status"]) for r in store.results(saved.id)}
            assert batched == alone, row["domain"]
    by_domain = {r["domain"]: r for r in rows}
    assert "dns.dnssec (fail" in by_domain["expired.test"]["worst_findings"]
    assert "dns.axfr (fail" in by_domain["openxfr.test"]["worst_findings"]
