"""The shared per-address limiter in a real Redis: at most N connections per address across every worker,
paced starts, leases that a killed worker cannot keep, and a deadline on every call."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from cyberscan.runtime import Limiter, Shared
from cyberscan.worker.limiter import LimiterUnavailable, RedisLimiter

from . import worker_fixtures as fixtures

redis_server = fixtures.redis_server  # shared fixture

ADDRESS = "192.0.2.10"


@pytest.fixture
def limiters(redis_server: fixtures.RedisServer) -> Iterator[list[RedisLimiter]]:
    """Two limiters on one Redis, as two worker processes would have."""
    made = [RedisLimiter(redis_server.url, per_address=2, lease=5) for _ in range(2)]
    yield made
    for limiter in made:
        limiter.close()


def test_it_is_a_runtime_limiter_that_a_batch_can_share(limiters: list[RedisLimiter]) -> None:
    limiter: Limiter = limiters[0]  # the protocol the engine uses
    shared = Shared(limiter=limiter)
    assert shared.limiter is limiter


def test_at_most_n_connections_per_address_across_limiters(limiters: list[RedisLimiter]) -> None:
    open_now, peak, done = 0, 0, 0
    lock = threading.Lock()

    def connection(limiter: RedisLimiter) -> None:
        nonlocal open_now, peak, done
        assert limiter.acquire(ADDRESS, 30)
        with lock:
            open_now += 1
            peak = max(peak, open_now)
        time.sleep(0.05)
        with lock:
            open_now -= 1
            done += 1
        limiter.release(ADDRESS)

    threads = [threading.Thread(target=connection, args=(limiters[i % 2],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert done == 16
    assert peak == 2  # the cap was reached (16 callers wanted in at once) and never passed
    assert limiters[0].held() == {} and limiters[1].held() == {}


def test_other_addresses_are_not_held_up(limiters: list[RedisLimiter]) -> None:
    assert limiters[0].acquire(ADDRESS, 1) and limiters[1].acquire(ADDRESS, 1)
    assert not limiters[0].acquire(ADDRESS, 0)  # full
    assert limiters[1].acquire("192.0.2.11", 0)  # another address is free
    assert limiters[1].acquire("2001:db8::1", 0)


def test_a_full_address_waits_until_a_slot_comes_free(limiters: list[RedisLimiter]) -> None:
    assert limiters[0].acquire(ADDRESS, 1) and limiters[0].acquire(ADDRESS, 1)
    threading.Timer(0.3, limiters[0].release, args=(ADDRESS,)).start()
    started = time.monotonic()
    assert limiters[1].acquire(ADDRESS, 30)
    assert time.monotonic() - started >= 0.25  # not before the release


def test_connection_starts_to_one_address_are_paced_across_limiters(redis_server: fixtures.RedisServer) -> None:
    paced = [RedisLimiter(redis_server.url, per_address=10, interval=0.05) for _ in range(2)]
    starts: list[float] = []
    lock = threading.Lock()

    def start(limiter: RedisLimiter) -> None:
        assert limiter.acquire(ADDRESS, 30)
        with lock:
            starts.append(time.monotonic())
        limiter.release(ADDRESS)

    try:
        threads = [threading.Thread(target=start, args=(paced[i % 2],)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for limiter in paced:
            limiter.close()
    assert len(starts) == 10
    # each start is reserved 50 ms after the previous one (sleeps may only overshoot): ten starts span
    # at least eight intervals whatever the scheduler did; unpaced they would span a few milliseconds
    assert max(starts) - min(starts) >= 8 * 0.05


def test_a_start_further_away_than_the_caller_may_wait_is_not_reserved(redis_server: fixtures.RedisServer) -> None:
    limiter = RedisLimiter(redis_server.url, per_address=10, interval=2.0)
    try:
        assert limiter.acquire(ADDRESS, 1)
        started = time.monotonic()
        assert not limiter.acquire(ADDRESS, 0.5)  # the next start is 2 s away: refused at once
        assert time.monotonic() - started < 0.5
        assert limiter.held() == {ADDRESS: 1}
    finally:
        limiter.close()


HOLDER = textwrap.dedent("""
    import sys, time
    from cyberscan.worker.limiter import RedisLimiter
    limiter = RedisLimiter(sys.argv[1], per_address=2, lease=float(sys.argv[2]))
    assert limiter.acquire("192.0.2.10", 5) and limiter.acquire("192.0.2.10", 5)
    print("held", flush=True)
    time.sleep(600)
""")


def test_a_killed_worker_holds_no_slot_beyond_its_lease(redis_server: fixtures.RedisServer) -> None:
    lease = 2.0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, redis_server.url, str(lease)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        other = RedisLimiter(redis_server.url, per_address=2, lease=lease)
        assert not other.acquire(ADDRESS, 0)  # the holder is alive and renews its leases
        time.sleep(lease * 1.5)
        assert not other.acquire(ADDRESS, 0)  # still: renewed, not lost
        holder.kill()
        holder.wait(10)
        killed = time.monotonic()
        assert other.acquire(ADDRESS, lease * 5)  # the dead process's leases run out
        assert other.acquire(ADDRESS, lease * 5)
        assert time.monotonic() - killed <= lease * 5
        other.close()
    finally:
        holder.kill()
        holder.wait(10)


def test_a_slot_held_longer_than_its_lease_is_renewed(redis_server: fixtures.RedisServer) -> None:
    first = RedisLimiter(redis_server.url, per_address=1, lease=1.0)
    second = RedisLimiter(redis_server.url, per_address=1, lease=1.0)
    try:
        assert first.acquire(ADDRESS, 1)
        assert not second.acquire(ADDRESS, 2.5)  # 2.5 leases later the slot is still the first one's
        first.release(ADDRESS)
        assert second.acquire(ADDRESS, 1)
        assert first.failures == 0
    finally:
        first.close()
        second.close()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never answers (a Redis that hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(2)
    listener.close()
    for conn in held:
        conn.close()


def test_every_redis_call_has_a_deadline_and_a_failure_is_told(silent_server: int) -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{silent_server}/0", per_address=2, call_timeout=0.5)
    told: list[BaseException] = []
    limiter.on_failure(told.append)
    started = time.monotonic()
    with pytest.raises(LimiterUnavailable):
        limiter.acquire(ADDRESS, 60)
    assert time.monotonic() - started < 10  # the call's deadline, not the caller's 60 s
    assert limiter.failures == 1 and len(told) == 1 and isinstance(told[0], LimiterUnavailable)
    with pytest.raises(LimiterUnavailable):
        limiter.ping()
    limiter.close()


def test_an_unreachable_redis_fails_at_once() -> None:
    port = fixtures.free_port()  # nothing listens there
    limiter = RedisLimiter(f"redis://127.0.0.1:{port}/0", per_address=2, call_timeout=0.5)
    with pytest.raises(LimiterUnavailable):
        limiter.acquire(ADDRESS, 60)
    assert limiter.failures == 1
    limiter.release(ADDRESS)  # nothing held: nothing to do
    limiter.close()
