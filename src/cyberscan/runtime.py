"""What a probe may use while a scan runs: the resolver, bounded connections, other probes' facts.

The engine (:mod:`cyberscan.engine`) schedules probes and judges; this module is the floor below the
probes that they talk to. Time is bounded by construction:

- every connection is opened with :meth:`ProbeContext.endpoint` / :meth:`Endpoint.connect`, which
  admits the address through the scope, takes a per-address connection slot, sets the per-read
  timeout, and registers the socket with the run's :class:`Reaper`;
- the reaper is one thread per run: it shuts a connection down the moment its endpoint's overall
  deadline (``ScanOptions.budget``) passes, or at once when the scan is cancelled, so a server that
  drips one byte a second, or a Ctrl-C, ends every blocked read within a moment;
- a connection the reaper cut raises :class:`~cyberscan.errors.ProbeTimeout` (or
  :class:`~cyberscan.errors.Interrupted`), whatever the protocol code read before: a cut-off answer is
  an error, never content.

Concurrency is bounded per process, not per fan-out: every scan sharing one :class:`Shared` runs its
probes and every ``ctx.map`` fan-out on the same :class:`Pool` of threads. The thread that fans out
runs the items nobody has picked up yet itself ("caller runs"), so a fan-out inside a fan-out never
waits for a pool thread that is busy elsewhere: no deadlock however deep the nesting, and no thread
pool started per fan-out. The same :class:`Shared` holds one resolver (dnspython's resolver is safe
to share between threads once configured), one DNS cache whose lookups take no lock, and one reaper.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Protocol, TypeVar

import dns.entropy
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from .catalogue import Check, Profile
from .errors import Interrupted, OutOfScope, ProbeError, ProbeTimeout
from .models import ErrorReason, Notice, ProbeOutcome
from .options import BUDGETS, ScanOptions
from .scope import Scope

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")

CACHE_MIN = 4_000  # DNS answers a process keeps at least (one scan asks a few hundred)
CACHE_PER_WORKER = 40  # and per probe thread (a batch process runs 2 threads per domain in flight)
SLOT_SLICE = 0.25  # seconds between cancel checks while a connection waits for its slot
SLOT_QUEUE_LIMIT = 600.0  # seconds a connection may wait for its turn at one address (then: timeout)

# ----------------------------------------------------------------------------- deadlines


class Deadline:
    """An overall point in time, optionally tied to a cancellation event."""

    __slots__ = ("_cancel", "_parent", "end")

    def __init__(self, seconds: float, *, cancel: threading.Event | None = None, end: float | None = None,
                 parent: Deadline | None = None) -> None:
        self.end = time.monotonic() + seconds if end is None else end
        self._cancel = cancel
        self._parent = parent

    def child(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now, but never later than this one."""
        return Deadline(0, cancel=self._cancel, end=min(self.end, time.monotonic() + seconds), parent=self)

    def resume(self, paused_at: float) -> None:
        """Give back the time since ``paused_at`` (spent waiting for a connection slot, not talking to
        the server): the end moves so that what was left then is left now, here and in every parent.
        Concurrent waits on one deadline do not add up (each only makes sure of its own share)."""
        now = time.monotonic()
        deadline: Deadline | None = self
        while deadline is not None:
            left = deadline.end - paused_at
            if left > 0:
                deadline.end = max(deadline.end, now + left)
            deadline = deadline._parent

    @property
    def cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    @property
    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.cancelled or self.remaining <= 0

    def check(self, detail: str = "deadline") -> None:
        """Raise Interrupted or ProbeTimeout when the time is up."""
        if self.cancelled:
            raise Interrupted(detail)
        if self.remaining <= 0:
            raise ProbeTimeout(detail)

    def timeout(self, per_read: float, detail: str = "deadline") -> float:
        """The timeout for the next blocking call: ``per_read``, or what is left when that is less."""
        self.check(detail)
        return max(0.01, min(per_read, self.remaining))


# ----------------------------------------------------------------------------- the reaper


class _Watch:
    __slots__ = ("deadline", "done", "fd", "fired")

    def __init__(self, fd: socket.socket, deadline: Deadline) -> None:
        self.fd = fd
        self.deadline = deadline
        self.fired = False
        self.done = False


