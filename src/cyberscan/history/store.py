"""The history store: every assessment kept, on SQLite (default) or PostgreSQL, with one API.

    with open_store("~/history.sqlite") as store:        # or "postgresql://user@host/db"
        number = store.save(assessment)
        store.list("museum.nl")          # current judgement of every scan of museum.nl, oldest first
        store.latest("museum.nl")        # the newest, with its findings
        store.get(number).findings

What is kept per assessment: the raw facts (the scan JSON without its results, compressed) with
their fact versions, stored once per scan; and per judgement (the scan's own, or a rescore under
newer rules) the catalogue, tool and check versions, profile, the public answers (no contact
details) and accepted risks used, the DEN scores, the full results (compressed) and one row per
finding. ``history`` and ``diff`` read only the small rows, never the facts or the catalogue.

Nothing lost, nothing damaged:

- one transaction per assessment (``BEGIN IMMEDIATE`` on SQLite): a process killed at any moment
  loses at most the assessment in progress;
- SQLite in WAL mode with ``synchronous=FULL`` and a busy timeout, so two processes writing at once
  both succeed (the second waits for the first's transaction);
- the schema is versioned (table ``cyberscan_schema``) and migrated forward on open; a store written
  by a newer version is refused with :class:`HistoryError` ``history.newer-schema`` before anything
  is written, and left untouched;
- a file at the path that is not an SQLite database, or whose schema cannot be read, is moved aside
  (``<name>.damaged-<time>``, with its ``-wal``/``-shm`` files) and a new store is started;
  :attr:`Store.moved_aside` names it so the command can say so. Another program's database is
  refused, never moved. Damage found later (a broken page) is a ``history.damaged`` error.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import sqlite3
import time
import urllib.parse
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import platformdirs

from ..errors import CyberscanError
from ..models import AcceptedRisk, Scan, Severity, Status
from ..registry import Registry
from ..serialize import accepted_from_dict, accepted_to_dict, result_to_dict, scan_from_dict, scan_to_dict
from ..version import __version__
from .agentstore import AgentTables
from .record import AssessmentLike, Finding, Record, Summary, record_of, titles_of
from .schema import SCHEMA_VERSION, VERSION_TABLE, statements

ENV_DB = "CYBERSCAN_DB"
BUSY_SECONDS = 60.0  # how long a writer waits for another process's transaction
SQLITE_HEADER = b"SQLite format 3\x00"
EXPORT_FORMAT = "cyberscan-history"
EXPORT_VERSION = 1
_PG_LOCK = 0x63796265  # advisory lock id for migrations ("cybe")


class HistoryError(CyberscanError):
    """The history store cannot be opened, read or written (key in ``texts/history.yaml``)."""


BatchItemKey = tuple[str, str]  # (batch id, domain)


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A batch of domains (``scan --targets``, the workers) and how many of them are done."""

    id: str
    created: str
    source: str
    total: int
    meta: Mapping[str, Any]
    finished: str | None
    done: int


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One done domain of a batch: its assessment, or why it could not be scanned (key, params)."""

    domain: str
    assessment: int | None
    failure: Mapping[str, Any] | None
    finished: str


def _batch_info(row: Sequence[Any], done: int) -> BatchInfo:
    return BatchInfo(str(row[0]), str(row[1]), str(row[2]), int(row[3]), json.loads(row[4]),
                     str(row[5]) if row[5] is not None else None, done)


# ----------------------------------------------------------------------------- where


def default_path() -> Path:
    """``history.sqlite`` in the user's data folder (platformdirs)."""
    return Path(platformdirs.user_data_path("cyberscan", appauthor=False)) / "history.sqlite"


def location(db: str | os.PathLike[str] | None = None) -> str:
    """The store to use: ``db``, else ``CYBERSCAN_DB``, else the default file. A ``sqlite:///PATH`` URL
    (as SQLAlchemy and Django write it: ``sqlite:////abs/h.db``, ``sqlite:///relative.db``) is its file;
    any other ``scheme://`` than PostgreSQL's is refused (it would otherwise become a folder's name)."""
    chosen = os.fspath(db) if db else os.environ.get(ENV_DB, "").strip()
    if chosen.startswith("sqlite:///"):
        return chosen.removeprefix("sqlite:///") or str(default_path())
    scheme = chosen.partition("://")[0]
    if "://" in chosen and not is_url(chosen) and scheme.replace("+", "").isalnum():
        raise HistoryError("history.unknown-scheme", scheme=scheme)
    return chosen or str(default_path())


