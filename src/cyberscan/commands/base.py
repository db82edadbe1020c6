"""What every command shares and the command line's start needs: exit codes, the language, the
one-line error exit, a seconds option type. Light on purpose: ``cyberscan --version`` imports only this
(and click, and the texts); loading catalogue, answers and risks lives in :mod:`.common`.

Exit codes (also in README.md):
  0  the command ran; no finding at or above --fail-on
  1  a scan ran; at least one `fail` at or above --fail-on
  2  usage or configuration error (bad option, bad domain, broken profile, answers or risks file)
  3  a domain could not be scanned at all (it does not exist, or no nameserver answered)
  4  a report or answers file could not be read or written
  130 interrupted (Ctrl-C); a scan writes what it judged so far, marked incomplete
"""

from __future__ import annotations

import errno
import math
import sys
from typing import Any, NoReturn

import click

from ..errors import CyberscanError
from ..texts import LANGUAGES, env_lang, say, table
from . import clicktext

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_TARGET, EXIT_IO, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

LANGS = click.Choice(list(LANGUAGES))


def lang_of(value: str | None) -> str:
    """``--lang``, else ``CYBERSCAN_LANG``, else Dutch."""
    return value if value in LANGUAGES else env_lang()


def echo(key: str, lang: str, /, *, err: bool = True, **params: Any) -> None:
    """One interface line in the user's language (standard error by default)."""
    click.echo(say(key, lang, **params), err=err)


def fail(key: str, code: int, lang: str, /, **params: Any) -> NoReturn:
    """Print ``cyberscan: <message>`` on standard error and exit with ``code``: no traceback."""
    click.echo(f"cyberscan: {say(key, lang, **params)}", err=True)
    sys.exit(code)


def os_detail(exc: OSError, lang: str) -> str:
    """Why the operating system refused, in the user's language (its own words for rarer reasons)."""
    name = errno.errorcode.get(exc.errno or 0, "")
    key = f"os.{name}"
    return say(key, lang) if name and key in table() else (exc.strerror or type(exc).__name__)


def fail_with(exc: CyberscanError, code: int, lang: str) -> NoReturn:
    click.echo(f"cyberscan: {exc.message(lang)}", err=True)
    sys.exit(code)


class Seconds(click.ParamType):  # type: ignore[type-arg]
    """A finite number of seconds within bounds (``nan`` and ``inf`` are refused)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(say("option.not-a-number", clicktext.ACTIVE.lang, value=value), param, ctx)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            self.fail(say("option.bad-timeout", clicktext.ACTIVE.lang, value=value, low=self.low, high=self.high),
                      param, ctx)
        return number
