"""The history store on SQLite and on a real PostgreSQL: saved and read back, judged again, moved
between machines, two writers at once, a newer store refused untouched, a damaged file moved aside."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.assessment import Assessment, reassess
from cyberscan.history import HistoryError, open_store, record_of
from cyberscan.history.context import since, trend
from cyberscan.history.diff import FIXED, NOT_COMPARABLE, compare
from cyberscan.history.record import answers_from
from cyberscan.history.schema import SCHEMA_VERSION
from cyberscan.models import AcceptedRisk, Status
from cyberscan.questionnaire import parse_answers
from cyberscan.serialize import outcome_to_dict, scan_to_dict

from . import history_fixtures as fixtures
from .history_fixtures import DOMAIN, Zone, postgres_url

zone, assessments, store_url = fixtures.zone, fixtures.assessments, fixtures.store_url  # shared fixtures

DMARC = f"mail.dmarc.policy|{DOMAIN}||||"


def _statuses(a: Assessment) -> dict[str, Status]:
    return {r.key: r.status for r in a.results}


# ----------------------------------------------------------------------------- saved and read back


def test_an_assessment_is_saved_whole_and_read_back(store_url: str, assessments: dict[str, Assessment]) -> None:
    before, after = assessments["before"], assessments["after"]
    with open_store(store_url) as store:
        first, second = store.save(before), store.save(after)
        assert second > first
        listed = store.list(DOMAIN)
        assert [s.id for s in listed] == [first, second] and store.list("other.test") == []
        assert [s.id for s in store.last(DOMAIN)] == [first, second] and [s.id for s in store.last(DOMAIN, 1)] == [second]
        assert store.last(DOMAIN) == listed and store.domains() == [DOMAIN] and store.last("other.test") == []
        got = store.get(first)
        assert {k: f.status for k, f in got.findings.items()} == _statuses(before)
        assert got.check_versions == {r.check_id: r.check_version for r in before.results}
        s = got.summary
        assert (s.targets, s.started, s.profile, s.catalogue_version, s.tool_version, s.complete, s.kind) == (
            (DOMAIN,), before.scan.started, "default", before.catalogue.version, before.scan.tool_version, True, "scan")
        den = before.readiness.frameworks[0]
        assert den.framework_id == "den-checklist" and s.score == den.score
        assert s.items == {ia.item.id: ia.score for ia in den.items}
        assert s.counts["fail"] == sum(1 for r in before.results if r.status is Status.FAIL)
        assert got.findings[DMARC].status is Status.FAIL and store.get(second).findings[DMARC].status is Status.PASS
        latest = store.latest(DOMAIN)
        assert latest is not None and latest.id == second
        assert store.latest(DOMAIN, before="2000-01-01T00:00:00+00:00") is None
        assert [r.id for r in store.iter_all()] == [first, second] and store.count() == 2
        with pytest.raises(HistoryError) as err:
            store.get(second + 100)
        assert err.value.key == "history.no-such-id"
    with open_store(store_url) as again:  # a second open finds it all, at the current schema version
        assert [s.id for s in again.list()] == [first, second]


def test_the_raw_facts_come_back_and_can_be_judged_again(store_url: str, assessments: dict[str, Assessment]) -> None:
    before = assessments["before"]
    registry = registry_mod.load()
    with open_store(store_url) as store:
        number = store.save(before)
        stored = store.scan(number, registry)
    assert [outcome_to_dict(o) for o in stored.outcomes] == [outcome_to_dict(o) for o in before.scan.outcomes]
    assert stored.fact_versions == before.scan.fact_versions and stored.started == before.scan.started
    assert scan_to_dict(stored)["results"] == scan_to_dict(before.scan)["results"]
    assert _statuses(reassess(stored, registry=registry)) == _statuses(before)


def test_an_interrupted_assessment_is_saved_marked_incomplete_and_not_compared_where_it_stopped(
    store_url: str, assessments: dict[str, Assessment]
) -> None:
    with open_store(store_url) as store:
        first = store.save(assessments["before"])
        cut = store.save(assessments["interrupted"])
        summary = store.get(cut).summary
        assert summary.complete is False
        diff = compare(store.get(first), store.get(cut), domain=DOMAIN)
    assert diff.counts[FIXED] == diff.counts["new"] == diff.counts["worse"] == diff.counts["better"] == 0
    assert diff.counts[NOT_COMPARABLE] > 0
    interrupted = [c for c in diff.changes if c.new is not None and c.new.reason == "interrupted"]
    assert interrupted and all(c.kind == NOT_COMPARABLE for c in interrupted)


def test_answers_and_accepted_risks_are_kept_without_contact_details(
    store_url: str, assessments: dict[str, Assessment]
) -> None:
    cat = catalogue_mod.builtin()
    answers = parse_answers("answers:\n  q.risk.in_riskmgmt: yes\n  q.backup.restore_test: 2026-03-01\n"
                            "  q.contact.coordinator: {name: Jan, phone: '0201234567'}\n", cat)
    risk = AcceptedRisk(DMARC, "accepted", "policy moves to reject in spring", "the director", "2099-12-31")
    judged = reassess(assessments["before"].scan, answers=answers, accepted=[risk])
    with open_store(store_url) as store:
        got = store.get(store.save(judged))
    assert got.accepted == (risk,)
    assert got.findings[DMARC].accepted is True
    assert got.answers is not None and "q.contact.coordinator" not in got.answers["answers"]
    assert "Jan" not in json.dumps(got.answers)
    again = answers_from(got.answers, cat)
    assert again is not None and again.data == answers.public()
    self_reported = {k for k, f in got.findings.items() if f.source == "self-reported"}
    assert f"q.risk.in_riskmgmt|{DOMAIN}||||" in self_reported


# ----------------------------------------------------------------------------- judged again


def test_a_rescore_is_a_new_judgement_of_the_same_facts(store_url: str, assessments: dict[str, Assessment]) -> None:
    before = assessments["before"]
    with open_store(store_url) as store:
        first = store.save(before)
        later = store.save(assessments["after"])
        again = store.save(reassess(before.scan), rescored_from=first)
        current = store.list(DOMAIN)
        assert [s.id for s in current] == [again, later]  # ordered by when the facts were observed
        assert current[0].kind == "rescore" and current[0].rescored_from == first
        every = store.list(DOMAIN, all_judgements=True)
        assert [s.id for s in every] == [first, again, later]
        assert every[0].facts_id == every[1].facts_id != every[2].facts_id  # the facts are stored once
        assert store.facts(first) == store.facts(again)
        assert store.latest(DOMAIN).id == later  # type: ignore[union-attr]
        with pytest.raises(HistoryError):
            store.save(before, rescored_from=12345)


def test_since_and_trend_for_the_report(store_url: str, assessments: dict[str, Assessment]) -> None:
    before, after = assessments["before"], assessments["after"]
    with open_store(store_url) as store:
        assert since(store.latest(DOMAIN), before) is None  # the first scan: nothing to compare with
        first = store.save(before)
        change = since(store.latest(DOMAIN), after)
        points = trend(store, DOMAIN, current=after)
        assert trend(store, DOMAIN, limit=0) == []
    assert change is not None and change.previous.id == first
    assert [c.key for c in change.fixed] == [DMARC] and change.new == () and change.markers == {DMARC: "fixed"}
    assert change.score_before == before.readiness.frameworks[0].score
    assert change.score_now == after.readiness.frameworks[0].score and change.score_now > change.score_before
    assert not change.rules.any
    assert [p.id for p in points] == [first, None]
    assert points[-1].score == change.score_now and points[0].items["den.check.4"] is not None


# ----------------------------------------------------------------------------- moved to another machine


def test_a_history_moves_to_another_store_and_importing_twice_adds_nothing(
    store_url: str, assessments: dict[str, Assessment], tmp_path: Path
) -> None:
    with open_store(store_url) as store:
        first = store.save(assessments["before"])
        store.save(assessments["after"])
        store.save(reassess(assessments["before"].scan), rescored_from=first)
        buffer = io.StringIO()
        assert store.export_to(buffer) == 3
        originals = store.list(all_judgements=True)
        original_records = [store.get(s.id or 0) for s in originals]
        registry = registry_mod.load()
        original_facts = scan_to_dict(store.scan(first, registry))
    with open_store(tmp_path / "elsewhere.sqlite") as other:
        assert other.import_from(io.StringIO(buffer.getvalue())) == (3, 0)
        assert other.import_from(io.StringIO(buffer.getvalue())) == (0, 3)
        copied = other.list(all_judgements=True)
        assert [s.uid for s in copied] == [s.uid for s in originals]
        rescored = next(s for s in copied if s.kind == "rescore")
        assert rescored.rescored_from == next(s.id for s in copied if s.uid == originals[0].uid)
        for old, new in zip(original_records, [other.get(s.id or 0) for s in copied], strict=True):
            assert new.findings == old.findings and new.check_versions == old.check_versions
            assert new.summary.score == old.summary.score and new.summary.counts == old.summary.counts
        assert scan_to_dict(other.scan(copied[0].id or 0, registry)) == original_facts
        assert other.titles()["mail.dmarc.policy"]["nl"].startswith("Domein weigert")
    with open_store(tmp_path / "third.sqlite") as third, pytest.raises(HistoryError) as err:
        third.import_from(io.StringIO("{}\n"))
    assert err.value.key == "history.not-an-export"


# ----------------------------------------------------------------------------- two writers at once

WRITER = """
import json, os, sys, time
from cyberscan import registry
from cyberscan.assessment import reassess
from cyberscan.history import open_store
from cyberscan.serialize import scan_from_dict
url, scan_file, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
reg = registry.load()
assessment = reassess(scan_from_dict(json.load(open(scan_file)), reg), registry=reg)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
with open_store(url) as store:
    for _ in range(count):
        print(store.save(assessment), flush=True)
