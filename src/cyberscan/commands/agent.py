"""``cyberscan agent --config agent.yaml``: rounds on a schedule until SIGTERM, or ``--once``.

Exit codes: 0 (the agent stopped on SIGTERM, or ``--once`` ran its round, or another agent held the
lock), 2 (the configuration, profile, answers or accepted-risk file is wrong: the message names the
line), 3 (``--once``: the round failed because no domain could be scanned, e.g. no network),
4 (the history store cannot be opened or written).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click

from ..agent.config import AgentConfig, load_config
from ..agent.lock import describe
from ..agent.logs import setup_logging
from ..agent.rounds import FAILED, Setup, prepare
from ..agent.runner import once, serve
from ..errors import ConfigError, CyberscanError
from ..history import HistoryError, open_store
from ..history.store import display
from ..texts import say
from .common import (
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_OK,
    EXIT_TARGET,
    EXIT_USAGE,
    LANGS,
    fail_with,
    lang_of,
    signals_handled,
)
from .help import h

log = logging.getLogger("cyberscan.agent")


@contextlib.contextmanager
def stop_on_signals(lang: str) -> Iterator[threading.Event]:
    """An event set by SIGTERM or Ctrl-C: the agent finishes the write in progress and stops. A second
    Ctrl-C exits at once."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            sys.exit(EXIT_INTERRUPTED)
        if not stop.is_set():
            log.warning(say("agent.log.stopping", lang))
        stop.set()

    with signals_handled(handler):
        yield stop


def _warn_about_secrets(config: AgentConfig, lang: str) -> None:
    for secret in config.secrets:
        if secret.world_readable:
            log.warning(say("agent.log.secret-readable", lang, source=secret.source))


@click.command("agent", help=h("agent.help"))
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=h("agent.opt.config"))
@click.option("--once", "run_once", is_flag=True, help=h("agent.opt.once"))
@click.option("--check", "check_only", is_flag=True, help=h("agent.opt.check"))
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help=h("agent.opt.log-format"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@click.pass_context
def command(ctx: click.Context, config_path: Path, run_once: bool, check_only: bool, log_format: str,
            lang: str | None) -> None:
    verbose = ctx.parent.params.get("verbose", 0) if ctx.parent is not None else 0
    setup_logging(log_format, level=logging.DEBUG if verbose else logging.INFO)
    language = lang_of(lang)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, language)
    language = lang or config.lang or language
    try:
        setup: Setup = prepare(config, language)
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, language)
    _warn_about_secrets(config, language)
    if check_only:
        click.echo(say("agent.config-ok", language, path=str(config_path), domains=len(config.domains),
                       schedule=config.schedule.describe(),
                       channels=", ".join(config.channels) or say("agent.no-channels", language)))
        if config.share is not None:
            click.echo(say("agent.config-share", language, hub=config.share.hub, source=config.share.token.source))
        sys.exit(EXIT_OK)
    try:
        store = open_store(config.db)
    except HistoryError as exc:
        fail_with(exc, EXIT_IO, language)
    with store, stop_on_signals(language) as stop:
        log.info(say("agent.log.started", language, domains=len(config.domains), schedule=config.schedule.describe(),
                     store=f"{display(store.where)} ({describe(store)})"))
        if not config.channels:
            log.warning(say("agent.log.no-channels", language))
        if config.share is not None:
            org = config.share.organisation
            log.info(say("agent.log.sharing", language, hub=config.share.hub, sector=org.sector, size=org.size,
                         province=org.province or "-"))
        try:
            if run_once:
                result = once(store, setup, cancel=stop)
                code = EXIT_TARGET if result is not None and result.status == FAILED else EXIT_OK
            else:
                serve(store, setup, cancel=stop)
                code = EXIT_OK
        except ConfigError as exc:  # an answers or accepted-risk file broken since the start
            fail_with(exc, EXIT_USAGE, language)
        except CyberscanError as exc:
            fail_with(exc, EXIT_IO, language)
        log.info(say("agent.log.stopped", language))
    sys.exit(code)
