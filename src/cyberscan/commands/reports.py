"""Reports of a command: which formats, where they go (checked before any work), and writing them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from .. import registry as registry_mod
from ..errors import UsageError
from ..render import Report, render
from ..texts import say
from .common import EXIT_IO, EXIT_USAGE, fail, fail_with, os_detail
from .output import Planned, plan, write_atomic


def check_formats(formats: Sequence[str], registry: registry_mod.Registry, lang: str) -> None:
    unknown = [f for f in formats if f not in registry.renderers]
    if unknown:
        raise click.BadParameter(say("option.bad-format", lang, value=unknown[0],
                                     choices=", ".join(sorted(registry.renderers))), param_hint="--format")


def plan_reports(formats: Sequence[str], output: str | None, registry: registry_mod.Registry, *, stem: str,
                 lang: str) -> list[Planned]:
    """Check where the reports go before any work is done (exit 2 when that cannot work)."""
    suffixes = {name: reg.spec.suffix for name, reg in registry.renderers.items()}
    try:
        return plan(formats, output, suffixes, stem=stem)
    except UsageError as exc:
        fail_with(exc, EXIT_USAGE, lang)


def write_reports(report: Report, planned: Sequence[Planned], registry: registry_mod.Registry) -> list[Path]:
    """Render and write each planned report; standard output for the terminal format (in colour on a
    terminal). Returns the files written; a write that fails exits 4 after saying which."""
    written: list[Path] = []
    for item in planned:
        try:
            if item.path is None:
                coloured = report.with_extra(color=True) if item.fmt == "terminal" else report
                click.echo(render(item.fmt, coloured, registry), nl=False)  # click strips colour when not a terminal
                continue
            content = render(item.fmt, report, registry)
        except UsageError as exc:  # a format this computer cannot make (pdf without a browser)
            fail_with(exc, EXIT_USAGE, report.lang)
        try:
            write_atomic(item.path, content)
        except (OSError, UsageError) as exc:
            detail = exc.message(report.lang) if isinstance(exc, UsageError) else os_detail(exc, report.lang)
            fail("file.unwritable", EXIT_IO, report.lang, path=str(item.path), detail=detail)
        written.append(item.path)
    return written
