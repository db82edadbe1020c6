"""One task in one worker process (cyberscan.worker.runner.Process), with a real Redis for the limiter,
a real PostgreSQL history and zones on the in-process DNS server; no Celery in between."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cyberscan.batch import Target
from cyberscan.errors import UsageError
from cyberscan.history import open_store
from cyberscan.options import Nameserver, ScanOptions
from cyberscan.worker.runner import Process, Settings, Transient
from cyberscan.worker.wire import Policy, batch_meta, item_to_wire, options_to_wire

from . import worker_fixtures as fixtures
from .history_fixtures import postgres_url

redis_server = fixtures.redis_server  # shared fixture

DOMAINS = ["museum.test", "archief.test"]
UNREACHABLE = "127.0.0.1"  # the zones point there; without --allow-private that is out of scope: no connection


@pytest.fixture(scope="module")
def dns() -> Iterator[str]:
    with fixtures.zones_on(DOMAINS, UNREACHABLE) as server:
        yield server.nameserver


@pytest.fixture
def db(postgres_dsn: str) -> str:
    return postgres_url(postgres_dsn)


def batch(db: str, dns: str, *, batch_id: str = "worker-t1", targets: tuple[Target, ...] | None = None,
          **options: object) -> tuple[str, dict[str, object]]:
    """A batch as the enqueuer records it; returns its id and the wire options of its tasks."""
    rows = targets or tuple(Target(d) for d in [*DOMAINS, "gone.test"])
    wire = options_to_wire(ScanOptions(timeout=0.5, nameservers=(Nameserver.parse(dns),), **options))  # type: ignore[arg-type]
    with open_store(db) as store:
        store.start_batch(batch_id, source="targets:test", total=len(rows),
                          meta=batch_meta(rows, profile="default", options=wire, queue="cyberscan", consent=None))
    return batch_id, wire


def task(batch_id: str, domain: str, wire: dict[str, object]) -> dict[str, object]:
    return item_to_wire(batch_id, Target(domain), "default", wire)


@pytest.fixture
def process(db: str, redis_server: fixtures.RedisServer) -> Iterator[Process]:
    made = Process(Settings(db=db, limiter_url=redis_server.url))
    yield made
    made.close()


def test_a_task_is_assessed_and_stored_once_however_often_it_is_delivered(process: Process, db: str, dns: str) -> None:
    batch_id, wire = batch(db, dns)
    first = process.run(task(batch_id, "museum.test", wire))
    assert first.status == "saved" and first.assessment is not None
    again = process.run(task(batch_id, "museum.test", wire))  # redelivered after a lost acknowledgement
    assert again.status == "already" and again.assessment == first.assessment
    with open_store(db) as store:
        assert store.count() == 1
        items = store.batch_items(batch_id)
        assert list(items) == ["museum.test"] and items["museum.test"].assessment == first.assessment
        assert store.get(first.assessment).summary.targets == ("museum.test",)
        assert store.batch_item(batch_id, "archief.test") is None


def test_a_domain_that_cannot_be_scanned_is_a_result_not_a_retry(process: Process, db: str, dns: str) -> None:
    batch_id, wire = batch(db, dns)
    outcome = process.run(task(batch_id, "gone.test", wire))  # no zone: the nameserver does not know it
    assert outcome.status == "failed" and outcome.key.startswith("target.")
    with open_store(db) as store:
        item = store.batch_item(batch_id, "gone.test")
        assert item is not None and item.assessment is None and item.failure is not None
        assert item.failure["key"] == outcome.key and store.count() == 0


def test_a_forged_task_is_dropped_and_nothing_is_recorded(process: Process, db: str, dns: str) -> None:
    batch_id, wire = batch(db, dns)
    assert process.run(task(batch_id, "elders.test", wire)).status == "dropped"  # not in the batch
    assert process.run(task(batch_id, "museum.test", {**wire, "allow_private": True})).status == "dropped"
    assert process.run(task("worker-nonesuch", "museum.test", wire)).status == "dropped"
    assert process.run({"v": 1, "batch": batch_id}).status == "dropped"
    assert process.run("museum.test").status == "dropped"
    with open_store(db) as store:
        assert store.batch_items(batch_id) == {} and store.count() == 0


def test_what_the_worker_does_not_allow_is_recorded_as_refused(process: Process, db: str, dns: str) -> None:
    batch_id, wire = batch(db, dns, allow_private=True)
    outcome = process.run(task(batch_id, "museum.test", wire))  # this worker has no --allow-private
    assert outcome.status == "refused" and outcome.key == "worker.refused-private"
    with open_store(db) as store:
        item = store.batch_item(batch_id, "museum.test")
        assert item is not None and item.failure == {"key": "worker.refused-private", "params": {"domain": "museum.test"}}
        assert store.count() == 0


def test_an_unreachable_limiter_means_try_again_later_and_nothing_is_stored(db: str, dns: str) -> None:
    """With --allow-private the scan connects to the zones' address, so it asks the limiter first."""
    broken = Process(Settings(db=db, limiter_url=f"redis://127.0.0.1:{fixtures.free_port()}/0",
                              policy=Policy(allow_private=True), call_timeout=0.5))
    batch_id, wire = batch(db, dns, allow_private=True)
    started = time.monotonic()
    with pytest.raises(Transient):
        broken.run(task(batch_id, "museum.test", wire))
    assert time.monotonic() - started < 60  # cancelled, not waited out
    assert broken.limiter.failures >= 1
    broken.close()
    with open_store(db) as store:
        assert store.batch_items(batch_id) == {} and store.count() == 0  # not a result: retried later


def test_an_unreachable_history_means_try_again_later(redis_server: fixtures.RedisServer, dns: str) -> None:
    gone = f"postgresql://cyberscan@127.0.0.1:{fixtures.free_port()}/cyberscan"
    process = Process(Settings(db=gone, limiter_url=redis_server.url))
    wire = options_to_wire(ScanOptions(nameservers=(Nameserver.parse(dns),)))
    with pytest.raises(Transient):
        process.run(task("worker-t1", "museum.test", wire))
    process.close()


def test_a_worker_refuses_an_sqlite_history(redis_server: fixtures.RedisServer, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        Process(Settings(db=str(tmp_path / "history.sqlite"), limiter_url=redis_server.url))
    assert caught.value.key == "worker.needs-postgres"
    assert "several machines cannot share an SQLite file" in caught.value.message("en")
