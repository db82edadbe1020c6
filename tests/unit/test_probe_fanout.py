"""The probes' fan-out (probes/fanout.py): order, errors, cancellation, nesting, and threads reused."""

from __future__ import annotations

import threading
import time

import pytest

from cyberscan.errors import Interrupted
from cyberscan.probes import fanout


def test_results_keep_the_order_of_the_items_and_run_side_by_side() -> None:
    started = threading.Barrier(4, timeout=5)  # all four must be running at once to pass it

    def one(item: int) -> int:
        started.wait()
        return item * 10

    assert fanout.run(one, [1, 2, 3, 4], workers=4) == [10, 20, 30, 40]


def test_the_first_error_in_item_order_is_raised_after_every_item_is_done() -> None:
    done: list[int] = []

    def one(item: int) -> int:
        if item == 3:
            raise ValueError("three")
        if item == 1:
            time.sleep(0.1)
            raise KeyError("one")
        time.sleep(0.2)
        done.append(item)
        return item

    with pytest.raises(KeyError):
        fanout.run(one, [0, 1, 2, 3], workers=4)
    assert sorted(done) == [0, 2]  # the slow ones finished before the call returned


def test_items_not_started_when_the_scan_is_cancelled_are_interrupted() -> None:
    cancel = threading.Event()
    ran: list[int] = []

    def one(item: int) -> int:
        ran.append(item)
        cancel.set()
        return item

    with pytest.raises(Interrupted):
        fanout.run(one, range(10), workers=2, cancel=cancel)
    assert len(ran) <= 2


def test_nested_fan_outs_finish_whatever_the_pool_is_doing() -> None:
    def inner(item: int) -> int:
        return sum(fanout.run(lambda x: x + item, range(5), workers=5))

    assert fanout.run(inner, range(20), workers=20) == [sum(range(5)) + 5 * i for i in range(20)]


def test_a_fan_out_reuses_idle_threads_instead_of_starting_new_ones() -> None:
    fanout.run(lambda x: x, range(6), workers=6)  # at least five pool threads exist now, then idle
    time.sleep(0.05)
    before = fanout.POOL.started
    for _ in range(50):
        fanout.run(lambda x: x, range(6), workers=6)
    assert fanout.POOL.started == before


def test_pair_runs_both_and_gives_both_results() -> None:
    meet = threading.Barrier(2, timeout=5)

    def left() -> str:
        meet.wait()
        return "a"

    def right() -> int:
        meet.wait()
        return 1

    assert fanout.pair(left, right) == ("a", 1)
