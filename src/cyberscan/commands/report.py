"""``cyberscan report``: render a saved JSON scan again, judged under the current catalogue, with answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..assessment import reassess
from ..errors import ConfigError, CyberscanError
from ..registry import Registry
from ..render import Report
from ..render.supplier import supplier_messages
from ..serialize import scan_from_dict
from .common import (
    EXIT_IO,
    EXIT_USAGE,
    LANGS,
    echo,
    fail,
    fail_with,
    lang_of,
    load_catalogue,
    os_detail,
    pick_profile,
    read_answers,
    read_risks,
)
from .help import h
from .output import check_writable, write_atomic
from .reports import check_formats, plan_reports, write_reports

MAX_REPORT_BYTES = 256 * 1024 * 1024


def load_scan(path: Path, registry: Registry, lang: str) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        fail("file.unreadable", EXIT_IO, lang, path=str(path), detail=os_detail(exc, lang))
    if len(raw) > MAX_REPORT_BYTES:
        fail("file.too-large", EXIT_USAGE, lang, path=str(path), limit=MAX_REPORT_BYTES)
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        fail("report.not-json", EXIT_USAGE, lang, path=str(path))
    try:
        return scan_from_dict(data, registry)
    except CyberscanError as exc:
        fail("report.not-a-report", EXIT_USAGE, lang, path=str(path), detail=exc.message(lang))


@click.command("report", help=h("report.help"), options_metavar=h("metavar.options"))
@click.argument("results_file", type=click.Path(dir_okay=False, path_type=Path), metavar=h("metavar.report"))
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False, path_type=Path), metavar=h("metavar.file"),
              help=h("opt.answers"))
@click.option("--accepted", "risks_file", type=click.Path(dir_okay=False, path_type=Path), metavar=h("metavar.file"),
              help=h("opt.accepted"))
@click.option("--format", "formats", multiple=True, default=["terminal"], show_default=True,
              metavar=h("metavar.format"), help=h("opt.format"))
@click.option("--output", "-o", metavar=h("metavar.output"), help=h("opt.output"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@click.option("--profile", "profile_name", default=None, metavar=h("metavar.profile"), help=h("opt.report-profile"))
@click.option("--supplier", "for_suppliers", is_flag=True, help=h("opt.supplier"))
def command(
    results_file: Path,
    answers_file: Path | None,
    risks_file: Path | None,
    formats: tuple[str, ...],
    output: str | None,
    lang: str | None,
    profile_name: str | None,
    for_suppliers: bool,
) -> None:
    language = lang_of(lang)
    cat, registry = load_catalogue(lang=language)
    check_formats(formats, registry, language)
    stored = load_scan(results_file, registry, language)
    if profile_name:
        profile = pick_profile(cat, profile_name, lang=language)
    else:
        profile = cat.profiles.get(stored.profile) or pick_profile(cat, "default", lang=language)
    answers = read_answers(answers_file, cat, lang=language) if answers_file is not None else None
    risks = read_risks(risks_file, lang=language) if risks_file is not None else ()
    stem = f"cyberscan-{stored.targets[0]}" if len(stored.targets) == 1 else "cyberscan-report"
    planned = [] if for_suppliers else plan_reports(formats, output, registry, stem=stem, lang=language)
    try:
        assessment = reassess(stored, profile=profile, answers=answers, accepted=risks, catalogue=cat, registry=registry)
    except ConfigError as exc:
        fail_with(exc, EXIT_USAGE, language)
    if for_suppliers:
        write_supplier_messages(Report(assessment, language), Path(output or "."), language)
        return
    for path in write_reports(Report(assessment, language), planned, registry):
        echo("scan.saved", language, path=str(path))


def write_supplier_messages(report: Report, folder: Path, lang: str) -> None:
    """One message per recognised supplier in ``folder`` (render/supplier.py); says so when there is none."""
    messages = supplier_messages(report)
    if not messages:
        echo("supplier.none", lang)
        return
    for message in messages:
        path = folder / message.filename
        try:
            check_writable(path)
            write_atomic(path, message.text)
        except (OSError, CyberscanError) as exc:
            detail = exc.message(lang) if isinstance(exc, CyberscanError) else (exc.strerror or str(exc))
            fail("file.unwritable", EXIT_IO, lang, path=str(path), detail=detail)
        echo("supplier.saved", lang, name=message.name, path=str(path))
