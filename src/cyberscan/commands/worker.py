"""``cyberscan worker``: run the assessment as a Celery worker; ``cyberscan worker submit FILE``:
enqueue a targets file for the workers and wait for it; ``cyberscan worker status BATCH``.

    cyberscan worker --broker redis://broker:6379/0 --db postgresql://scan@db/cyberscan --concurrency 4
    cyberscan worker submit museums.csv --broker redis://broker:6379/0 --db postgresql://scan@db/cyberscan

``cyberscan scan --targets FILE --broker URL --db URL`` does what ``worker submit`` does: it calls
:func:`enqueue` (the options, messages and the progress line live here). Celery is imported only
when one of these runs. See docs/workers.md.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click

from ..batch import Target, TargetsFile, read_targets
from ..errors import ConfigError, CyberscanError, UsageError
from ..history import BatchInfo, HistoryError, location, open_store
from ..history.store import display
from ..options import MAX_TIMEOUT, MIN_TIMEOUT, Nameserver, ScanOptions
from ..texts import say
from ..worker.wire import DEFAULT_QUEUE, Policy, WorkerError, check_queue
from .common import (
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
    pick_profile,
    stoppable,
)
from .help import h

ENV_BROKER = "CYBERSCAN_BROKER"
SHOWN_FAILURES = 10
PLAIN_EVERY = 10.0  # seconds between progress lines when standard error is not a terminal


def _store_url(db: str | None, lang: str) -> str:
    try:
        where = location(db)
    except HistoryError as exc:
        fail_with(exc, EXIT_USAGE, lang)
    if not where.startswith(("postgresql://", "postgres://")):
        fail("worker.needs-postgres", EXIT_USAGE, lang, path=where)
    return where


def _broker(broker: str | None, lang: str) -> str:
    value = broker or os.environ.get(ENV_BROKER, "").strip()
    if not value:
        fail("worker.no-broker", EXIT_USAGE, lang)
    return value


def _nameservers(values: Sequence[str], lang: str) -> tuple[Nameserver, ...]:
    out = []
    for value in values:
        try:
            out.append(Nameserver.parse(value))
        except ValueError:
            raise click.BadParameter(say("option.bad-nameserver", lang, value=value), param_hint="--nameserver") from None
    return tuple(out)


# ----------------------------------------------------------------------------- enqueuing and waiting


class _Progress:
    """One progress line: done of total, domains a minute, time left."""

    def __init__(self, lang: str, *, tty: bool) -> None:
        self.lang = lang
        self.tty = tty
        self.started = time.monotonic()
        self.first: int | None = None
        self.last_line = 0.0
        self.shown = -1

    def __call__(self, info: BatchInfo) -> None:
        if self.first is None:
            self.first = info.done
        now = time.monotonic()
        finished = info.done >= info.total
        if info.done == self.shown and not finished:
            if not self.tty or now - self.last_line < 1.0:
                return
        if not self.tty and not finished and now - self.last_line < PLAIN_EVERY:
            return
        rate = (info.done - self.first) * 60.0 / max(1e-6, now - self.started)
        left = info.total - info.done
        eta = _duration(left * 60.0 / rate) if rate > 0 else "?"
        line = say("worker.progress", self.lang, done=info.done, total=info.total, rate=f"{rate:.0f}", eta=eta)
        if self.tty:
            click.echo("\r" + line + " " * 8, err=True, nl=finished)
        else:
            click.echo(line, err=True)
        self.last_line, self.shown = now, info.done


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def enqueue(targets: TargetsFile | Sequence[Target], *, broker: str, db: str | None, profile: str = "default",
            options: ScanOptions | None = None, queue: str = DEFAULT_QUEUE, resume: bool = False,
            wait: bool = True, show_progress: bool | None = None, lang: str | None = None) -> int:
    """Hand a batch to the workers and (with ``wait``) show its progress until it is done; the exit
    code: 0 done (or sent, without ``wait``), 3 some domains could not be scanned, 130 stopped waiting
    (the workers go on). Usage and store problems exit at once with a one-line message."""
    from ..worker.submit import display_broker, submit

    language = lang_of(lang)
    rows = targets.targets if isinstance(targets, TargetsFile) else tuple(targets)
    where = _store_url(db, language)
    try:
        batch = submit(rows, broker=broker, db=where, profile=profile, options=options, queue=queue, resume=resume)
    except UsageError as exc:
        fail_with(exc, EXIT_USAGE, language)
    except (HistoryError, WorkerError) as exc:
        fail_with(exc, EXIT_IO, language)
    echo("worker.resumed" if batch.resumed else "worker.submitted", language, batch=batch.id, total=batch.total,
         done=batch.done, sent=batch.sent, queue=queue, broker=display_broker(broker), db=display(where))
    if not wait:
        return EXIT_OK
    return watch(batch.id, db=where, show_progress=show_progress, lang=language)


def watch(batch_id: str, *, db: str, show_progress: bool | None = None, lang: str) -> int:
    """Wait for a batch with a progress line, then say how it went (exit code as :func:`enqueue`)."""
    from ..worker.submit import wait

    tty = sys.stderr.isatty()
    progress = _Progress(lang, tty=tty) if (show_progress if show_progress is not None else True) else None
    with stoppable(lang) as stop:
        try:
            info = wait(db, batch_id, progress=progress, stop=stop)
        except (HistoryError, WorkerError) as exc:
            fail_with(exc, EXIT_IO, lang)
    if info.done < info.total:
        echo("worker.wait-stopped", lang, batch=batch_id, done=info.done, total=info.total)
        return EXIT_INTERRUPTED
    return summarise(batch_id, db=db, lang=lang)


def summarise(batch_id: str, *, db: str, lang: str) -> int:
    try:
        with open_store(db) as store:
            items = store.batch_items(batch_id)
    except HistoryError as exc:
        fail_with(exc, EXIT_IO, lang)
    failed = [i for i in items.values() if i.failure is not None]
    echo("worker.finished", lang, batch=batch_id, assessed=len(items) - len(failed), failed=len(failed))
    for item in failed[:SHOWN_FAILURES]:
        failure = item.failure or {}
        params = failure.get("params")
        said = say(str(failure.get("key")), lang, **(params if isinstance(params, dict) else {}))
        click.echo(f"  {item.domain}: {said}", err=True)
    if len(failed) > SHOWN_FAILURES:
        echo("worker.more-failures", lang, count=len(failed) - SHOWN_FAILURES)
    return EXIT_TARGET if failed else EXIT_OK


# ----------------------------------------------------------------------------- the commands


@click.group("worker", invoke_without_command=True, help=h("worker.help"), options_metavar=h("metavar.options"),
             subcommand_metavar=h("metavar.command"))
@click.option("--broker", metavar="URL", default=None, help=h("worker.opt.broker"))
@click.option("--db", "db", metavar="URL", default=None, help=h("worker.opt.db"))
@click.option("--concurrency", type=click.IntRange(1, 512), default=None, help=h("worker.opt.concurrency"))
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True, help=h("worker.opt.queue"))
@click.option("--pool", type=click.Choice(["prefork", "threads", "solo"]), default="prefork", show_default=True,
              help=h("worker.opt.pool"))
@click.option("--allow-private", is_flag=True, help=h("worker.opt.allow-private"))
@click.option("--allow-ports", is_flag=True, help=h("worker.opt.allow-ports"))
@click.option("--per-address", type=click.IntRange(1, 64), default=4, show_default=True,
              help=h("worker.opt.per-address"))
@click.option("--interval", type=click.FloatRange(0.0, 10.0), default=0.05, show_default=True,
              metavar=h("metavar.seconds"), help=h("worker.opt.interval"))
@click.option("--limiter", "limiter_url", metavar="URL", default=None, help=h("worker.opt.limiter"))
@click.option("--visibility-timeout", type=click.FloatRange(1.0, 7 * 86400.0), default=3600.0, show_default=True,
              metavar=h("metavar.seconds"), help=h("worker.opt.visibility-timeout"))
@click.option("--ca-bundle", type=click.Path(dir_okay=False, exists=True), metavar=h("metavar.file"),
              help=h("worker.opt.ca-bundle"))
@click.option("--catalogue", "catalogue_dirs", multiple=True, type=click.Path(exists=True, file_okay=False),
              metavar=h("metavar.folder"), help=h("opt.catalogue"))
@click.option("--name", default=None, help=h("worker.opt.name"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@click.pass_context
def worker_group(ctx: click.Context, broker: str | None, db: str | None, concurrency: int | None, queue: str,
                 pool: str, allow_private: bool, allow_ports: bool, per_address: int, interval: float,
                 limiter_url: str | None, visibility_timeout: float, ca_bundle: str | None,
                 catalogue_dirs: tuple[str, ...], name: str | None, lang: str | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    language = lang_of(lang)
    from ..worker.app import make_app
    from ..worker.limiter import LimiterUnavailable, RedisLimiter
    from ..worker.runner import Settings, preload
    from ..worker.submit import display_broker

    url = _broker(broker, language)
    where = _store_url(db, language)
    try:
        check_queue(queue)
    except UsageError as exc:
        fail_with(exc, EXIT_USAGE, language)
    limiter = limiter_url or url
    if not limiter.startswith(("redis://", "rediss://", "unix://")):
        fail("worker.needs-redis-limiter", EXIT_USAGE, language, url=display_broker(limiter))
    try:  # both reachable before we take a task: a misconfigured worker says so at once
        with open_store(where):
            pass
        probe = RedisLimiter(limiter, per_address=per_address)
        try:
            probe.ping()
        finally:
            probe.close()
    except HistoryError as exc:
        fail_with(exc, EXIT_IO, language)
    except LimiterUnavailable as exc:
        fail("worker.limiter-unreachable", EXIT_IO, language, url=display_broker(limiter), detail=exc.detail)
    node = name or f"cyberscan-{os.getpid()}@{socket.gethostname()}"
    settings = Settings(db=where, limiter_url=limiter, policy=Policy(allow_private, allow_ports),
                        per_address=per_address, interval=interval, ca_bundle=ca_bundle,
                        catalogue_dirs=tuple(catalogue_dirs), node=node)
    try:
        preload(settings)  # once, before the pool forks; a broken --catalogue folder stops us now
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, language)
    app = make_app(url, queue=queue, visibility_timeout=visibility_timeout, settings=settings)
    echo("worker.starting", language, node=node, queue=queue, broker=display_broker(url), db=display(where),
         concurrency=concurrency or os.cpu_count() or 1, pool=pool)
    loglevel = "INFO" if logging.getLogger().getEffectiveLevel() <= logging.INFO else "WARNING"
    worker = app.Worker(hostname=node, concurrency=concurrency or os.cpu_count() or 1, pool_cls=pool,
                        queues=[queue], loglevel=loglevel, without_mingle=True, without_gossip=True,
                        without_heartbeat=True, quiet=True)
    worker.start()
    sys.exit(int(worker.exitcode or 0))


def _profile_name(profile: str, catalogue_dirs: tuple[Path, ...], lang: str) -> str:
    cat, _registry = load_catalogue(catalogue_dirs, lang=lang)
    return pick_profile(cat, profile, lang=lang).id


@worker_group.command("submit", help=h("worker.submit.help"), options_metavar=h("metavar.options"))
@click.argument("targets_file", type=click.Path(dir_okay=False, path_type=Path), metavar=h("metavar.file"))
@click.option("--broker", metavar="URL", default=None, help=h("worker.opt.broker"))
@click.option("--db", "db", metavar="URL", default=None, help=h("worker.opt.db"))
@click.option("--profile", "profile_name", default="default", show_default=True, metavar=h("metavar.profile"),
              help=h("opt.profile"))
@click.option("--nameserver", "nameservers", multiple=True, metavar=h("metavar.nameserver"), help=h("opt.nameserver"))
@click.option("--timeout", type=Seconds(MIN_TIMEOUT, MAX_TIMEOUT), default=5.0, show_default=True,
              metavar=h("metavar.seconds"), help=h("opt.timeout"))
@click.option("--allow-private", is_flag=True, help=h("opt.allow-private"))
@click.option("--dkim-selector", "dkim_selectors", multiple=True, metavar=h("metavar.selector"),
              help=h("opt.dkim-selector"))
@click.option("--ports", is_flag=True, help=h("opt.ports"))
@click.option("--i-am-authorised", "authorised", is_flag=True, help=h("worker.opt.authorised"))
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True, help=h("worker.opt.queue"))
@click.option("--catalogue", "catalogue_dirs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar=h("metavar.folder"), help=h("opt.catalogue"))
@click.option("--resume", is_flag=True, help=h("worker.opt.resume"))
@click.option("--wait/--no-wait", default=True, show_default=True, help=h("worker.opt.wait"))
@click.option("--no-progress", is_flag=True, help=h("opt.no-progress"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
def submit_cmd(targets_file: Path, broker: str | None, db: str | None, profile_name: str, nameservers: tuple[str, ...],
               timeout: float, allow_private: bool, dkim_selectors: tuple[str, ...], ports: bool, authorised: bool,
               queue: str, catalogue_dirs: tuple[Path, ...], resume: bool, wait: bool, no_progress: bool,
               lang: str | None) -> None:
    language = lang_of(lang)
    url = _broker(broker, language)
    where = _store_url(db, language)
    try:
        targets = read_targets(targets_file)
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, language)
    if targets.duplicates:
        echo("worker.duplicates", language, count=targets.duplicates)
    if ports and not authorised:  # no question through a broker: consent is given explicitly, and recorded
        fail("worker.ports-need-consent", EXIT_USAGE, language)
    try:
        options = ScanOptions(timeout=timeout, nameservers=_nameservers(nameservers, language),
                              allow_private=allow_private, dkim_selectors=tuple(dkim_selectors), ports=ports,
                              authorised=authorised)
    except CyberscanError as exc:
        fail_with(exc, EXIT_USAGE, language)
    profile = _profile_name(profile_name, catalogue_dirs, language)
    sys.exit(enqueue(targets, broker=url, db=where, profile=profile, options=options, queue=queue, resume=resume,
                     wait=wait, show_progress=not no_progress, lang=language))


@worker_group.command("status", help=h("worker.status.help"), options_metavar=h("metavar.options"))
@click.argument("batch_id", metavar="BATCH")
@click.option("--db", "db", metavar="URL", default=None, help=h("worker.opt.db"))
@click.option("--wait", is_flag=True, help=h("worker.opt.status-wait"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
def status_cmd(batch_id: str, db: str | None, wait: bool, lang: str | None) -> None:
    language = lang_of(lang)
    where = _store_url(db, language)
    if wait:
        sys.exit(watch(batch_id, db=where, lang=language))
    try:
        with open_store(where) as store:
            info = store.batch(batch_id)
    except HistoryError as exc:
        fail_with(exc, EXIT_IO, language)
    if info is None:
        fail("worker.no-such-batch", EXIT_USAGE, language, batch=batch_id)
    echo("worker.status", language, err=False, batch=info.id, done=info.done, total=info.total,
         created=info.created[:19].replace("T", " "),
         state=say("worker.state.finished" if info.finished else "worker.state.running", language))
    sys.exit(EXIT_OK)


__all__ = ["enqueue", "status_cmd", "submit_cmd", "summarise", "watch", "worker_group"]
