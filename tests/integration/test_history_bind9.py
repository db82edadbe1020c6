"""History against a real BIND9: `cyberscan scan` twice, the zone fixed (and a new problem made) in
between, then `history` and `diff` (text and JSON) and the report's "since last time" context.

The zone baddmarc.test starts with a DMARC record receivers ignore and two SPF records; between the
scans its SPF and DMARC are fixed and www becomes a CNAME to a name that does not exist (dangling).
BIND is restarted on its own files to serve the change, and restored afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cyberscan import registry as registry_mod
from cyberscan.assessment import reassess
from cyberscan.history import open_store
from cyberscan.history.context import since
from tests.integration.bind9 import NS1, Bind9

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("cyberscan"))
DOMAIN = "baddmarc.test"
FIXED = """
@        TXT   "v=spf1 mx -all"
_dmarc   TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@baddmarc.test"
www      CNAME www.vanished.test.
"""


def cli(*args: str, lang: str = "nl") -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CLI, *args, "--lang", lang], capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def changeable(bind9: tuple[Bind9, Path]) -> Iterator[tuple[Bind9, Path, Path]]:
    server, ca_file = bind9
    source = server.folder / f"{DOMAIN}.db"
    original = source.read_text(encoding="utf-8")
    try:
        yield server, ca_file, source
    finally:
        server.stop()
        source.write_text(original, encoding="utf-8")
        server.start()


def _scan(ca_file: Path, db: Path) -> subprocess.CompletedProcess[str]:
    done = cli("scan", DOMAIN, "--nameserver", NS1, "--allow-private", "--format", "json", "-o", "-", "--no-progress",
               "--timeout", "3", "--ca-bundle", str(ca_file), "--db", str(db), lang="en")
    assert done.returncode in (0, 1), done.stderr
    return done


def _results(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return {r["key"]: r for r in json.loads(done.stdout)["results"]}


def test_two_scans_with_a_changed_zone_in_between(changeable: tuple[Bind9, Path, Path], tmp_path: Path) -> None:
    server, ca_file, source = changeable
    db = tmp_path / "history.sqlite"
    first = _scan(ca_file, db)
    assert "saved in the history as no. 1" in first.stderr
    before = _results(first)
    spf, dmarc = f"mail.spf|{DOMAIN}||||", f"mail.dmarc.policy|{DOMAIN}||||"
    assert before[spf]["status"] == "fail" and before[dmarc]["status"] == "fail"

    lines = [ln for ln in source.read_text(encoding="utf-8").splitlines() if "TXT" not in ln]
    source.write_text("\n".join(lines) + FIXED, encoding="utf-8")
    server.stop()
    server.start()
    second = _scan(ca_file, db)
    assert "saved in the history as no. 2" in second.stderr
    after = _results(second)
    assert after[spf]["status"] == "pass" and after[dmarc]["status"] == "pass"
    dangling = [k for k, r in after.items() if r["check_id"] == "dns.dangling" and r["status"] == "fail"]
    assert dangling, [r for r in after.values() if r["check_id"] == "dns.dangling"]

    listed = cli("history", DOMAIN, "--db", str(db))
    assert listed.returncode == 0 and f"Geschiedenis van {DOMAIN}" in listed.stdout
    assert [ln.split()[0] for ln in listed.stdout.splitlines()[3:]] == ["1", "2"]
    as_json = json.loads(cli("history", DOMAIN, "--db", str(db), "--format", "json").stdout)["assessments"]
    assert [a["counts"]["fail"] for a in as_json] == [
        sum(1 for r in before.values() if r["status"] == "fail"), sum(1 for r in after.values() if r["status"] == "fail")]

    text = cli("diff", DOMAIN, "--db", str(db))
    assert text.returncode == 0, text.stderr
    assert "Opgelost (" in text.stdout and "Nieuw (" in text.stdout and "Beoordeeld met dezelfde regels" in text.stdout
    data = json.loads(cli("diff", DOMAIN, "--db", str(db), "--format", "json").stdout)
    kinds = {c["key"]: c["kind"] for c in data["changes"]}
    assert kinds[spf] == "fixed" and kinds[dmarc] == "fixed"
    assert all(kinds[k] == "new" for k in dangling)
    for change in data["changes"]:  # an error on either side is never fixed and never new
        statuses = {(change["old"] or {}).get("status"), (change["new"] or {}).get("status")}
        if statuses & {"error", "skipped"}:
            assert change["kind"] == "not-comparable", change
    assert {"fixed", "new"} <= {k for k, n in data["counts"].items() if n}

    # what the report of the second scan shows "since the previous scan" (Report.extra["since"])
    registry = registry_mod.load()
    with open_store(db) as store:
        current = reassess(store.scan(2, registry), registry=registry)
        change = since(store.get(1), current)
    assert change is not None and change.previous.id == 1
    assert change.markers[spf] == change.markers[dmarc] == "fixed"
    assert {k for k, v in change.markers.items() if v == "new"} == set(dangling)
