"""``cyberscan scan``: assess one or more domains and write the reports.

Ctrl-C (or SIGTERM) stops the scan within about a second: running probes are cancelled, the
reports are written with what was judged so far, marked incomplete, and the exit code is 130.
A second Ctrl-C exits at once.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import click

from ..assessment import Assessment, assess
from ..errors import ConfigError, UsageError
from ..models import Severity, Status
from ..options import MAX_TIMEOUT, MIN_TIMEOUT, Nameserver, ScanOptions
from ..parsers.x509 import pem_certificates
from ..render import Report
from ..scope import normalize_domain
from ..texts import say
from .common import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_OK,
    EXIT_TARGET,
    EXIT_USAGE,
    LANGS,
    Seconds,
    echo,
    fail,
    fail_with,
    lang_of,
    load_catalogue,
    os_detail,
    pick_profile,
    read_answers,
    read_risks,
)
from .help import h
from .history import db_option, report_extra, save_scan, store_for_scan
from .prompt import ask_yes_no
from .reports import check_formats, plan_reports, write_reports


def parse_nameservers(values: Sequence[str], lang: str) -> tuple[Nameserver, ...]:
    out = []
    for value in values:
        try:
            out.append(Nameserver.parse(value))
        except ValueError:
            raise click.BadParameter(say("option.bad-nameserver", lang, value=value), param_hint="--nameserver") from None
    return tuple(out)


def exit_code(assessment: Assessment, fail_on: str) -> int:
    if fail_on == "none":
        return EXIT_OK
    threshold = Severity(fail_on).rank
    failing = any(r.status is Status.FAIL and r.severity.rank >= threshold and r.accepted is None
                  for r in assessment.results)
    return EXIT_FINDINGS if failing else EXIT_OK


@contextlib.contextmanager
def stoppable(lang: str) -> Iterator[threading.Event]:
    """An event that the first Ctrl-C (or SIGTERM) sets; the second one exits at once."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            sys.stderr.write("\n")
            sys.exit(EXIT_INTERRUPTED)
        stop.set()
        click.echo("\n" + say("scan.stopping", lang), err=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def confirm_authorised(targets: Sequence[str], lang: str) -> bool:
    """Ask before a port scan (only on a terminal). Ctrl-C here stops cleanly: exit 130, nothing scanned."""
    if not sys.stdin.isatty():
        echo("scan.ports-need-confirmation", lang)
        return False
    try:
        return ask_yes_no(say("scan.ports-question", lang, targets=", ".join(targets)), lang)
    except click.Abort:
        click.echo("", err=True)
        fail("scan.interrupted-at-prompt", EXIT_INTERRUPTED, lang)


@click.command("scan", help=h("scan.help"), options_metavar=h("metavar.options"))
@click.argument("domains", nargs=-1, required=True, metavar=h("metavar.domains"))
@click.option("--profile", "profile_name", default="default", show_default=True, metavar=h("metavar.profile"),
              help=h("opt.profile"))
@click.option("--format", "formats", multiple=True, default=["terminal"], show_default=True,
              metavar=h("metavar.format"), help=h("opt.format"))
@click.option("--output", "-o", metavar=h("metavar.output"), help=h("opt.output"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@click.option("--nameserver", "nameservers", multiple=True, metavar=h("metavar.nameserver"), help=h("opt.nameserver"))
@click.option("--timeout", type=Seconds(MIN_TIMEOUT, MAX_TIMEOUT), default=5.0, show_default=True,
              metavar=h("metavar.seconds"), help=h("opt.timeout"))
@click.option("--ca-bundle", type=click.Path(dir_okay=False), metavar=h("metavar.file"), help=h("opt.ca-bundle"))
@click.option("--allow-private", is_flag=True, help=h("opt.allow-private"))
@click.option("--dkim-selector", "dkim_selectors", multiple=True, metavar=h("metavar.selector"),
              help=h("opt.dkim-selector"))
@click.option("--host", "extra_hosts", multiple=True, metavar=h("metavar.host"), help=h("opt.host"))
@click.option("--ports", is_flag=True, help=h("opt.ports"))
@click.option("--i-am-authorised", "authorised", is_flag=True, help=h("opt.authorised"))
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False, path_type=Path), metavar=h("metavar.file"),
              help=h("opt.answers"))
@click.option("--accepted", "risks_file", type=click.Path(dir_okay=False, path_type=Path), metavar=h("metavar.file"),
              help=h("opt.accepted"))
@click.option("--catalogue", "catalogue_dirs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar=h("metavar.folder"), help=h("opt.catalogue"))
@click.option("--fail-on", type=click.Choice(["none", *[s.value for s in Severity]]), default="none", show_default=True,
              help=h("opt.fail-on"))
@click.option("--no-progress", is_flag=True, help=h("opt.no-progress"))
@db_option
@click.option("--no-save", is_flag=True, help=h("opt.no-save"))
def command(
    domains: tuple[str, ...],
    profile_name: str,
    formats: tuple[str, ...],
    output: str | None,
    lang: str | None,
    nameservers: tuple[str, ...],
    timeout: float,
    ca_bundle: str | None,
    allow_private: bool,
    dkim_selectors: tuple[str, ...],
    extra_hosts: tuple[str, ...],
    ports: bool,
    authorised: bool,
    answers_file: Path | None,
    risks_file: Path | None,
    catalogue_dirs: tuple[Path, ...],
    fail_on: str,
    no_progress: bool,
    db: str | None,
    no_save: bool,
) -> None:
    language = lang_of(lang)
    cat, registry = load_catalogue(catalogue_dirs, lang=language)
    check_formats(formats, registry, language)
    profile = pick_profile(cat, profile_name, lang=language)
    targets: list[str] = []
    for raw in domains:
        try:
            norm = normalize_domain(raw)
        except UsageError as exc:
            fail_with(exc, EXIT_USAGE, language)
        if norm.notice:
            echo("scan.rewritten", language, original=raw, domain=norm.domain)
        if norm.domain not in targets:
            targets.append(norm.domain)
    hosts = []
    for raw in extra_hosts:
        try:
            hosts.append(normalize_domain(raw).domain)
        except UsageError as exc:
            fail("option.bad-host", EXIT_USAGE, language, detail=exc.message(language))
    bundle = _ca_bundle(ca_bundle, language)
    answers = read_answers(answers_file, cat, lang=language) if answers_file else None
    risks = read_risks(risks_file, lang=language) if risks_file else ()
    stem = f"cyberscan-{targets[0]}" if len(targets) == 1 else "cyberscan-report"
    planned = plan_reports(formats, output, registry, stem=stem, lang=language)
    store = store_for_scan(db, no_save, language)  # a store that cannot be used stops us before the scan
    port_scan = ports or bool(profile.settings.get("port_scan", False))
    if port_scan and not authorised:
        authorised = confirm_authorised(targets, language)
    options = ScanOptions(
        timeout=timeout,
        nameservers=parse_nameservers(nameservers, language),
        ca_bundle=bundle,
        allow_private=allow_private,
        dkim_selectors=tuple(dkim_selectors),
        extra_hosts=tuple(hosts),
        ports=port_scan,
        authorised=authorised,
    )
    show_progress = not no_progress and sys.stderr.isatty()
    with stoppable(language) as stop:
        try:
            if show_progress:
                with click.progressbar(length=1, label=say("scan.progress", language), file=sys.stderr) as bar:

                    def progress(done: int, total: int, _target: str) -> None:
                        bar.length = max(total, 1)
                        bar.update(done - bar.pos)

                    result = assess(targets, profile=profile, options=options, answers=answers, accepted=risks,
                                    catalogue=cat, registry=registry, cancel=stop, progress=progress)
            else:
                result = assess(targets, profile=profile, options=options, answers=answers, accepted=risks,
                                catalogue=cat, registry=registry, cancel=stop)
        except (UsageError, ConfigError) as exc:
            fail_with(exc, EXIT_USAGE, language)
    for failure in result.failures:
        click.echo(f"cyberscan: {say(failure.key, language, **failure.params)}", err=True)
    if not result.targets:
        sys.exit(EXIT_TARGET)
    report = Report(result, language, report_extra(store, result))
    for path in write_reports(report, planned, registry):
        echo("scan.saved", language, path=str(path))
    saved = save_scan(store, result, language)  # interrupted assessments too, marked incomplete
    if not result.complete:
        echo("scan.incomplete", language)
        sys.exit(EXIT_INTERRUPTED)
    if not saved:
        sys.exit(EXIT_IO)
    code = exit_code(result, fail_on)
    sys.exit(EXIT_TARGET if result.failures else code)


def _ca_bundle(value: str | None, lang: str) -> str | None:
    """The ``--ca-bundle`` file, refused up front unless it holds at least one PEM certificate."""
    if value is None:
        return None
    try:
        data = Path(value).read_bytes()[: 16 * 1024 * 1024]
    except OSError as exc:
        fail("file.unreadable", EXIT_USAGE, lang, path=value, detail=os_detail(exc, lang))
    if not pem_certificates(data):
        fail("option.bad-ca-bundle", EXIT_USAGE, lang, path=value)
    return value
