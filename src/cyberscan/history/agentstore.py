"""The agent's own state in the history store (schema version 2): rounds, what it knows per key, outbox.

    tables = store.agent
    number = tables.start_round(started)            # a row in agent_rounds, status "running"
    tables.finish_round(number, "ok", finished, detail)
    tables.states("museum.nl")                      # key -> (kind, data) of one domain
    tables.put_states("museum.nl", {key: (kind, data)}, when)   # replaces that domain's rows, one transaction
    tables.enqueue("email", message, now)           # a message waiting to be delivered
    tables.due(now)                                 # outbox rows whose next attempt has come

Values are plain JSON (``data``, ``detail``, ``message``): the agent owns their meaning, the store
keeps them durably, one transaction per call. Rows of this module never hold a secret: a webhook's
signature and an SMTP password are added when a message is sent, never stored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

RUNNING = "running"
ABANDONED = "abandoned"


class _Db(Protocol):
    dialect: str

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def insert(self, sql: str, params: Sequence[Any]) -> int: ...

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...


@dataclass(frozen=True, slots=True)
class Round:
    id: int
    started: str
    finished: str | None
    status: str  # running | ok | failed | interrupted
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message in the outbox, for one channel."""

    id: int
    created: str
    channel: str  # "email" | "webhook"
    message: Mapping[str, Any]
    attempts: int
    next_attempt: str
    last_error: str | None


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