class Reaper:
    """One thread that cuts connections whose deadline passed, and every connection on cancel.

    It works on its own duplicate of each socket's descriptor, so it still reaches the connection
    after ``ssl`` took the socket over, and never touches a descriptor number that was reused.
    """

    def __init__(self, cancel: threading.Event) -> None:
        self._cancel = cancel
        self._lock = threading.Lock()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._live: set[_Watch] = set()
        self._counter = itertools.count()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def _ensure(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)
            self._thread.start()

    def watch(self, sock: socket.socket, deadline: Deadline) -> _Watch:
        own = socket.socket(fileno=os.dup(sock.fileno()))
        watch = _Watch(own, deadline)
        with self._lock:
            self._ensure()
            heapq.heappush(self._heap, (deadline.end, next(self._counter), watch))
            self._live.add(watch)
        self._wake.set()
        if deadline.expired:
            self._cut(watch)
        return watch

    def release(self, watch: _Watch) -> bool:
        """Stop watching; True when the reaper had cut the connection."""
        with self._lock:
            watch.done = True
            self._live.discard(watch)
            fired = watch.fired
            with contextlib.suppress(OSError):
                watch.fd.close()
        return fired

    def _cut(self, watch: _Watch) -> None:
        with self._lock:
            if watch.done or watch.fired:
                return
            watch.fired = True
            with contextlib.suppress(OSError):
                watch.fd.shutdown(socket.SHUT_RDWR)

    def cut_all(self) -> None:
        with self._lock:
            live = list(self._live)
        for watch in live:
            self._cut(watch)
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopped:
            if self._cancel.is_set():
                self.cut_all()
            now = time.monotonic()
            due: list[_Watch] = []
            with self._lock:
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _, _, watch = heapq.heappop(self._heap)
                    if watch.done:
                        continue
                    if watch.deadline.end > now:  # the deadline moved (time given back after a slot wait)
                        heapq.heappush(self._heap, (watch.deadline.end, next(self._counter), watch))
                        continue
                    due.append(watch)
                wait = min(self._heap[0][0] - now, 0.1) if self._heap else 0.1
            for watch in due:
                self._cut(watch)
            self._wake.wait(max(wait, 0.005))
            self._wake.clear()


# ----------------------------------------------------------------------------- the pool


class _Group:
    """One fan-out: ``fn`` over ``items``, claimed one item at a time by whoever helps (the caller and
    pool threads holding a token of it). No Future or Condition per item: one lock for the count, one
    latch (a plain lock, held until the last item is done) to wait on."""

    __slots__ = ("_claim", "_latch", "_left", "_lock", "cancel", "errors", "finished", "fn", "items", "last", "results")

    def __init__(self, fn: Callable[[Any], Any], items: list[Any], cancel: threading.Event | None) -> None:
        self.fn = fn
        self.items = items
        self.cancel = cancel
        self.results: list[Any] = [None] * len(items)
        self.errors: dict[int, BaseException] = {}
        self.finished = 0  # items done (read without the lock for progress: an int is read whole)
        self.last = -1  # index of the item that finished last
        self._claim = itertools.count()  # next() on a count is atomic in CPython
        self._left = len(items)
        self._lock = threading.Lock()
        self._latch = threading.Lock()
        if items:
            self._latch.acquire()

    def help(self) -> None:
        """Run unclaimed items until none is left."""
        count = len(self.items)
        while (index := next(self._claim)) < count:
            self._run(index)

    def _run(self, index: int) -> None:
        try:
            if self.cancel is not None and self.cancel.is_set():
                raise Interrupted()
            self.results[index] = self.fn(self.items[index])
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            with self._lock:
                self.errors[index] = exc
        finally:
            with self._lock:
                self._left -= 1
                self.finished += 1
                self.last = index
                last = self._left == 0
            if last:
                self._latch.release()

    def wait(self, timeout: float | None = None) -> bool:
        """True once every item is done (False when ``timeout`` passed first)."""
        if not self._latch.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            return False
        self._latch.release()
        return True

    @property
    def done(self) -> bool:
        return self._left == 0

    def outcome(self) -> list[Any]:
        """The results in order; the first item's exception (in item order) is raised."""
        if self.errors:
            raise self.errors[min(self.errors)]
        return self.results


