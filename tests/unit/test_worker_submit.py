"""Enqueuing a batch (cyberscan.worker.submit) against a real Redis broker and a real PostgreSQL history:
JSON tasks, one per domain not done yet, so sending again resumes; and waiting for the batch."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from cyberscan.batch import Target
from cyberscan.errors import UsageError
from cyberscan.history import open_store
from cyberscan.options import ScanOptions
from cyberscan.worker.submit import display_broker, submit, task_id, wait
from cyberscan.worker.wire import TASK_NAME, WorkerError, parse_item

from . import worker_fixtures as fixtures
from .history_fixtures import postgres_url

redis_server = fixtures.redis_server  # shared fixture

TARGETS = (Target("museum.test", organisation="Museum"), Target("archief.test", hosts=("depot.archief.test",)),
           Target("bieb.test"))


@pytest.fixture
def db(postgres_dsn: str) -> str:
    return postgres_url(postgres_dsn)


def queued(url: str, queue: str = "cyberscan") -> list[dict[str, Any]]:
    """The messages waiting in the broker's queue, as kombu's Redis transport stores them."""
    client = redis.Redis.from_url(url)
    out = []
    for raw in client.lrange(queue, 0, -1):
        envelope = json.loads(raw)
        body = json.loads(base64.b64decode(envelope["body"]))
        out.append({"envelope": envelope, "body": body})
    client.close()
    return out


def test_one_json_task_per_domain_and_the_batch_recorded_first(redis_server: fixtures.RedisServer, db: str) -> None:
    batch = submit(TARGETS, broker=redis_server.url, db=db, options=ScanOptions(timeout=2))
    assert (batch.total, batch.done, batch.sent, batch.resumed) == (3, 0, 3, False)
    messages = queued(redis_server.url)
    assert len(messages) == 3
    domains = set()
    for message in messages:
        envelope, body = message["envelope"], message["body"]
        assert envelope["content-type"] == "application/json"  # never pickle
        assert envelope["headers"]["task"] == TASK_NAME
        args, kwargs, _embed = body
        assert args == [] and set(kwargs) == {"item"}
        item = parse_item(kwargs["item"])  # exactly what a worker accepts
        assert item.batch == batch.id and item.options["timeout"] == 2.0
        assert envelope["headers"]["id"] == task_id(batch.id, item.domain)
        domains.add(item.domain)
        if item.domain == "archief.test":
            assert item.hosts == ("depot.archief.test",)
    assert domains == {"museum.test", "archief.test", "bieb.test"}
    with open_store(db) as store:
        info = store.batch(batch.id)
        assert info is not None and info.total == 3 and info.done == 0 and info.finished is None
        assert info.meta["targets"]["museum.test"] == {"organisation": "Museum"}
        assert info.meta["kind"] == "cyberscan-worker" and "consent" not in info.meta


def test_sending_again_resumes_nothing_twice_nothing_skipped(redis_server: fixtures.RedisServer, db: str) -> None:
    first = submit(TARGETS, broker=redis_server.url, db=db)
    client = redis.Redis.from_url(redis_server.url)
    client.delete("cyberscan")  # the queue was lost, or the enqueuer stopped; one domain was done meanwhile
    with open_store(db) as store:
        store.record_failure((first.id, "bieb.test"), "target.nxdomain", {"domain": "bieb.test"})
    again = submit(TARGETS, broker=redis_server.url, db=db, resume=True)
    assert again.id == first.id and again.resumed and (again.done, again.sent) == (1, 2)
    assert {parse_item(m["body"][1]["item"]).domain for m in queued(redis_server.url)} == {"museum.test",
                                                                                           "archief.test"}
    client.delete("cyberscan")
    other = submit(TARGETS, broker=redis_server.url, db=db, options=ScanOptions(timeout=3), resume=True)
    assert other.id != first.id and not other.resumed  # other settings: another batch
    fresh = submit(TARGETS, broker=redis_server.url, db=db)
    assert fresh.id != first.id and fresh.sent == 3  # without --resume: a new batch
    client.close()


def test_a_port_scan_is_sent_only_with_consent_and_that_is_recorded(redis_server: fixtures.RedisServer, db: str) -> None:
    with pytest.raises(UsageError) as caught:
        submit(TARGETS, broker=redis_server.url, db=db, options=ScanOptions(ports=True))
    assert caught.value.key == "worker.ports-need-consent"
    batch = submit(TARGETS, broker=redis_server.url, db=db, options=ScanOptions(ports=True, authorised=True))
    with open_store(db) as store:
        info = store.batch(batch.id)
    assert info is not None
    consent = info.meta["consent"]
    assert consent["ports"] is True and consent["authorised"] is True and "@" in consent["by"] and consent["at"]


def test_an_sqlite_history_and_a_ca_bundle_are_refused(redis_server: fixtures.RedisServer, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        submit(TARGETS, broker=redis_server.url, db=str(tmp_path / "h.sqlite"))
    assert caught.value.key == "worker.needs-postgres"
    with pytest.raises(UsageError) as caught:
        submit(TARGETS, broker=redis_server.url, db="postgresql://x@127.0.0.1/x",
               options=ScanOptions(ca_bundle=str(tmp_path / "ca.pem")))
    assert caught.value.key == "worker.ca-bundle-on-worker"
    assert queued(redis_server.url) == []


def test_an_unreachable_broker_is_named_without_its_password(db: str) -> None:
    url = f"redis://user:s3cret@127.0.0.1:{fixtures.free_port()}/0"
    with pytest.raises(WorkerError) as caught:
        submit(TARGETS, broker=url, db=db)
    assert caught.value.key == "worker.broker-unreachable"
    assert "s3cret" not in caught.value.message("en") and caught.value.params["sent"] == 0
    assert display_broker(url).startswith("redis://user:***@")


def test_waiting_ends_when_every_domain_is_done_and_the_batch_is_finished(redis_server: fixtures.RedisServer,
                                                                          db: str) -> None:
    batch = submit(TARGETS, broker=redis_server.url, db=db)
    seen: list[int] = []

    def workers_finish() -> None:
        with open_store(db) as store:
            for target in TARGETS:
                time.sleep(0.3)
                store.record_failure((batch.id, target.domain), "target.nxdomain", {"domain": target.domain})

    threading.Thread(target=workers_finish).start()
    info = wait(db, batch.id, progress=lambda i: seen.append(i.done), poll=0.1)
    assert info.done == 3 and info.finished is not None
    assert seen[0] < 3 and seen[-1] == 3 and seen == sorted(seen)


def test_waiting_stops_when_asked_and_the_batch_stays_open(redis_server: fixtures.RedisServer, db: str) -> None:
    batch = submit(TARGETS, broker=redis_server.url, db=db)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    info = wait(db, batch.id, stop=stop, poll=0.1)
    assert info.done == 0 and info.finished is None
    with pytest.raises(WorkerError):
        wait(db, "worker-nonesuch", poll=0.1)
