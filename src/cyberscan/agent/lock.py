"""One agent per history at a time: a lock taken for each round.

For an SQLite store: an ``fcntl`` lock on ``<store>.agent.lock`` beside it (released by the kernel
when the process ends, however it ends). For PostgreSQL: a session-level advisory lock, held on the
store's own connection. A second agent (a ``--once`` from cron while a long round still runs, or a
second service) finds the lock taken and skips the round instead of running it twice.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..history import Store

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

PG_LOCK = 0x63796261  # "cyba": the agent's advisory lock id


def lock_path(store: Store) -> Path:
    return Path(store.where + ".agent.lock")


def describe(store: Store) -> str:
    return f"advisory lock {PG_LOCK}" if store.dialect == "postgres" else str(lock_path(store))


@contextlib.contextmanager
def round_lock(store: Store) -> Iterator[bool]:
    """Yields True when this process holds the agent lock of ``store`` for the block, False when
    another agent holds it (then do nothing)."""
    if store.dialect == "postgres":
        if not store.try_advisory_lock(PG_LOCK):
            yield False
            return
        try:
            yield True
        finally:
            store.advisory_unlock(PG_LOCK)
        return
    if fcntl is None:  # pragma: no cover
        yield True
        return
    path = lock_path(store)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
