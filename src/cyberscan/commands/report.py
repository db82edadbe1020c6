"""``cyberscan report``: render a saved JSON scan again, judged under the current catalogue, with answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .common import EXIT_IO, EXIT_USAGE, LANGS, fail, load_catalogue, read_answers


@click.command("report")
@click.argument("results_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Questionnaire answers file (see `cyberscan questionnaire`).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    default=["terminal"],
    show_default=True,
    help="Output format; repeat for several (terminal, json, html, markdown, incident-sheet).",
)
@click.option("--output", "-o", help="File (one format) or folder (several formats); '-' for standard output.")
@click.option(
    "--lang", type=LANGS, default="nl", show_default=True, help="Language of the report."
)
@click.option(
    "--profile", "profile_name", default=None, help="Judge under this profile instead of the one the scan used."
)
def command(
    results_file: Path,
    answers_file: Path | None,
    formats: tuple[str, ...],
    output: str | None,
    lang: str,
    profile_name: str | None,
) -> None:
    """Report again on a saved JSON scan (RESULTS_FILE), under the current rules, with questionnaire answers."""
    from .. import catalogue as catalogue_mod
    from ..cli import write_reports
    from ..engine import rejudge
    from ..errors import ConfigError, CyberscanError
    from ..questionnaire import answer_results
    from ..render import Report
    from ..serialize import scan_from_dict

    cat, registry = load_catalogue()
    unknown = [f for f in formats if f not in registry.renderers]
    if unknown:
        raise click.BadParameter(
            f"unknown format {unknown[0]!r}; choose from {', '.join(sorted(registry.renderers))}", param_hint="--format"
        )
    try:
        data: Any = json.loads(results_file.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {results_file}: {exc.strerror or exc}", EXIT_IO)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"{results_file} is not a cyberscan JSON report ({exc})", EXIT_USAGE)
    try:
        stored = scan_from_dict(data, registry)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        fail(f"{results_file} is not a cyberscan JSON report (missing or wrong {exc})", EXIT_USAGE)
    try:
        profile = catalogue_mod.profile(cat, profile_name or stored.profile)
    except ConfigError as exc:
        if profile_name:
            fail(str(exc), EXIT_USAGE)
        profile = catalogue_mod.profile(cat, "default")
    answers = None
    if answers_file is not None:
        answers = read_answers(answers_file, cat)
    try:
        scan = rejudge(stored, catalogue=cat, profile=profile, registry=registry)
    except CyberscanError as exc:
        fail(str(exc), EXIT_USAGE)
    if answers is not None and scan.targets:
        scan.results.extend(answer_results(cat, profile, answers, target=scan.targets[0]))
    report = Report(scan, cat, lang, answers=answers)
    stem = f"cyberscan-{scan.targets[0]}" if len(scan.targets) == 1 else "cyberscan-report"
    for path in write_reports(report, formats, output, registry, stem=stem):
        click.echo(f"{'rapport' if lang == 'nl' else 'report'}: {path}", err=True)
