"""One scanning process of a batch: domains in, small results out.

A scanning process holds one :class:`~cyberscan.runtime.Shared` (its DNS cache and resolver, the
pool of probe threads, values per address computed once, and the batch's per-address limiter) and
``domains`` threads, each taking one domain at a time from the writer (the parent process), calling
:func:`cyberscan.assess` for it and sending back what the writer needs: the assessment made ready for
the history store (:func:`cyberscan.history.prepare`, encoded and compressed here, not in the
writer) and its summary row. Nothing of a domain stays behind once it is sent.

Messages on the connection to the writer: the writer sends :class:`Job` objects, ``CANCEL`` (stop
now: cut every connection, send nothing more) and ``None`` (no more work: end when idle); the scanner
sends a :class:`Done` per job. A scan that a cancel cut short is sent back ``abandoned`` (the writer
does not journal it, so ``--resume`` scans it again); a scan that crashed is an error row, never the
end of the process. The scanner ends at once when the writer's side of the connection closes (the
writer was killed): there is nothing it could still save.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from ..assessment import assess
from ..catalogue import Catalogue, Profile
from ..history import PreparedSave, prepare
from ..models import AcceptedRisk
from ..options import ScanOptions
from ..registry import Registry
from ..runtime import Limiter, Shared
from .summary import CRASHED, Row, not_scanned, row_of
from .targets import Target

log = logging.getLogger(__name__)

CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Job:
    index: int  # position in the targets file (the writer's key)
    target: Target


@dataclass(frozen=True, slots=True)
class Done:
    index: int
    row: Row
    prepared: PreparedSave | None = None  # None: not assessed (row says why) or abandoned
    failure: tuple[str, dict[str, Any]] | None = None  # (key, params) for the journal
    abandoned: bool = False  # cut short by a cancel: not done, scanned again on --resume


@dataclass(frozen=True)
class ScanSettings:
    """What every scanning process of a batch is told (inherited at the fork)."""

    catalogue: Catalogue
    registry: Registry
    profile: Profile
    options: ScanOptions
    accepted: Sequence[AcceptedRisk]
    lang: str
    domains: int  # domains in flight in one process
    threads: int  # probe threads of one process


def scan_one(job: Job, settings: ScanSettings, shared: Shared, cancel: threading.Event) -> Done:
    """Assess one domain of the batch; never raises."""
    target = job.target
    options = replace(settings.options, extra_hosts=target.hosts)
    try:
        result = assess(target.domain, profile=settings.profile, options=options, accepted=settings.accepted,
                        catalogue=settings.catalogue, registry=settings.registry, cancel=cancel, shared=shared)
        if not result.complete:
            return Done(job.index, Row(target.domain), abandoned=True)
        row = row_of(target, result, settings.lang)
        if not result.scan.targets:
            failure = result.failures[0]
            return Done(job.index, row, failure=(failure.key, dict(failure.params)))
        return Done(job.index, row, prepare(result))
    except Exception as exc:  # a crash of one domain is that domain's error row, never the batch's end
        if cancel.is_set():
            return Done(job.index, Row(target.domain), abandoned=True)
        log.debug("scan of %s crashed", target.domain, exc_info=True)
        detail = f"{type(exc).__name__}: {exc}"[:300]
        params = {"domain": target.domain, "detail": detail}
        return Done(job.index, not_scanned(target, "batch.crashed", params, settings.lang, state=CRASHED),
                    failure=("batch.crashed", {**params, "state": CRASHED}))


TRIM_EVERY = 16  # domains between two returns of free heap memory to the system (a forked scanner)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None


_TRIM = _malloc_trim()


def give_back_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``).

    A scanning process frees most of what a domain's scan allocated once it is sent, but glibc keeps
    freed memory in its arenas (one per busy thread), where pieces still in use pin whole pages: in a
    1,000-domain batch each scanner held about 25 MB more than it used. Trimming every
    ``TRIM_EVERY`` domains keeps the batch's memory near what it uses; elsewhere it does nothing."""
    if _TRIM is not None:
        _TRIM(0)


def serve(conn: Connection, settings: ScanSettings, limiter: Limiter, *, forked: bool) -> None:
    """The loop of one scanning process (or, without fork, of a thread group in the writer's process)."""
    cancel = threading.Event()
    shared = Shared(limiter=limiter, workers=settings.threads, cancel=cancel, patient=True)
    jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
    send_lock = threading.Lock()

    finished = [0]

    def domain_thread() -> None:
        while (job := jobs.get()) is not None:
            done = scan_one(job, settings, shared, cancel)
            try:
                with send_lock:
                    conn.send(done)
                    finished[0] += 1
                    trim = forked and finished[0] % TRIM_EVERY == 0
            except (OSError, EOFError, ValueError):
                cancel.set()
                return
            del done
            if trim:
                give_back_free_memory()

    threads = [threading.Thread(target=domain_thread, name=f"domain-{n}", daemon=True)
               for n in range(settings.domains)]
    for thread in threads:
        thread.start()
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the writer is gone: nothing could be saved any more
                cancel.set()
                if forked:
                    os._exit(0)
                break
            if message == CANCEL:
                cancel.set()
                shared.reaper.cut_all()
                continue
            if message is None:
                break
            jobs.put(message)
    finally:
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join(None if not cancel.is_set() else 1.0)
        shared.close()
        with contextlib.suppress(OSError):
            conn.close()


def child_main(conn: Connection, others: Sequence[Connection], settings: ScanSettings, limiter: Any,
               number: int) -> None:
    """Entry point of a forked scanning process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer decides what a Ctrl-C means
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for other in others:  # the writer's ends, and other scanners' connections, inherited at the fork
        with contextlib.suppress(OSError):
            other.close()
    attach = getattr(limiter, "attach", None)
    if attach is not None:
        attach(number)
    try:
        serve(conn, settings, limiter, forked=True)
    finally:
        os._exit(0)  # never run the writer's exit handlers (its history store is not ours)


__all__ = ["CANCEL", "Done", "Job", "ScanSettings", "child_main", "scan_one", "serve"]