class AgentTables:
    """The agent's tables of one store (see :attr:`cyberscan.history.Store.agent`)."""

    def __init__(self, db: _Db, guard: Callable[[], contextlib.AbstractContextManager[None]]) -> None:
        self._db = db
        self._guard = guard

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        with self._guard(), self._db.transaction():
            yield

    # -------------------------------------------------------------- rounds

    def start_round(self, started: str) -> int:
        """A new round, status "running". The caller holds the agent lock, so a round still marked
        running is one whose process died: it is marked "abandoned"."""
        with self._write():
            self._db.query("UPDATE agent_rounds SET status = ? WHERE status = ?", (ABANDONED, RUNNING))
            return self._db.insert("INSERT INTO agent_rounds (started, finished, status, detail) VALUES (?, ?, ?, ?)",
                                   (started, None, RUNNING, "{}"))

    def finish_round(self, number: int, status: str, finished: str, detail: Mapping[str, Any]) -> None:
        with self._write():
            self._db.query("UPDATE agent_rounds SET status = ?, finished = ?, detail = ? WHERE id = ?",
                           (status, finished, _dump(dict(detail)), number))

    def rounds(self, limit: int = 20) -> list[Round]:
        """The newest ``limit`` rounds, oldest first."""
        with self._guard():
            rows = self._db.query("SELECT id, started, finished, status, detail FROM agent_rounds "
                                  "ORDER BY started DESC, id DESC LIMIT ?", (limit,))
        return [Round(int(r[0]), str(r[1]), str(r[2]) if r[2] is not None else None, str(r[3]), json.loads(r[4]))
                for r in reversed(rows)]

    def last_round(self, *, finished_only: bool = True) -> Round | None:
        """The newest round (that ended, unless ``finished_only`` is False)."""
        sql = "SELECT id, started, finished, status, detail FROM agent_rounds"
        if finished_only:
            sql += " WHERE finished IS NOT NULL"
        sql += " ORDER BY started DESC, id DESC LIMIT 1"
        with self._guard():
            rows = self._db.query(sql)
        if not rows:
            return None
        r = rows[0]
        return Round(int(r[0]), str(r[1]), str(r[2]) if r[2] is not None else None, str(r[3]), json.loads(r[4]))

    def last_start(self, statuses: Sequence[str]) -> str | None:
        """When the newest round with one of ``statuses`` started (ISO time), or None."""
        marks = ", ".join("?" for _ in statuses)
        with self._guard():
            rows = self._db.query(f"SELECT MAX(started) FROM agent_rounds WHERE status IN ({marks})",  # noqa: S608
                                  tuple(statuses))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def round_count(self) -> int:
        with self._guard():
            return int(self._db.query("SELECT COUNT(*) FROM agent_rounds")[0][0])

    # -------------------------------------------------------------- what the agent knows per key

    def states(self, domain: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Finding key (or another key the agent tracks) -> (kind, data), for ``domain``."""
        with self._guard():
            rows = self._db.query("SELECT key, kind, data FROM agent_state WHERE domain = ? ORDER BY key", (domain,))
        return {str(k): (str(kind), json.loads(data)) for k, kind, data in rows}

    def state_domains(self) -> list[str]:
        with self._guard():
            return [str(r[0]) for r in self._db.query("SELECT DISTINCT domain FROM agent_state ORDER BY domain")]

    def put_states(self, domain: str, states: Mapping[str, tuple[str, Mapping[str, Any]]], when: str) -> None:
        """Replace everything known about ``domain`` in one transaction."""
        with self._write():
            self._db.query("DELETE FROM agent_state WHERE domain = ?", (domain,))
            self._db.many("INSERT INTO agent_state (key, domain, kind, data, updated) VALUES (?, ?, ?, ?, ?)",
                          [(key, domain, kind, _dump(dict(data)), when) for key, (kind, data) in sorted(states.items())])

    # -------------------------------------------------------------- outbox

    def enqueue(self, channel: str, message: Mapping[str, Any], now: str, *, not_before: str | None = None) -> int:
        """A message for ``channel``, first tried at once (or at ``not_before``, when that is later)."""
        first = not_before if not_before is not None and not_before > now else now
        with self._write():
            return self._db.insert(
                "INSERT INTO agent_outbox (created, channel, message, attempts, next_attempt, last_error, sent, gave_up) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (now, channel, _dump(dict(message)), 0, first, None, None, None))

    @staticmethod
    def _channels(channels: Sequence[str] | None, not_channels: Sequence[str]) -> tuple[str, list[str]]:
        """The SQL condition (and its parameters) of a selection of channels: only ``channels`` (None:
        every one), without ``not_channels``."""
        conditions, params = [""], []
        if channels is not None:
            conditions.append(f"(channel IN ({', '.join('?' for _ in channels) or 'NULL'}))")
            params += list(channels)
        if not_channels:
            conditions.append(f"NOT (channel IN ({', '.join('?' for _ in not_channels)}))")
            params += list(not_channels)
        return " AND ".join(conditions), params

    def due(self, now: str, *, limit: int = 50, channels: Sequence[str] | None = None,
            not_channels: Sequence[str] = ()) -> list[Outgoing]:
        """Undelivered messages whose next attempt is due, oldest first (of ``channels`` only, when
        given, and not of ``not_channels``)."""
        where, params = self._channels(channels, not_channels)
        with self._guard():
            rows = self._db.query(
                "SELECT id, created, channel, message, attempts, next_attempt, last_error FROM agent_outbox "  # noqa: S608
                f"WHERE sent IS NULL AND gave_up IS NULL AND next_attempt <= ?{where} ORDER BY id LIMIT ?",
                (now, *params, limit))
        return [Outgoing(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3]), int(r[4]), str(r[5]),
                         str(r[6]) if r[6] is not None else None) for r in rows]

    def pending(self) -> list[Outgoing]:
        """Every undelivered message (due or waiting for its next attempt)."""
        with self._guard():
            rows = self._db.query(
                "SELECT id, created, channel, message, attempts, next_attempt, last_error FROM agent_outbox "
                "WHERE sent IS NULL AND gave_up IS NULL ORDER BY id")
        return [Outgoing(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3]), int(r[4]), str(r[5]),
                         str(r[6]) if r[6] is not None else None) for r in rows]

    def next_due(self, *, channels: Sequence[str] | None = None, not_channels: Sequence[str] = ()) -> str | None:
        """When the earliest undelivered message (of the channels selected as in :meth:`due`) is next
        tried (ISO time), or None."""
        where, params = self._channels(channels, not_channels)
        with self._guard():
            rows = self._db.query("SELECT MIN(next_attempt) FROM agent_outbox "  # noqa: S608
                                  f"WHERE sent IS NULL AND gave_up IS NULL{where}", tuple(params))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def holds(self, channel: str, key: str, value: str) -> bool:
        """Whether the outbox has a message for ``channel`` (waiting, sent or abandoned, until it is
        pruned) with ``key: value`` in it, at any depth, e.g. a summary's ``submission_id``: how the
        agent remembers what it already queued and sent."""
        fragment = _dump({key: value})[1:-1]  # "key":"value", as _dump writes it inside any message
        pattern = "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._guard():
            rows = self._db.query("SELECT 1 FROM agent_outbox WHERE channel = ? AND message LIKE ? ESCAPE '\\' LIMIT 1",
                                  (channel, pattern))
        return bool(rows)

    def delivered(self, number: int, when: str, attempts: int) -> None:
        with self._write():
            self._db.query("UPDATE agent_outbox SET sent = ?, attempts = ?, last_error = NULL WHERE id = ?",
                           (when, attempts, number))

    def failed(self, number: int, attempts: int, error: str, next_attempt: str | None, when: str) -> None:
        """A failed attempt: try again at ``next_attempt``, or give up (None)."""
        with self._write():
            if next_attempt is None:
                self._db.query("UPDATE agent_outbox SET attempts = ?, last_error = ?, gave_up = ? WHERE id = ?",
                               (attempts, error[:500], when, number))
            else:
                self._db.query("UPDATE agent_outbox SET attempts = ?, last_error = ?, next_attempt = ? WHERE id = ?",
                               (attempts, error[:500], next_attempt, number))

    def sent(self, *, limit: int = 100) -> list[Outgoing]:
        """Delivered messages, newest last."""
        with self._guard():
            rows = self._db.query(
                "SELECT id, created, channel, message, attempts, next_attempt, last_error FROM agent_outbox "
                "WHERE sent IS NOT NULL ORDER BY id DESC LIMIT ?", (limit,))
        return [Outgoing(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3]), int(r[4]), str(r[5]), None)
                for r in reversed(rows)]

    def prune(self, before: str) -> None:
        """Forget delivered or abandoned messages and finished rounds older than ``before``."""
        with self._write():
            self._db.query("DELETE FROM agent_outbox WHERE (sent IS NOT NULL AND sent < ?) OR "
                           "(gave_up IS NOT NULL AND gave_up < ?)", (before, before))
            self._db.query("DELETE FROM agent_rounds WHERE finished IS NOT NULL AND finished < ?", (before,))
