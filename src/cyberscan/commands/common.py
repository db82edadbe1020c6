"""What every command shares: exit codes, the one-line error exit, loading catalogue and profile.

Exit codes (also in README.md):
  0  the command ran; no finding at or above --fail-on
  1  a scan ran; at least one `fail` at or above --fail-on
  2  usage or configuration error (bad option, bad domain, broken profile or answers file)
  3  a domain could not be scanned at all (it does not exist, or no nameserver answered)
  4  a report or answers file could not be read or written
  130 interrupted while scanning
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from .. import catalogue as catalogue_mod
from .. import registry as registry_mod
from ..catalogue import Catalogue, Profile
from ..errors import ConfigError
from ..questionnaire import Answers, load_answers

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_TARGET, EXIT_IO, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

LANGS = click.Choice(["nl", "en"])


def fail(message: str, code: int) -> NoReturn:
    """Print a one-line message on standard error and exit with ``code``: no traceback."""
    click.echo(f"cyberscan: {message}", err=True)
    sys.exit(code)


def load_catalogue(extra: Sequence[Path] = ()) -> tuple[Catalogue, registry_mod.Registry]:
    try:
        registry = registry_mod.load()
        cat = catalogue_mod.load([*registry.catalogues, *extra]) if extra else catalogue_mod.builtin()
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    return cat, registry


def pick_profile(cat: Catalogue, name: str) -> Profile:
    try:
        return catalogue_mod.profile(cat, name)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


def read_answers(path: Path, cat: Catalogue) -> Answers:
    """A filled answers file, or a one-line exit naming the line and question that are wrong."""
    try:
        return load_answers(path, cat)
    except OSError as exc:
        fail(f"cannot read answers file {path}: {exc.strerror or exc}", EXIT_IO)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
