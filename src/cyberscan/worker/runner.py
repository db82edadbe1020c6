"""One worker process: what it keeps across tasks, and how it runs one task.

A :class:`Process` lives as long as the worker process (one per process: a prefork child makes its
own after the fork). It keeps

- one :class:`~cyberscan.worker.limiter.RedisLimiter` (politeness across every worker);
- one :class:`cyberscan.runtime.Shared` per batch (the DNS cache and the facts per address computed
  once), the few newest batches only, so a long-lived worker neither grows nor reuses last week's
  facts for next week's batch;
- the catalogue and plugins (loaded once), one history store connection per thread, and the batch
  records it has read (they never change once written).

:meth:`Process.run` takes a task's ``item`` and returns an :class:`Outcome`; it raises
:class:`Transient` when the task should be tried again later (the history store or the limiter
could not be reached, or the scan was cut short by that). A domain's own problems are results,
never retried: a domain that cannot be scanned is recorded with ``Store.record_failure``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import catalogue as catalogue_mod
from .. import registry as registry_mod
from ..assessment import Assessment, assess
from ..catalogue import Catalogue, Profile
from ..errors import ConfigError, TargetError, UsageError
from ..history import HistoryError, Store, open_store
from ..history.store import display, is_url
from ..registry import Registry
from ..runtime import Shared
from .limiter import DEFAULT_CALL_TIMEOUT, DEFAULT_LEASE, RedisLimiter
from .wire import BadMessage, Item, Policy, Refused, check_against_batch, check_policy, parse_item, scan_options

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_STORE_KEYS = frozenset({"history.unreachable", "history.failed"})
KEPT_BATCHES = 4  # Shared objects (and batch records) a process keeps, newest first


class Transient(Exception):
    """Try this task again later: the history store or the limiter could not be reached."""


@dataclass(frozen=True, slots=True)
class Settings:
    """A worker's own settings (its command line), the same in every process of the worker."""

    db: str
    limiter_url: str
    policy: Policy = field(default_factory=Policy)
    per_address: int = 4
    interval: float = 0.05
    lease: float = DEFAULT_LEASE
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    ca_bundle: str | None = None
    catalogue_dirs: tuple[str, ...] = ()
    node: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one task: ``saved`` (an assessment), ``already`` (done before: a redelivered
    task), ``failed`` (the domain cannot be scanned; recorded), ``refused`` (not allowed on this worker;
    recorded) or ``dropped`` (not a task we accept; nothing recorded)."""

    status: str
    domain: str = ""
    assessment: int | None = None
    key: str = ""


def check_store_url(db: str) -> str:
    """A worker's history must be PostgreSQL: several machines cannot share an SQLite file."""
    if not is_url(db):
        raise UsageError("worker.needs-postgres", path=db)
    return db


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v) for k, v in params.items()}


