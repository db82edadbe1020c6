"""Per-address politeness across the processes of one batch on one machine.

Every scanning process of a batch has its own :class:`cyberscan.runtime.Shared`, but a hosting address
shared by eighty museums must see at most ``per_address`` connections at once from the whole batch,
and connection starts at least ``interval`` apart. Partitioning the domains by address cannot do that
(a domain's addresses are known only once it is being scanned, and one domain reaches several
hosters), so the processes share one table instead:

- an anonymous shared memory map, made before the processes are forked, holds per address (an open
  addressing hash table on the 16-byte packed address) the connections open now, the earliest time
  the next one may start (``CLOCK_MONOTONIC`` is one clock for the whole machine), and how many of the
  open ones each process holds;
- one POSIX record lock (``fcntl.lockf``) on an unlinked temporary file guards it. The kernel drops
  such a lock when its process dies, so a scanning process killed in the middle (``kill -9``, the
  OOM killer) never leaves the others waiting; :meth:`ProcessLimiter.reclaim` then gives back the
  slots the dead process held.

A waiting thread polls (2 ms, doubling to 20 ms); a per-process :class:`~cyberscan.runtime.LocalLimiter`
in front keeps the pollers of one process to ``per_address`` per address. Linux and other systems
with ``fork`` only; elsewhere a batch runs in one process with the local limiter.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import mmap
import os
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator

from ..runtime import LocalLimiter

TABLE = 1 << 14  # distinct addresses one batch can hold (a 5,000-domain sector scan meets a few thousand)
MAX_PROCESSES = 64
_KEY = 16
_EMPTY = bytes(_KEY)
_POLL_FIRST, _POLL_MAX = 0.002, 0.02


class LimiterFull(RuntimeError):
    """More distinct addresses than the table holds (never in practice: ``TABLE`` is far above a batch)."""


class ProcessLimiter:
    """:class:`~cyberscan.runtime.Limiter` shared by forked processes: make it in the parent, fork,
    then call :meth:`attach` in each child with its number (0 ... ``MAX_PROCESSES`` - 1)."""

    def __init__(self, per_address: int, interval: float = 0.0) -> None:
        self.per_address = max(1, per_address)
        self.interval = max(0.0, interval)
        # layout: keys (16 bytes each) | open count (int32) | next start (double) | held per process (int16)
        self._keys_at = 0
        self._count_at = TABLE * _KEY
        self._next_at = self._count_at + TABLE * 4
        self._held_at = self._next_at + TABLE * 8
        size = self._held_at + TABLE * MAX_PROCESSES * 2
        self._map = mmap.mmap(-1, size)  # anonymous and MAP_SHARED: the same pages in every forked child
        self._count = memoryview(self._map)[self._count_at:self._next_at].cast("i")
        self._next = memoryview(self._map)[self._next_at:self._held_at].cast("d")
        self._held = memoryview(self._map)[self._held_at:size].cast("h")
        fd, path = tempfile.mkstemp(prefix="cyberscan-limiter-")
        os.unlink(path)
        self._fd = fd
        self._thread_lock = threading.Lock()  # record locks belong to the process: threads need their own
        self._index: dict[str, int] = {}
        self._local = LocalLimiter(self.per_address)
        self.process = 0

    def attach(self, process: int) -> None:
        """In a child right after the fork: which process this is (for :meth:`reclaim`)."""
        if not 0 <= process < MAX_PROCESSES:
            raise ValueError(process)
        self.process = process
        self._thread_lock = threading.Lock()
        self._local = LocalLimiter(self.per_address)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def _slot_of(self, address: str) -> int:
        index = self._index.get(address)
        if index is not None:
            return index
        key = _pack(address)
        start = zlib.crc32(key) % TABLE
        with self._locked():
            for step in range(TABLE):
                at = (start + step) % TABLE
                cell = self._map[at * _KEY:(at + 1) * _KEY]
                if cell == key:
                    break
                if cell == _EMPTY:
                    self._map[at * _KEY:(at + 1) * _KEY] = key
                    break
            else:
                raise LimiterFull(address)
        self._index[address] = at
        return at

    def acquire(self, address: str, timeout: float) -> bool:
        end = time.monotonic() + max(0.0, timeout)
        if not self._local.acquire(address, timeout):
            return False
        try:
            at = self._slot_of(address)
            poll = _POLL_FIRST
            while True:
                with self._locked():
                    now = time.monotonic()
                    if self._count[at] < self.per_address and self._next[at] <= now:
                        self._count[at] += 1
                        self._held[at * MAX_PROCESSES + self.process] += 1
                        self._next[at] = now + self.interval
                        return True
                    wait = max(self._next[at] - now, 0.0) if self._count[at] < self.per_address else poll
                if now >= end:
                    self._local.release(address)
                    return False
                time.sleep(min(max(wait, 0.0005), end - now, _POLL_MAX))
                poll = min(poll * 2, _POLL_MAX)
        except BaseException:
            self._local.release(address)
            raise

    def release(self, address: str) -> None:
        at = self._slot_of(address)
        with self._locked():
            if self._count[at] > 0:
                self._count[at] -= 1
            mine = at * MAX_PROCESSES + self.process
            if self._held[mine] > 0:
                self._held[mine] -= 1
        self._local.release(address)

    def reclaim(self, process: int) -> int:
        """Give back every slot a dead process held; returns how many."""
        freed = 0
        with self._locked():
            for at in range(TABLE):
                cell = at * MAX_PROCESSES + process
                held = self._held[cell]
                if held:
                    self._count[at] = max(0, self._count[at] - held)
                    self._held[cell] = 0
                    freed += held
        return freed

    def open_now(self, address: str) -> int:
        """Connections to ``address`` open at this moment across all processes (for tests and progress)."""
        at = self._slot_of(address)
        with self._locked():
            return int(self._count[at])


def _pack(address: str) -> bytes:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return zlib.crc32(address.encode()).to_bytes(4, "big").rjust(_KEY, b"\xff")  # not an address: a name
    packed = ip.packed if ip.version == 6 else b"\x00" * 10 + b"\xff\xff" + ip.packed
    return packed if packed != _EMPTY else b"\xff" * _KEY  # "::" must not look like an empty cell


__all__ = ["MAX_PROCESSES", "TABLE", "LimiterFull", "ProcessLimiter"]
