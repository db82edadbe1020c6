"""Two real `cyberscan worker` processes (Celery, prefork pool) on a real Redis broker and a real PostgreSQL
history, scanning zones of the in-process DNS server whose names point at a loopback server that counts
connections: every domain assessed exactly once, the per-address limit holds across both workers, and a
limiter that goes away is retried, never a result. (A worker killed mid-task: tests/integration/test_worker_kill.py.)"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cyberscan.history import open_store

from . import worker_fixtures as fixtures
from .history_fixtures import postgres_url

redis_server = fixtures.redis_server  # shared fixture


@pytest.fixture
def db(postgres_dsn: str) -> str:
    return postgres_url(postgres_dsn)


@pytest.fixture
def counting() -> Iterator[fixtures.CountingServer]:
    fixtures.need_root("the per-address test")
    with fixtures.CountingServer(hold=0.15) as server:
        yield server


def test_two_workers_assess_every_domain_once_and_share_the_per_address_limit(
        tmp_path: Path, redis_server: fixtures.RedisServer, db: str, counting: fixtures.CountingServer) -> None:
    domains = [f"museum{i}.test" for i in range(8)]
    with fixtures.zones_on(domains, counting.address, mx=True) as dns, \
            fixtures.workers(2, ["--broker", redis_server.url, "--db", db, "--allow-private", "--concurrency", "3",
                                 "--per-address", "2", "--interval", "0.01"], tmp_path) as running:
        done = fixtures.submit(fixtures.targets_file(tmp_path, domains), redis_server.url, db, dns.nameserver, "--no-progress")
        logs = [w.text() for w in running]
    assert done.returncode == 0, done.stderr + "\n".join(log[-3000:] for log in logs)
    assert "8 domains assessed, 0 could not be scanned" in done.stderr
    fixtures.assert_exactly_once(db, fixtures.batch_id(done.stderr), domains)
    assert all("cyberscan worker: assessing" in log for log in logs)  # both workers took part
    # six domains at once wanted many connections to the one address: never more than two were open
    assert counting.total >= 16
    assert counting.peak == 2


def test_an_unreachable_limiter_is_retried_with_backoff_and_the_domain_stored_once(
        tmp_path: Path, redis_server: fixtures.RedisServer, db: str) -> None:
    """The limiter's Redis goes away after the worker started: the task is retried later (Celery retry,
    backoff), never recorded as the domain's result; once Redis is back, the domain is stored, once."""
    fixtures.need_root("the retry test")
    limiter = fixtures.RedisServer(tmp_path).start()
    domains = ["museum.test"]
    try:
        with fixtures.CountingServer(hold=0.05) as web, fixtures.zones_on(domains, web.address) as dns, \
                fixtures.workers(1, ["--broker", redis_server.url, "--limiter", limiter.url, "--db", db,
                                     "--allow-private", "--concurrency", "1"], tmp_path) as running:
            limiter.stop()
            sent = fixtures.submit(fixtures.targets_file(tmp_path, domains), redis_server.url, db, dns.nameserver, "--no-wait")
            assert sent.returncode == 0, sent.stderr
            fixtures.wait_for(lambda: "will retry" in running[0].text() or None, 60)
            with open_store(db) as store:
                assert store.batch_items(fixtures.batch_id(sent.stderr)) == {}  # a retry, not a result
            limiter.start(same_port=True)
            watch = fixtures.status(fixtures.batch_id(sent.stderr), db, "--wait")
            log = running[0].text()
    finally:
        limiter.stop()
    assert watch.returncode == 0, watch.stderr + log[-3000:]
    fixtures.assert_exactly_once(db, fixtures.batch_id(sent.stderr), domains)
    assert "will retry (1 of 10): limiter-failed: museum.test" in log  # a retry, the limiter named


def test_scan_targets_with_a_broker_hands_the_batch_to_the_workers(
        tmp_path: Path, redis_server: fixtures.RedisServer, db: str) -> None:
    """`cyberscan scan --targets FILE --broker URL --db URL` queues the batch for the workers and waits for
    them, as `worker submit` does; an option the workers set themselves is refused before anything is sent."""
    domains = [f"archief{i}.test" for i in range(3)]
    path = fixtures.targets_file(tmp_path, domains)
    with fixtures.CountingServer(hold=0.0) as web, fixtures.zones_on(domains, web.address) as dns, \
            fixtures.workers(1, ["--broker", redis_server.url, "--db", db, "--allow-private", "--concurrency", "2"],
                             tmp_path):
        common = ["--lang", "en", "scan", "--targets", str(path), "--broker", redis_server.url, "--db", db,
                  "--allow-private", "--nameserver", dns.nameserver, "--timeout", "4", "--no-progress"]
        refused = subprocess.run([*fixtures.CYBERSCAN, *common, "--per-address", "2"], capture_output=True, text=True,
                                 timeout=60, check=False)
        assert refused.returncode == 2 and "--per-address does not go with --broker" in refused.stderr
        with open_store(db) as store:
            assert store.count() == 0  # nothing was queued
        done = subprocess.run([*fixtures.CYBERSCAN, *common], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert "3 domains assessed, 0 could not be scanned" in done.stderr
    fixtures.assert_exactly_once(db, fixtures.batch_id(done.stderr), domains)
