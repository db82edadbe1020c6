"""Enqueuing a batch for the workers, and waiting for it.

    batch = submit(targets, broker="redis://broker:6379/0", db="postgresql://.../cyberscan",
                   profile="default", options=ScanOptions(timeout=5))
    wait(store, batch.id, progress=print)       # until every domain is done, then finish_batch

:func:`submit` records the batch in the history store first (``start_batch``: the targets, profile
and options, and the consent to a port scan with who gave it and when), then sends one task per
domain that is not done yet. Sending again (``resume=True``) continues the newest unfinished batch of
the same targets and settings: only the domains not done are sent, so nothing is scanned twice and
nothing is skipped. A task sent twice (a resume while the first messages are still queued) is
harmless: the worker sees the item done and stores nothing.
"""

from __future__ import annotations

import getpass
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery.exceptions import OperationalError  # kombu's, which ships no type information

from ..batch import Target, fingerprint
from ..errors import UsageError
from ..history import BatchInfo, HistoryError, Store, open_store
from ..options import ScanOptions
from .app import DEFAULT_VISIBILITY_TIMEOUT, make_app
from .runner import TRANSIENT_STORE_KEYS, check_store_url
from .wire import (
    BATCH_KIND,
    DEFAULT_QUEUE,
    TASK_NAME,
    WorkerError,
    batch_meta,
    check_queue,
    item_to_wire,
    options_to_wire,
)

SEND_RETRY = {"max_retries": 3, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 2.0}
POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Submitted:
    """A batch handed to the workers: its id, how many domains it has, how many were done before and
    how many tasks were sent now."""

    id: str
    total: int
    done: int
    sent: int
    resumed: bool


def display_broker(url: str) -> str:
    """The broker URL for messages: without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def new_batch_id() -> str:
    return "worker-" + uuid.uuid4().hex


def task_id(batch_id: str, domain: str) -> str:
    """The same id for the same item however often it is sent (logs show one task per item)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cyberscan:{batch_id}:{domain}"))


def source_of(targets: Sequence[Target], profile: str, wire: dict[str, Any]) -> str:
    """The batch's fingerprint: the targets and every setting that changes what is scanned."""
    return fingerprint(targets, BATCH_KIND, profile, json.dumps(wire, sort_keys=True))


def submit(targets: Sequence[Target], *, broker: str, db: str, profile: str = "default",
           options: ScanOptions | None = None, queue: str = DEFAULT_QUEUE, resume: bool = False,
           store: Store | None = None) -> Submitted:
    """Record the batch and send one task per domain not done yet. Raises UsageError (SQLite store,
    options that cannot travel), HistoryError (the store), WorkerError ``worker.broker-unreachable``."""
    check_store_url(db)
    check_queue(queue)
    if not targets:
        raise UsageError("worker.no-targets")
    wire = options_to_wire(options or ScanOptions())
    consent = None
    if wire["ports"]:  # given explicitly on this side (options_to_wire refuses it otherwise): say who and when
        consent = {"ports": True, "authorised": True, "by": f"{getpass.getuser()}@{socket.gethostname()}",
                   "at": datetime.now(UTC).isoformat(timespec="seconds")}
    source = source_of(targets, profile, wire)
    own = store is None
    db_store = store if store is not None else open_store(db)
    try:
        found = db_store.unfinished_batch(source) if resume else None
        if found is not None and found.meta.get("kind") != BATCH_KIND:
            found = None
        batch_id = found.id if found is not None else new_batch_id()
        if found is None:
            db_store.start_batch(batch_id, source=source, total=len(targets),
                                 meta=batch_meta(targets, profile=profile, options=wire, queue=queue, consent=consent))
        done = db_store.batch_items(batch_id)
    finally:
        if own:
            db_store.close()
    pending = [t for t in targets if t.domain not in done]
    sent = send(broker, queue, [(t, item_to_wire(batch_id, t, profile, wire)) for t in pending], batch_id)
    return Submitted(batch_id, len(targets), len(done), sent, found is not None)


def send(broker: str, queue: str, items: Sequence[tuple[Target, dict[str, Any]]], batch_id: str) -> int:
    """Publish the tasks (kombu retries a broker hiccup); returns how many were sent."""
    if not items:
        return 0
    app = make_app(broker, queue=queue, visibility_timeout=DEFAULT_VISIBILITY_TIMEOUT)
    sent = 0
    try:
        with app.producer_or_acquire() as producer:
            for target, payload in items:
                app.send_task(TASK_NAME, kwargs={"item": payload}, queue=queue, task_id=task_id(batch_id, target.domain),
                              producer=producer, retry=True, retry_policy=SEND_RETRY, ignore_result=True)
                sent += 1
    except (OperationalError, OSError) as exc:
        raise WorkerError("worker.broker-unreachable", url=display_broker(broker), sent=sent, total=len(items),
                          detail=str(exc)[:200]) from None
    finally:
        app.close()
    return sent


def wait(db: str, batch_id: str, *, progress: Callable[[BatchInfo], None] | None = None,
         stop: threading.Event | None = None, poll: float = POLL_SECONDS) -> BatchInfo:
    """Poll the store until every domain of the batch is done, then mark it finished; earlier when
    ``stop`` is set (the workers go on: resume or wait again later). A store that cannot be reached
    for a moment is asked again with a new connection."""
    stop = stop or threading.Event()
    last: BatchInfo | None = None
    store: Store | None = None
    try:
        while True:
            try:
                store = store or open_store(db)
                info = store.batch(batch_id)
                if info is None:
                    raise WorkerError("worker.no-such-batch", batch=batch_id)
                if info.done >= info.total and info.finished is None:
                    store.finish_batch(batch_id)
                    info = store.batch(batch_id) or info
            except HistoryError as exc:
                if exc.key not in TRANSIENT_STORE_KEYS or last is None:
                    raise
                if store is not None:
                    store.close()
                store, info = None, last
            last = info
            if progress is not None:
                progress(info)
            if info.finished is not None or stop.wait(poll):
                return info
    finally:
        if store is not None:
            store.close()


def elapsed_rate(started: float, done_now: int, done_before: int) -> float:
    """Domains a minute since ``started`` (monotonic), counting only what was done meanwhile."""
    seconds = max(1e-6, time.monotonic() - started)
    return (done_now - done_before) * 60.0 / seconds


__all__ = ["Submitted", "display_broker", "elapsed_rate", "new_batch_id", "send", "source_of", "submit", "task_id",
           "wait"]
