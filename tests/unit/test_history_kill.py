"""A process saving assessments is killed with SIGKILL at random moments, 120 times: every assessment
it reported saved is still there, whole, and SQLite's integrity check passes after each kill.

The writer is a forked copy of this process (no interpreter start-up, so the kills land anywhere in
opening, migrating and saving); ``bench/stress_history_kill.py`` does the same to real
``cyberscan scan`` processes.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from cyberscan.assessment import Assessment
from cyberscan.history import open_store

from . import history_fixtures as fixtures

zone, assessments = fixtures.zone, fixtures.assessments

ROUNDS, KILLS = 4, 30  # each round starts on a new file, so kills also land while the store is created


def _writer(path: Path, assessment: Assessment, out: int) -> None:
    """The child: save until killed, reporting each id after its transaction committed."""
    try:
        with open_store(path) as store:
            while True:
                number = store.save(assessment)
                os.write(out, f"{number}\n".encode())
    finally:
        os._exit(0)


def _check(path: Path, reported: set[int], kills: int, per_assessment: int) -> int:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "assessments" not in tables:  # killed before the schema was committed: nothing was saved
            assert not reported
            return 0
        stored = {r[0] for r in conn.execute("SELECT id FROM assessments")}
        assert reported <= stored, f"lost: {sorted(reported - stored)}"
        assert len(stored - reported) <= kills  # at most one committed-but-unreported save per kill
        rows = dict(conn.execute("SELECT assessment_id, COUNT(*) FROM findings GROUP BY assessment_id").fetchall())
        assert all(rows.get(i) == per_assessment for i in stored), "an assessment was saved in part"
        facts = {r[0] for r in conn.execute("SELECT facts_id FROM assessments")}
        assert len(facts) == len(stored) == conn.execute("SELECT COUNT(*) FROM facts").fetchone()[0]
        assert conn.execute("SELECT COUNT(*) FROM targets").fetchone()[0] == len(stored)
        return len(stored)
    finally:
        conn.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_at_random_moments_loses_no_saved_assessment_and_damages_nothing(
    tmp_path: Path, assessments: dict[str, Assessment]
) -> None:
    seed = int(os.environ.get("CYBERSCAN_KILL_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    assessment = assessments["before"]
    per_assessment = len({r.key for r in assessment.results})
    total_saved = 0
    for round_no in range(ROUNDS):
        path = tmp_path / f"history-{round_no}.sqlite"
        reported: set[int] = set()
        for kill in range(1, KILLS + 1):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child never returns
                os.close(read_end)
                _writer(path, assessment, write_end)
            os.close(write_end)
            if kill % 2 == 0:  # every other kill lands after the first save, however loaded the machine is
                select.select([read_end], [], [], 20)
            time.sleep(rng.uniform(0.0, 0.1))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            with os.fdopen(read_end, "rb") as pipe:
                lines = pipe.read().decode().split("\n")
            reported |= {int(n) for n in lines[:-1] if n}  # the last piece may be cut off: not reported
            stored = _check(path, reported, kill, per_assessment)
        with open_store(path) as store:  # and the store opens as usual afterwards
            assert len(store.list()) == stored
        total_saved += len(reported)
    print(f"\n{ROUNDS * KILLS} kills, {total_saved} assessments reported saved, none lost (seed {seed})")
    assert total_saved > ROUNDS * KILLS / 2, f"too few saves to prove anything (seed {seed})"
