"""The batch's per-address limiter shared by forked scanning processes (cyberscan.batch.limiter).

Each process holds a slot for a moment and counts, in a shared counter of its own (not the limiter's),
how many holders there are at once. Pacing is checked as a lower bound (a late process only adds time).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

import pytest

from cyberscan.batch.limiter import ProcessLimiter
from cyberscan.batch.runner import can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="the shared limiter needs fork")
CTX = multiprocessing.get_context("fork") if can_fork() else None
ADDRESS = "192.0.2.7"


def _worker(limiter: ProcessLimiter, number: int, rounds: int, now: Any, most: Any, lock: Any,
            hold: float) -> None:
    limiter.attach(number)
    for _ in range(rounds):
        assert limiter.acquire(ADDRESS, timeout=60)
        with lock:
            now.value += 1
            most.value = max(most.value, now.value)
        time.sleep(hold)
        with lock:
            now.value -= 1
        limiter.release(ADDRESS)


def _run(limiter: ProcessLimiter, processes: int, rounds: int, hold: float) -> int:
    assert CTX is not None
    now, most, lock = CTX.Value("i", 0, lock=False), CTX.Value("i", 0, lock=False), CTX.Lock()
    workers = [CTX.Process(target=_worker, args=(limiter, n, rounds, now, most, lock, hold)) for n in range(processes)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    return int(most.value)


def test_one_address_never_sees_more_than_the_cap_from_all_processes() -> None:
    assert _run(ProcessLimiter(per_address=3), processes=6, rounds=8, hold=0.02) <= 3


def test_a_looser_cap_lets_the_same_load_overlap_more() -> None:
    # the counter of these tests can see an excess: six processes with a cap of 6 overlap beyond 3
    assert _run(ProcessLimiter(per_address=6), processes=6, rounds=8, hold=0.1) > 3


def test_connection_starts_to_one_address_are_paced_across_processes() -> None:
    interval, processes, rounds = 0.05, 4, 3
    started = time.monotonic()
    _run(ProcessLimiter(per_address=10, interval=interval), processes=processes, rounds=rounds, hold=0.0)
    # twelve starts at least `interval` apart take at least eleven intervals, however the processes run
    assert time.monotonic() - started >= (processes * rounds - 1) * interval


def test_the_slots_of_a_killed_process_are_given_back() -> None:
    assert CTX is not None
    limiter = ProcessLimiter(per_address=2)
    ready = CTX.Event()

    def hog() -> None:
        limiter.attach(5)
        assert limiter.acquire(ADDRESS, 5) and limiter.acquire(ADDRESS, 5)
        ready.set()
        time.sleep(120)

    process = CTX.Process(target=hog)
    process.start()
    try:
        assert ready.wait(60)
        assert limiter.open_now(ADDRESS) == 2
        assert not limiter.acquire(ADDRESS, timeout=0.2)  # full while the hog lives
    finally:
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
        process.join(60)
    assert limiter.reclaim(5) == 2
    assert limiter.open_now(ADDRESS) == 0
    assert limiter.acquire(ADDRESS, timeout=5)
    limiter.release(ADDRESS)


def test_addresses_do_not_share_their_slots() -> None:
    limiter = ProcessLimiter(per_address=1)
    assert limiter.acquire("192.0.2.1", 1) and limiter.acquire("2001:db8::1", 1) and limiter.acquire("::", 1)
    assert not limiter.acquire("192.0.2.1", 0.05)
    limiter.release("192.0.2.1")
    assert limiter.acquire("192.0.2.1", 1)