def is_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def display(target: str) -> str:
    """``target`` for messages: a URL without its password."""
    if not is_url(target):
        return target
    parts = urllib.parse.urlsplit(target)
    if parts.password is None:
        return target
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


# ----------------------------------------------------------------------------- backends


class _Backend(Protocol):
    dialect: str
    where: str

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def insert(self, sql: str, params: Sequence[Any]) -> int: ...

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def tables(self) -> set[str]: ...

    def lock_for_migration(self) -> None: ...

    def close(self) -> None: ...


class _Sqlite:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.where = str(path)
        self.conn = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
        self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")

    def setup(self) -> None:
        """WAL, full sync, foreign keys: only after the version was read (a newer store is left as it is)."""
        for attempt in range(50):
            try:
                self.conn.execute("PRAGMA journal_mode = WAL").fetchall()
                break
            except sqlite3.OperationalError:  # another process holds the lock while switching
                if attempt == 49:
                    raise
                time.sleep(0.1)
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        cursor = self.conn.execute(sql, tuple(params))
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, [tuple(r) for r in rows])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock on upgrade
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def tables(self) -> set[str]:
        return {str(r[0]) for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def lock_for_migration(self) -> None:
        return  # BEGIN IMMEDIATE already excludes other writers

    def close(self) -> None:
        self.conn.close()


class _Postgres:
    dialect = "postgres"

    def __init__(self, url: str) -> None:
        try:
            import psycopg  # optional (the "postgres" extra): only a postgresql:// store needs it
        except ImportError:
            raise HistoryError("history.no-postgres") from None
        self.where = display(url)
        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=15)
        except psycopg.Error as exc:
            raise HistoryError("history.unreachable", path=self.where, detail=_first_line(exc)) from None

    def setup(self) -> None:
        return

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(self._sql(sql), tuple(params))
        return list(cursor.fetchall()) if cursor.description is not None else []

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        row = self.conn.execute(self._sql(sql) + " RETURNING id", tuple(params)).fetchone()
        assert row is not None
        return int(row[0])

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), [tuple(r) for r in rows])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def tables(self) -> set[str]:
        rows = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {str(r[0]) for r in rows}

    def lock_for_migration(self) -> None:
        self.query(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")

    def close(self) -> None:
        self.conn.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


# ----------------------------------------------------------------------------- opening


def open_store(target: str | os.PathLike[str] | None = None) -> Store:
    """Open (creating or migrating as needed) the store at a path or ``postgresql://`` URL; ``None``
    means :func:`location` (``CYBERSCAN_DB`` or the default file). Raises :class:`HistoryError`."""
    where = location(target)
    if is_url(where):
        pg = _Postgres(where)
        try:
            _prepare(pg)
        except BaseException:
            pg.close()
            raise
        return Store(pg)
    return _open_sqlite(Path(where).expanduser())


def _open_sqlite(path: Path) -> Store:
    if path.exists() and not path.is_file():
        raise HistoryError("history.not-a-file", path=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HistoryError("history.unreachable", path=str(path), detail=exc.strerror or str(exc)) from None
    moved: tuple[Path, str] | None = None
    problem = _not_sqlite(path)
    if problem:
        moved = (_move_aside(path), problem)
    for _ in range(2):
        try:
            backend = _Sqlite(path)
        except sqlite3.Error as exc:
            raise HistoryError("history.unreachable", path=str(path), detail=_first_line(exc)) from None
        try:
            _prepare(backend)
        except sqlite3.DatabaseError as exc:
            backend.close()
            if type(exc) is not sqlite3.DatabaseError:  # busy, I/O, permissions: not the file's fault
                raise HistoryError("history.failed", path=str(path), detail=_first_line(exc)) from None
            if moved is not None:
                raise HistoryError("history.damaged", path=str(path), detail=_first_line(exc)) from None
            moved = (_move_aside(path), _first_line(exc))  # not a database, or a damaged schema: keep it aside
            continue
        except BaseException:
            backend.close()
            raise
        store = Store(backend)
        store.moved_aside = moved
        return store
    raise AssertionError("unreachable")  # pragma: no cover


def _not_sqlite(path: Path) -> str:
    """Why the file at ``path`` is not an SQLite database ("" when it is one, is empty or is absent)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise HistoryError("history.unreachable", path=str(path), detail=exc.strerror or str(exc)) from None
    if not head or head == SQLITE_HEADER:
        return ""
    return "not-sqlite"


def _move_aside(path: Path) -> Path:
    """Rename a damaged store (and its -wal/-shm files) to ``<name>.damaged-<UTC time>[-n]``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        os.replace(path, target)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
    except OSError as exc:
        raise HistoryError("history.unreachable", path=str(path), detail=exc.strerror or str(exc)) from None
    return target


def _version(backend: _Backend) -> int:
    tables = backend.tables()
    if "cyberscan_schema" in tables:
        rows = backend.query("SELECT MAX(version) FROM cyberscan_schema")
        return int(rows[0][0] or 0) if rows else 0
    if tables & {"facts", "assessments", "findings"} or (tables and backend.dialect == "sqlite"):
        raise HistoryError("history.foreign-database", path=backend.where)
    return 0


def _prepare(backend: _Backend) -> None:
    """Refuse a newer store before touching it; then set it up and migrate it forward."""
    found = _version(backend)
    if found > SCHEMA_VERSION:
        raise HistoryError("history.newer-schema", path=backend.where, version=found, supported=SCHEMA_VERSION)
    if isinstance(backend, _Sqlite | _Postgres):
        backend.setup()
    if found == SCHEMA_VERSION:
        return
    with backend.transaction():
        backend.lock_for_migration()
        backend.query(VERSION_TABLE)
        rows = backend.query("SELECT MAX(version) FROM cyberscan_schema")
        current = int(rows[0][0] or 0) if rows else 0  # another process may have migrated meanwhile
        if current > SCHEMA_VERSION:
            raise HistoryError("history.newer-schema", path=backend.where, version=current, supported=SCHEMA_VERSION)
        for step in range(current + 1, SCHEMA_VERSION + 1):
            for sql in statements(step, backend.dialect):
                backend.query(sql)
            backend.query("INSERT INTO cyberscan_schema (version, written_by, migrated) VALUES (?, ?, ?)",
                          (step, __version__, _now()))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- encoding


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), 6)