"""


def test_two_processes_writing_at_once_both_succeed(store_url: str, assessments: dict[str, Assessment],
                                                    tmp_path: Path) -> None:
    scan_file = tmp_path / "scan.json"
    scan_file.write_text(json.dumps(scan_to_dict(assessments["before"].scan)), encoding="utf-8")
    go = tmp_path / "go"
    count = 25
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, store_url, str(scan_file), str(count), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:  # both ready, then both start at once (on a store that does not exist yet)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    ids: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        ids += [int(line) for line in out.split()]
    assert len(ids) == len(set(ids)) == 2 * count
    with open_store(store_url) as store:
        assert sorted(s.id or 0 for s in store.list(all_judgements=True)) == sorted(ids)
        assert all(len(store.get(i).findings) == len(assessments["before"].results) for i in ids[:3])
    if not store_url.startswith("postgresql"):
        with sqlite3.connect(store_url) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# ----------------------------------------------------------------------------- newer, damaged, foreign


def _bump_version(store_url: str, version: int) -> None:
    if store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute("UPDATE cyberscan_schema SET version = %s", (version,))
    else:
        conn = sqlite3.connect(store_url)
        with conn:
            conn.execute("UPDATE cyberscan_schema SET version = ?", (version,))
        conn.close()


def _fingerprint(store_url: str) -> str:
    if store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            rows = [conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                    for t in ("cyberscan_schema", "assessments", "findings", "targets")]
        return hashlib.sha256(repr(rows).encode()).hexdigest()
    # the database and its write-ahead log; the -shm file is a shared-memory index every reader updates
    files = [p for p in (Path(store_url), Path(store_url + "-wal")) if p.exists()]
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


def test_a_store_written_by_a_newer_version_is_refused_and_left_untouched(
    store_url: str, assessments: dict[str, Assessment]
) -> None:
    with open_store(store_url) as store:
        store.save(assessments["before"])
    _bump_version(store_url, SCHEMA_VERSION + 1)
    seen = _fingerprint(store_url)
    for _ in range(2):
        with pytest.raises(HistoryError) as err:
            open_store(store_url)
        assert err.value.key == "history.newer-schema"
        assert f"store version {SCHEMA_VERSION + 1}" in str(err.value) and "Update cyberscan" in str(err.value)
        assert "nieuwere cyberscan" in err.value.message("nl")
    assert _fingerprint(store_url) == seen


def test_a_file_that_is_not_a_database_is_moved_aside_and_a_new_store_started(tmp_path: Path,
                                                                             assessments: dict[str, Assessment]) -> None:
    path = tmp_path / "history.sqlite"
    path.write_text("these are my notes, not a database\n" * 50, encoding="utf-8")
    (tmp_path / "history.sqlite-wal").write_bytes(b"stale")
    with open_store(path) as store:
        assert store.moved_aside is not None
        moved, detail = store.moved_aside
        assert moved.parent == tmp_path and moved.name.startswith("history.sqlite.damaged-") and detail
        assert moved.read_text(encoding="utf-8").startswith("these are my notes")  # kept, not overwritten
        assert Path(str(moved) + "-wal").read_bytes() == b"stale"
        number = store.save(assessments["before"])
    with open_store(path) as store:
        assert store.moved_aside is None and [s.id for s in store.list()] == [number]


def test_a_database_file_with_a_damaged_schema_is_moved_aside(tmp_path: Path,
                                                              assessments: dict[str, Assessment]) -> None:
    path = tmp_path / "history.sqlite"
    with open_store(path) as store:
        store.save(assessments["before"])
    data = bytearray(path.read_bytes() if path.stat().st_size else b"")
    with sqlite3.connect(path) as conn:  # fold the WAL into the file, then break page 1 after the header
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(4096 - 100)
    path.write_bytes(bytes(data))
    with open_store(path) as store:
        assert store.moved_aside is not None
        assert store.moved_aside[0].read_bytes() == bytes(data)
        assert store.list() == []


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "contacts.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
        conn.execute("INSERT INTO people VALUES ('Jan')")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError) as err:
        open_store(path)
    assert err.value.key == "history.foreign-database"
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["contacts.db"]
    with pytest.raises(HistoryError) as err:
        open_store(tmp_path)  # a folder
    assert err.value.key == "history.not-a-file"


def test_the_default_store_is_in_the_user_data_folder_and_cyberscan_db_chooses_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cyberscan.history.store import ENV_DB, location

    monkeypatch.delenv(ENV_DB, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert location(None) == str(tmp_path / "data" / "cyberscan" / "history.sqlite")
    with open_store() as store:
        assert store.where == str(tmp_path / "data" / "cyberscan" / "history.sqlite")
    monkeypatch.setenv(ENV_DB, str(tmp_path / "chosen.sqlite"))
    assert location(None) == str(tmp_path / "chosen.sqlite") and location("x.sqlite") == "x.sqlite"


def test_a_sqlite_url_is_its_file_and_an_unknown_scheme_is_refused(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from cyberscan.history.store import location

    monkeypatch.chdir(tmp_path)
    with open_store(f"sqlite:///{tmp_path}/h.sqlite") as store:  # sqlite:////abs/h.sqlite
        assert store.where == f"{tmp_path}/h.sqlite"
    assert location("sqlite:///relative.sqlite") == "relative.sqlite"
    with pytest.raises(HistoryError) as refused:
        open_store("mysql://scan@db/cyberscan")
    assert refused.value.key == "history.unknown-scheme" and "mysql://" in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.sqlite"]  # no folder named "sqlite:" or "mysql:"


def test_an_unreachable_postgresql_is_a_clear_error_without_the_password() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    started = time.monotonic()
    with pytest.raises(HistoryError) as err:
        open_store(f"postgresql://museum:geheim@127.0.0.1:{port}/history")
    assert err.value.key == "history.unreachable" and time.monotonic() - started < 30
    assert "geheim" not in str(err.value) and "museum:***@127.0.0.1" in str(err.value)


def test_record_of_an_unsaved_assessment_has_no_id(assessments: dict[str, Assessment]) -> None:
    record = record_of(assessments["after"])
    assert record.id is None and record.findings[DMARC].status is Status.PASS


def test_each_postgres_test_gets_its_own_schema(postgres_dsn: str, assessments: dict[str, Assessment]) -> None:
    a, b = postgres_url(postgres_dsn), postgres_url(postgres_dsn)
    with open_store(a) as one, open_store(b) as two:
        one.save(assessments["before"])
        assert len(one.list()) == 1 and two.list() == []
        assert one.dialect == "postgres"


def test_zone_fixture_scans_are_real(zone: Zone, assessments: dict[str, Assessment]) -> None:
    assert assessments["before"].scan.outcomes and zone.nameserver.startswith("127.0.0.1:")
