"""The agent's tables in the history store (schema version 2), on SQLite and PostgreSQL: a version-1
store is migrated forward with its assessments intact; rounds, per-key state and the outbox persist."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cyberscan.agent.lock import round_lock
from cyberscan.assessment import Assessment
from cyberscan.history import open_store
from cyberscan.history.schema import SCHEMA_VERSION

from . import history_fixtures as fixtures

zone, assessments, store_url = fixtures.zone, fixtures.assessments, fixtures.store_url  # shared fixtures


def _as_version_one(url: str) -> None:
    """Turn a fresh store back into what cyberscan with schema 1 left: no agent or batch tables, version 1."""
    statements = ["DROP TABLE batch_items", "DROP TABLE batches", "DROP TABLE agent_outbox", "DROP TABLE agent_state",
                  "DROP TABLE agent_rounds", "DELETE FROM cyberscan_schema WHERE version > 1"]
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)
    else:
        with sqlite3.connect(url) as conn:
            for sql in statements:
                conn.execute(sql)


def test_a_version_one_store_is_migrated_forward_with_its_assessments(store_url: str,
                                                                      assessments: dict[str, Assessment]) -> None:
    assert SCHEMA_VERSION == 3
    with open_store(store_url) as store:
        number = store.save(assessments["before"])
    _as_version_one(store_url)
    with open_store(store_url) as store:
        assert store.get(number).summary.uid  # still there
        assert store.agent.round_count() == 0  # the agent's tables exist now
        store.agent.start_round("2026-12-02T06:00:00+00:00")
        store.start_batch("b", source="s", total=1, meta={})  # and the batch journal's
    with open_store(store_url) as store:
        assert store.agent.round_count() == 1
        assert store.batch("b") is not None


def test_rounds_state_and_outbox_persist(store_url: str) -> None:
    with open_store(store_url) as store:
        tables = store.agent
        first = tables.start_round("2026-12-01T06:00:00+00:00")
        tables.finish_round(first, "ok", "2026-12-01T06:01:00+00:00", {"domains": {"museum.test": {"assessment": 1}}})
        second = tables.start_round("2026-12-02T06:00:00+00:00")
        assert tables.last_round().id == first  # type: ignore[union-attr]  # the running one has not ended
        assert tables.last_round(finished_only=False).id == second  # type: ignore[union-attr]
        tables.put_states("museum.test", {"k1": ("finding", {"level": 2}), "meta|museum.test": ("meta", {"rounds": 3})},
                          "2026-12-02T06:00:00+00:00")
        tables.put_states("museum.test", {"k2": ("finding", {"level": 0})}, "2026-12-02T06:00:00+00:00")
        message = tables.enqueue("email", {"id": "m1", "subject": "s", "text": "t", "payload": {}},
                                 "2026-12-02T06:00:00+00:00")
        tables.failed(message, 1, "refused", "2026-12-02T06:01:00+00:00", "2026-12-02T06:00:00+00:00")
    with open_store(store_url) as store:
        tables = store.agent
        assert [r.status for r in tables.rounds()] == ["ok", "running"]
        assert tables.rounds()[0].detail == {"domains": {"museum.test": {"assessment": 1}}}
        assert tables.states("museum.test") == {"k2": ("finding", {"level": 0})}  # replaced whole
        assert tables.due("2026-12-02T06:00:30+00:00") == []
        (row,) = tables.due("2026-12-02T06:01:00+00:00")
        assert (row.attempts, row.last_error, row.message["id"]) == (1, "refused", "m1")
        tables.delivered(row.id, "2026-12-02T06:01:00+00:00", 2)
        assert tables.pending() == [] and tables.next_due() is None
        assert [s.message["id"] for s in tables.sent()] == ["m1"]


def test_two_agents_cannot_hold_the_round_lock_at_once(store_url: str) -> None:
    with open_store(store_url) as one, open_store(store_url) as two:
        with round_lock(one) as first:
            assert first
            with round_lock(two) as second:
                assert not second
        with round_lock(two) as again:
            assert again


def test_the_sqlite_lock_file_sits_beside_the_store(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.sqlite") as store, round_lock(store) as mine:
        assert mine and (tmp_path / "h.sqlite.agent.lock").exists()


def test_the_outbox_selects_by_channel_and_a_message_can_wait_for_a_later_first_try(store_url: str) -> None:
    now, later = "2026-12-02T06:00:00+00:00", "2026-12-02T07:00:00+00:00"
    with open_store(store_url) as store:
        tables = store.agent
        mail = tables.enqueue("email", {"id": "m1"}, now)
        hub = tables.enqueue("hub", {"summary": {"submission_id": "s1"}}, now)
        waits = tables.enqueue("hub", {"summary": {"submission_id": "s2"}}, now, not_before=later)
        early = tables.enqueue("hub", {"summary": {"submission_id": "s3"}}, now, not_before="2026-12-01T00:00:00+00:00")
        assert [r.id for r in tables.due(now)] == [mail, hub, early]  # not_before in the past: at once
        assert [r.id for r in tables.due(now, channels=("hub",))] == [hub, early]
        assert [r.id for r in tables.due(now, not_channels=("hub",))] == [mail]
        assert tables.due(now, channels=()) == []
        assert [r.id for r in tables.due(later, channels=("hub",), not_channels=("email",))] == [hub, waits, early]
        tables.delivered(mail, now, 1)
        tables.delivered(hub, now, 1)
        tables.delivered(early, now, 1)
        assert tables.next_due(not_channels=("hub",)) is None
        assert tables.next_due(channels=("hub",)) == tables.next_due() == later


def test_the_outbox_remembers_what_it_holds_sent_or_not_until_it_is_pruned(store_url: str) -> None:
    now = "2026-12-02T06:00:00+00:00"
    with open_store(store_url) as store:
        tables = store.agent
        sent = tables.enqueue("hub", {"domain": "a.test", "summary": {"submission_id": "ab12", "week": "2026-W49"}}, now)
        tables.enqueue("hub", {"domain": "b.test", "summary": {"submission_id": "cd_%"}}, now)
        tables.enqueue("email", {"id": "ef34"}, now)
        tables.delivered(sent, now, 1)
        assert tables.holds("hub", "submission_id", "ab12")  # sent: still remembered
        assert tables.holds("hub", "submission_id", "cd_%")  # waiting; LIKE's wildcards are taken literally
        assert not tables.holds("hub", "submission_id", "cdx%")
        assert not tables.holds("hub", "submission_id", "ab1")  # a prefix is another id
        assert not tables.holds("hub", "submission_id", "cd")
        assert not tables.holds("hub", "id", "ef34")  # another channel's message
        assert not tables.holds("email", "submission_id", "ab12")
        tables.prune("2026-12-03T00:00:00+00:00")
        assert not tables.holds("hub", "submission_id", "ab12") and tables.holds("hub", "submission_id", "cd_%")