class Process:
    """The state of one worker process (thread-safe: the ``threads`` pool shares one)."""

    def __init__(self, settings: Settings, *, catalogue: Catalogue | None = None,
                 registry: Registry | None = None) -> None:
        self.settings = settings
        check_store_url(settings.db)
        if catalogue is None or registry is None:
            catalogue, registry = preload(settings)
        self.catalogue, self.registry = catalogue, registry
        self.limiter = RedisLimiter(settings.limiter_url, per_address=settings.per_address,
                                    interval=settings.interval, lease=settings.lease,
                                    call_timeout=settings.call_timeout)
        self.limiter.on_failure(self._cancel_running)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._shared: OrderedDict[str, Shared] = OrderedDict()
        self._meta: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._running: set[threading.Event] = set()

    # -------------------------------------------------------------- one task

    def run(self, data: Any) -> Outcome:
        try:
            item = parse_item(data)
        except BadMessage as exc:
            log.error("cyberscan worker: dropped a message: %s", exc)
            return Outcome("dropped", key=exc.key)
        store = self._store()
        try:
            check_against_batch(item, self._batch_meta(store, item.batch))
        except Refused as exc:  # not what the enqueuer recorded: never scanned, never recorded
            log.error("cyberscan worker: dropped %s of batch %s: %s", item.domain, item.batch, exc)
            return Outcome("dropped", item.domain, key=exc.key)
        done = self._guard(store, lambda: store.batch_item(*item.key))
        if done is not None:
            log.info("cyberscan worker: %s of batch %s was done already", item.domain, item.batch)
            return Outcome("already", item.domain, done.assessment)
        try:
            check_policy(item, self.settings.policy)
            profile = catalogue_mod.profile(self.catalogue, item.profile)
        except (Refused, ConfigError) as exc:
            log.warning("cyberscan worker: refused %s of batch %s: %s", item.domain, item.batch, exc)
            self._record(store, item, exc.key, exc.params)
            return Outcome("refused", item.domain, key=exc.key)
        log.info("cyberscan worker: assessing %s (batch %s) on %s", item.domain, item.batch, self.settings.node)
        began = time.monotonic()
        result = self._assess(item, profile)
        if isinstance(result, tuple):
            key, params = result
            self._record(store, item, key, params)
            return Outcome("failed", item.domain, key=key)
        if not result.targets:  # preflight: no such domain, no nameserver answers
            failure = result.failures[0] if result.failures else None
            key = failure.key if failure else "worker.not-scanned"
            self._record(store, item, key, failure.params if failure else {})
            return Outcome("failed", item.domain, key=key)
        number = self._guard(store, lambda: store.save(result, batch=item.key))
        log.info("cyberscan worker: %s (batch %s) stored as no. %s in %.1f s", item.domain, item.batch, number,
                 time.monotonic() - began)
        return Outcome("saved", item.domain, number)

    def _assess(self, item: Item, profile: Profile) -> Assessment | tuple[str, Mapping[str, Any]]:
        """The assessment, or (key, params) when the domain cannot be scanned. Raises Transient when the
        limiter failed meanwhile: what was collected then is not the domain's state."""
        shared = self._shared_for(item.batch)
        cancel = threading.Event()
        with self._lock:
            self._running.add(cancel)
            failures = self.limiter.failures
        try:
            options = scan_options(item.options, hosts=item.hosts, ca_bundle=self.settings.ca_bundle)
            result: Assessment | tuple[str, Mapping[str, Any]] = assess(
                [item.domain], profile=profile, options=options, catalogue=self.catalogue, registry=self.registry,
                cancel=cancel, shared=shared)
        except (UsageError, ConfigError, TargetError) as exc:
            result = (exc.key, exc.params)
        except Exception as exc:  # a crash of the engine on this domain is its result, not a reason to retry
            log.exception("cyberscan worker: the scan of %s crashed", item.domain)
            result = ("worker.scan-crashed", {"domain": item.domain, "detail": f"{type(exc).__name__}: {exc}"[:300]})
        finally:
            with self._lock:
                self._running.discard(cancel)
        if self.limiter.failures != failures or cancel.is_set() or (
                isinstance(result, Assessment) and not result.complete):
            self._forget_shared(item.batch, shared)
            raise Transient(f"limiter-failed: {item.domain}")  # the shared limiter failed meanwhile
        return result

    def _record(self, store: Store, item: Item, key: str, params: Mapping[str, Any]) -> None:
        self._guard(store, lambda: store.record_failure(item.key, key, _plain(params)))

    # -------------------------------------------------------------- what the process keeps

    def _store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            try:
                store = open_store(self.settings.db)
            except HistoryError as exc:
                if exc.key in TRANSIENT_STORE_KEYS:
                    raise Transient(f"history store {display(self.settings.db)}: {exc}") from None
                raise
            self._local.store = store
        return store

    def _guard(self, store: Store, call: Callable[[], T]) -> T:
        """``call()`` on the store; a connection problem drops the connection and asks for a retry."""
        try:
            return call()
        except HistoryError as exc:
            if exc.key not in TRANSIENT_STORE_KEYS:
                raise
            self._local.store = None
            try:
                store.close()
            except Exception:
                log.debug("closing a broken store connection", exc_info=True)
            raise Transient(f"history store {store.where}: {exc}") from None

    def _batch_meta(self, store: Store, batch_id: str) -> Mapping[str, Any]:
        with self._lock:
            meta = self._meta.get(batch_id)
            if meta is not None:
                self._meta.move_to_end(batch_id)
                return meta
        info = self._guard(store, lambda: store.batch(batch_id))
        if info is None:
            raise Refused("worker.no-such-batch", batch=batch_id)
        with self._lock:
            self._meta[batch_id] = info.meta
            while len(self._meta) > KEPT_BATCHES:
                self._meta.popitem(last=False)
        return info.meta

    def _shared_for(self, batch_id: str) -> Shared:
        with self._lock:
            shared = self._shared.get(batch_id)
            if shared is None:
                shared = self._shared[batch_id] = Shared(limiter=self.limiter)
                while len(self._shared) > KEPT_BATCHES:
                    self._shared.popitem(last=False)
            self._shared.move_to_end(batch_id)
            return shared

    def _forget_shared(self, batch_id: str, shared: Shared) -> None:
        """After a limiter failure, values computed once may hold its errors: start the batch's afresh."""
        with self._lock:
            if self._shared.get(batch_id) is shared:
                del self._shared[batch_id]

    def _cancel_running(self, _exc: BaseException) -> None:
        with self._lock:
            running = list(self._running)
        for cancel in running:
            cancel.set()

    def close(self) -> None:
        self.limiter.close()
        store: Store | None = getattr(self._local, "store", None)
        if store is not None:
            store.close()


_current: tuple[int, Process] | None = None
_current_lock = threading.Lock()
_preload_lock = threading.Lock()
_loaded: dict[tuple[str, ...], tuple[Catalogue, Registry]] = {}


def preload(settings: Settings) -> tuple[Catalogue, Registry]:
    """The catalogue and plugins of this worker, loaded once. Called in the worker's main process
    before the pool starts, so prefork children inherit them instead of each loading its own.
    Raises ConfigError for a broken ``--catalogue`` folder."""
    with _preload_lock:
        found = _loaded.get(settings.catalogue_dirs)
        if found is None:
            registry = registry_mod.load()
            extra = [Path(d) for d in settings.catalogue_dirs]
            catalogue = catalogue_mod.load([*registry.catalogues, *extra]) if extra else catalogue_mod.builtin()
            found = _loaded[settings.catalogue_dirs] = (catalogue, registry)
        return found


def current(settings: Settings) -> Process:
    """This process's :class:`Process` (a new one after a fork)."""
    global _current
    with _current_lock:
        if _current is None or _current[0] != os.getpid():
            _current = (os.getpid(), Process(settings))
        return _current[1]


__all__ = ["KEPT_BATCHES", "Outcome", "Process", "Settings", "Transient", "check_store_url", "current", "preload"]
