"""Two real `cyberscan worker` processes (Celery, prefork pool) on a real Redis broker and a real PostgreSQL
history, scanning zones of the in-process DNS server whose names point at a loopback server that counts
connections: every domain assessed exactly once, the per-address limit holds across both workers, and
a worker killed mid-task (SIGKILL) loses nothing."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from cyberscan.history import open_store

from . import worker_fixtures as fixtures
from .history_fixtures import postgres_url

redis_server = fixtures.redis_server  # shared fixture
T = TypeVar("T")


@pytest.fixture
def db(postgres_dsn: str) -> str:
    return postgres_url(postgres_dsn)


@pytest.fixture
def counting() -> Iterator[fixtures.CountingServer]:
    fixtures.need_root("the per-address test")
    with fixtures.CountingServer(hold=0.15) as server:
        yield server


def targets_file(folder: Path, domains: list[str]) -> Path:
    path = folder / "targets.txt"
    path.write_text("\n".join(domains) + "\n", encoding="utf-8")
    return path


def submit(path: Path, broker: str, db: str, nameserver: str, *extra: str, timeout: float = 180) -> \
        subprocess.CompletedProcess[str]:
    return subprocess.run([*fixtures.CYBERSCAN, "--lang", "en", "worker", "submit", str(path), "--broker", broker,
                           "--db", db, "--allow-private", "--nameserver", nameserver, "--timeout", "1.5", *extra],
                          capture_output=True, text=True, timeout=timeout, check=False)


def assert_exactly_once(db: str, batch: str, domains: list[str]) -> dict[str, int]:
    """Every domain of the batch done, each with its own stored assessment, and nothing else stored."""
    with open_store(db) as store:
        items = store.batch_items(batch)
        assert sorted(items) == sorted(domains)
        numbers = {d: i.assessment for d, i in items.items()}
        assert all(n is not None for n in numbers.values()), {d: i.failure for d, i in items.items()}
        assert len(set(numbers.values())) == len(domains)
        assert store.count() == len(domains)  # no assessment stored twice, none outside the journal
        for domain, number in numbers.items():
            assert number is not None and store.get(number).summary.targets == (domain,)
        info = store.batch(batch)
        assert info is not None and info.done == info.total == len(domains) and info.finished is not None
        return {d: n for d, n in numbers.items() if n is not None}


def test_two_workers_assess_every_domain_once_and_share_the_per_address_limit(
        tmp_path: Path, redis_server: fixtures.RedisServer, db: str, counting: fixtures.CountingServer) -> None:
    domains = [f"museum{i}.test" for i in range(8)]
    with fixtures.zones_on(domains, counting.address, mx=True) as dns, \
            fixtures.workers(2, ["--broker", redis_server.url, "--db", db, "--allow-private", "--concurrency", "3",
                                 "--per-address", "2", "--interval", "0.01"], tmp_path) as running:
        done = submit(targets_file(tmp_path, domains), redis_server.url, db, dns.nameserver, "--no-progress")
        logs = [w.text() for w in running]
    assert done.returncode == 0, done.stderr + "\n".join(log[-3000:] for log in logs)
    assert "8 domains assessed, 0 could not be scanned" in done.stderr
    assert_exactly_once(db, batch_id(done.stderr), domains)
    assert all("cyberscan worker: assessing" in log for log in logs)  # both workers took part
    # six domains at once wanted many connections to the one address: never more than two were open
    assert counting.total >= 16
    assert counting.peak == 2


def test_a_worker_killed_mid_task_loses_nothing(tmp_path: Path, redis_server: fixtures.RedisServer, db: str) -> None:
    """slow.test's MX query is never answered, so its assessment takes a few seconds; the worker that
    took it is killed with SIGKILL while assessing it. Its task was not acknowledged (late ack), so after
    the visibility timeout the broker hands it to the other worker, which stores it: every domain once."""
    fixtures.need_root("the kill test")
    domains = ["slow.test", *(f"quick{i}.test" for i in range(5))]
    visibility = 8.0  # longer than the slowest task here; the production default is 3600 s
    with fixtures.CountingServer(hold=0.05) as web, \
            fixtures.zones_on(domains, web.address, hang=["slow.test MX"]) as dns, \
            fixtures.workers(2, ["--broker", redis_server.url, "--db", db, "--allow-private", "--concurrency", "1",
                                 "--per-address", "8", "--visibility-timeout", str(visibility)], tmp_path) as running:
        sent = submit(targets_file(tmp_path, domains), redis_server.url, db, dns.nameserver, "--no-wait")
        assert sent.returncode == 0, sent.stderr
        victim = wait_for(lambda: next((w for w in running if "assessing slow.test" in w.text()), None), 60)
        victim.kill()
        killed = time.monotonic()
        survivor = next(w for w in running if w is not victim)
        wait_for(lambda: "assessing slow.test" in survivor.text() or None, visibility + 60)
        redelivered = time.monotonic() - killed
        watch = subprocess.run([*fixtures.CYBERSCAN, "--lang", "en", "worker", "status", batch_id(sent.stderr),
                                "--db", db, "--wait"], capture_output=True, text=True, timeout=120, check=False)
        survivor_log = survivor.text()
    assert watch.returncode == 0, watch.stderr + survivor_log
    numbers = assert_exactly_once(db, batch_id(sent.stderr), domains)
    assert re.search(r"slow\.test \(batch \S+\) stored as no\. " + str(numbers["slow.test"]), survivor_log)
    assert "stored as" not in victim.text().split("assessing slow.test")[1]  # the victim stored nothing of it
    print(f"redelivered {redelivered:.1f} s after the kill (visibility timeout {visibility:.0f} s)")


def batch_id(said: str) -> str:
    found = re.search(r"batch (worker-[0-9a-f]+)", said)
    assert found, said
    return found.group(1)


def wait_for(probe: Callable[[], T | None], seconds: float) -> T:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


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
            sent = submit(targets_file(tmp_path, domains), redis_server.url, db, dns.nameserver, "--no-wait")
            assert sent.returncode == 0, sent.stderr
            wait_for(lambda: "will retry" in running[0].text() or None, 60)
            with open_store(db) as store:
                assert store.batch_items(batch_id(sent.stderr)) == {}  # a retry, not a result
            limiter.start(same_port=True)
            watch = subprocess.run([*fixtures.CYBERSCAN, "--lang", "en", "worker", "status", batch_id(sent.stderr),
                                    "--db", db, "--wait"], capture_output=True, text=True, timeout=180, check=False)
            log = running[0].text()
    finally:
        limiter.stop()
    assert watch.returncode == 0, watch.stderr + log[-3000:]
    assert_exactly_once(db, batch_id(sent.stderr), domains)
    assert "limiter unavailable while assessing museum.test" in log
