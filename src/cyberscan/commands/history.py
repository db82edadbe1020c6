"""``cyberscan history`` and ``cyberscan diff``, and what ``scan`` needs to save (``rescore``: rescore.py).

The store is chosen with ``--db PATH|URL``, else ``CYBERSCAN_DB``, else ``history.sqlite`` in the
user's data folder. ``history`` and ``diff`` read only the stored rows (no catalogue, no facts);
``rescore`` judges the stored facts again under the installed catalogue
(:func:`cyberscan.assessment.reassess`) and stores that judgement beside the old one, so the history
and diffs show real change, and say where the rules changed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import click

from ..atomicfile import open_atomic
from ..errors import UsageError
from ..history import HistoryError, Record, Store, Summary, open_store
from ..history.context import since, trend
from ..history.diff import KINDS, NOT_COMPARABLE, UNCHANGED, Change, Diff, compare
from ..history.record import AssessmentLike, subject_label
from ..scope import normalize_domain
from ..texts import say
from .common import EXIT_IO, EXIT_USAGE, LANGS, echo, fail, fail_with, lang_of
from .help import h

FORMATS = click.Choice(["text", "json"])


def db_option(func: Any) -> Any:
    return click.option("--db", "db", metavar="PATH|URL", default=None, help=h("opt.db"))(func)


def open_or_fail(db: str | None, lang: str) -> Store:
    """The chosen store, or a one-line exit (4). Says so when a damaged file was moved aside."""
    try:
        store = open_store(db)
    except HistoryError as exc:
        fail_with(exc, EXIT_IO, lang)
    if store.moved_aside is not None:
        moved, detail = store.moved_aside
        echo("history.moved-aside", lang, path=store.where, moved=str(moved), detail=detail)
    return store


def _domain(value: str, lang: str) -> str:
    try:
        return normalize_domain(value).domain
    except UsageError as exc:
        fail_with(exc, EXIT_USAGE, lang)


def _date(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _percent(score: float | None) -> str:
    return "–" if score is None else f"{round(score * 100)}%"


def _unjudged(counts: Any) -> int:
    return int(counts.get("error", 0)) + int(counts.get("skipped", 0))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for row in [header, *rows]:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return out


# ----------------------------------------------------------------------------- history


def summary_to_dict(s: Summary) -> dict[str, Any]:
    return {
        "id": s.id, "uid": s.uid, "targets": list(s.targets), "started": s.started, "finished": s.finished,
        "saved": s.saved, "tool_version": s.tool_version, "catalogue_version": s.catalogue_version,
        "profile": s.profile, "complete": s.complete, "kind": s.kind, "rescored_from": s.rescored_from,
        "score": s.score, "counts": dict(s.counts), "items": dict(s.items),
    }


def history_text(summaries: Sequence[Summary], where: str, domain: str | None, lang: str) -> str:
    if not summaries:
        return say("history.empty-domain" if domain else "history.empty", lang, path=where, domain=domain) + "\n"
    title = say("history.title-domain" if domain else "history.title", lang, path=where, domain=domain,
                count=len(summaries))
    header = [say("history.col.id", lang), say("history.col.date", lang)]
    if domain is None:
        header.append(say("history.col.domain", lang))
    header += [say(f"history.col.{c}", lang) for c in ("score", "fail", "warn", "pass", "unjudged", "catalogue", "tool")]
    rows = []
    for s in summaries:
        row = [str(s.id), _date(s.started)]
        if domain is None:
            row.append(", ".join(s.targets))
        row += [_percent(s.score), str(s.counts.get("fail", 0)), str(s.counts.get("warn", 0)),
                str(s.counts.get("pass", 0)), str(_unjudged(s.counts)), s.catalogue_version, s.tool_version]
        flags = []
        if not s.complete:
            flags.append(say("history.flag.incomplete", lang))
        if s.rescored_from is not None:
            flags.append(say("history.flag.rescored", lang, id=s.rescored_from))
        row.append("; ".join(flags))
        rows.append(row)
    first = 3 if domain is None else 2
    lines = _table([*header, ""], rows, right={0, *range(first, first + 5)})
    return "\n".join([title, "", *lines]) + "\n"


@contextlib.contextmanager
def _atomic_text(path: Path) -> Iterator[IO[str]]:
    """A text stream that becomes ``path`` only when complete (gzip for ``.gz``); private (0600):
    answers and accepted risks are the organisation's own."""
    with open_atomic(path, mode=0o600) as raw:
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="wb") if path.suffix == ".gz" else raw  # type: ignore[assignment]
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="\n")
        yield text
        text.flush()
        text.detach()
        if binary is not raw:
            binary.close()  # the gzip trailer; the file itself stays open for open_atomic


