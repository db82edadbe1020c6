"""Per-address politeness shared by every worker, in Redis: a :class:`cyberscan.runtime.Limiter`.

For every address the workers connect to, Redis holds a sorted set of leases (one member per open
connection, scored by the moment the lease runs out) and the earliest moment the next connection may
start. Taking a slot is one Lua script, so it is atomic across every worker on every machine:

1. leases that ran out are dropped (a killed worker's connections stop counting by themselves);
2. when ``per_address`` leases are left, the slot is not free: the caller polls again shortly;
3. otherwise the next start time is reserved (``interval`` after the previous one) together with a
   lease, and the caller sleeps until its start time; a start further away than the caller's
   timeout is not reserved at all.

Times are Redis's own clock (``TIME``), so the machines' clocks need not agree. While a slot is
held, a thread of the holding process renews its leases every third of the lease time; when it
cannot (Redis gone for longer than a lease), the leases may lapse and the limit may no longer hold,
so that counts as a failure like any other.

Every Redis call has a deadline (``call_timeout``, no automatic retries). A call that fails raises
:class:`LimiterUnavailable` (an :class:`~cyberscan.errors.Interrupted`: the probe reports
INTERRUPTED, a value computed once per address is not kept), counts in :attr:`RedisLimiter.failures`
and is told to the listeners (:meth:`RedisLimiter.on_failure`): the worker then cancels the scans in
progress and retries them later, so an unreachable limiter never turns into findings.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from importlib import resources

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import Interrupted

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "cyberscan:limiter:"
DEFAULT_LEASE = 30.0
DEFAULT_CALL_TIMEOUT = 2.0
POLL_FIRST = 0.005
POLL_MAX = 0.1

# KEYS: leases, next start. ARGV: limit, interval ms, lease ms, token, longest wait ms.
# Returns {1, wait ms} when taken (start after wait ms), {0, -1} when full, {0, wait ms} when the
# next start is further away than the caller may wait.
_ACQUIRE = "acquire.lua"  # next to this module: Lua, run inside Redis

# KEYS: leases. ARGV: lease ms, tokens... Renews the tokens still held; returns those that were lost.
_RENEW = "renew.lua"


def _script(name: str) -> str:
    return resources.files("cyberscan.worker").joinpath(name).read_text(encoding="utf-8")


class LimiterUnavailable(Interrupted):
    """The shared limiter could not be asked (Redis unreachable, too slow, or a lease was lost)."""


class RedisLimiter:
    """At most ``per_address`` connections to one address at once across every process using the same
    Redis and ``prefix``, and connection starts to one address at least ``interval`` seconds apart.

    Thread-safe; one per process (after a fork, make a new one)."""

    def __init__(self, url: str, *, per_address: int, interval: float = 0.0, lease: float = DEFAULT_LEASE,
                 call_timeout: float = DEFAULT_CALL_TIMEOUT, prefix: str = DEFAULT_PREFIX) -> None:
        self.per_address = max(1, int(per_address))
        self.interval = max(0.0, float(interval))
        self.lease = max(1.0, float(lease))
        self.call_timeout = float(call_timeout)
        self.prefix = prefix
        self.failures = 0
        self._client = redis.Redis.from_url(
            url, socket_timeout=call_timeout, socket_connect_timeout=call_timeout, retry=Retry(NoBackoff(), 0),
            health_check_interval=0, client_name="cyberscan-limiter")
        self._acquire = self._client.register_script(_script(_ACQUIRE))
        self._renew = self._client.register_script(_script(_RENEW))
        self._lock = threading.Lock()
        self._held: dict[str, list[str]] = {}
        self._listeners: list[Callable[[BaseException], None]] = []
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # -------------------------------------------------------------- the Limiter protocol

    def acquire(self, address: str, timeout: float) -> bool:
        end = time.monotonic() + max(0.0, timeout)
        token = uuid.uuid4().hex
        pause = POLL_FIRST
        while True:
            left = end - time.monotonic()
            try:
                taken, wait_ms = self._acquire(
                    keys=[self._key(address), self._key(address) + ":next"],
                    args=[self.per_address, int(self.interval * 1000), int(self.lease * 1000), token,
                          max(0, int(left * 1000))])
            except redis.RedisError as exc:
                raise self._failed(exc, address) from None
            if int(taken):
                self._hold(address, token)
                if int(wait_ms) > 0:
                    time.sleep(int(wait_ms) / 1000)
                return True
            if int(wait_ms) >= 0 or left <= 0:  # paced beyond the deadline, or no time left to wait
                return False
            time.sleep(min(pause * (0.5 + random.random()), max(0.0, left)))  # noqa: S311 - jitter, not secrets
            pause = min(pause * 2, POLL_MAX)

    def release(self, address: str) -> None:
        with self._lock:
            tokens = self._held.get(address)
            if not tokens:
                return
            token = tokens.pop()
            if not tokens:
                del self._held[address]
        try:
            self._client.zrem(self._key(address), token)
        except redis.RedisError as exc:  # the lease runs out by itself: the limit still holds
            log.warning("limiter: could not release %s (%s); its lease runs out in %.0f s", address, exc, self.lease)

    # -------------------------------------------------------------- the rest

    def on_failure(self, listener: Callable[[BaseException], None]) -> None:
        """Call ``listener(exc)`` (from any thread) whenever asking Redis failed or a lease was lost."""
        with self._lock:
            self._listeners.append(listener)

    def held(self) -> dict[str, int]:
        """How many slots this process holds, per address."""
        with self._lock:
            return {a: len(t) for a, t in self._held.items()}

    def ping(self) -> None:
        """Ask Redis once (at start-up). Raises :class:`LimiterUnavailable`."""
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"limiter: {exc}") from None

    def close(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.call_timeout + 1)
        self._client.close()

    def _key(self, address: str) -> str:
        return self.prefix + address

    def _hold(self, address: str, token: str) -> None:
        with self._lock:
            self._held.setdefault(address, []).append(token)
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew_loop, name="cyberscan-limiter-renew", daemon=True)
                self._renewer.start()

    def _failed(self, exc: BaseException, address: str) -> LimiterUnavailable:
        with self._lock:
            self.failures += 1
            listeners = list(self._listeners)
        error = LimiterUnavailable(f"limiter: {address}: {type(exc).__name__}: {exc}"[:300])
        log.warning("limiter: Redis failed for %s: %s", address, exc)
        for listener in listeners:
            try:
                listener(error)
            except Exception:  # a listener must not break the probe that asked
                log.exception("limiter: failure listener raised")
        return error

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease / 3):
            with self._lock:
                held = {a: list(t) for a, t in self._held.items() if t}
            for address, tokens in held.items():
                try:
                    lost = self._renew(keys=[self._key(address)], args=[int(self.lease * 1000), *tokens])
                except redis.RedisError as exc:
                    self._failed(exc, address)
                    continue
                if lost:
                    with self._lock:
                        mine = self._held.get(address, [])
                        gone = [t.decode() if isinstance(t, bytes) else str(t) for t in lost]
                        still = [t for t in gone if t in mine]
                    if still:  # released meanwhile is fine; a lease held and lost is not
                        self._failed(RuntimeError(f"{len(still)} lease(s) lost"), address)


__all__ = ["DEFAULT_CALL_TIMEOUT", "DEFAULT_LEASE", "DEFAULT_PREFIX", "LimiterUnavailable", "RedisLimiter"]
