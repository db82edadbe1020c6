"""What the scans of a batch share: the per-address limiter and values computed once per address."""

from __future__ import annotations

import threading
import time

import pytest

from cyberscan.errors import ProbeTimeout
from cyberscan.runtime import LocalLimiter, Shared, Slot


def test_limiter_caps_connections_per_address_not_across_addresses() -> None:
    limiter = LocalLimiter(2)
    assert limiter.acquire("192.0.2.1", 0.1)
    assert limiter.acquire("192.0.2.1", 0.1)
    assert not limiter.acquire("192.0.2.1", 0.05)  # a third one waits, then gives up
    assert limiter.acquire("192.0.2.2", 0.1)  # another address is not held up
    limiter.release("192.0.2.1")
    assert limiter.acquire("192.0.2.1", 0.1)


def test_limiter_paces_connection_starts_to_one_address() -> None:
    """Five starts to one address take at least four intervals, however the threads are scheduled (a
    late thread only adds time); another address is not held up by them."""
    limiter = LocalLimiter(10, interval=0.05)
    began = time.monotonic()
    for _ in range(5):
        assert limiter.acquire("192.0.2.1", 5)
    assert time.monotonic() - began >= 4 * 0.05
    assert limiter.acquire("192.0.2.9", 0.0)  # pacing is per address: no wait for another one


def test_limiter_refuses_a_start_beyond_the_wait() -> None:
    limiter = LocalLimiter(10, interval=1.0)
    assert limiter.acquire("192.0.2.1", 0.1)
    assert not limiter.acquire("192.0.2.1", 0.1)  # the next start is a second away
    # the refused attempt gave its slot back: nine more may be held at once
    limiter.interval = 0.0
    assert all(limiter.acquire("192.0.2.1", 0.1) for _ in range(9))


def test_slot_as_context_manager_times_out_with_a_probe_timeout() -> None:
    limiter = LocalLimiter(1)
    with Slot(limiter, "192.0.2.1"):
        held = Slot(limiter, "192.0.2.1")
        assert not held.acquire(0.01)
    assert Slot(limiter, "192.0.2.1").acquire(0.01)
    with pytest.raises(ProbeTimeout):
        slot = Slot(limiter, "192.0.2.1")
        slot.acquire = lambda timeout=0: False  # type: ignore[method-assign]
        with slot:
            pass


def test_once_computes_one_value_for_concurrent_callers() -> None:
    shared = Shared()
    calls = []
    gate = threading.Event()

    def compute() -> int:
        calls.append(1)
        gate.wait(2)
        return 42

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(shared.once(("tls", "192.0.2.1", 443), compute)))
               for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == [42] * 8
    assert len(calls) == 1
    assert shared.once(("tls", "192.0.2.2", 443), lambda: 7) == 7  # another key: its own value


def test_once_shares_the_exception_and_forget_allows_again() -> None:
    shared = Shared()
    key = ("smtp", "192.0.2.1", 25)

    def broken() -> int:
        raise ProbeTimeout("walk")

    with pytest.raises(ProbeTimeout):
        shared.once(key, broken)
    with pytest.raises(ProbeTimeout):
        shared.once(key, lambda: 1)  # the same outcome for the next domain on that address
    shared.forget(key)
    assert shared.once(key, lambda: 1) == 1