def _unpack(blob: Any) -> Any:
    return json.loads(zlib.decompress(bytes(blob)).decode("utf-8"))


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


_SUMMARY_COLUMNS = ("a.id, a.uid, a.started, a.finished, a.saved, a.tool_version, a.catalogue_version, a.profile, "
                    "a.complete, a.kind, a.rescored_from, a.score, a.counts, a.items, a.facts_id")


def _summary(row: Sequence[Any], targets: tuple[str, ...]) -> Summary:
    return Summary(
        id=int(row[0]), uid=str(row[1]), targets=targets, started=str(row[2]), finished=str(row[3]),
        saved=str(row[4]), tool_version=str(row[5]), catalogue_version=str(row[6]), profile=str(row[7]),
        complete=bool(row[8]), kind=str(row[9]), rescored_from=int(row[10]) if row[10] is not None else None,
        score=float(row[11]) if row[11] is not None else None, counts=json.loads(row[12]),
        items=json.loads(row[13]), facts_id=int(row[14]),
    )


def _finding(row: Sequence[Any]) -> Finding:
    return Finding(key=str(row[0]), domain=str(row[1]), check_id=str(row[2]), check_version=int(row[3]),
                   status=Status(row[4]), severity=Severity(row[5]), source=str(row[6]), accepted=bool(row[7]),
                   reason=str(row[8]) if row[8] is not None else None)


_CURRENT = "a.id IN (SELECT MAX(id) FROM assessments GROUP BY facts_id)"


# ----------------------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class PreparedSave:
    """Everything :meth:`Store.save` computes from an assessment before it touches the database:
    plain, picklable data, so the CPU of encoding and compressing can be spent where the assessment
    was made (a batch's scanning processes) and only the writing done by the one writer."""

    record: Record
    fact_versions: str
    facts: bytes | None  # the packed scan JSON without results; None for a rescore (the facts are stored)
    judgement: bytes
    titles: Mapping[tuple[str, int], tuple[str, str]]
    rescored_from: int | None = None


def prepare(assessment: AssessmentLike, *, rescored_from: int | None = None) -> PreparedSave:
    """What :meth:`Store.save_prepared` writes for ``assessment`` (no database needed)."""
    record = record_of(assessment, uid=uuid.uuid4().hex, saved=_now(),
                       kind="rescore" if rescored_from is not None else "scan", rescored_from=rescored_from)
    scan = assessment.scan
    facts: bytes | None = None
    if rescored_from is None:
        data = scan_to_dict(scan)
        data.pop("results", None)
        facts = _pack(data)
    judgement = _pack({"results": [result_to_dict(r) for r in assessment.results]})
    return PreparedSave(record, _dump(dict(scan.fact_versions)), facts, judgement,
                        titles_of(assessment.catalogue, assessment.results), rescored_from)


