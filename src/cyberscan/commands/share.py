"""``cyberscan export --anonymous``, ``submit``, ``compare`` and ``hub serve|token create|manage``.

The organisation side (export, submit, compare) needs only the base install. ``cyberscan hub ...``
runs DEN's hub and needs the optional extra ``pip install cyberscan[hub]``: Django is imported only
inside those commands, and a missing extra gives a one-line message instead of a traceback.

Where the self-description comes from: ``--sector``, ``--size`` and ``--province`` (remembered with
the organisation id, so the agent's rounds need not repeat them); the questionnaire has no question
for it yet.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from .. import catalogue as catalogue_mod
from ..assessment import Assessment, reassess
from ..errors import ConfigError, UsageError
from ..history.record import answers_from
from ..history.store import HistoryError
from ..share import client, compare, identity
from ..share.summary import PROVINCES, SECTORS, SIZES, Organisation, summarise, validate
from ..texts import say, text
from .common import (
    EXIT_IO,
    EXIT_OK,
    EXIT_USAGE,
    LANGS,
    echo,
    fail,
    fail_with,
    lang_of,
    load_catalogue,
    read_answers,
    read_risks,
)
from .help import h
from .history import open_or_fail
from .output import check_writable, write_atomic
from .report import load_scan

EXIT_HUB = 5  # the hub refused the submission or could not be reached


def latest_assessment(lang: str, db: str | None = None) -> Assessment:
    """The newest assessment in the history store (``--db`` / ``CYBERSCAN_DB`` / the default),
    judged again under the installed catalogue with the answers and accepted risks it was made with."""
    store = open_or_fail(db, lang)
    try:
        summaries = store.list()
        if not summaries:
            fail("share.no-history", EXIT_USAGE, lang)
        newest = max(summaries, key=lambda s: (s.started, s.id or 0))
        record = store.get(newest.id or 0)
        cat, registry = load_catalogue(lang=lang)
        stored = store.scan(newest.id or 0, registry)
        answers = answers_from(record.answers, cat)
        try:
            return reassess(stored, answers=answers, accepted=record.accepted, catalogue=cat, registry=registry)
        except ConfigError as exc:
            fail_with(exc, EXIT_USAGE, lang)
    except HistoryError as exc:
        fail_with(exc, EXIT_IO, lang)
    finally:
        store.close()


def _assessment(scan_file: Path | None, answers_file: Path | None, risks_file: Path | None, lang: str) -> Assessment:
    if scan_file is None:
        return latest_assessment(lang)
    cat, registry = load_catalogue(lang=lang)
    stored = load_scan(scan_file, registry, lang)
    answers = read_answers(answers_file, cat, lang=lang) if answers_file is not None else None
    risks = read_risks(risks_file, lang=lang) if risks_file is not None else ()
    try:
        return reassess(stored, answers=answers, accepted=risks, catalogue=cat, registry=registry)
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, lang)


def _identity(sector: str | None, size: str | None, province: str | None, rotate: bool,
              lang: str) -> tuple[identity.Identity, Organisation]:
    try:
        stored = None if rotate else identity.load()
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, lang)
    known = stored.organisation if stored else None
    chosen_sector = sector or (known.sector if known else None)
    chosen_size = size or (known.size if known else None)
    if not chosen_sector or not chosen_size:
        fail("share.need-organisation", EXIT_USAGE, lang)
    chosen_province = (None if province == "none" else province) if province else (known.province if known else None)
    org = Organisation(chosen_sector, chosen_size, chosen_province)
    try:
        ident, _ = identity.obtain(rotate=rotate, organisation=org)
    except (OSError, ConfigError, UsageError) as exc:  # UsageError: the identity file is a symbolic link
        if isinstance(exc, (ConfigError, UsageError)):
            fail_with(exc, EXIT_USAGE, lang)
        fail("share.identity-unwritable", EXIT_IO, lang, detail=exc.strerror or str(exc))
    if rotate:
        echo("share.rotated", lang)
    return ident, org


def _summary(assessment: Assessment, ident: identity.Identity, org: Organisation, lang: str) -> dict[str, Any]:
    summary = summarise(assessment, org, published=catalogue_mod.builtin(), organisation_id=ident.id,
                        secret=ident.secret)
    problems = validate(summary)
    if problems:  # a bug: never share something the published schema does not allow
        fail("share.invalid-summary", EXIT_USAGE, lang, detail=problems[0])
    return summary


def _show(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


_org_options = [
    click.option("--sector", type=click.Choice(SECTORS), default=None, help=h("opt.sector")),
    click.option("--size", type=click.Choice(SIZES), default=None, help=h("opt.size")),
    click.option("--province", type=click.Choice([*PROVINCES, "none"]), default=None, help=h("opt.province")),
    click.option("--answers", "answers_file", type=click.Path(dir_okay=False, path_type=Path), help=h("opt.answers")),
    click.option("--accepted", "risks_file", type=click.Path(dir_okay=False, path_type=Path), help=h("opt.accepted")),
    click.option("--rotate-id", "rotate", is_flag=True, help=h("opt.rotate-id")),
    click.option("--lang", type=LANGS, default=None, help=h("opt.lang")),
]


def _with_org_options(fn: Any) -> Any:
    for option in reversed(_org_options):
        fn = option(fn)
    return fn


@click.command("export", help=h("export.help"))
@click.argument("scan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--anonymous", is_flag=True, help=h("opt.anonymous"))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help=h("opt.export-output"))
@_with_org_options
def export_cmd(scan_file: Path | None, anonymous: bool, output: Path | None, sector: str | None, size: str | None,
               province: str | None, answers_file: Path | None, risks_file: Path | None, rotate: bool,
               lang: str | None) -> None:
    language = lang_of(lang)
    if not anonymous:
        fail("share.need-anonymous", EXIT_USAGE, language)
    if output is not None:
        try:
            check_writable(output)
        except UsageError as exc:
            fail_with(exc, EXIT_USAGE, language)
    assessment = _assessment(scan_file, answers_file, risks_file, language)
    ident, org = _identity(sector, size, province, rotate, language)
    summary = _summary(assessment, ident, org, language)
    shown = _show(summary)
    click.echo(shown, nl=False)  # shown first: this is exactly what would be shared
    if output is not None:
        try:
            write_atomic(output, shown)
        except (OSError, UsageError) as exc:
            detail = exc.message(language) if isinstance(exc, UsageError) else (exc.strerror or str(exc))
            fail("file.unwritable", EXIT_IO, language, path=str(output), detail=detail)
        echo("share.written", language, path=str(output))


@click.command("submit", help=h("submit.help"))
@click.argument("scan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--hub", "hub_url", required=True, help=h("opt.hub"))
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None, help=h("opt.token-file"))
@click.option("--ca-bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help=h("opt.hub-ca-bundle"))
@_with_org_options
def submit_cmd(scan_file: Path | None, hub_url: str, token_file: Path | None, ca_bundle: Path | None,
               sector: str | None, size: str | None, province: str | None, answers_file: Path | None,
               risks_file: Path | None, rotate: bool, lang: str | None) -> None:
    language = lang_of(lang)
    try:
        base = client.hub_base(hub_url)
        token = client.read_token(token_file)
    except UsageError as exc:
        fail_with(exc, EXIT_USAGE, language)
    assessment = _assessment(scan_file, answers_file, risks_file, language)
    ident, org = _identity(sector, size, province, rotate, language)
    summary = _summary(assessment, ident, org, language)
    try:
        sent = client.submit(base, summary, token, ca_bundle=ca_bundle)
    except client.HubError as exc:
        fail_with(exc, EXIT_HUB, language)
    echo("share.stored" if sent.stored else "share.already-stored", language, err=False, hub=base,
         id=sent.submission_id[:12])


def _read_aggregates(path: Path, lang: str) -> Any:
    try:
        raw = path.read_bytes()[: client.MAX_AGGREGATES_BYTES + 1]
        return json.loads(raw.decode("utf-8"))
    except OSError as exc:
        fail("file.unreadable", EXIT_IO, lang, path=str(path), detail=exc.strerror or str(exc))
    except (UnicodeDecodeError, ValueError, RecursionError):
        fail("share.not-aggregates", EXIT_USAGE, lang, path=str(path))


@click.command("compare", help=h("compare.help"))
@click.argument("scan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--hub", "hub_url", default=None, help=h("opt.hub"))
@click.option("--aggregates", "aggregates_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=h("opt.aggregates"))
@click.option("--ca-bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help=h("opt.hub-ca-bundle"))
@click.option("--by", type=click.Choice(["sector", "size", "province", "all"]), default="sector", show_default=True,
              help=h("opt.compare-by"))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help=h("opt.compare-format"))
@_with_org_options
def compare_cmd(scan_file: Path | None, hub_url: str | None, aggregates_file: Path | None, ca_bundle: Path | None,
                by: str, fmt: str, sector: str | None, size: str | None, province: str | None,
                answers_file: Path | None, risks_file: Path | None, rotate: bool, lang: str | None) -> None:
    language = lang_of(lang)
    if (hub_url is None) == (aggregates_file is None):
        fail("share.compare-source", EXIT_USAGE, language)
    if aggregates_file is not None:
        data = _read_aggregates(aggregates_file, language)
    else:
        try:
            data = client.fetch_aggregates(client.hub_base(hub_url or ""), ca_bundle=ca_bundle)
        except UsageError as exc:
            fail_with(exc, EXIT_USAGE, language)
        except client.HubError as exc:
            fail_with(exc, EXIT_HUB, language)
    if not compare.is_aggregates(data):
        fail("share.not-aggregates", EXIT_USAGE, language, path=str(aggregates_file or hub_url))
    assessment = _assessment(scan_file, answers_file, risks_file, language)
    ident, org = _identity(sector, size, province, rotate, language)
    summary = _summary(assessment, ident, org, language)
    group, _, period = compare.peer_group(data, summary, by=None if by == "all" else by)
    rows = compare.standings(summary, data, by=None if by == "all" else by)
    if fmt == "json":
        click.echo(json.dumps({"period": period, "group": list(group),
                               "items": [{"framework": r.framework, "item": r.item, "status": r.status,
                                          "score": r.score, "band": r.band, "ready_share": r.ready_share}
                                         for r in rows]}, indent=2))
        return
    if period is None:
        echo("share.compare-nothing", language, err=False)
        return
    cat = catalogue_mod.builtin()
    label = say(f"hub.value.{group[0]}.{group[1] or 'none'}", language) if group[0] != "all" else say(
        "share.compare-everyone", language)
    echo("share.compare-head", language, err=False, period=period, group=label)
    for r in rows:
        item = cat.item(r.item)
        title = text(item.title, language) if item else r.item
        band = say("share.compare-band", language, band=r.band) if r.band else say("share.compare-no-band", language)
        ready = say("share.compare-ready", language, share=round(r.ready_share * 100)) if r.ready_share is not None else ""
        click.echo(f"  {title}: {say('share.status.' + r.status, language)}; {band}{'; ' + ready if ready else ''}")


# ----------------------------------------------------------------------------- DEN's hub


def _hub_missing(lang: str, exc: ImportError) -> NoReturn:
    fail("hub.extra-missing", EXIT_USAGE, lang, module=exc.name or "django")


def _configure(database: str | None, lang: str, **values: Any) -> Any:
    try:
        from ..hub import serve
    except ImportError as exc:
        _hub_missing(lang, exc)
    try:
        serve.configure(database, **values)
    except ImportError as exc:
        _hub_missing(lang, exc)
    except ValueError as exc:
        fail("hub.bad-setting", EXIT_USAGE, lang, detail=str(exc))
    return serve


@click.group("hub", help=h("hub.help"))
def hub_group() -> None:
    pass


def _bind(value: str, lang: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        fail("hub.bad-bind", EXIT_USAGE, lang, value=value)
    return value


@hub_group.command("serve", help=h("hub.serve-help"))
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help=h("opt.bind"))
@click.option("--database", default=None, help=h("opt.database"))
@click.option("--k", "k", type=click.IntRange(5, None), default=None, help=h("opt.k"))
@click.option("--rate", type=click.IntRange(1, None), default=None, help=h("opt.rate"))
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help=h("opt.workers"))
@click.option("--certfile", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None, help=h("opt.certfile"))
@click.option("--keyfile", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None, help=h("opt.keyfile"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
def serve_cmd(bind: str, database: str | None, k: int | None, rate: int | None, workers: int, certfile: Path | None,
              keyfile: Path | None, lang: str | None) -> None:
    language = lang_of(lang)
    address = _bind(bind, language)
    if (certfile is None) != (keyfile is None):
        fail("hub.cert-and-key", EXIT_USAGE, language)
    serve = _configure(database, language, k=k, rate=rate)
    try:
        serve.migrate()
    except Exception as exc:  # noqa: BLE001 - any database failure at start is one clear line
        fail("hub.database-failed", EXIT_IO, language, detail=type(exc).__name__ + ": " + str(exc)[:200])
    scheme = "https" if certfile else "http"
    serve.run(address, workers=workers, certfile=certfile, keyfile=keyfile,
              on_ready=lambda: echo("hub.serving", language, url=f"{scheme}://{address}/"))


@hub_group.group("token", help=h("hub.token-help"))
def token_group() -> None:
    pass


@token_group.command("create", help=h("hub.token-create-help"))
@click.option("--database", default=None, help=h("opt.database"))
@click.option("--label", default="", help=h("opt.token-label"))
@click.option("--max-organisations", type=click.IntRange(1, 10000), default=1, show_default=True,
              help=h("opt.max-organisations"))
@click.option("--count", type=click.IntRange(1, 1000), default=1, show_default=True, help=h("opt.token-count"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
def token_create_cmd(database: str | None, label: str, max_organisations: int, count: int, lang: str | None) -> None:
    language = lang_of(lang)
    serve = _configure(database, language)
    try:
        serve.migrate()
        tokens = [serve.create_token(label, max_organisations) for _ in range(count)]
    except Exception as exc:  # noqa: BLE001 - any database failure is one clear line
        fail("hub.database-failed", EXIT_IO, language, detail=type(exc).__name__ + ": " + str(exc)[:200])
    for token in tokens:
        click.echo(token)
    echo("hub.token-created", language)


@hub_group.command("manage", context_settings={"ignore_unknown_options": True, "help_option_names": []},
                   help=h("hub.manage-help"))
@click.option("--database", default=None, help=h("opt.database"))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage_cmd(database: str | None, args: tuple[str, ...]) -> None:
    serve = _configure(database, lang_of(None))
    serve.manage(list(args))
    sys.exit(EXIT_OK)


__all__ = ["compare_cmd", "export_cmd", "hub_group", "latest_assessment", "submit_cmd"]