def _open_export(path: Path) -> IO[str]:
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    binary: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw  # type: ignore[assignment]
    return io.TextIOWrapper(binary, encoding="utf-8")


@click.command("history", help=h("history.help"))
@click.argument("domain", required=False)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help=h("opt.history-format"))
@click.option("--export", "export_file", type=click.Path(dir_okay=False, path_type=Path), help=h("opt.export"))
@click.option("--import", "import_file", type=click.Path(dir_okay=False, path_type=Path), help=h("opt.import"))
@click.option("--all", "all_judgements", is_flag=True, help=h("opt.all-judgements"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@db_option
def history_cmd(domain: str | None, fmt: str, export_file: Path | None, import_file: Path | None,
                all_judgements: bool, lang: str | None, db: str | None) -> None:
    language = lang_of(lang)
    if export_file is not None and import_file is not None:
        fail("history.export-and-import", EXIT_USAGE, language)
    name = _domain(domain, language) if domain else None
    with open_or_fail(db, language) as store:
        try:
            if export_file is not None:
                try:
                    with _atomic_text(export_file) as stream:
                        count = store.export_to(stream)
                except OSError as exc:
                    fail("file.unwritable", EXIT_IO, language, path=str(export_file), detail=exc.strerror or str(exc))
                except UsageError as exc:  # a symbolic link
                    fail_with(exc, EXIT_USAGE, language)
                echo("history.exported", language, count=count, path=str(export_file))
                return
            if import_file is not None:
                try:
                    with _open_export(import_file) as stream:
                        added, present = store.import_from(stream)
                except (OSError, EOFError, UnicodeDecodeError) as exc:
                    fail("file.unreadable", EXIT_IO, language, path=str(import_file), detail=str(exc)[:200])
                echo("history.imported", language, added=added, present=present, path=str(import_file))
                return
            summaries = store.list(name, all_judgements=all_judgements)
        except HistoryError as exc:
            fail_with(exc, EXIT_USAGE if exc.key in _USAGE_KEYS else EXIT_IO, language)
    if fmt == "json":
        click.echo(json.dumps({"store": store.where, "domain": name,
                               "assessments": [summary_to_dict(s) for s in summaries]}, indent=2, ensure_ascii=False))
    else:
        click.echo(history_text(summaries, store.where, name, language), nl=False)


_USAGE_KEYS = {"history.no-such-id", "history.not-an-export", "history.bad-export", "history.newer-export"}


# ----------------------------------------------------------------------------- diff


def _pair(store: Store, args: Sequence[str], lang: str) -> tuple[Record, Record, str | None]:
    """The two judgements to compare, and the domain the comparison is about (None: all)."""
    if len(args) > 2 or (len(args) == 2 and not all(a.isdigit() for a in args)):
        fail("history.bad-args", EXIT_USAGE, lang)
    if len(args) == 2:
        old, new = store.get(int(args[0])), store.get(int(args[1]))
        common = sorted(set(old.summary.targets) & set(new.summary.targets))
        return old, new, common[0] if len(common) == 1 else None
    if len(args) == 1 and args[0].isdigit():
        new = store.get(int(args[0]))
        if len(new.summary.targets) != 1:
            fail("history.bad-args", EXIT_USAGE, lang)
        domain = new.summary.targets[0]
        order = (new.summary.started, new.summary.facts_id or 0)
        earlier = [s for s in store.list(domain) if (s.started, s.facts_id or 0) < order]
        if not earlier:
            fail("history.no-earlier", EXIT_USAGE, lang, domain=domain, id=args[0])
        return store.get(earlier[-1].id or 0), new, domain
    if args:
        domain = _domain(args[0], lang)
    else:
        domains = store.domains()
        if not domains:
            fail("history.too-few-any", EXIT_USAGE, lang)
        if len(domains) > 1:
            fail("history.which-domain", EXIT_USAGE, lang, domains=", ".join(domains[:10]))
        domain = domains[0]
    summaries = store.last(domain, 2)
    if len(summaries) < 2:
        fail("history.too-few", EXIT_USAGE, lang, domain=domain)
    return store.get(summaries[-2].id or 0), store.get(summaries[-1].id or 0), domain


def _side_dict(finding: Any) -> dict[str, Any] | None:
    if finding is None:
        return None
    return {"status": finding.status.value, "severity": finding.severity.value, "check_version": finding.check_version,
            "source": finding.source, "accepted": finding.accepted, "reason": finding.reason}


def diff_to_dict(diff: Diff, titles: dict[str, dict[str, str]]) -> dict[str, Any]:
    r = diff.rules
    return {
        "domain": diff.domain,
        "old": summary_to_dict(diff.old),
        "new": summary_to_dict(diff.new),
        "counts": diff.counts,
        "rules": {
            "changed": r.any,
            "catalogue": list(r.catalogue) if r.catalogue else None,
            "tool": list(r.tool) if r.tool else None,
            "profile": list(r.profile) if r.profile else None,
            "checks": [{"check_id": c, "old": o, "new": n} for c, o, n in r.changed],
            "added": list(r.added),
            "removed": list(r.removed),
        },
        "changes": [
            {"key": c.key, "kind": c.kind, "check_id": c.check_id, "title": titles.get(c.check_id),
             "subject": subject_label(c.key), "reason": c.reason, "old": _side_dict(c.old), "new": _side_dict(c.new)}
            for c in diff.changes
        ],
    }


def _status(finding: Any, lang: str) -> str:
    return say(f"status.{finding.status.value}", lang) if finding is not None else say("status.absent", lang)


def _line(change: Change, titles: dict[str, dict[str, str]], lang: str) -> str:
    title = titles.get(change.check_id, {}).get(lang) or change.check_id
    move = f"{_status(change.old, lang)} → {_status(change.new, lang)}"
    extra = f" ({say('diff.reason.' + change.reason, lang)})" if change.reason else ""
    return f"  - {title} — {subject_label(change.key)}: {move}{extra}"


def diff_text(diff: Diff, titles: dict[str, dict[str, str]], lang: str) -> str:
    old, new = diff.old, diff.new
    for_domain = say("diff.for-domain", lang, domain=diff.domain) if diff.domain else ""
    lines = [say("diff.title", lang, for_domain=for_domain, old=old.id, new=new.id, old_date=_date(old.started),
                 new_date=_date(new.started)),
             say("diff.score", lang, old=_percent(old.score), new=_percent(new.score))]
    for side in (old, new):
        if not side.complete:
            lines.append(say("diff.incomplete", lang, id=side.id))
    shown = False
    for kind in KINDS:
        if kind in (UNCHANGED, NOT_COMPARABLE):
            continue
        changes = diff.of(kind)
        if changes:
            shown = True
            lines += ["", f"{say('diff.kind.' + kind, lang)} ({len(changes)})"]
            lines += [_line(c, titles, lang) for c in changes]
    if not shown:
        lines += ["", say("diff.nothing", lang)]
    lines += ["", say("diff.unchanged-count", lang, count=diff.counts[UNCHANGED])]
    # not comparable: list those judged on one side (something a reader may miss), count the rest
    odd = [c for c in diff.of(NOT_COMPARABLE) if (c.old is not None and c.old.judged) or (c.new is not None and c.new.judged)]
    lines.append(say("diff.not-comparable-count", lang, count=diff.counts[NOT_COMPARABLE]))
    lines += [_line(c, titles, lang) for c in odd]
    lines.append("")
    r = diff.rules
    if not r.any:
        lines.append(say("diff.rules-same", lang, catalogue=new.catalogue_version))
    else:
        lines.append(say("diff.rules-changed", lang))
        if r.catalogue:
            lines.append("  - " + say("diff.rules-catalogue", lang, old=r.catalogue[0], new=r.catalogue[1]))
        if r.profile:
            lines.append("  - " + say("diff.rules-profile", lang, old=r.profile[0], new=r.profile[1]))
        lines += ["  - " + say("diff.rules-check", lang, check=c, old=o, new=n) for c, o, n in r.changed]
        if r.added:
            lines.append("  - " + say("diff.rules-added", lang, checks=", ".join(r.added)))
        if r.removed:
            lines.append("  - " + say("diff.rules-removed", lang, checks=", ".join(r.removed)))
        lines.append(say("diff.rules-hint", lang, id=old.id))
    return "\n".join(lines) + "\n"


@click.command("diff", help=h("diff.help"))
@click.argument("args", nargs=-1, metavar="[OLD] [NEW] | [DOMAIN]")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help=h("opt.history-format"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@db_option
def diff_cmd(args: tuple[str, ...], fmt: str, lang: str | None, db: str | None) -> None:
    language = lang_of(lang)
    with open_or_fail(db, language) as store:
        try:
            old, new, domain = _pair(store, args, language)
            titles = store.titles(prefer=new.summary.catalogue_version)
        except HistoryError as exc:
            fail_with(exc, EXIT_USAGE if exc.key in _USAGE_KEYS else EXIT_IO, language)
    result = compare(old, new, domain=domain)
    if fmt == "json":
        click.echo(json.dumps(diff_to_dict(result, titles), indent=2, ensure_ascii=False))
    else:
        click.echo(diff_text(result, titles, language), nl=False)


# ----------------------------------------------------------------------------- rescore


def _same(a: Record, b: Record) -> bool:
    """Judged under the same rules with the same outcome: a rescore would add nothing."""
    sa, sb = a.summary, b.summary
    if (sa.catalogue_version, sa.tool_version, sa.profile) != (sb.catalogue_version, sb.tool_version, sb.profile):
        return False
    if dict(a.check_versions) != dict(b.check_versions):
        return False
    def view(r: Record) -> dict[str, tuple[Any, ...]]:
        return {k: (f.status, f.severity, f.accepted, f.check_version) for k, f in r.findings.items()}

    return view(a) == view(b)


# ----------------------------------------------------------------------------- for `cyberscan scan`


def store_for_scan(db: str | None, no_save: bool, lang: str) -> Store | None:
    """The store a scan saves into (opened before the scan, so a refused store stops it early), or None."""
    return None if no_save else open_or_fail(db, lang)


def report_extra(store: Store | None, assessment: AssessmentLike) -> dict[str, Any]:
    """What the report shows about history (``Report.extra``): ``since`` and ``trend`` for a scan of
    one domain, computed before the new assessment is saved. Empty without a store."""
    if store is None or len(assessment.scan.targets) != 1:
        return {}
    domain = assessment.scan.targets[0]
    try:
        previous = store.latest(domain)
        return {"since": since(previous, assessment, domain=domain), "trend": trend(store, domain, current=assessment)}
    except HistoryError as exc:
        echo("history.not-saved", lang_of(None), detail=exc.message(lang_of(None)))
        return {}


def save_scan(store: Store | None, assessment: AssessmentLike, lang: str) -> bool:
    """Save a finished (or interrupted: marked incomplete) assessment; says where. False when it failed."""
    if store is None or not assessment.scan.targets:
        return True
    try:
        number = store.save(assessment)
    except HistoryError as exc:
        echo("history.not-saved", lang, detail=exc.message(lang))
        return False
    finally:
        store.close()
    echo("history.saved" if assessment.scan.complete else "history.saved-incomplete", lang, id=number, path=store.where)
    return True


__all__ = ["diff_cmd", "history_cmd", "open_or_fail", "report_extra", "save_scan", "store_for_scan"]