class Store:
    """One history store. Not shared between threads; open one per process (or thread)."""

    def __init__(self, backend: _Backend) -> None:
        self._db = backend
        self.moved_aside: tuple[Path, str] | None = None  # (where a damaged file went, what was wrong)

    @property
    def where(self) -> str:
        return self._db.where

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def close(self) -> None:
        self._db.close()

    @property
    def agent(self) -> AgentTables:
        """The agent's rounds, per-key state and outbox (schema version 2)."""
        return AgentTables(self._db, self._guard)

    def try_advisory_lock(self, key: int) -> bool:
        """PostgreSQL only: take the session-level advisory lock ``key`` if nobody holds it (it is
        released by :meth:`advisory_unlock` or when this store is closed)."""
        if self._db.dialect != "postgres":
            raise HistoryError("history.failed", path=self.where, detail="advisory-lock: postgres-only")
        with self._guard():
            return bool(self._db.query("SELECT pg_try_advisory_lock(?)", (key,))[0][0])

    def advisory_unlock(self, key: int) -> None:
        with self._guard():
            self._db.query("SELECT pg_advisory_unlock(?)", (key,))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Database failures as a HistoryError naming the store."""
        try:
            yield
        except HistoryError:
            raise
        except sqlite3.DatabaseError as exc:
            raise HistoryError("history.damaged" if not isinstance(exc, sqlite3.OperationalError)
                               else "history.failed", path=self.where, detail=_first_line(exc)) from None
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise HistoryError("history.failed", path=self.where, detail=_first_line(exc)) from None
            raise

    # -------------------------------------------------------------- writing

    def save(self, assessment: AssessmentLike, *, rescored_from: int | None = None,
             batch: BatchItemKey | None = None) -> int:
        """Store ``assessment`` in one transaction; returns its id. With ``rescored_from`` (the id of
        the judgement it re-judges) the facts are not stored again: they are that judgement's.

        With ``batch`` (batch id, domain) the batch's item is marked done in the same transaction,
        and only once: when that item is already done (a task delivered twice, two workers racing)
        nothing is stored and the id of the assessment saved first is returned."""
        if batch is not None:
            done = self._batch_item(batch)
            if done is not None:
                return done
        try:
            return self._save(assessment, rescored_from=rescored_from, batch=batch)
        except HistoryError:
            if batch is not None and (done := self._batch_item(batch)) is not None:
                return done  # another writer committed the same item first (unique key)
            raise

    def _batch_item(self, batch: BatchItemKey) -> int | None:
        with self._guard():
            rows = self._db.query("SELECT assessment_id, failure FROM batch_items WHERE batch_id = ? AND domain = ?",
                                  batch)
        if not rows:
            return None
        return int(rows[0][0]) if rows[0][0] is not None else 0

    def _save(self, assessment: AssessmentLike, *, rescored_from: int | None, batch: BatchItemKey | None) -> int:
        return self._write(prepare(assessment, rescored_from=rescored_from), batch)

    def save_prepared(self, prepared: PreparedSave, *, batch: BatchItemKey | None = None) -> int:
        """:meth:`save` of an assessment made ready with :func:`prepare` (in another process: a batch's
        scanning processes prepare, its one writer saves). Same transaction, same batch rules."""
        if batch is not None:
            done = self._batch_item(batch)
            if done is not None:
                return done
        try:
            return self._write(prepared, batch)
        except HistoryError:
            if batch is not None and (done := self._batch_item(batch)) is not None:
                return done
            raise

    def _write(self, prepared: PreparedSave, batch: BatchItemKey | None) -> int:
        record = prepared.record
        with self._guard(), self._db.transaction():
            if prepared.rescored_from is None:
                assert prepared.facts is not None
                facts_id = self._db.insert(
                    "INSERT INTO facts (uid, started, fact_versions, data) VALUES (?, ?, ?, ?)",
                    (uuid.uuid4().hex, record.summary.started, prepared.fact_versions, prepared.facts))
            else:
                rows = self._db.query("SELECT facts_id FROM assessments WHERE id = ?", (prepared.rescored_from,))
                if not rows:
                    raise HistoryError("history.no-such-id", id=prepared.rescored_from, path=self.where)
                facts_id = int(rows[0][0])
            number = self._insert(record, facts_id, prepared.judgement, prepared.titles)
            if batch is not None:
                self._db.query("INSERT INTO batch_items (batch_id, domain, assessment_id, failure, finished) "
                               "VALUES (?, ?, ?, NULL, ?)", (*batch, number, _now()))
            return number

    # -------------------------------------------------------------- batches

    def start_batch(self, batch_id: str, *, source: str, total: int, meta: Mapping[str, Any]) -> None:
        """Record a batch (idempotent: a batch already known keeps what it had)."""
        with self._guard(), self._db.transaction():
            self._db.query("INSERT INTO batches (id, created, source, total, meta, finished) VALUES (?, ?, ?, ?, ?, NULL) "
                           "ON CONFLICT DO NOTHING", (batch_id, datetime.now(UTC).isoformat(timespec="microseconds"), source, int(total), _dump(dict(meta))))

    def finish_batch(self, batch_id: str) -> None:
        with self._guard(), self._db.transaction():
            self._db.query("UPDATE batches SET finished = ? WHERE id = ? AND finished IS NULL", (_now(), batch_id))

    def record_failure(self, batch: BatchItemKey, key: str, params: Mapping[str, Any]) -> bool:
        """Mark a batch item done without an assessment (the domain cannot be scanned at all);
        False when the item was already done."""
        with self._guard(), self._db.transaction():
            if self._db.query("SELECT 1 FROM batch_items WHERE batch_id = ? AND domain = ?", batch):
                return False
            self._db.query("INSERT INTO batch_items (batch_id, domain, assessment_id, failure, finished) "
                           "VALUES (?, ?, NULL, ?, ?)", (*batch, _dump({"key": key, "params": dict(params)}), _now()))
        return True

    def batch(self, batch_id: str) -> BatchInfo | None:
        with self._guard():
            rows = self._db.query("SELECT id, created, source, total, meta, finished FROM batches WHERE id = ?",
                                  (batch_id,))
            if not rows:
                return None
            done = self._db.query("SELECT COUNT(*) FROM batch_items WHERE batch_id = ?", (batch_id,))
        return _batch_info(rows[0], int(done[0][0]))

    def unfinished_batch(self, source: str) -> BatchInfo | None:
        """The newest batch of ``source`` (a fingerprint of the targets) that did not finish."""
        with self._guard():
            rows = self._db.query("SELECT id, created, source, total, meta, finished FROM batches "
                                  "WHERE source = ? AND finished IS NULL ORDER BY created DESC, id DESC", (source,))
        return self.batch(str(rows[0][0])) if rows else None

    def batch_items(self, batch_id: str) -> dict[str, BatchItem]:
        """Every done item of a batch, by domain."""
        with self._guard():
            rows = self._db.query("SELECT domain, assessment_id, failure, finished FROM batch_items WHERE batch_id = ? "
                                  "ORDER BY domain", (batch_id,))
        return {str(d): BatchItem(str(d), int(a) if a is not None else None,
                                  json.loads(f) if f is not None else None, str(t)) for d, a, f, t in rows}

    def batch_item(self, batch_id: str, domain: str) -> BatchItem | None:
        """One item of a batch if it is done, else None (one indexed row: a worker asks before scanning)."""
        with self._guard():
            rows = self._db.query("SELECT domain, assessment_id, failure, finished FROM batch_items WHERE batch_id = ? "
                                  "AND domain = ?", (batch_id, domain))
        if not rows:
            return None
        name, number, failure, finished = rows[0]
        return BatchItem(str(name), int(number) if number is not None else None,
                         json.loads(failure) if failure is not None else None, str(finished))

    def _insert(self, record: Record, facts_id: int, judgement: bytes,
                titles: Mapping[tuple[str, int], tuple[str, str]]) -> int:
        s = record.summary
        number = self._db.insert(
            "INSERT INTO assessments (uid, facts_id, started, finished, saved, tool_version, catalogue_version, "
            "profile, complete, kind, rescored_from, score, counts, items, check_versions, answers, accepted, "
            "judgement) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.uid, facts_id, s.started, s.finished, s.saved, s.tool_version, s.catalogue_version, s.profile,
             int(s.complete), s.kind, s.rescored_from, s.score, _dump(dict(s.counts)), _dump(dict(s.items)),
             _dump(dict(record.check_versions)), _dump(record.answers) if record.answers is not None else None,
             _dump([accepted_to_dict(a) for a in record.accepted]), judgement),
        )
        self._db.many("INSERT INTO targets (assessment_id, domain, started) VALUES (?, ?, ?)",
                      [(number, d, s.started) for d in dict.fromkeys(s.targets)])
        self._db.many(
            "INSERT INTO findings (assessment_id, key, domain, check_id, check_version, status, severity, source, "
            "accepted, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(number, f.key, f.domain, f.check_id, f.check_version, f.status.value, f.severity.value, f.source,
              int(f.accepted), f.reason) for f in record.findings.values()])
        self._db.many(
            "INSERT INTO titles (check_id, check_version, catalogue_version, nl, en) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(cid, version, s.catalogue_version, nl, en) for (cid, version), (nl, en) in sorted(titles.items())])
        return number

    # -------------------------------------------------------------- reading

    def _targets(self, ids: Sequence[int] | None = None, domain: str | None = None) -> dict[int, tuple[str, ...]]:
        if domain is not None:
            rows = self._db.query("SELECT assessment_id, domain FROM targets WHERE assessment_id IN "
                                  "(SELECT assessment_id FROM targets WHERE domain = ?) ORDER BY assessment_id, domain",
                                  (domain,))
        elif ids is not None and len(ids) == 1:
            rows = self._db.query("SELECT assessment_id, domain FROM targets WHERE assessment_id = ? ORDER BY domain",
                                  (ids[0],))
        else:
            rows = self._db.query("SELECT assessment_id, domain FROM targets ORDER BY assessment_id, domain")
        out: dict[int, list[str]] = {}
        for number, name in rows:
            out.setdefault(int(number), []).append(str(name))
        return {k: tuple(v) for k, v in out.items()}

    def list(self, domain: str | None = None, *, all_judgements: bool = False) -> list[Summary]:
        """Every assessment (of ``domain``), oldest first: the current judgement of each scan, or
        with ``all_judgements`` every judgement (the scan's own and each rescore)."""
        where, params = [], []
        if not all_judgements:
            where.append(_CURRENT)
        if domain is not None:
            where.append("a.id IN (SELECT assessment_id FROM targets WHERE domain = ?)")
            params.append(domain)
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM assessments a"  # noqa: S608 - constant parts; values are bound
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY a.started, a.facts_id, a.id"
        with self._guard():
            rows = self._db.query(sql, params)
            targets = self._targets(domain=domain)
        return [_summary(row, targets.get(int(row[0]), ())) for row in rows]

    def last(self, domain: str, count: int = 2) -> builtins.list[Summary]:
        """The newest ``count`` scans of ``domain`` (current judgements), oldest first: cheap however long
        the history is."""
        sql = (f"SELECT {_SUMMARY_COLUMNS} FROM assessments a WHERE {_CURRENT} "  # noqa: S608 - constant parts
               "AND a.id IN (SELECT assessment_id FROM targets WHERE domain = ?) "
               "ORDER BY a.started DESC, a.facts_id DESC, a.id DESC LIMIT ?")
        with self._guard():
            rows = self._db.query(sql, (domain, count))
            targets = {int(r[0]): self._targets([int(r[0])]).get(int(r[0]), ()) for r in rows}
        return [_summary(row, targets[int(row[0])]) for row in reversed(rows)]

    def domains(self) -> builtins.list[str]:
        """Every domain with a stored assessment."""
        with self._guard():
            return [str(r[0]) for r in self._db.query("SELECT DISTINCT domain FROM targets ORDER BY domain")]

    def get(self, number: int) -> Record:
        """One judgement with its findings. Raises HistoryError ``history.no-such-id``."""
        with self._guard():
            rows = self._db.query(f"SELECT {_SUMMARY_COLUMNS}, a.check_versions, a.answers, a.accepted "  # noqa: S608
                                  "FROM assessments a WHERE a.id = ?", (number,))
            if not rows:
                raise HistoryError("history.no-such-id", id=number, path=self.where)
            row = rows[0]
            found = self._db.query("SELECT key, domain, check_id, check_version, status, severity, source, accepted, "
                                   "reason FROM findings WHERE assessment_id = ? ORDER BY key", (number,))
            targets = self._targets([number])
        findings = {f.key: f for f in map(_finding, found)}
        accepted = tuple(accepted_from_dict(a) for a in json.loads(row[17]))
        return Record(_summary(row, targets.get(number, ())), findings, json.loads(row[15]),
                      json.loads(row[16]) if row[16] is not None else None, accepted)

    def latest(self, domain: str, before: str | None = None) -> Record | None:
        """The newest scan of ``domain`` (its current judgement), observed before ``before`` (ISO time)
        when given; None when there is none."""
        sql = (f"SELECT a.id FROM assessments a WHERE {_CURRENT} "  # noqa: S608 - constant parts; values are bound
               "AND a.id IN (SELECT assessment_id FROM targets WHERE domain = ?)")
        params: list[Any] = [domain]
        if before is not None:
            sql += " AND a.started < ?"
            params.append(before)
        sql += " ORDER BY a.started DESC, a.facts_id DESC, a.id DESC LIMIT 1"
        with self._guard():
            rows = self._db.query(sql, params)
        return self.get(int(rows[0][0])) if rows else None

    def iter_all(self) -> Iterator[Record]:
        """Every judgement, in the order they were saved."""
        with self._guard():
            ids = [int(r[0]) for r in self._db.query("SELECT id FROM assessments ORDER BY id")]
        for number in ids:
            yield self.get(number)

    def count(self) -> int:
        with self._guard():
            return int(self._db.query("SELECT COUNT(*) FROM assessments")[0][0])

    def results(self, number: int) -> builtins.list[dict[str, Any]]:
        """The full stored results of a judgement (as in the JSON report)."""
        with self._guard():
            rows = self._db.query("SELECT judgement FROM assessments WHERE id = ?", (number,))
        if not rows:
            raise HistoryError("history.no-such-id", id=number, path=self.where)
        data = _unpack(rows[0][0])
        return list(data.get("results") or [])

    def facts(self, number: int) -> dict[str, Any]:
        """The stored scan JSON of a judgement's facts (without results)."""
        with self._guard():
            rows = self._db.query("SELECT f.data FROM facts f JOIN assessments a ON a.facts_id = f.id WHERE a.id = ?",
                                  (number,))
        if not rows:
            raise HistoryError("history.no-such-id", id=number, path=self.where)
        data: dict[str, Any] = _unpack(rows[0][0])
        return data

    def scan(self, number: int, registry: Registry) -> Scan:
        """The stored scan of a judgement, facts migrated to the installed fact versions (as
        ``cyberscan report`` reads a JSON report), ready to be judged again."""
        data = self.facts(number)
        data["results"] = [r for r in self.results(number) if r.get("source", "scan") == "scan"]
        return scan_from_dict(data, registry)

    def accepted(self, number: int) -> tuple[AcceptedRisk, ...]:
        return self.get(number).accepted

    def titles(self, prefer: str | None = None) -> dict[str, dict[str, str]]:
        """Check id -> ``{"nl": title, "en": title}``, from the catalogue version ``prefer`` where
        it has the check, else the newest stored."""
        with self._guard():
            rows = self._db.query("SELECT check_id, check_version, catalogue_version, nl, en FROM titles "
                                  "ORDER BY check_id, check_version, catalogue_version")
        out: dict[str, dict[str, str]] = {}
        chosen: dict[str, bool] = {}
        for check_id, _version, cat, nl, en in rows:
            if chosen.get(check_id):
                continue
            out[check_id] = {"nl": str(nl), "en": str(en)}
            chosen[check_id] = prefer is not None and cat == prefer
        return out

    # -------------------------------------------------------------- moving

    def export_to(self, stream: IO[str]) -> int:
        """Write every judgement (facts included) as JSON Lines; returns how many."""
        stream.write(_dump({"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "schema": SCHEMA_VERSION,
                            "tool_version": __version__}) + "\n")
        uids: dict[int, str] = {}
        facts_uids: dict[int, str] = {}
        written = 0
        with self._guard():
            for (number,) in self._db.query("SELECT id FROM assessments ORDER BY id"):
                row = self._db.query(
                    "SELECT a.uid, a.started, a.finished, a.saved, a.tool_version, a.catalogue_version, a.profile, "
                    "a.complete, a.kind, a.rescored_from, a.score, a.counts, a.items, a.check_versions, a.answers, "
                    "a.accepted, a.judgement, f.id, f.uid, f.fact_versions FROM assessments a "
                    "JOIN facts f ON f.id = a.facts_id WHERE a.id = ?", (number,))[0]
                uids[int(number)] = str(row[0])
                facts_id, facts_uid = int(row[17]), str(row[18])
                item: dict[str, Any] = {
                    "uid": row[0], "started": row[1], "finished": row[2], "saved": row[3], "tool_version": row[4],
                    "catalogue_version": row[5], "profile": row[6], "complete": bool(row[7]), "kind": row[8],
                    "rescored_from": uids.get(int(row[9])) if row[9] is not None else None, "score": row[10],
                    "counts": json.loads(row[11]), "items": json.loads(row[12]),
                    "check_versions": json.loads(row[13]),
                    "answers": json.loads(row[14]) if row[14] is not None else None,
                    "accepted": json.loads(row[15]), "judgement": _unpack(row[16]), "facts_uid": facts_uid,
                    "targets": list(self._targets([int(number)]).get(int(number), ())),
                    "findings": [list(r) for r in self._db.query(
                        "SELECT key, domain, check_id, check_version, status, severity, source, accepted, reason "
                        "FROM findings WHERE assessment_id = ? ORDER BY key", (number,))],
                }
                if facts_id not in facts_uids:  # the facts travel once, with the first judgement of them
                    facts_uids[facts_id] = facts_uid
                    data = self._db.query("SELECT data FROM facts WHERE id = ?", (facts_id,))[0][0]
                    item["facts"] = {"fact_versions": json.loads(row[19]), "data": _unpack(data)}
                stream.write(_dump(item) + "\n")
                written += 1
            titles = self._db.query("SELECT check_id, check_version, catalogue_version, nl, en FROM titles "
                                    "ORDER BY check_id, check_version, catalogue_version")
        stream.write(_dump({"titles": [list(t) for t in titles]}) + "\n")
        return written

    def import_from(self, stream: IO[str]) -> tuple[int, int]:
        """Add the judgements of an export that this store does not have yet (by their uid), one
        transaction each. Returns (added, already present). Raises HistoryError ``history.bad-export``."""
        added = present = 0
        first = stream.readline()
        try:
            head = json.loads(first) if first.strip() else {}
        except json.JSONDecodeError:
            head = {}
        if not isinstance(head, dict) or head.get("format") != EXPORT_FORMAT:
            raise HistoryError("history.not-an-export")
        if not isinstance(head.get("version"), int) or head["version"] > EXPORT_VERSION:
            raise HistoryError("history.newer-export", version=str(head.get("version"))[:20], supported=EXPORT_VERSION)
        for line_no, line in enumerate(stream, start=2):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if "titles" in item:
                    with self._guard(), self._db.transaction():
                        self._db.many("INSERT INTO titles (check_id, check_version, catalogue_version, nl, en) "
                                      "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                      [(str(a), int(b), str(c), str(d), str(e)) for a, b, c, d, e in item["titles"]])
                    continue
                if self._import_one(item):
                    added += 1
                else:
                    present += 1
            except HistoryError:
                raise
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                raise HistoryError("history.bad-export", line=line_no) from None
        return added, present

    def _import_one(self, item: Mapping[str, Any]) -> bool:
        with self._guard(), self._db.transaction():
            if self._db.query("SELECT id FROM assessments WHERE uid = ?", (str(item["uid"]),)):
                return False
            rows = self._db.query("SELECT id FROM facts WHERE uid = ?", (str(item["facts_uid"]),))
            if rows:
                facts_id = int(rows[0][0])
            else:
                facts = item["facts"]
                facts_id = self._db.insert(
                    "INSERT INTO facts (uid, started, fact_versions, data) VALUES (?, ?, ?, ?)",
                    (str(item["facts_uid"]), str(item["started"]), _dump(dict(facts["fact_versions"])),
                     _pack(dict(facts["data"]))))
            rescored_from = None
            if item.get("rescored_from"):
                found = self._db.query("SELECT id FROM assessments WHERE uid = ?", (str(item["rescored_from"]),))
                rescored_from = int(found[0][0]) if found else None
            summary = Summary(
                id=None, uid=str(item["uid"]), targets=tuple(str(t) for t in item["targets"]),
                started=str(item["started"]), finished=str(item["finished"]), saved=str(item["saved"]),
                tool_version=str(item["tool_version"]), catalogue_version=str(item["catalogue_version"]),
                profile=str(item["profile"]), complete=bool(item["complete"]), kind=str(item["kind"]),
                rescored_from=rescored_from, score=float(item["score"]) if item.get("score") is not None else None,
                counts={str(k): int(v) for k, v in dict(item["counts"]).items()},
                items={str(k): (float(v) if v is not None else None) for k, v in dict(item["items"]).items()},
            )
            findings = {str(r[0]): _finding(r) for r in item["findings"]}
            accepted = tuple(accepted_from_dict(a) for a in item.get("accepted") or ())
            record = Record(summary, findings, {str(k): int(v) for k, v in dict(item["check_versions"]).items()},
                            item.get("answers"), accepted)
            self._insert(record, facts_id, _pack(dict(item["judgement"])), {})
            return True
