"""The summary of a batch: one small row per domain, streamed while the batch runs, and the final CSV
and JSON files written atomically at the end.

A :class:`Row` is what a sector overview needs of one domain: who it is (organisation, sector from
the targets file), the score per framework, the results counted per status, the worst findings and
the first actions, why it could not be scanned if it could not, and the id of its assessment in the
history store (where everything else is). Rows are made where the assessment is (a scanning
process) and are a few hundred bytes: the batch never holds its assessments.

While the batch runs, :class:`SummaryWriter` appends each row as one JSON line to
``<summary>.rows.jsonl`` (written through at once, so a killed process loses nothing already
written). :meth:`SummaryWriter.finish` writes ``<summary>.csv`` and ``<summary>.json`` for the whole
batch through temporary files and renames (a reader never sees half a file). ``--resume`` reads the
rows back, keeps only those the batch journal confirms (same domain, same assessment id), and
rebuilds the missing ones from the history store (:func:`row_from_store`), so the summary of a
resumed batch covers every domain of it, however the first run ended.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from ..actions import prioritise
from ..assessment import Assessment
from ..atomicfile import atomic_text
from ..catalogue import Catalogue, Profile
from ..errors import UsageError
from ..history import BatchItem, Store
from ..models import Result, Status
from ..readiness import Readiness
from ..readiness import assess as assess_readiness
from ..serialize import result_from_dict
from ..texts import say, text
from .targets import Target

FORMAT = "cyberscan-batch-summary"
VERSION = 1
WORST = 3  # findings and actions a row names
STATUSES = tuple(s.value for s in Status)

ASSESSED, NOT_SCANNED, CRASHED = "assessed", "not-scanned", "error"


@dataclass(frozen=True, slots=True)
class Row:
    """One domain of a batch in the summary."""

    domain: str
    organisation: str = ""
    sector: str = ""
    state: str = ASSESSED  # assessed | not-scanned (the domain cannot be scanned at all) | error (crashed)
    assessment: int | None = None  # id in the history store
    complete: bool = True
    scores: Mapping[str, float | None] = field(default_factory=dict)  # framework id -> 0..1 (None: not scored)
    counts: Mapping[str, int] = field(default_factory=dict)  # results per status
    worst: tuple[Mapping[str, str], ...] = ()  # {check, status, severity}, worst first
    actions: tuple[Mapping[str, str], ...] = ()  # {id, severity, title}, first to do first
    fail_rank: int = -1  # the highest severity rank of a failing finding not accepted (-1: none)
    failure: str = ""  # message key when not assessed
    failure_text: str = ""  # that message, in the batch's language

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["worst"] = [dict(w) for w in self.worst]
        out["actions"] = [dict(a) for a in self.actions]
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Row:
        return cls(
            domain=str(raw["domain"]), organisation=str(raw.get("organisation", "")), sector=str(raw.get("sector", "")),
            state=str(raw.get("state", ASSESSED)),
            assessment=int(raw["assessment"]) if raw.get("assessment") is not None else None,
            complete=bool(raw.get("complete", True)),
            scores={str(k): (float(v) if v is not None else None) for k, v in dict(raw.get("scores") or {}).items()},
            counts={str(k): int(v) for k, v in dict(raw.get("counts") or {}).items()},
            worst=tuple({str(k): str(v) for k, v in dict(w).items()} for w in raw.get("worst") or ()),
            actions=tuple({str(k): str(v) for k, v in dict(a).items()} for a in raw.get("actions") or ()),
            fail_rank=int(raw.get("fail_rank", -1)), failure=str(raw.get("failure", "")),
            failure_text=str(raw.get("failure_text", "")),
        )

    @property
    def failed(self) -> bool:
        return self.state != ASSESSED


# ----------------------------------------------------------------------------- making rows


def _judged(target: Target, results: Sequence[Result], readiness: Readiness, actions: Iterable[Any],
            lang: str) -> Row:
    counts = {s: 0 for s in STATUSES}
    for r in results:
        counts[r.status.value] += 1
    bad = [r for r in results if r.status in (Status.FAIL, Status.WARN) and r.accepted is None]
    bad.sort(key=lambda r: (r.status is not Status.FAIL, -r.severity.rank, r.check_id))
    worst: list[dict[str, str]] = []
    for r in bad:
        if all(w["check"] != r.check_id for w in worst):
            worst.append({"check": r.check_id, "status": r.status.value, "severity": r.severity.value})
        if len(worst) == WORST:
            break
    fails = [r.severity.rank for r in results if r.status is Status.FAIL and r.accepted is None]
    first = [{"id": a.id, "severity": a.severity.value, "title": text(a.title, lang)}
             for _, a in zip(range(WORST), actions, strict=False)]
    return Row(target.domain, target.organisation, target.sector, ASSESSED,
               scores={f.framework_id: f.score for f in readiness.frameworks}, counts=counts, worst=tuple(worst),
               actions=tuple(first), fail_rank=max(fails, default=-1))


def row_of(target: Target, assessment: Assessment, lang: str) -> Row:
    """The row of a fresh assessment (its id is added once the writer has saved it)."""
    if assessment.failures and not assessment.scan.targets:
        failure = assessment.failures[0]
        return not_scanned(target, failure.key, failure.params, lang)
    row = _judged(target, assessment.results, assessment.readiness, assessment.actions, lang)
    return replace(row, complete=assessment.complete)


def not_scanned(target: Target, key: str, params: Mapping[str, Any], lang: str, *, state: str = NOT_SCANNED) -> Row:
    """The row of a domain that could not be scanned (``state`` ``error``: its scan crashed)."""
    return Row(target.domain, target.organisation, target.sector, state, complete=False, failure=key,
               failure_text=say(key, lang, **params))


def row_from_store(store: Store, item: BatchItem, target: Target, *, catalogue: Catalogue, profile: Profile,
                   lang: str) -> Row:
    """A row rebuilt from what the history store keeps (a resumed batch whose first run ended before
    it wrote the row): the stored results judged into readiness and actions as :func:`assess` does."""
    if item.assessment is None:
        failure = dict(item.failure or {})
        key = str(failure.get("key", "batch.unknown-failure"))
        params = dict(failure.get("params") or {})
        return not_scanned(target, key, params, lang, state=str(params.pop("state", NOT_SCANNED)))
    results = [result_from_dict(r) for r in store.results(item.assessment)]
    frameworks = list(profile.frameworks) if profile.frameworks else None
    readiness = assess_readiness(catalogue, results, frameworks)
    actions = prioritise(catalogue, results, limit=WORST)
    record = store.get(item.assessment)
    row = _judged(target, results, readiness, actions, lang)
    return replace(row, assessment=item.assessment, complete=record.summary.complete)


# ----------------------------------------------------------------------------- files


def check_symlink(path: Path) -> None:
    if path.is_symlink():
        raise UsageError("output.symlink", path=str(path))


def paths(stem: Path) -> tuple[Path, Path, Path]:
    """(CSV, JSON, rows journal) for a summary named ``stem`` (without suffix)."""
    return stem.with_name(stem.name + ".csv"), stem.with_name(stem.name + ".json"), \
        stem.with_name(stem.name + ".rows.jsonl")


def csv_header(frameworks: Sequence[str]) -> list[str]:
    return ["domain", "organisation", "sector", "state", "assessment", "complete",
            *[f"score_{f}" for f in frameworks], *STATUSES, "worst_findings", "top_actions", "failure", "failure_text"]


def csv_cells(row: Row, frameworks: Sequence[str]) -> list[str]:
    def score(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    return [row.domain, row.organisation, row.sector, row.state, "" if row.assessment is None else str(row.assessment),
            "yes" if row.complete else "no", *[score(row.scores.get(f)) for f in frameworks],
            *[str(row.counts.get(s, 0)) if row.state == ASSESSED else "" for s in STATUSES],
            "; ".join(f"{w['check']} ({w['status']}, {w['severity']})" for w in row.worst),
            " | ".join(a["title"] for a in row.actions), row.failure, row.failure_text]


class SummaryWriter:
    """Streams rows to the rows journal while the batch runs; writes the final CSV and JSON."""

    def __init__(self, stem: Path, *, frameworks: Sequence[str]) -> None:
        self.csv_path, self.json_path, self.rows_path = paths(stem)
        self.frameworks = list(frameworks)
        self._handle: IO[str] | None = None

    def check(self) -> None:
        """Refuse, before the batch starts, paths that are links or folders."""
        for path in (self.csv_path, self.json_path, self.rows_path):
            check_symlink(path)
            if path.exists() and not path.is_file():
                raise UsageError("output.not-a-file", path=str(path))

    def open(self, batch: str, *, keep: bool) -> None:
        """Start the rows journal: continue it (``keep``: a resumed batch) or start it with a first line
        naming batch ``batch`` (:meth:`started_batch`)."""
        self.rows_path.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if keep and self.rows_path.exists():
            with self.rows_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell():
                    handle.seek(-1, os.SEEK_END)
                    torn = handle.read(1) != b"\n"  # a line cut off by a kill: end it, never extend it
        self._handle = self.rows_path.open("a" if keep else "w", encoding="utf-8")
        if torn:
            self._handle.write("\n")
        if not keep:
            self._handle.write(json.dumps({"batch": batch, "started": True}) + "\n")
            self._handle.flush()

    def started_batch(self) -> str | None:
        """The batch that started the rows journal (None: no journal, or not one of ours)."""
        try:
            with self.rows_path.open(encoding="utf-8") as handle:
                first = json.loads(handle.readline(4096))
        except (OSError, ValueError):
            return None
        batch = first.get("batch") if isinstance(first, dict) else None
        return batch if isinstance(batch, str) else None

    def add(self, row: Row, batch: str) -> None:
        """Append one row of batch ``batch`` (written through to the file at once)."""
        assert self._handle is not None
        line = {"batch": batch, **row.to_dict()}
        self._handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def written(self, batch: str) -> dict[str, Row]:
        """The rows of batch ``batch`` in the rows journal, by domain (the last one counts; a torn line
        is skipped)."""
        rows: dict[str, Row] = {}
        try:
            handle = self.rows_path.open(encoding="utf-8")
        except OSError:
            return rows
        with handle:
            for line in handle:
                try:
                    raw = json.loads(line)
                    if raw.get("batch") != batch:
                        continue
                    row = Row.from_dict(raw)
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
                rows[row.domain] = row
        return rows

    def finish(self, rows: Iterable[Row], header: Mapping[str, Any]) -> None:
        """Write the CSV and the JSON of ``rows`` (in target order) atomically, streaming."""
        with atomic_text(self.csv_path, newline="") as out_csv, atomic_text(self.json_path, newline="") as out_json:
            writer = csv.writer(out_csv)
            writer.writerow(csv_header(self.frameworks))
            head = json.dumps({"format": FORMAT, "version": VERSION, **header}, ensure_ascii=False, indent=1)
            out_json.write(head[:-2] + ',\n "rows": [')
            first = True
            for row in rows:
                writer.writerow(csv_cells(row, self.frameworks))
                out_json.write(("\n  " if first else ",\n  ") + json.dumps(row.to_dict(), ensure_ascii=False))
                first = False
            out_json.write("\n ]\n}\n")


def read_summary(path: Path) -> dict[str, Any]:
    """A summary JSON file (for tests and tools)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


__all__ = ["ASSESSED", "CRASHED", "NOT_SCANNED", "Row", "SummaryWriter", "not_scanned", "paths",
           "read_csv", "read_summary", "row_from_store", "row_of"]
