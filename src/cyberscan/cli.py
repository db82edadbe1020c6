"""Command line: the group and its commands (``commands/``), and the console entry point.

Only this module and ``commands/`` print or choose exit codes (``commands/common.py`` lists them).
"""

from __future__ import annotations

import logging

import click

from .commands import agent, catalogue, demo, history, questionnaire, report, scan
from .commands.common import EXIT_INTERRUPTED, EXIT_USAGE, fail_with, lang_of
from .commands.help import h
from .errors import CyberscanError
from .version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, help=h("main.help"))
@click.version_option(__version__, prog_name="cyberscan")
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
main.add_command(agent.command)


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
