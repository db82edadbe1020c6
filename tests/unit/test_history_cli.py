"""`cyberscan scan` saves into the history; `history`, `diff` and `rescore` read and judge it again
(real processes, a zone on an in-process DNS server, SQLite and PostgreSQL stores)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cyberscan import catalogue as catalogue_mod
from cyberscan.assessment import Assessment
from cyberscan.commands import common
from cyberscan.commands.history import report_extra
from cyberscan.history import open_store
from cyberscan.history.schema import SCHEMA_VERSION

from . import history_fixtures as fixtures
from .history_fixtures import DOMAIN, Zone

zone, assessments, store_url = fixtures.zone, fixtures.assessments, fixtures.store_url

DMARC = f"mail.dmarc.policy|{DOMAIN}||||"


def cli(*args: str, lang: str = "nl", timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CYBERSCAN_LANG": lang}
    env.pop("CYBERSCAN_DB", None)
    return subprocess.run([sys.executable, "-m", "cyberscan.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def scan(zone: Zone, db: str, policy: str, *extra: str, out: Path | None = None) -> subprocess.CompletedProcess[str]:
    zone.set_policy(policy)
    target = ["-o", str(out)] if out is not None else ["-o", "-"]
    done = cli("scan", DOMAIN, "--nameserver", zone.nameserver, "--timeout", "0.5", "--no-progress", "--format", "json",
               *target, "--db", db, *extra)
    assert done.returncode in (0, 1), done.stderr
    return done


def test_two_scans_are_saved_and_history_and_diff_show_the_change(zone: Zone, store_url: str) -> None:
    first = scan(zone, store_url, "none")
    assert "bewaard in de geschiedenis als nr. 1" in first.stderr
    second = scan(zone, store_url, "reject")
    assert "bewaard in de geschiedenis als nr. 2" in second.stderr
    unsaved = scan(zone, store_url, "reject", "--no-save")
    assert "geschiedenis" not in unsaved.stderr

    text = cli("history", DOMAIN, "--db", store_url)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"Geschiedenis van {DOMAIN}") and "2 beoordeling(en)" in text.stdout
    rows = [line.split() for line in text.stdout.splitlines()[3:]]
    assert [r[0] for r in rows] == ["1", "2"]
    english = cli("history", "--db", store_url, lang="en")
    assert "History in" in english.stdout and "DEN score" in english.stdout

    listed = json.loads(cli("history", DOMAIN, "--db", store_url, "--format", "json").stdout)
    items = listed["assessments"]
    assert [a["id"] for a in items] == [1, 2] and all(a["complete"] for a in items)
    assert items[1]["score"] > items[0]["score"] and items[0]["counts"]["fail"] == items[1]["counts"]["fail"] + 1
    assert {a["catalogue_version"] for a in items} == {catalogue_mod.builtin().version}

    diff = cli("diff", DOMAIN, "--db", store_url)  # default: the last two of the domain
    assert diff.returncode == 0, diff.stderr
    assert f"Verschil voor {DOMAIN}: nr. 1" in diff.stdout and "→ nr. 2" in diff.stdout
    assert "Opgelost (1)" in diff.stdout and "Domein weigert of isoleert vervalste mail (DMARC)" in diff.stdout
    assert "niet in orde → in orde" in diff.stdout and "Beoordeeld met dezelfde regels" in diff.stdout
    assert "Nieuw (" not in diff.stdout
    assert cli("diff", "--db", store_url).stdout == diff.stdout  # one domain in the store: it is the default
    assert cli("diff", "2", "--db", store_url).stdout == diff.stdout  # one number: compared with the one before

    data = json.loads(cli("diff", "1", "2", "--db", store_url, "--format", "json").stdout)
    assert data["domain"] == DOMAIN and data["old"]["id"] == 1 and data["new"]["id"] == 2
    assert data["counts"]["fixed"] == 1 and data["counts"]["new"] == 0 and data["rules"]["changed"] is False
    fixed = [c for c in data["changes"] if c["kind"] == "fixed"]
    assert [(c["key"], c["old"]["status"], c["new"]["status"]) for c in fixed] == [(DMARC, "fail", "pass")]
    assert fixed[0]["title"]["en"] == "Domain rejects or quarantines spoofed mail (DMARC)"
    assert all(c["kind"] == "not-comparable" for c in data["changes"]
               if "error" in (c["old"] or {}).values() or "skipped" in (c["new"] or {}).values())

    english_diff = cli("diff", "1", "2", "--db", store_url, lang="en")
    assert "Fixed (1)" in english_diff.stdout and "fail → pass" in english_diff.stdout


def test_usage_errors_are_one_line_with_exit_2(zone: Zone, tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    few = cli("diff", DOMAIN, "--db", db)
    assert few.returncode == 2 and "minder dan twee" in few.stderr and "Traceback" not in few.stderr
    scan(zone, db, "none")
    missing = cli("diff", "1", "9", "--db", db, lang="en")
    assert missing.returncode == 2 and "there is no assessment no. 9" in missing.stderr
    assert cli("rescore", "--db", db).returncode == 2
    both = cli("history", "--export", str(tmp_path / "a"), "--import", str(tmp_path / "b"), "--db", db)
    assert both.returncode == 2
    empty = cli("history", "other.test", "--db", db)
    assert empty.returncode == 0 and "Nog geen beoordelingen van other.test" in empty.stdout


def test_rescore_judges_the_stored_facts_under_the_installed_rules(zone: Zone, tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    scan(zone, db, "none")
    scan(zone, db, "reject")
    same = cli("rescore", "--all", "--db", db)
    assert same.returncode == 0 and "al beoordeeld met de huidige regels" in same.stderr
    assert len(json.loads(cli("history", "--db", db, "--format", "json", "--all").stdout)["assessments"]) == 2

    # the organisation's own catalogue adds a check: a rule change, judged on the old facts too
    own = tmp_path / "own" / "org"
    own.mkdir(parents=True)
    (own / "dmarc_reject.yaml").write_text(STRICT_CHECK, encoding="utf-8")
    done = cli("rescore", "1", "--catalogue", str(own.parent), "--db", db, lang="en")
    assert done.returncode == 0, done.stderr
    assert "no. 1 judged again as no. 3" in done.stderr
    listed = json.loads(cli("history", "--db", db, "--format", "json").stdout)["assessments"]
    assert [(a["id"], a["kind"], a["rescored_from"]) for a in listed] == [(3, "rescore", 1), (2, "scan", None)]
    text = cli("history", "--db", db).stdout
    assert "opnieuw beoordeeld (van nr. 1)" in text

    rules = json.loads(cli("diff", "1", "3", "--db", db, "--format", "json").stdout)
    assert rules["rules"]["changed"] is True and rules["rules"]["added"] == ["org.dmarc_reject"]
    new_check = [c for c in rules["changes"] if c["check_id"] == "org.dmarc_reject"]
    assert new_check and all(c["kind"] == "not-comparable" and c["reason"] == "not-run-old" for c in new_check)
    assert rules["counts"]["fixed"] == rules["counts"]["new"] == 0  # same facts: nothing really changed
    told = cli("diff", "1", "3", "--db", db).stdout
    assert "De regels zijn veranderd" in told and "nieuwe controles: org.dmarc_reject" in told

    # the later scan judged under the same (extended) rules: now the comparison is like for like
    later = cli("rescore", "2", "--catalogue", str(own.parent), "--db", db)
    assert later.returncode == 0, later.stderr
    like = json.loads(cli("diff", DOMAIN, "--db", db, "--format", "json").stdout)
    assert (like["old"]["id"], like["new"]["id"]) == (3, 4) and like["rules"]["changed"] is False
    kinds = {c["key"]: c["kind"] for c in like["changes"]}
    assert kinds[DMARC] == "fixed" and kinds[f"org.dmarc_reject|{DOMAIN}||||"] == "fixed"


STRICT_CHECK = """id: org.dmarc_reject
version: 1
severity: medium
evaluator: mail.dmarc_policy
needs: [dns.dmarc]
params: {accepted_policies: [reject]}
title: {nl: "Domein weigert vervalste mail", en: "Domain rejects spoofed mail"}
risk: {nl: "Vervalste mail komt aan.", en: "Forged mail arrives."}
remediation: {nl: "Zet p=reject.", en: "Set p=reject."}
messages: {}
maps_to: {}
tags: [mail]
"""


def test_export_and_import_move_a_history_between_sqlite_and_postgresql(
    zone: Zone, tmp_path: Path, postgres_dsn: str
) -> None:
    db = str(tmp_path / "h.sqlite")
    scan(zone, db, "none")
    scan(zone, db, "reject")
    export = tmp_path / "history.jsonl.gz"
    done = cli("history", "--export", str(export), "--db", db)
    assert done.returncode == 0 and "2 beoordeling(en) geëxporteerd" in done.stderr
    assert export.read_bytes()[:2] == b"\x1f\x8b" and oct(export.stat().st_mode & 0o777) == "0o600"
    target = fixtures.postgres_url(postgres_dsn)
    imported = cli("history", "--import", str(export), "--db", target)
    assert imported.returncode == 0 and "2 beoordeling(en) toegevoegd" in imported.stderr
    assert "2 waren er al" in cli("history", "--import", str(export), "--db", target).stderr
    a = json.loads(cli("history", "--db", db, "--format", "json").stdout)["assessments"]
    b = json.loads(cli("history", "--db", target, "--format", "json").stdout)["assessments"]
    assert [(x["uid"], x["score"], x["counts"]) for x in a] == [(x["uid"], x["score"], x["counts"]) for x in b]
    assert json.loads(cli("diff", DOMAIN, "--db", target, "--format", "json").stdout)["counts"]["fixed"] == 1
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n", encoding="utf-8")
    refused = cli("history", "--import", str(bad), "--db", target)
    assert refused.returncode == 2 and "geen export" in refused.stderr


def test_a_newer_store_stops_the_scan_before_it_starts_and_stays_untouched(zone: Zone, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    scan(zone, str(db), "none")
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE cyberscan_schema SET version = ?", (SCHEMA_VERSION + 5,))
    conn.close()
    seen = hashlib.sha256(db.read_bytes()).hexdigest()
    zone.set_policy("none")
    done = cli("scan", DOMAIN, "--nameserver", zone.nameserver, "--timeout", "0.5", "--no-progress", "--db", str(db))
    assert done.returncode == common.EXIT_IO and "nieuwere cyberscan" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""  # refused before scanning
    for command in (["history"], ["diff", DOMAIN]):
        other = cli(*command, "--db", str(db), lang="en")
        assert other.returncode == common.EXIT_IO and "written by a newer cyberscan" in other.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == seen


def test_a_damaged_file_is_moved_aside_by_name_and_the_scan_saved_in_a_new_store(zone: Zone, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    db.write_bytes(os.urandom(8192))
    original = db.read_bytes()
    done = scan(zone, str(db), "none")
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("h.sqlite.damaged-")]
    assert len(moved) == 1 and moved[0].read_bytes() == original
    assert str(moved[0]) in done.stderr and "bewaard in de geschiedenis als nr. 1" in done.stderr
    assert len(json.loads(cli("history", "--db", str(db), "--format", "json").stdout)["assessments"]) == 1


def test_an_interrupted_scan_is_saved_marked_incomplete(tmp_path: Path) -> None:
    from .test_interrupt import SoaOnlyServer

    db = tmp_path / "h.sqlite"
    with SoaOnlyServer(DOMAIN) as dns:
        env = {**os.environ, "CYBERSCAN_LANG": "en"}
        proc = subprocess.Popen([sys.executable, "-m", "cyberscan.cli", "scan", DOMAIN, "--nameserver",
                                 f"127.0.0.1:{dns.port}", "--timeout", "30", "--format", "json", "-o", "-",
                                 "--no-progress", "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
        assert dns.dropped.wait(30), "the scan never started"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == common.EXIT_INTERRUPTED, err
    assert "marked incomplete" in err
    listed = json.loads(cli("history", "--db", str(db), "--format", "json").stdout)["assessments"]
    assert [a["complete"] for a in listed] == [False]
    assert "onvolledig" in cli("history", "--db", str(db)).stdout


def test_report_extra_holds_since_and_trend_for_the_renderer(store_url: str,
                                                             assessments: dict[str, Assessment]) -> None:
    with open_store(store_url) as store:
        assert report_extra(None, assessments["before"]) == {}
        first = report_extra(store, assessments["before"])
        assert first["since"] is None and [p.id for p in first["trend"]] == [None]
        number = store.save(assessments["before"])
        extra: dict[str, Any] = report_extra(store, assessments["after"])
    assert extra["since"].previous.id == number and extra["since"].markers == {DMARC: "fixed"}
    assert [p.id for p in extra["trend"]] == [number, None]
