"""Command line: the group and its commands (``commands/``), and the console entry point.

Only this module and ``commands/`` print or choose exit codes (``commands/common.py`` lists them).
The language of every text, click's own included, is Dutch unless ``--lang en`` (anywhere on the
command line) or ``CYBERSCAN_LANG=en`` asks for English.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import click

from .commands import catalogue, clicktext, demo, history, questionnaire, report, scan, share
from .commands.common import EXIT_INTERRUPTED, EXIT_USAGE, fail_with, lang_of
from .commands.help import h, help_lang
from .errors import CyberscanError
from .version import __version__

PROG = "cyberscan"


class Cyberscan(click.Group):
    """The top-level group: before parsing, click is set to speak the invocation's language."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, *a: Any, **kw: Any) -> Any:
        argv = list(args) if args is not None else sys.argv[1:]
        clicktext.install(help_lang(argv))
        return super().main(argv, prog_name or PROG, *a, **kw)


@click.group(cls=Cyberscan, context_settings={"help_option_names": ["-h", "--help"]}, help=h("main.help"),
             options_metavar=h("metavar.options"), subcommand_metavar=h("metavar.command"))
@click.version_option(__version__, prog_name=PROG, help=h("opt.version"), message=h("main.version"))
@click.option("-v", "--verbose", count=True, help=h("opt.verbose"))
def main(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


main.add_command(scan.command)
main.add_command(report.command)
main.add_command(questionnaire.command)
main.add_command(demo.command)
main.add_command(catalogue.checks_cmd)
main.add_command(catalogue.profiles_cmd)
main.add_command(catalogue.docs_cmd)
main.add_command(history.history_cmd)
main.add_command(history.diff_cmd)
main.add_command(history.rescore_cmd)
main.add_command(share.export_cmd)
main.add_command(share.submit_cmd)
main.add_command(share.compare_cmd)
main.add_command(share.hub_group)


def run() -> None:
    """Console entry point: user errors never end in a traceback, Ctrl-C exits 130."""
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
