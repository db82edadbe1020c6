"""The batch on one machine: ``cyberscan scan --targets FILE`` below the command line.

One writer process (this one) and several scanning processes (:mod:`.scanner`), forked at the start:

- the writer hands each scanning process at most ``domains`` domains at a time (in the order of the
  targets file), receives each finished domain's prepared assessment and summary row, saves the
  assessment in the history store with the batch journal in the same transaction
  (:meth:`~cyberscan.history.Store.save_prepared`), appends the row to the summary's rows journal and
  moves the progress display. It is the only process that touches the store (SQLite is not shared).
- every scanning process has its own :class:`~cyberscan.runtime.Shared` (DNS cache, probe threads,
  values per address); per-address politeness holds across them through one
  :class:`~.limiter.ProcessLimiter` in shared memory.

Failure of one domain never stops the others: a domain that cannot be scanned is journaled with its
reason; a scan that crashes is an error row; a scanning process that dies (killed, out of memory) is
replaced, and its domains in flight are handed out once more (an error row the second time).

Interruption: Ctrl-C or SIGTERM (``stop``) cancels the scans in flight (their connections are cut),
abandons them after ``CANCEL_GRACE`` seconds (they are not journaled), writes the summary of what is
done and returns ``interrupted``; ``--resume`` then continues with exactly the domains not journaled.
A writer killed outright (``kill -9``, power loss) loses at most the domains in flight: everything
journaled is in the store, and the summary is rebuilt from the journal and the store.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import multiprocessing
import os
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, NoReturn

from ..errors import UsageError
from ..history import BatchItem, HistoryError, Store
from ..runtime import Limiter, LocalLimiter
from ..serialize import accepted_to_dict
from .limiter import MAX_PROCESSES, ProcessLimiter
from .progress import Progress
from .scanner import CANCEL, Done, Job, ScanSettings, child_main, serve
from .summary import ASSESSED, CRASHED, Row, SummaryWriter, not_scanned, row_from_store
from .targets import Target, TargetsFile, fingerprint

CANCEL_GRACE = 2.0  # seconds the writer waits for scans in flight after a Ctrl-C
STOP_WAIT = 5.0  # seconds a scanning process may take to end once it has no more work
TICK = 0.25


@dataclass(frozen=True)
class BatchRequest:
    targets: TargetsFile
    source: str  # the targets file as given (recorded with the batch)
    scan: ScanSettings
    summary: Path  # the summary's stem: <stem>.csv, <stem>.json, <stem>.rows.jsonl
    processes: int = 1
    per_address: int = 4
    pace: float = 0.0
    resume: bool = False

    @property
    def frameworks(self) -> tuple[str, ...]:
        profile = self.scan.profile
        return tuple(profile.frameworks) if profile.frameworks else tuple(self.scan.catalogue.frameworks)

    def fingerprint(self) -> str:
        """The targets and every setting that changes what a domain's assessment is (not the politeness
        or speed settings): what ``--resume`` matches an unfinished batch by."""
        s = self.scan
        o = s.options
        risks = json.dumps([accepted_to_dict(a) for a in s.accepted], sort_keys=True)
        return fingerprint(self.targets.targets, s.profile.id, s.catalogue.version, repr(o.timeout),
                           ",".join(str(n) for n in o.nameservers), o.ca_bundle or "", str(o.allow_private),
                           ",".join(o.dkim_selectors), str(o.ports), str(o.authorised),
                           hashlib.sha256(risks.encode()).hexdigest())


@dataclass
class BatchResult:
    batch_id: str
    total: int
    done: int = 0  # journaled, over the whole batch (earlier runs included)
    assessed: int = 0
    not_scanned: int = 0
    errors: int = 0  # crashed scans
    incomplete: int = 0
    fail_rank: int = -1  # the worst failing severity rank over the whole batch
    resumed: int = 0  # domains already done when this run started
    interrupted: bool = False
    store_error: str = ""
    summary_error: str = ""
    written: tuple[Path, ...] = ()
    unfinished_other: int = 0  # an unfinished batch of the same targets exists (a new one was started)

    @property
    def finished(self) -> bool:
        return self.done == self.total


@dataclass
class _Scanner:
    number: int
    conn: Connection
    process: Any  # multiprocessing.Process, or a thread without fork
    inflight: dict[int, Job] = field(default_factory=dict)
    alive: bool = True


Notify = Callable[..., None]


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class Batch:
    """One run of a batch (new or resumed) against one history store."""

    def __init__(self, request: BatchRequest, store: Store, *, stop: threading.Event, progress: Progress,
                 notify: Notify) -> None:
        self.request = request
        self.store = store
        self.stop = stop
        self.progress = progress
        self.notify = notify  # notify(text key, **params): one line for the user
        self.writer = SummaryWriter(request.summary, frameworks=request.frameworks)
        self.forked = can_fork()  # without fork (not Linux): the scanners are threads of this process
        self.limiter: Limiter = (ProcessLimiter(request.per_address, request.pace) if self.forked
                                 else LocalLimiter(request.per_address, request.pace))
        self._scanners: list[_Scanner] = []
        self._next_number = 0
        self._pending: deque[Job] = deque()
        self._attempts: Counter[int] = Counter()
        self._cancelling = False
        self._cancel_deadline = 0.0

    # ------------------------------------------------------------------ the journal

    def _open(self) -> tuple[str, dict[str, BatchItem], BatchResult]:
        request = self.request
        source = request.fingerprint()
        total = len(request.targets.targets)
        if request.resume:
            info = self.store.unfinished_batch(source)
            if info is None:
                self._not_resumable()
            items = self.store.batch_items(info.id)
            result = BatchResult(info.id, total, resumed=len(items))
            return info.id, items, result
        other = self.store.unfinished_batch(source)
        batch_id = uuid.uuid4().hex
        meta = {"targets": request.source, "profile": request.scan.profile.id, "summary": str(request.summary),
                "lang": request.scan.lang, "targets_fingerprint": fingerprint(request.targets.targets)}
        self.store.start_batch(batch_id, source=source, total=total, meta=meta)
        return batch_id, {}, BatchResult(batch_id, total, unfinished_other=other.done if other else 0)

    def _not_resumable(self) -> NoReturn:
        """Refuse a ``--resume`` that finds no unfinished batch of these targets and settings: when the
        summary's rows journal names an unfinished batch, the targets file or the settings changed since
        it was interrupted (the fingerprint differs); otherwise there is nothing to resume."""
        path = self.request.source
        started = self.writer.started_batch()
        info = self.store.batch(started) if started else None
        if info is None or info.finished is not None:
            raise UsageError("batch.nothing-to-resume", path=path)
        if info.meta.get("targets_fingerprint") != fingerprint(self.request.targets.targets):
            raise UsageError("batch.resume-targets-changed", path=path)
        raise UsageError("batch.resume-settings-changed", path=path)

    # ------------------------------------------------------------------ scanning processes

    def _start_scanner(self) -> None:
        number = self._next_number % MAX_PROCESSES
        self._next_number += 1
        process: Any
        if self.forked:
            context = multiprocessing.get_context("fork")
            # what the writer holds now (the catalogue, the registry, imported code) is inherited: frozen,
            # the scanner's garbage collector never walks it, so its pages stay shared instead of copied
            gc.freeze()
            mine, theirs = context.Pipe(duplex=True)
            others = [mine, *(s.conn for s in self._scanners if s.alive)]
            process = context.Process(target=child_main, args=(theirs, others, self.request.scan, self.limiter, number),
                                      name=f"cyberscan-scan-{number}", daemon=True)
            process.start()
            theirs.close()
        else:
            mine, theirs = multiprocessing.Pipe(duplex=True)
            process = threading.Thread(target=serve, args=(theirs, self.request.scan, self.limiter),
                                       kwargs={"forked": False}, name=f"scanner-{number}", daemon=True)
            process.start()
        self._scanners.append(_Scanner(number, mine, process))

    def _feed(self) -> None:
        per = self.request.scan.domains
        for scanner in self._scanners:
            while scanner.alive and self._pending and len(scanner.inflight) < per:
                job = self._pending.popleft()
                try:
                    scanner.conn.send(job)
                except OSError:
                    self._pending.appendleft(job)
                    break
                scanner.inflight[job.index] = job

    def _cancel_all(self) -> None:
        self._cancelling = True
        self._cancel_deadline = time.monotonic() + CANCEL_GRACE
        for scanner in self._scanners:
            if scanner.alive:
                with contextlib.suppress(OSError):
                    scanner.conn.send(CANCEL)

    def _died(self, scanner: _Scanner, record: Callable[[Job, Row, tuple[str, dict[str, Any]]], None]) -> None:
        scanner.alive = False
        with contextlib.suppress(OSError):
            scanner.conn.close()
        if self.forked:
            scanner.process.join(1.0)
            if scanner.process.is_alive():
                scanner.process.kill()
                scanner.process.join(1.0)
            reclaim = getattr(self.limiter, "reclaim", None)
            if reclaim is not None:
                reclaim(scanner.number)
        lost = list(scanner.inflight.values())
        scanner.inflight.clear()
        if self._cancelling:
            return  # abandoned with the rest: scanned on --resume
        for job in lost:
            self._attempts[job.index] += 1
            if self._attempts[job.index] < 2:
                self._pending.appendleft(job)
            else:
                params = {"domain": job.target.domain, "detail": "scanner-exited"}
                row = not_scanned(job.target, "batch.crashed", params, self.request.scan.lang, state=CRASHED)
                record(job, row, ("batch.crashed", {**params, "state": CRASHED}))
        if self._pending and sum(s.alive for s in self._scanners) < self.request.processes:
            self._start_scanner()

    def _end_scanners(self) -> None:
        for scanner in self._scanners:
            if scanner.alive:
                with contextlib.suppress(OSError):
                    scanner.conn.send(None)
        deadline = time.monotonic() + (0.5 if self._cancelling else STOP_WAIT)
        for scanner in self._scanners:
            scanner.process.join(max(0.0, deadline - time.monotonic()))
            if self.forked and scanner.process.is_alive():
                scanner.process.kill()
                scanner.process.join(1.0)
            with contextlib.suppress(OSError):
                scanner.conn.close()
            scanner.alive = False

    # ------------------------------------------------------------------ the run

    def run(self) -> BatchResult:
        request = self.request
        self.writer.check()
        batch_id, items, result = self._open()
        targets = request.targets.targets
        self.writer.open(batch_id, keep=request.resume)
        self._pending.extend(Job(i, t) for i, t in enumerate(targets) if t.domain not in items)
        done = len(targets) - len(self._pending)
        if result.unfinished_other:
            self.notify("batch.unfinished-exists", done=result.unfinished_other, path=request.source)
        if request.resume:
            self.notify("batch.resuming", done=done, total=len(targets))
        self.progress.start(len(targets), done)

        def record(job: Job, row: Row, failure: tuple[str, dict[str, Any]] | None,
                   prepared: Any = None) -> None:
            key = (batch_id, job.target.domain)
            if prepared is not None:
                number = self.store.save_prepared(prepared, batch=key)
                row = replace(row, assessment=number)
            elif failure is not None:
                self.store.record_failure(key, failure[0], failure[1])
            self.writer.add(row, batch_id)
            self.progress.advance(row.failed)

        for _ in range(min(request.processes, max(1, len(self._pending)))):
            if self._pending:
                self._start_scanner()
        try:
            self._loop(record, result)
        finally:
            self._end_scanners()
            self.writer.close()
            self.progress.close()
        result.interrupted = bool(self._pending) or self._cancelling or any(s.inflight for s in self._scanners)
        self._summarise(batch_id, result)
        if result.finished and not result.store_error:
            try:
                self.store.finish_batch(batch_id)
            except HistoryError as exc:
                result.store_error = exc.message(request.scan.lang)
        return result

    def _loop(self, record: Callable[..., None], result: BatchResult) -> None:
        while True:
            if self.stop.is_set() and not self._cancelling:
                self._cancel_all()
            if not self._cancelling:
                self._feed()
            live = [s for s in self._scanners if s.alive]
            busy = any(s.inflight for s in live)
            if not busy and (not self._pending or self._cancelling or not live):
                return
            if self._cancelling and time.monotonic() > self._cancel_deadline:
                return
            by_conn = {id(s.conn): s for s in live}
            for ready in wait([s.conn for s in live], timeout=TICK):
                scanner = by_conn[id(ready)]
                try:
                    message: Done = scanner.conn.recv()
                except (EOFError, OSError):
                    self._died(scanner, lambda job, row, failure: record(job, row, failure))
                    continue
                job = scanner.inflight.pop(message.index, None)
                if job is None or message.abandoned:
                    continue
                try:
                    record(job, message.row, message.failure, message.prepared)
                except HistoryError as exc:
                    result.store_error = exc.message(self.request.scan.lang)
                    self.stop.set()
                except OSError as exc:
                    result.summary_error = str(exc)
                    self.stop.set()
            for scanner in live:
                if scanner.alive and self.forked and not scanner.process.is_alive():
                    self._died(scanner, lambda job, row, failure: record(job, row, failure))
            self.progress.tick()

    # ------------------------------------------------------------------ the summary

    def _rows(self, batch_id: str, items: Mapping[str, BatchItem], result: BatchResult) -> Iterator[Row]:
        request = self.request
        written = self.writer.written(batch_id)
        for target in request.targets.targets:
            item = items.get(target.domain)
            if item is None:
                continue
            row = written.get(target.domain)
            if row is None or row.assessment != item.assessment:
                row = self._rebuild(item, target)
            result.done += 1
            if row.state == ASSESSED:
                result.assessed += 1
                result.incomplete += int(not row.complete)
                result.fail_rank = max(result.fail_rank, row.fail_rank)
            elif row.state == CRASHED:
                result.errors += 1
            else:
                result.not_scanned += 1
            yield row

    def _rebuild(self, item: BatchItem, target: Target) -> Row:
        s = self.request.scan
        return row_from_store(self.store, item, target, catalogue=s.catalogue, profile=s.profile, lang=s.lang)

    def _summarise(self, batch_id: str, result: BatchResult) -> None:
        request = self.request
        try:
            items = self.store.batch_items(batch_id)
            info = self.store.batch(batch_id)
        except HistoryError as exc:
            result.store_error = result.store_error or exc.message(request.scan.lang)
            return
        header = {
            "batch": batch_id, "targets": request.source, "profile": request.scan.profile.id,
            "frameworks": list(request.frameworks), "created": info.created if info else "",
            "written": datetime.now(UTC).isoformat(timespec="seconds"), "total": result.total,
            "done": len(items), "complete": len(items) == result.total,
        }
        try:
            self.writer.finish(self._rows(batch_id, items, result), header)
        except (OSError, HistoryError) as exc:
            result.summary_error = str(exc)
            return
        result.written = (self.writer.csv_path, self.writer.json_path)


def run_batch(request: BatchRequest, store: Store, *, stop: threading.Event, progress: Progress,
              notify: Notify) -> BatchResult:
    """Run (or resume) the batch of ``request``. Raises UsageError ``batch.nothing-to-resume``."""
    return Batch(request, store, stop=stop, progress=progress, notify=notify).run()


def plan_sizes(parallel: int, processes: int) -> tuple[int, int, int]:
    """(processes, domains per process, probe threads per process) for ``parallel`` domains in flight."""
    processes = max(1, min(processes, parallel, MAX_PROCESSES))
    domains = max(1, -(-parallel // processes))
    # two probe threads per domain in flight: fan-outs run in the thread that asks when no pool thread
    # is free, so more threads only add hand-offs (1,000 domains: 4 a domain 85-89 ms of CPU a domain and
    # 364 MB, 2 a domain 81-82 ms and 323 MB, the same results)
    threads = max(16, min(256, 2 * domains))
    return processes, domains, threads


def default_processes() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


__all__ = ["BatchRequest", "BatchResult", "can_fork", "default_processes", "plan_sizes", "run_batch"]