class Pool:
    """A bounded set of daemon threads for every probe and fan-out of the scans that share it.

    :meth:`map` is "caller runs": the calling thread takes part, so a nested fan-out always makes
    progress even when every pool thread is busy. Threads start when work waits and none is idle, up
    to ``size``; they are daemons, so an interrupted scan never waits for a blocked one at exit."""

    def __init__(self, size: int, *, name: str = "pool") -> None:
        self.size = max(1, size)
        self.name = name
        self._queue: queue.SimpleQueue[_Group | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._closed = False

    def start(self, fn: Callable[[T], U], items: Iterable[T], *, width: int,
              cancel: threading.Event | None = None) -> _Group:
        """Hand ``fn`` over ``items`` to the pool (at most ``width`` at once) without taking part."""
        group = _Group(fn, list(items), cancel)
        self._offer(group, min(max(1, width), len(group.items)))
        return group

    def map(self, fn: Callable[[T], U], items: Iterable[T], *, width: int = 8,
            cancel: threading.Event | None = None) -> list[U]:
        """``[fn(item) for item in items]``, at most ``width`` at once, the caller being one of them.
        Exceptions propagate (the first in item order); results keep their order."""
        work = list(items)
        if len(work) <= 1 or width <= 1:
            return [fn(item) for item in work]
        group = _Group(fn, work, cancel)
        self._offer(group, min(width, len(work)) - 1)
        group.help()
        group.wait()
        result: list[U] = group.outcome()
        return result

    def _offer(self, group: _Group, tokens: int) -> None:
        if tokens <= 0 or not group.items:
            return
        with self._lock:
            spawn = 0 if self._closed else max(0, min(tokens - self._idle, self.size - self._threads))
            self._threads += spawn
        for _ in range(tokens):
            self._queue.put(group)
        for _ in range(spawn):
            threading.Thread(target=self._worker, name=f"{self.name}-{self._threads}", daemon=True).start()

    def _worker(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            group = self._queue.get()
            with self._lock:
                self._idle -= 1
            if group is None:
                with self._lock:
                    self._threads -= 1
                return
            group.help()

    @property
    def threads(self) -> int:
        return self._threads

    def close(self) -> None:
        """Let every thread end once the work queued before is done."""
        with self._lock:
            self._closed = True
            count = self._threads
        for _ in range(count):
            self._queue.put(None)


def run_all(fn: Callable[[T], U], items: Iterable[T], *, workers: int, cancel: threading.Event | None = None) -> list[U]:
    """``[fn(item) for item in items]``, ``workers`` at a time, in daemon threads of a pool made for
    this call (scans use their :class:`Shared` pool instead). Exceptions propagate; order is kept."""
    pool = Pool(max(1, workers - 1), name="run-all")
    try:
        return pool.map(fn, items, width=workers, cancel=cancel)
    finally:
        pool.close()


# ----------------------------------------------------------------------------- resolver


class ResolverCache(dns.resolver.CacheBase):
    """The DNS cache every scan of a process shares: a dict read without a lock (a dict lookup is
    atomic in CPython), bounded by ``max_size`` entries with second-chance eviction, so the hundreds
    of threads of a batch never queue on one cache lock (dnspython's ``LRUCache`` takes its lock for
    every get). Answers expire at their TTL as in dnspython.

    One shortcut of dnspython's caches is left out: they file an NXDOMAIN under the queried name for
    *every* type, also when the name is an alias whose target is gone, so a later CNAME query for that
    name came back NXDOMAIN and the dangling alias went unseen. Such an NXDOMAIN is not cached for all
    types."""

    def __init__(self, max_size: int = 20_000) -> None:
        super().__init__()
        self.max_size = max(16, max_size)
        self.data: dict[Any, dns.resolver.Answer] = {}
        self._used: set[Any] = set()  # keys read since they were last considered for eviction

    def get(self, key: tuple[dns.name.Name, dns.rdatatype.RdataType, dns.rdataclass.RdataClass]) -> dns.resolver.Answer | None:
        value = self.data.get(key)
        if value is None:
            self.statistics.misses += 1  # unlocked counters: statistics only, a lost increment is harmless
            return None
        if value.expiration <= time.time():
            self.data.pop(key, None)
            self.statistics.misses += 1
            return None
        self._used.add(key)
        self.statistics.hits += 1
        return value

    def put(self, key: tuple[dns.name.Name, dns.rdatatype.RdataType, dns.rdataclass.RdataClass],
            value: dns.resolver.Answer) -> None:
        response = getattr(value, "response", None)
        if key[1] == dns.rdatatype.ANY and response is not None and any(
            rrset.rdtype == dns.rdatatype.CNAME for rrset in response.answer
        ):
            return
        self.data.pop(key, None)  # a new answer goes to the back of the eviction order
        self.data[key] = value
        if len(self.data) > self.max_size:
            self._evict()

    def _evict(self) -> None:
        """Drop the oldest tenth of the entries; one that was read since gets a second chance."""
        with self.lock:
            if len(self.data) <= self.max_size:
                return
            now = time.time()
            goal = len(self.data) - self.max_size * 9 // 10
            for key in list(itertools.islice(self.data, goal * 2)):
                if goal <= 0:
                    break
                value = self.data.get(key)
                if value is not None and key in self._used and value.expiration > now:
                    self._used.discard(key)
                    self.data.pop(key, None)
                    self.data[key] = value  # to the back
                    continue
                self.data.pop(key, None)
                self._used.discard(key)
                goal -= 1

    def flush(self, key: tuple[dns.name.Name, dns.rdatatype.RdataType, dns.rdataclass.RdataClass] | None = None) -> None:
        with self.lock:
            if key is None:
                self.data.clear()
                self._used.clear()
            else:
                self.data.pop(key, None)
                self._used.discard(key)


def _same_address(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return ipaddress.ip_address(a.split("%")[0]) == ipaddress.ip_address(b.split("%")[0])
    except ValueError:
        return False


class QueryIds:
    """DNS message ids from the kernel's random source, read 4 KB at a time.

    dnspython draws each query's id from ``random.SystemRandom``: an ``os.urandom`` call per query,
    6 % of a batch's Python time. These ids come from the same source (``os.urandom``, unpredictable
    as before), a buffer of 2,048 ids per read. A forked process starts on a fresh buffer, so two
    scanning processes never send the same ids. Installed for dnspython by :func:`make_resolver`."""

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buffer, self._at = b"", 0

    def next(self) -> int:
        with self._lock:
            if self._at + 2 > len(self._buffer):
                self._buffer, self._at = os.urandom(self.SIZE), 0
            at = self._at
            self._at = at + 2
            return int.from_bytes(self._buffer[at:at + 2], "big")


QUERY_IDS = QueryIds()


class UdpNameserver(dns.nameserver.Do53Nameserver):
    """``Do53Nameserver`` with a leaner UDP exchange (about 90 queries a domain: the batch is CPU-bound).

    dnspython's ``dns.query.udp`` makes a new ``epoll`` selector for every wait, so a query costs a
    socket, two selectors and a dozen system calls. This one sends and receives on a fresh socket
    (so a fresh source port, as before) with the socket's own timeout (one ``poll`` per wait), and
    accepts an answer exactly as ``dns.query.receive_udp`` does with the arguments ``Do53Nameserver``
    gives it (``ignore_unexpected``, ``ignore_errors``, ``raise_on_truncation``): a datagram from
    another address, one that does not parse or that is no response to this query is ignored and
    the wait goes on; a truncated response raises ``dns.message.Truncated`` (the resolver then asks
    over TCP). A query over TCP (``max_size``) or from a given source is dnspython's own."""

    def query(self, request: dns.message.QueryMessage, timeout: float, source: str | None, source_port: int,
              max_size: bool, one_rr_per_rrset: bool = False, ignore_trailing: bool = False) -> dns.message.Message:
        if max_size or source is not None or source_port:
            return super().query(request, timeout, source, source_port, max_size, one_rr_per_rrset, ignore_trailing)
        wire = request.to_wire()
        begin = time.time()
        expiration = begin + timeout
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(max(timeout, 0.0))
            try:
                sock.sendto(wire, (self.address, self.port))
                while True:
                    left = expiration - time.time()
                    if left <= 0:
                        raise dns.exception.Timeout
                    sock.settimeout(left)
                    data, sender = sock.recvfrom(65535)
                    if not (_same_address(str(sender[0]), self.address) and sender[1] == self.port):
                        continue  # ignore_unexpected
                    received = time.time()
                    try:
                        response = dns.message.from_wire(data, keyring=request.keyring, request_mac=request.mac,
                                                         one_rr_per_rrset=one_rr_per_rrset,
                                                         ignore_trailing=ignore_trailing, raise_on_truncation=True)
                    except dns.message.Truncated as exc:
                        partial: dns.message.Message = exc.message()  # type: ignore[no-untyped-call]
                        if not request.is_response(partial):
                            continue
                        raise
                    except Exception:  # noqa: BLE001, S112 - ignore_errors: a malformed datagram is not the answer
                        continue
                    if not request.is_response(response):
                        continue
                    response.time = received - begin
                    return response
            except TimeoutError as exc:
                raise dns.exception.Timeout from exc


def make_resolver(options: ScanOptions, cache: dns.resolver.CacheBase | None = None) -> dns.resolver.Resolver:
    """A resolver that asks the configured nameservers in turn: each attempt waits ``timeout``, all
    attempts of one lookup together at most ``BUDGETS['dns']`` times it (so a silent first nameserver
    never uses up the time of the second)."""
    if options.nameservers:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [UdpNameserver(ns.address, ns.port) for ns in options.nameservers]
    else:
        res = dns.resolver.Resolver(configure=True)
        res.nameservers = [UdpNameserver(ns.address, ns.port) if type(ns) is dns.nameserver.Do53Nameserver else ns
                           for ns in res.nameservers]
    dns.entropy.random_16 = QUERY_IDS.next  # dnspython reads it at each new message (dns.message.Message)
    servers = max(1, min(len(res.nameservers), int(BUDGETS["dns"])))
    res.timeout = options.timeout
    res.lifetime = options.timeout * servers
    res.use_edns(0, dns.flags.DO, 1232)
    res.cache = cache if cache is not None else ResolverCache()
    return res


# ----------------------------------------------------------------------------- what scans share


class Limiter(Protocol):
    """Politeness per address, for every scan that shares it: at most a number of connections to one
    address at once (and, for limiters that pace, a minimum time between two connection starts).

    :class:`LocalLimiter` serves the threads of one process; a limiter shared by worker processes or
    machines (Redis) implements the same two methods."""

    def acquire(self, address: str, timeout: float) -> bool:
        """Take a slot for ``address``, waiting at most ``timeout`` seconds; False if none came free."""
        ...

    def release(self, address: str) -> None:
        """Give back a slot taken with :meth:`acquire`."""
        ...


class LocalLimiter:
    """:class:`Limiter` for the threads of one process: ``per_address`` connections at once, and
    connection starts to one address at least ``interval`` seconds apart."""

    def __init__(self, per_address: int, interval: float = 0.0) -> None:
        self.per_address = max(1, per_address)
        self.interval = max(0.0, interval)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = {}

    def _slot(self, address: str) -> threading.BoundedSemaphore:
        with self._lock:
            sem = self._slots.get(address)
            if sem is None:
                sem = self._slots[address] = threading.BoundedSemaphore(self.per_address)
            return sem

    def acquire(self, address: str, timeout: float) -> bool:
        end = time.monotonic() + max(0.0, timeout)
        if not self._slot(address).acquire(timeout=max(0.0, timeout)):
            return False
        if self.interval:
            # The start is recorded when it happens, not reserved ahead: a thread that overslept (a
            # busy machine) must not let the next one start right behind it.
            while True:
                with self._lock:
                    now = time.monotonic()
                    start = self._next.get(address, now)
                    if start <= now:
                        self._next[address] = now + self.interval
                        break
                if start > end:
                    self._slot(address).release()
                    return False
                time.sleep(start - now)
        return True

    def release(self, address: str) -> None:
        self._slot(address).release()


class Slot:
    """One address's slots of a :class:`Limiter`, used like a semaphore (``with slot:``). A *patient*
    slot belongs to a batch: waiting for it does not use up an endpoint's time (see ``Endpoint``)."""

    def __init__(self, limiter: Limiter, address: str, *, patient: bool = False) -> None:
        self.limiter = limiter
        self.address = address
        self.patient = patient

    def acquire(self, timeout: float = 3600.0) -> bool:
        return self.limiter.acquire(self.address, timeout)

    def release(self) -> None:
        self.limiter.release(self.address)

    def __enter__(self) -> Slot:
        if not self.acquire():
            raise ProbeTimeout(f"{self.address}: slot wait")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Shared:
    """What the scans of one batch share (one per process): the DNS cache and resolver, the
    per-address limiter, the thread pool, the reaper, and facts that depend only on an address, not
    on the domain that led there (a hoster's TLS configuration on a shared address, a mail
    provider's STARTTLS), computed once for the batch.

    A single scan makes its own; a batch passes one to every :func:`cyberscan.assess` call, with the
    batch's ``cancel`` event (a scan given the same event uses the shared reaper). :meth:`close` ends
    the pool's threads once they are idle."""

    def __init__(self, *, limiter: Limiter | None = None, per_address: int = 4, interval: float = 0.0,
                 cache: dns.resolver.CacheBase | None = None, workers: int = 32,
                 cancel: threading.Event | None = None, patient: bool = False) -> None:
        self.limiter: Limiter = limiter or LocalLimiter(per_address, interval)
        self.patient = patient  # a batch: waiting for a connection slot is not an endpoint's time
        # Sized by what is in flight, not by the batch: a domain's scan re-reads its own answers within
        # seconds and a provider's (MX, NS, SPF includes) stay read, so they keep their place; a bigger
        # cache only holds answers of domains long done (about 6 KB each: 20,000 were 115 MB a process).
        self.cache = cache if cache is not None else ResolverCache(max(CACHE_MIN, CACHE_PER_WORKER * workers))
        self.cancel = cancel or threading.Event()
        self.pool = Pool(workers, name="probe")
        self.reaper = Reaper(self.cancel)
        self._lock = threading.Lock()
        self._once: dict[tuple[Any, ...], Future[Any]] = {}
        self._resolvers: dict[tuple[Any, ...], dns.resolver.Resolver] = {}

    def resolver(self, options: ScanOptions) -> dns.resolver.Resolver:
        """One resolver per resolver setting for every thread (it is only read once configured)."""
        key = (options.nameservers, options.timeout)
        res = self._resolvers.get(key)
        if res is None:
            made = make_resolver(options, self.cache)
            with self._lock:
                res = self._resolvers.setdefault(key, made)
        return res

    def once(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per ``key`` for everyone sharing this object; later and concurrent
        callers get the same value, or the same exception (a timed-out walk is not retried by the
        next domain on that address). The key must hold everything the value depends on."""
        with self._lock:
            future = self._once.get(key)
            owner = future is None
            if owner:
                future = self._once[key] = Future()
        assert future is not None
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:  # noqa: BLE001 - handed to every caller
                future.set_exception(exc)
        value: T = future.result()
        return value

    def forget(self, key: tuple[Any, ...]) -> None:
        """Drop one remembered value (an interrupted computation must not be shared)."""
        with self._lock:
            self._once.pop(key, None)

    def close(self) -> None:
        self.pool.close()
        self.reaper.stop()


# ----------------------------------------------------------------------------- the run


class _Cell:
    """One fact being collected: a latch (a plain lock, held until the value is there), no Future."""

    __slots__ = ("latch", "value")

    def __init__(self) -> None:
        self.value: ProbeOutcome | None = None
        self.latch = threading.Lock()
        self.latch.acquire()


class Run:
    """The state of one scan that probes share through their :class:`ProbeContext`."""

    def __init__(
        self,
        *,
        probes: Mapping[str, Callable[..., Any]],
        profile: Profile,
        options: ScanOptions,
        scope: Scope,
        now: datetime,
        checks: Iterable[Check] = (),
        cancel: threading.Event | None = None,
        data: Mapping[str, Any] | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.probes = probes
        self.profile = profile
        self.options = options
        self.scope = scope
        self.now = now
        self.checks = list(checks)  # the selected checks that will run (see ProbeContext.check_params)
        self.data: Mapping[str, Any] = data or {}  # the catalogue's shared data files
        self.cancel = cancel or (shared.cancel if shared is not None else threading.Event())
        self.notices: list[Notice] = []
        self._cells: dict[tuple[str, str], _Cell] = {}
        self._lock = threading.Lock()
        self._owns_shared = shared is None
        self.shared = shared or Shared(per_address=options.per_host_connections, workers=options.workers,
                                       cancel=self.cancel)
        self._owns_reaper = self.shared.cancel is not self.cancel
        self.reaper = Reaper(self.cancel) if self._owns_reaper else self.shared.reaper

    def close(self) -> None:
        """Stop what this run started for itself (a shared pool and reaper stay)."""
        if self._owns_reaper:
            self.reaper.stop()
        if self._owns_shared:
            self.shared.close()

    # -- shared clients

    def resolver(self) -> dns.resolver.Resolver:
        return self.shared.resolver(self.options)

    def slot(self, address: str) -> Slot:
        return Slot(self.shared.limiter, address, patient=self.shared.patient)

    def map(self, fn: Callable[[T], U], items: Iterable[T], *, workers: int) -> list[U]:
        return self.shared.pool.map(fn, items, width=workers, cancel=self.cancel)

    def add_notice(self, notice: Notice) -> None:
        with self._lock:
            if notice not in self.notices:
                self.notices.append(notice)

    # -- facts

    def outcome(self, probe: str, subject: str) -> ProbeOutcome:
        """Collect (once) or wait for a fact. Computed in the calling thread, so no pool deadlock:
        only a fact another thread is computing right now is waited for."""
        key = (probe, subject)
        with self._lock:
            cell = self._cells.get(key)
            owner = cell is None
            if owner:
                cell = self._cells[key] = _Cell()
        assert cell is not None
        if owner:
            try:
                cell.value = self._collect(probe, subject)
            finally:
                if cell.value is None:  # pragma: no cover - _collect does not raise
                    cell.value = ProbeOutcome(probe, subject, error=ErrorReason.BUG, detail="collect failed")
                cell.latch.release()
        elif cell.value is None:
            cell.latch.acquire()
            cell.latch.release()
        assert cell.value is not None
        return cell.value

    def collected(self, probe: str, subject: str) -> ProbeOutcome | None:
        """The outcome if it is complete (never starts or waits for a probe)."""
        cell = self._cells.get((probe, subject))
        return cell.value if cell is not None else None

    def _collect(self, probe: str, subject: str) -> ProbeOutcome:
        func = self.probes.get(probe)
        if func is None:
            return ProbeOutcome(probe, subject, error=ErrorReason.BUG, detail=f"no probe {probe!r}")
        if self.cancel.is_set():
            return ProbeOutcome(probe, subject, error=ErrorReason.INTERRUPTED)
        ctx = ProbeContext(self, subject)
        try:
            fact = func(ctx, subject)
        except ProbeError as exc:
            reason = ErrorReason.INTERRUPTED if self.cancel.is_set() else exc.reason
            return ProbeOutcome(probe, subject, error=reason, detail=exc.detail[:500])
        except (dns.exception.Timeout, TimeoutError) as exc:
            return ProbeOutcome(probe, subject, error=ErrorReason.TIMEOUT, detail=str(exc)[:500])
        except OSError as exc:  # a probe that let a network error escape: still not a bug in the domain
            return ProbeOutcome(probe, subject, error=ErrorReason.UNREACHABLE, detail=str(exc)[:500])
        except Exception as exc:  # a crashing probe must not end the scan
            log.debug("probe %s crashed on %s", probe, subject, exc_info=True)
            return ProbeOutcome(probe, subject, error=ErrorReason.BUG, detail=f"{type(exc).__name__}: {exc}"[:500])
        return ProbeOutcome(probe, subject, fact=fact)

    def all_outcomes(self) -> list[ProbeOutcome]:
        with self._lock:
            cells = list(self._cells.values())
        return [c.value for c in cells if c.value is not None]


class Endpoint:
    """Connections to one address for one purpose, within one overall deadline."""

    def __init__(
        self,
        address: str,
        name: str,
        deadline: Deadline,
        *,
        per_read: float,
        reaper: Reaper,
        slot: Slot | None = None,
    ) -> None:
        self.address = address
        self.name = name
        self.deadline = deadline
        self._per_read = per_read
        self._reaper = reaper
        self._slot = slot or Slot(LocalLimiter(4), address)

    @classmethod
    def standalone(cls, address: str, *, timeout: float, budget: float, name: str = "") -> Endpoint:
        """An endpoint outside a scan (tests, tools): its own reaper, no scope."""
        cancel = threading.Event()
        return cls(address, name or address, Deadline(budget, cancel=cancel), per_read=timeout, reaper=Reaper(cancel))

    def within(self, seconds: float) -> Endpoint:
        """The same endpoint (address, slots, reaper) with a deadline ``seconds`` from now, never later
        than this one's: for one part of its work, so that part cannot use up the time of the rest."""
        return Endpoint(self.address, self.name, self.deadline.child(max(0.0, seconds)), per_read=self._per_read,
                        reaper=self._reaper, slot=self._slot)

    @property
    def timeout(self) -> float:
        """The per-read timeout: ``--timeout``, or what is left of the deadline when that is less."""
        return self.deadline.timeout(self._per_read, f"{self.address}: deadline")

    @contextlib.contextmanager
    def connect(self, port: int, *, slot_taken: bool = False) -> Iterator[socket.socket]:
        """A TCP connection to ``address:port``, cut by the reaper at the deadline or on cancel.

        Raises ProbeTimeout/Interrupted when it was cut (whatever was read meanwhile) or no connection
        slot for this address came free before the deadline, OSError when no connection could be made.
        ``slot_taken``: the caller already took this connection's slot (:meth:`take_free_slot`); it is
        released when the connection ends, however it ends.
        """
        if not slot_taken:
            self._wait_for_slot(port)
        try:
            sock = socket.create_connection((self.address, port), timeout=self.timeout)
            watch = self._reaper.watch(sock, self.deadline)
            cut = False
            try:
                sock.settimeout(self.timeout)
                try:
                    yield sock
                except Exception:
                    if watch.fired:
                        cut = True
                    else:
                        raise
            finally:
                fired = self._reaper.release(watch)
                sock.close()
            if cut or fired:
                if self.deadline.cancelled:
                    raise Interrupted(f"{self.address}:{port}")
                raise ProbeTimeout(f"{self.address}:{port}")
        finally:
            self._slot.release()


    def take_slot(self, port: int) -> None:
        """Take a connection slot of this address, waiting as :meth:`connect` does, for a
        ``connect(port, slot_taken=True)`` that follows; raises as :meth:`connect` does for its slot."""
        self._wait_for_slot(port)

    def take_free_slot(self) -> bool:
        """Take a connection slot of this address only if one is free now; never waits.

        For a connection opened ahead by a thread that still holds another connection to the address:
        such a thread must never wait for a slot, or two walks that each hold one and wait for a second
        would wait for each other (with patient batch slots, until ``SLOT_QUEUE_LIMIT``)."""
        if self.deadline.cancelled or self.deadline.remaining <= 0:
            return False
        return bool(self._slot.acquire(timeout=0.0))

    def _wait_for_slot(self, port: int) -> None:
        """Take a connection slot of this address.

        In one scan the wait counts against the endpoint's deadline: a slot is only ever held by the
        scan's own endpoints, so a long wait means a server of this domain is hogging them, and a
        domain's scan stays bounded by its budgets. In a batch (a *patient* slot: the queue is the
        batch's politeness towards a hoster that serves many domains) the deadline is given back the
        time waited: the budget bounds the work with the server, not the queue in front of it, so no
        domain is judged "timeout" because its hoster also serves eighty others. That wait ends on
        cancel (within ``SLOT_SLICE``) and after ``SLOT_QUEUE_LIMIT``."""
        if not getattr(self._slot, "patient", False):  # (tests hand in a plain semaphore)
            if not self._slot.acquire(timeout=max(0.01, self.deadline.remaining)):
                self.deadline.check(f"{self.address}:{port}")
                raise ProbeTimeout(f"{self.address}:{port}: slot wait")
            return
        start = time.monotonic()
        self.deadline.check(f"{self.address}:{port}")
        while not self._slot.acquire(timeout=SLOT_SLICE):
            if self.deadline.cancelled:
                raise Interrupted(f"{self.address}:{port}")
            if time.monotonic() - start > SLOT_QUEUE_LIMIT:
                raise ProbeTimeout(f"{self.address}:{port}: slot wait")
        if time.monotonic() - start > 0.001:
            self.deadline.resume(start)
        if self.deadline.cancelled:
            self._slot.release()
            raise Interrupted(f"{self.address}:{port}")


class ProbeContext:
    """What a probe may use: resolver, bounded connections, scope, settings, and other probes' facts."""

    def __init__(self, run: Run, target: str) -> None:
        self._run = run
        self.target = target
        self.options = run.options
        self.timeout = run.options.timeout
        self.scope = run.scope
        self.settings = run.profile.settings
        self.now = run.now
        self.data = run.data

    @property
    def resolver(self) -> dns.resolver.Resolver:
        self.check_cancelled()
        return self._run.resolver()

    @property
    def cancelled(self) -> bool:
        return self._run.cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        """Set when the scan is stopped (for clients that poll, such as the built-in port scan)."""
        return self._run.cancel

    def check_cancelled(self) -> None:
        if self._run.cancel.is_set():
            raise Interrupted(self.target)

    def deadline(self, kind: str) -> Deadline:
        """A fresh overall deadline for one endpoint of ``kind`` (see ``options.BUDGETS``)."""
        return Deadline(self.options.budget(kind, self.settings), cancel=self._run.cancel)

    def endpoint(self, address: str, name: str, kind: str) -> Endpoint:
        """Admit ``address`` (reached as ``name``) and give its bounded connections.

        Raises OutOfScope outside the user's scope."""
        self.check_cancelled()
        self.scope.admit(address, name)
        run = self._run
        return Endpoint(address, name, self.deadline(kind), per_read=self.timeout, reaper=run.reaper,
                        slot=run.slot(address))

    def fact(self, probe: str, subject: str | None = None) -> Any:
        """The fact of another probe (collected once, shared). Raises ProbeError if it is missing,
        with the same reason, so a dependent fact is never built on a lookup that failed."""
        outcome = self._run.outcome(probe, subject or self.target)
        if outcome.fact is None:
            exc = ProbeError(f"{probe}: {outcome.error or ''} {outcome.detail}".strip(), probe=probe,
                             target=subject or self.target)
            exc.reason = outcome.error or ErrorReason.BUG
            raise exc
        return outcome.fact

    def outcome(self, probe: str, subject: str | None = None) -> ProbeOutcome:
        return self._run.outcome(probe, subject or self.target)

    def check_params(self, probe: str) -> list[Mapping[str, Any]]:
        """The params of the selected checks that will run and need ``probe`` (e.g. the port lists
        the net checks want scanned), so a probe collects exactly what those checks judge."""
        return [c.params for c in self._run.checks if probe in c.needs]

    def admit(self, address: str, name: str) -> None:
        """Call before contacting ``address`` by other means than :meth:`endpoint` (DNS, nmap)."""
        self.check_cancelled()
        self.scope.admit(address, name)

    @contextlib.contextmanager
    def connection_slot(self, address: str) -> Iterator[None]:
        """Bound concurrent connections per address (for clients that open their own sockets)."""
        with self._run.slot(address):
            yield

    def once(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """A value that depends only on ``key`` (an address and port, never the domain), computed
        once for every scan sharing this run's :class:`Shared` (see :meth:`Shared.once`)."""
        self.check_cancelled()
        try:
            return self._run.shared.once(key, compute)
        except Interrupted:
            self._run.shared.forget(key)
            raise

    def map(self, fn: Callable[[T], U], items: Iterable[T], *, workers: int = 8) -> list[U]:
        """Run ``fn`` over ``items`` concurrently (fan-out over hosts and addresses), at most
        ``workers`` at once, on the threads of the scan's pool (the calling thread among them)."""
        return self._run.map(fn, items, workers=workers)

    def notice(self, key: str, **params: Any) -> None:
        self._run.add_notice(Notice(key, params, self.target))


__all__ = ["Deadline", "Endpoint", "Limiter", "LocalLimiter", "OutOfScope", "Pool", "ProbeContext", "Reaper",
           "ResolverCache", "Run", "Shared", "Slot", "UdpNameserver", "make_resolver", "run_all"]
