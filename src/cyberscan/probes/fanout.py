"""Concurrency inside a probe, without starting threads for every fan-out.

:func:`run` is :func:`cyberscan.runtime.run_all` (``[fn(item) for item in items]``, ``workers`` at a
time, results in order, the first exception in order raised), with two differences that matter when
thousands of fan-outs run in one batch:

- the threads come from one process-wide pool of idle daemon threads (a thread that finished its
  work waits up to ``IDLE_SECONDS`` for more before it ends), so a fan-out starts a thread only when
  none is idle;
- the calling thread works too, so a nested fan-out (a probe's endpoints, each endpoint's protocol
  versions) always makes progress, whatever the pool is doing;
- it returns only when every item is finished (none keeps running behind the caller's back), and
  items not started when the scan is cancelled raise :class:`~cyberscan.errors.Interrupted`.

Connections still go through :class:`~cyberscan.runtime.Endpoint`, so the per-address limit, the
deadlines and the reaper bound them exactly as in a single thread.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

from ..errors import Interrupted

T = TypeVar("T")
U = TypeVar("U")
A = TypeVar("A")
B = TypeVar("B")

IDLE_SECONDS = 30.0


class _Pool:
    """Daemon threads that run submitted tasks and wait, idle, for more (never more idle than needed)."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._lock = threading.Lock()
        self._tasks: queue.SimpleQueue[tuple[Callable[[], None], Callable[[], None]]] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for a task that no submitter has claimed yet
        self._idle_seconds = idle_seconds
        self.started = 0  # threads ever started (for tests and figures)

    def submit(self, task: Callable[[], None], then: Callable[[], None]) -> None:
        """Run ``task`` in an idle thread, or a new one when none is idle; ``then`` once that thread is
        idle again (neither may raise)."""
        with self._lock:
            reuse = self._idle > 0
            if reuse:
                self._idle -= 1  # claimed: that thread (or another idle one) takes the task below
            else:
                self.started += 1
        if reuse:
            self._tasks.put((task, then))
        else:
            threading.Thread(target=self._loop, args=((task, then),), name="probe-pool", daemon=True).start()

    def _loop(self, job: tuple[Callable[[], None], Callable[[], None]]) -> None:
        while True:
            task, then = job
            task()
            with self._lock:
                self._idle += 1
            then()
            while True:
                try:
                    job = self._tasks.get(timeout=self._idle_seconds)
                    break
                except queue.Empty:
                    with self._lock:
                        if self._idle > 0:  # nobody counts on this thread: it ends
                            self._idle -= 1
                            return
                    # a submitter claimed an idle thread just now: its task is on the way


POOL = _Pool()


def run(fn: Callable[[T], U], items: Iterable[T], *, workers: int = 8,
        cancel: threading.Event | None = None) -> list[U]:
    """``[fn(item) for item in items]``, at most ``workers`` at a time (the caller is one of them).

    Returns when every item is done and the pool threads that helped are idle again (so the next
    fan-out finds them); raises the first exception in item order (after all finished)."""
    work = list(items)
    if len(work) <= 1 or workers <= 1:
        return [_one(fn, item, cancel) for item in work]
    count = len(work)
    results: list[Any] = [None] * count
    errors: list[BaseException | None] = [None] * count
    order = itertools.count()  # next() on it is atomic: each index goes to one worker
    helpers = min(workers, count) - 1
    lock = threading.Lock()
    away = [helpers]
    back = threading.Event()

    def worker() -> None:
        while True:
            index = next(order)
            if index >= count:
                return
            try:
                results[index] = _one(fn, work[index], cancel)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                errors[index] = exc

    def returned() -> None:
        with lock:
            away[0] -= 1
            if away[0] == 0:
                back.set()

    for _ in range(helpers):
        POOL.submit(worker, returned)
    worker()
    back.wait()  # every helper is done, so every item is
    for error in errors:
        if error is not None:
            raise error
    return results


def start(call: Callable[[], T]) -> Future[T]:
    """``call()`` in a pool thread; its result (or exception) in the returned future."""
    future: Future[T] = Future()

    def task() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the future
            future.set_exception(exc)

    POOL.submit(task, _nothing)
    return future


def _nothing() -> None:
    return None


def _one(fn: Callable[[T], U], item: T, cancel: threading.Event | None) -> U:
    if cancel is not None and cancel.is_set():
        raise Interrupted()
    return fn(item)


def pair(first: Callable[[], A], second: Callable[[], B], *, cancel: threading.Event | None = None) -> tuple[A, B]:
    """``(first(), second())`` at the same time; the first exception (``first``'s before ``second``'s)
    is raised once both are done."""
    out: list[Any] = run(lambda call: call(), [first, second], workers=2, cancel=cancel)
    return out[0], out[1]


def settle(call: Callable[[], T], *catch: type[BaseException]) -> T | BaseException:
    """``call()``, or the exception it raised when that is one of ``catch`` (an outcome kept as data,
    so several concurrent parts can be judged together once all are done)."""
    try:
        return call()
    except catch as exc:
        return exc
