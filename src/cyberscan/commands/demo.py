"""``cyberscan demo``: scan a fictional museum on this computer (no internet, no root) and write its reports."""

from __future__ import annotations

from pathlib import Path

import click

from .. import registry as registry_mod
from ..demo import DOMAIN, FORMATS, scan_demo
from ..render import Report, render, suffix
from .common import EXIT_IO, LANGS, echo, fail, lang_of, os_detail
from .help import h
from .output import write_atomic


@click.command("demo", help=h("demo.help"), options_metavar=h("metavar.options"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@click.option("--output", "-o", default="cyberscan-demo", show_default=True, metavar=h("metavar.folder"),
              help=h("opt.demo-output"))
def command(lang: str | None, output: str) -> None:
    language = lang_of(lang)
    registry = registry_mod.load()
    try:
        assessment = scan_demo(registry=registry)
    except OSError as exc:
        fail("demo.failed", EXIT_IO, language, detail=os_detail(exc, language))
    report = Report(assessment, language, {"demo": True})
    folder = Path(output)
    for fmt in FORMATS:
        path = folder / f"cyberscan-{DOMAIN}.{suffix(fmt, registry)}"
        try:
            write_atomic(path, render(fmt, report, registry))
        except OSError as exc:
            fail("file.unwritable", EXIT_IO, language, path=str(path), detail=os_detail(exc, language))
        echo("scan.saved", language, err=False, path=str(path))
