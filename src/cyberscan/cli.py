"""Command line: the group and its commands (``commands/``), and the console entry point.

Only this module and ``commands/`` print or choose exit codes (``commands/base.py`` lists them).
The language of every text, click's own included, is Dutch unless ``--lang en`` (anywhere on the
command line) or ``CYBERSCAN_LANG=en`` asks for English.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import click

from .commands import clicktext
from .commands.base import EXIT_INTERRUPTED, EXIT_USAGE, fail_with, lang_of
from .commands.help import h, help_lang
from .errors import CyberscanError
from .version import __version__

PROG = "cyberscan"

# name -> (module, attribute): a command's module is imported only when that command runs, so
# `cyberscan history` does not pay for the scanner, the renderers or the hub (start-up time)
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("cyberscan.commands.scan", "command"),
    "report": ("cyberscan.commands.report", "command"),
    "questionnaire": ("cyberscan.commands.questionnaire", "command"),
    "demo": ("cyberscan.commands.demo", "command"),
    "checks": ("cyberscan.commands.catalogue", "checks_cmd"),
    "profiles": ("cyberscan.commands.catalogue", "profiles_cmd"),
    "docs": ("cyberscan.commands.catalogue", "docs_cmd"),
    "history": ("cyberscan.commands.history", "history_cmd"),
    "diff": ("cyberscan.commands.history", "diff_cmd"),
    "rescore": ("cyberscan.commands.rescore", "rescore_cmd"),
    "export": ("cyberscan.commands.share", "export_cmd"),
    "submit": ("cyberscan.commands.share", "submit_cmd"),
    "compare": ("cyberscan.commands.share", "compare_cmd"),
    "hub": ("cyberscan.commands.share", "hub_group"),
    "agent": ("cyberscan.commands.agent", "command"),
    "worker": ("cyberscan.commands.worker", "worker_group"),
}


class Cyberscan(click.Group):
    """The top-level group: click speaks the invocation's language; commands load when they run."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, *a: Any, **kw: Any) -> Any:
        argv = list(args) if args is not None else sys.argv[1:]
        clicktext.install(help_lang(argv))
        return super().main(argv, prog_name or PROG, *a, **kw)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        found = COMMANDS.get(cmd_name)
        if found is None:
            return None
        command: click.Command = getattr(importlib.import_module(found[0]), found[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from the help texts, without importing every command."""
        rows = [(name, h(f"{name}.help").split(". ")[0].rstrip(".")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section(h("main.commands")):
                formatter.write_dl(rows)


@click.group(cls=Cyberscan, context_settings={"help_option_names": ["-h", "--help"]}, help=h("main.help"),
             options_metavar=h("metavar.options"), subcommand_metavar=h("metavar.command"))
@click.version_option(__version__, prog_name=PROG, help=h("opt.version"), message=h("main.version"))
@click.option("-v", "--verbose", count=True, help=h("opt.verbose"))
@click.option("--lang", type=click.Choice(["nl", "en"]), default=None, help=h("opt.lang"))
def main(verbose: int, lang: str | None) -> None:
    if lang:  # before the command: every text of this run in that language (commands read CYBERSCAN_LANG)
        os.environ["CYBERSCAN_LANG"] = lang
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")




def run() -> None:
    """Console entry point: user errors never end in a traceback, Ctrl-C exits 130."""
    try:
        _run()
    except SystemExit as exc:
        _exit_now(exc.code)
    _exit_now(0)


def _exit_now(code: Any) -> None:
    """End the process once the command is done, without tearing down its heap object by object.

    The interpreter's own exit frees every object one at a time (after a scan about 60 ms, more
    than a tenth of a one-domain scan). Everything a command keeps is already written and closed
    by then (reports and exports are written atomically, history stores are closed), so this runs
    what was registered to run at exit (logging, temporary folders, ``multiprocessing``), flushes
    standard output and error, and leaves with ``os._exit``. While a non-daemon thread still runs,
    the normal exit (which waits for it) is kept."""
    if isinstance(code, str):  # SystemExit("message"): what Python itself would print, exit status 1
        raise SystemExit(code)
    status = 0 if code is None else int(code)
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        raise SystemExit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: as Python's own exit, a failed flush is status 120
            status = status or 120
    os._exit(status)


def _run() -> None:
    try:
        main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        click.echo("", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except CyberscanError as exc:  # pragma: no cover - commands catch their own
        fail_with(exc, EXIT_USAGE, lang_of(None))


if __name__ == "__main__":  # pragma: no cover
    run()
