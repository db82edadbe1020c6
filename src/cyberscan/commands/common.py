"""What every command shares: exit codes, the language, the one-line error exit, loading catalogue,
profile, answers and accepted risks, and writing reports.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from .. import catalogue as catalogue_mod
from .. import registry as registry_mod
from ..catalogue import Catalogue, Profile
from ..errors import ConfigError, CyberscanError
from ..models import AcceptedRisk
from ..questionnaire import Answers, parse_answers
from ..risks import parse_risks
from ..texts import LANGUAGES, env_lang, say, table
from . import clicktext

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_TARGET, EXIT_IO, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
MAX_INPUT_BYTES = 1024 * 1024  # answers and accepted-risk files

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


def load_catalogue(extra: Sequence[Path] = (), *, lang: str) -> tuple[Catalogue, registry_mod.Registry]:
    try:
        registry = registry_mod.load()
        cat = catalogue_mod.load([*registry.catalogues, *extra]) if extra else catalogue_mod.builtin()
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, lang)
    return cat, registry


def pick_profile(cat: Catalogue, name: str, *, lang: str) -> Profile:
    try:
        return catalogue_mod.profile(cat, name)
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, lang)


def read_text(path: Path, *, lang: str, limit: int = MAX_INPUT_BYTES, unreadable: str = "file.unreadable") -> str:
    """A small text file the user gave, or a one-line exit (missing: 4, too large or not text: 2).

    Never more than ``limit`` + 1 bytes are read, so /dev/zero or a huge file costs nothing."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        fail(unreadable, EXIT_IO, lang, path=str(path), detail=os_detail(exc, lang))
    if len(data) > limit:
        fail("file.too-large", EXIT_USAGE, lang, path=str(path), limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        fail("file.not-text", EXIT_USAGE, lang, path=str(path))


def read_answers(path: Path, cat: Catalogue, *, lang: str) -> Answers:
    """A filled answers file, or a one-line exit naming the line and question that are wrong."""
    content = read_text(path, lang=lang, unreadable="answers.unreadable")
    try:
        return parse_answers(content, cat, where=str(path))
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, lang)


def read_risks(path: Path, *, lang: str) -> tuple[AcceptedRisk, ...]:
    content = read_text(path, lang=lang, unreadable="risks.unreadable")
    try:
        return parse_risks(content, where=str(path))
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, lang)
