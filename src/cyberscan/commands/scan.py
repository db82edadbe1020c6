"""``cyberscan scan``: assess one or more domains and write the reports; with ``--targets FILE``, a
batch of many domains (:mod:`cyberscan.batch`): each saved in the history, a summary CSV and JSON.

Ctrl-C (or SIGTERM) stops the scan within about a second: running probes are cancelled, the
reports are written with what was judged so far, marked incomplete, and the exit code is 130.
A batch saves every domain done, abandons those in flight and says how to ``--resume``.
A second Ctrl-C exits at once.

Exit codes of a batch (the same meanings as for one scan): 0 every domain assessed, none with a
``fail`` at or above ``--fail-on``; 1 some domain has one; 2 usage (a broken targets file, options
that do not go together, nothing to ``--resume``); 3 a domain could not be scanned at all (or its
scan crashed); 4 the history or the summary could not be written; 130 interrupted (resumable).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from ..assessment import Assessment, assess
from ..catalogue import Catalogue, Profile
from ..errors import ConfigError, UsageError
from ..models import AcceptedRisk, Severity, Status
from ..options import MAX_TIMEOUT, MIN_TIMEOUT, Nameserver, ScanOptions
from ..parsers.x509 import pem_certificates
from ..registry import Registry
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
    stoppable,
)
from .help import h
from .history import db_option, report_extra, save_scan, store_for_scan
from .prompt import ask_yes_no
from .reports import check_formats, plan_reports, write_reports

# domains in flight in a batch per scanning process (a process per core by default): the batch is
# CPU-bound, and more domains a process only add hand-offs between its threads (5,000 domains on 2
# cores at 20 ms: 64 in flight 970 a minute at 84 ms of CPU a domain, 32 in flight 1,031 at 76 ms)
BATCH_PARALLEL_PER_PROCESS = 16
BATCH_PER_ADDRESS = 4  # connections to one address at once, the whole batch
BATCH_PACE = 0.01  # seconds between two connection starts to one address
BATCH_STEM = "cyberscan-batch"


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
@click.argument("domains", nargs=-1, required=False, metavar=h("metavar.domains"))
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
@click.option("--targets", "targets_file", type=click.Path(path_type=Path), metavar=h("metavar.file"),
              help=h("opt.targets"))
@click.option("--resume", is_flag=True, help=h("opt.resume"))
@click.option("--broker", metavar="URL", default=None, help=h("opt.broker"))
@click.option("--processes", type=click.IntRange(1, 64), default=None, help=h("opt.processes"))
@click.option("--parallel", type=click.IntRange(1, 4096), default=None, help=h("opt.parallel"))
@click.option("--per-address", type=click.IntRange(1, 64), default=BATCH_PER_ADDRESS, show_default=True,
              help=h("opt.per-address"))
@click.option("--pace", type=Seconds(0.0, 10.0), default=BATCH_PACE, show_default=True, metavar=h("metavar.seconds"),
              help=h("opt.pace"))
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
    targets_file: Path | None,
    resume: bool,
    processes: int | None,
    parallel: int | None,
    per_address: int,
    pace: float,
    broker: str | None,
) -> None:
    language = lang_of(lang)
    if targets_file is not None:
        given = click.get_current_context().get_parameter_source
        for name, option, value in (("formats", "--format", formats), ("extra_hosts", "--host", extra_hosts),
                                    ("answers_file", "--answers", answers_file), ("no_save", "--no-save", no_save)):
            if value and given(name) is not click.core.ParameterSource.DEFAULT:
                fail("batch.no-save" if name == "no_save" else "batch.not-with", EXIT_USAGE, language, option=option)
        if domains:
            fail("batch.domains-and-targets", EXIT_USAGE, language)
    elif not domains:
        fail("batch.no-domains", EXIT_USAGE, language)
    else:
        for name, option in (("resume", "--resume"), ("processes", "--processes"), ("parallel", "--parallel"),
                             ("per_address", "--per-address"), ("pace", "--pace"), ("broker", "--broker")):
            if click.get_current_context().get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                fail("batch.needs-targets", EXIT_USAGE, language, option=option)
    cat, registry = load_catalogue(catalogue_dirs, lang=language)
    check_formats(formats, registry, language)
    profile = pick_profile(cat, profile_name, lang=language)
    if targets_file is not None:
        options = ScanOptions(timeout=timeout, nameservers=parse_nameservers(nameservers, language),
                              ca_bundle=_ca_bundle(ca_bundle, language), allow_private=allow_private,
                              dkim_selectors=tuple(dkim_selectors), ports=ports or bool(profile.settings.get("port_scan")),
                              authorised=authorised, per_host_connections=per_address)
        if options.ports and not authorised:
            fail("batch.ports-need-authorised", EXIT_USAGE, language)
        if broker is not None:
            broker_command(targets_file, broker=broker, db=db, profile=profile, options=options, resume=resume,
                           no_progress=no_progress, lang=language)
        risks = read_risks(risks_file, lang=language) if risks_file else ()
        batch_command(targets_file, cat=cat, registry=registry, profile=profile, options=options, risks=risks,
                      output=output, db=db, lang=language, resume=resume, processes=processes, parallel=parallel,
                      pace=pace, fail_on=fail_on, no_progress=no_progress)
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
    with stoppable(language, "scan.stopping") as stop:
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


def summary_stem(output: str | None) -> Path:
    """Where a batch's summary goes: ``-o DIR/`` (or an existing folder) takes ``cyberscan-batch.csv``
    and ``.json`` in it, ``-o NAME`` (``.csv`` or ``.json`` or nothing) takes NAME, none the current folder."""
    if output is None:
        return Path(BATCH_STEM)
    path = Path(output)
    if output.endswith(("/", os.sep)) or path.is_dir():
        return path / BATCH_STEM
    return path.with_suffix("") if path.suffix in (".csv", ".json") else path


def batch_command(path: Path, *, cat: Catalogue, registry: Registry, profile: Profile, options: ScanOptions,
                  risks: Sequence[AcceptedRisk], output: str | None, db: str | None, lang: str, resume: bool,
                  processes: int | None, parallel: int | None, pace: float, fail_on: str, no_progress: bool) -> NoReturn:
    """``scan --targets FILE``: run or resume the batch on this machine, then exit with its code."""
    # The batch engine is imported only when a batch runs: a scan of one domain starts no faster
    # for code it never uses (multiprocessing, the summary, rich).
    from ..batch import read_targets
    from ..batch.progress import progress_for
    from ..batch.runner import BatchRequest, default_processes, plan_sizes, run_batch
    from ..batch.scanner import ScanSettings

    try:
        targets = read_targets(path)
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, lang)
    processes = processes or default_processes()
    parallel = parallel or BATCH_PARALLEL_PER_PROCESS * processes
    count, domains, threads = plan_sizes(min(parallel, len(targets.targets)), processes)
    store = store_for_scan(db, False, lang)
    assert store is not None
    settings = ScanSettings(catalogue=cat, registry=registry, profile=profile, options=options, accepted=tuple(risks),
                            lang=lang, domains=domains, threads=threads)
    request = BatchRequest(targets=targets, source=str(path), scan=settings, summary=summary_stem(output),
                           processes=count, per_address=options.per_host_connections, pace=pace, resume=resume)

    def notify(key: str, **params: Any) -> None:
        echo(key, lang, **params)

    with stoppable(lang, "scan.stopping") as stop:
        try:
            result = run_batch(request, store, stop=stop, progress=progress_for(sys.stderr, lang, show=not no_progress),
                               notify=notify)
        except (UsageError, ConfigError) as exc:
            store.close()
            fail_with(exc, EXIT_USAGE, lang)
        finally:
            store.close()
    if result.written:
        echo("batch.summary", lang, csv=str(result.written[0]), json=str(result.written[1]))
    echo("batch.finished", lang, assessed=result.assessed, not_scanned=result.not_scanned, errors=result.errors)
    echo("batch.history", lang, path=store.where)
    if result.store_error:
        echo("batch.store-failed", lang, detail=result.store_error)
        sys.exit(EXIT_IO)
    if result.interrupted:
        echo("batch.interrupted", lang, done=result.done, total=result.total)
        sys.exit(EXIT_INTERRUPTED)
    if result.summary_error:
        echo("batch.summary-failed", lang, detail=result.summary_error)
        sys.exit(EXIT_IO)
    if result.not_scanned or result.errors:
        sys.exit(EXIT_TARGET)
    if fail_on != "none" and result.fail_rank >= Severity(fail_on).rank:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_OK)


def broker_command(path: Path, *, broker: str, db: str | None, profile: Profile, options: ScanOptions, resume: bool,
                   no_progress: bool, lang: str) -> NoReturn:
    """``scan --targets FILE --broker URL``: hand the batch to the Celery workers (``cyberscan worker``)
    as ``cyberscan worker submit`` does, wait for them with progress, then exit with the batch's code.
    What the workers set themselves (trusted CAs, the per-address limit and pacing, accepted risks that
    are files on this machine, where summaries go) is refused here rather than silently ignored."""
    given = click.get_current_context().get_parameter_source
    for name, option in (("ca_bundle", "--ca-bundle"), ("risks_file", "--accepted"), ("processes", "--processes"),
                         ("parallel", "--parallel"), ("per_address", "--per-address"), ("pace", "--pace"),
                         ("output", "--output"), ("fail_on", "--fail-on")):
        if given(name) is not click.core.ParameterSource.DEFAULT:
            fail("batch.not-with-broker", EXIT_USAGE, lang, option=option)
    # the Celery side is imported only when a batch goes to the workers
    from ..batch import read_targets
    from .worker import enqueue

    try:
        targets = read_targets(path)
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, lang)
    sys.exit(enqueue(targets, broker=broker, db=db, profile=profile.id, options=options,
                     resume=resume, wait=True, show_progress=not no_progress, lang=lang))


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
