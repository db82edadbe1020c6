"""The targets file of a batch: which domains, and who they belong to.

Two forms, told apart by the first line that is not blank or a ``#`` comment:

- plain text: one domain a line (a URL or e-mail address is reduced to its domain, as on the
  command line); ``#`` starts a comment;
- CSV (that first line is a header naming a ``domain`` column; comma, semicolon or tab): the
  columns ``domain``, and optionally ``organisation`` (or ``organization``, ``naam``, ``name``),
  ``sector`` and ``hosts`` (extra host names of that domain to scan, separated by spaces, commas or
  semicolons inside the cell). Other columns are ignored.

A broken file is refused as a whole, never half-read: the error names the first bad lines (at most
five) and what is wrong with them. A domain listed twice is scanned once (the first row counts).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, UsageError
from ..scope import normalize_domain

MAX_BYTES = 20 * 1024 * 1024  # a targets file larger than this is refused
MAX_TARGETS = 100_000
MAX_LINE = 4096
MAX_HOSTS = 20  # extra hosts per domain
MAX_FIELD = 300  # organisation and sector names are cut to this length
SHOWN_ERRORS = 5

_DOMAIN_COLUMNS = ("domain", "domein", "domeinnaam")
_ORG_COLUMNS = ("organisation", "organization", "organisatie", "naam", "name")
_SECTOR_COLUMNS = ("sector",)
_HOSTS_COLUMNS = ("hosts", "extra hosts", "extra_hosts", "extra-hosts")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Target:
    """One domain of a batch, with where it came from (the line in the targets file)."""

    domain: str
    organisation: str = ""
    sector: str = ""
    hosts: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class TargetsFile:
    """What a targets file holds: the targets in file order, and how many duplicate rows were dropped."""

    targets: tuple[Target, ...]
    duplicates: int = 0
    csv: bool = False


def read_targets(path: str | Path) -> TargetsFile:
    """Read and check a targets file. Raises ConfigError (key ``targets.*``) when it cannot be used."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("targets.not-found", path=where) from None
    except IsADirectoryError:
        raise ConfigError("targets.not-a-file", path=where) from None
    except OSError as exc:
        raise ConfigError("targets.unreadable", path=where, detail=exc.strerror or str(exc)) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError("targets.too-large", path=where, limit=MAX_BYTES // (1024 * 1024))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("targets.not-utf8", path=where, line=line) from None
    return parse_targets(text, where)


def parse_targets(text: str, where: str = "-") -> TargetsFile:
    """The targets in ``text`` (the contents of a targets file). Raises ConfigError."""
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        raise ConfigError("targets.empty", path=where)
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE:
            raise ConfigError("targets.line-too-long", path=where, line=number, limit=MAX_LINE)
    header = lines[first]
    is_csv = _column(_cells(header), _DOMAIN_COLUMNS) is not None  # a header, also of a single column
    rows = _csv_rows(lines, first, where) if is_csv else _text_rows(lines)
    targets: list[Target] = []
    seen: set[str] = set()
    errors: list[str] = []
    duplicates = 0
    for number, domain, organisation, sector, hosts in rows:
        try:
            name = normalize_domain(domain).domain
            extra = tuple(dict.fromkeys(normalize_domain(h).domain for h in hosts))
        except UsageError as exc:
            errors.append(f"{number}: {exc.key}:{_clean(domain)[:80]}")
            continue
        if len(extra) > MAX_HOSTS:
            errors.append(f"{number}: targets.too-many-hosts:{len(extra)}")
            continue
        if name in seen:
            duplicates += 1
            continue
        seen.add(name)
        targets.append(Target(name, _clean(organisation)[:MAX_FIELD], _clean(sector)[:MAX_FIELD], extra, number))
        if len(targets) > MAX_TARGETS:
            raise ConfigError("targets.too-many", path=where, limit=MAX_TARGETS)
    if errors:
        raise ConfigError("targets.bad-lines", path=where, count=len(errors),
                          lines="; ".join(errors[:SHOWN_ERRORS]))
    if not targets:
        raise ConfigError("targets.empty", path=where)
    return TargetsFile(tuple(targets), duplicates, is_csv)


def fingerprint(targets: Sequence[Target], *parts: str) -> str:
    """A stable name for this list of targets (and the settings in ``parts``): how ``--resume``
    finds the interrupted batch of the same file and settings."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") + b"\x00")
    for target in targets:
        digest.update(f"{target.domain}\x01{' '.join(target.hosts)}\x00".encode())
    return "targets:" + digest.hexdigest()[:32]


# ----------------------------------------------------------------------------- reading rows

Row = tuple[int, str, str, str, tuple[str, ...]]


def _text_rows(lines: Sequence[str]) -> list[Row]:
    rows: list[Row] = []
    for number, line in enumerate(lines, 1):
        value = line.split("#", 1)[0].strip()
        if value:
            rows.append((number, value, "", "", ()))
    return rows


def _cells(line: str) -> list[str]:
    dialect = _dialect(line)
    return [c.strip().lower() for c in next(csv.reader([line], dialect))]


def _dialect(header: str) -> type[csv.Dialect]:
    counts = {sep: header.count(sep) for sep in ",;\t"}
    sep = max(counts, key=lambda s: counts[s])

    class Dialect(csv.excel):
        delimiter = sep

    return Dialect


def _column(header: Sequence[str], names: Sequence[str]) -> int | None:
    return next((i for i, cell in enumerate(header) if cell in names), None)


def _csv_rows(lines: Sequence[str], first: int, where: str) -> list[Row]:
    header = _cells(lines[first])
    dialect = _dialect(lines[first])
    domain_at = _column(header, _DOMAIN_COLUMNS)
    assert domain_at is not None
    org_at, sector_at, hosts_at = (_column(header, names) for names in (_ORG_COLUMNS, _SECTOR_COLUMNS, _HOSTS_COLUMNS))
    body = "\n".join(lines[first + 1:])
    rows: list[Row] = []
    try:
        reader = csv.reader(io.StringIO(body), dialect)
        for cells in reader:
            number = first + 1 + reader.line_num
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue

            def cell(index: int | None, cells: list[str] = cells) -> str:
                return cells[index].strip() if index is not None and index < len(cells) else ""

            domain = cell(domain_at)
            if not domain:
                rows.append((number, "", "", "", ()))
                continue
            hosts = tuple(h for h in re.split(r"[\s,;]+", cell(hosts_at)) if h)
            rows.append((number, domain, cell(org_at), cell(sector_at), hosts))
    except csv.Error as exc:
        raise ConfigError("targets.bad-csv", path=where, detail=str(exc)[:200]) from None
    return rows


def _clean(value: str) -> str:
    return _CONTROL.sub(" ", value).strip()


__all__ = ["MAX_TARGETS", "Target", "TargetsFile", "fingerprint", "parse_targets", "read_targets"]
