"""What every command shares: exit codes, the language, the one-line error exit (from :mod:`.base`,
which the command line's start imports alone), and loading catalogue, profile, answers and accepted
risks.

Exit codes: see :mod:`.base` (also in README.md).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from .. import catalogue as catalogue_mod
from .. import registry as registry_mod
from ..catalogue import Catalogue, Profile
from ..errors import ConfigError
from ..models import AcceptedRisk
from ..questionnaire import Answers, parse_answers
from ..risks import parse_risks
from ..texts import say
from .base import (
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
    os_detail,
)

__all__ = ["EXIT_FINDINGS", "EXIT_INTERRUPTED", "EXIT_IO", "EXIT_OK", "EXIT_TARGET", "EXIT_USAGE", "LANGS",
           "MAX_INPUT_BYTES", "Seconds", "echo", "fail", "fail_with", "lang_of", "load_catalogue", "os_detail",
           "pick_profile", "read_answers", "read_risks", "read_text"]

MAX_INPUT_BYTES = 1024 * 1024  # answers and accepted-risk files


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


@contextlib.contextmanager
def signals_handled(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """``handler`` for Ctrl-C and SIGTERM while the block runs, the handlers from before it afterwards."""
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def stoppable(lang: str, announce: str | None = None) -> Iterator[threading.Event]:
    """An event that the first Ctrl-C (or SIGTERM) sets, saying the text ``announce`` if given; the
    second one exits at once (code 130)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            sys.stderr.write("\n")
            sys.exit(EXIT_INTERRUPTED)
        stop.set()
        if announce is not None:
            sys.stderr.write("\n" + say(announce, lang) + "\n")

    with signals_handled(handler):
        yield stop
