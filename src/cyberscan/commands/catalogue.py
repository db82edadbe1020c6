"""``cyberscan checks``, ``profiles`` and ``docs``: what the catalogue holds."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..catalogue import text
from ..docgen import write
from ..models import Severity
from ..texts import say
from .common import EXIT_IO, LANGS, fail, lang_of, load_catalogue, os_detail, pick_profile
from .help import h


@click.command("checks", help=h("checks.help"), options_metavar=h("metavar.options"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@click.option("--area", metavar=h("metavar.area"), help=h("opt.area"))
@click.option("--tag", metavar=h("metavar.tag"), help=h("opt.tag"))
@click.option("--severity", type=click.Choice([s.value for s in Severity]), help=h("opt.severity"))
@click.option("--profile", "profile_name", metavar=h("metavar.profile"), help=h("opt.checks-profile"))
@click.option("--json", "as_json", is_flag=True, help=h("opt.json"))
def checks_cmd(lang: str | None, area: str | None, tag: str | None, severity: str | None, profile_name: str | None,
               as_json: bool) -> None:
    language = lang_of(lang)
    cat, _ = load_catalogue(lang=language)
    selected = cat.select(pick_profile(cat, profile_name, lang=language)) if profile_name else list(cat.checks.values())
    rows = [
        c
        for c in selected
        if (area is None or c.area == area) and (tag is None or tag in c.tags) and (severity is None or c.severity == severity)
    ]
    if as_json:
        data = [
            {"id": c.id, "version": c.version, "severity": c.severity.value, "title": text(c.title, language),
             "maps_to": dict(c.maps_to), "tags": list(c.tags)}
            for c in rows
        ]
        click.echo(json.dumps({"catalogue_version": cat.version, "checks": data}, indent=2, ensure_ascii=False))
        return
    width = max((len(c.id) for c in rows), default=10)
    for c in rows:
        click.echo(f"{c.id.ljust(width)}  {c.severity.value:<8}  {text(c.title, language)}")
    click.echo("\n" + say("checks.count", language, count=len(rows), version=cat.version))


@click.command("profiles", help=h("profiles.help"), options_metavar=h("metavar.options"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
def profiles_cmd(lang: str | None) -> None:
    language = lang_of(lang)
    cat, _ = load_catalogue(lang=language)
    for p in cat.profiles.values():
        n = len(cat.select(p))
        click.echo(f"{p.id:<16} " + say("profiles.line", language, title=text(p.title, language), count=n))
        if p.description:
            click.echo(f"{'':<16} {text(p.description, language)}")


@click.command("docs", help=h("docs.help"), options_metavar=h("metavar.options"))
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), metavar=h("metavar.folder"))
def docs_cmd(folder: Path) -> None:
    language = lang_of(None)
    cat, _ = load_catalogue(lang=language)
    try:
        for path in write(cat, folder):
            click.echo(str(path))
    except OSError as exc:
        fail("file.unwritable", EXIT_IO, language, path=str(folder), detail=os_detail(exc, language))
