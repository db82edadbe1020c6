"""Command line. The only module (with ``commands/``) that prints or chooses exit codes; see commands/common.py."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from . import __version__
from . import registry as registry_mod
from .catalogue import text
from .commands.common import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_OK,
    EXIT_TARGET,
    EXIT_USAGE,
    LANGS,
    fail,
    load_catalogue,
    pick_profile,
    read_answers,
)
from .engine import Nameserver, ScanOptions, scan
from .errors import CyberscanError, TargetError, UsageError
from .models import Notice, ScanResult, Severity, Status
from .questionnaire import answer_results
from .render import Report, render, suffix
from .scope import normalize_domain
from .targets import preflight


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cyberscan")
@click.option("-v", "--verbose", count=True, help="More detail on standard error (-vv for debugging).")
def main(verbose: int) -> None:
    """Cyber-readiness scanner for museums, archives and libraries."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _parse_nameservers(values: Sequence[str]) -> tuple[Nameserver, ...]:
    out = []
    for value in values:
        try:
            out.append(Nameserver.parse(value))
        except ValueError:
            raise click.BadParameter(f"{value!r} is not IP or IP:PORT", param_hint="--nameserver") from None
    return tuple(out)


def write_reports(
    report: Report, formats: Sequence[str], output: str | None, registry: registry_mod.Registry, *, stem: str
) -> list[Path]:
    """Write each format; return the files written. Terminal output goes to stdout unless a file is asked."""
    written: list[Path] = []
    to_files = [f for f in formats if not (f == "terminal" and output is None)]
    if "terminal" in formats and output is None:
        coloured = Report(report.scan, report.catalogue, report.lang, report.answers, {**report.extra, "color": True})
        click.echo(render("terminal", coloured, registry), nl=False)  # click strips colour when not a terminal
    if not to_files:
        return written
    if output == "-" and len(to_files) == 1:
        click.echo(render(to_files[0], report, registry), nl=False)
        return written
    if output is None:
        if len(to_files) == 1:
            click.echo(render(to_files[0], report, registry), nl=False)
            return written
        folder: Path | None = Path(".")
    else:
        target = Path(output)
        folder = target if (len(to_files) > 1 or target.is_dir() or output.endswith("/")) else None
    try:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            for fmt in to_files:
                path = folder / f"{stem}.{suffix(fmt, registry)}"
                path.write_text(render(fmt, report, registry), encoding="utf-8")
                written.append(path)
        else:
            assert output is not None
            path = Path(output)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(to_files[0], report, registry), encoding="utf-8")
            written.append(path)
    except OSError as exc:
        fail(f"cannot write the report: {exc}", EXIT_IO)
    return written


def exit_code(scan_result: ScanResult, fail_on: str) -> int:
    if fail_on == "none":
        return EXIT_OK
    threshold = Severity(fail_on).rank
    failing = any(r.status is Status.FAIL and r.severity.rank >= threshold for r in scan_result.results)
    return EXIT_FINDINGS if failing else EXIT_OK


FORMAT_HELP = "Output format; repeat for several (terminal, json, html, markdown)."


@main.command("scan")
@click.argument("domains", nargs=-1, required=True)
@click.option("--profile", "profile_name", default="default", show_default=True, help="Which checks and settings (see `cyberscan profiles`).")
@click.option("--format", "formats", multiple=True, default=["terminal"], show_default=True, help=FORMAT_HELP)
@click.option("--output", "-o", help="File (one format) or folder (several formats); '-' for standard output.")
@click.option("--lang", type=LANGS, default="nl", show_default=True, help="Language of the report.")
@click.option("--nameserver", "nameservers", multiple=True, metavar="IP[:PORT]", help="Resolver to use instead of the system's (repeatable).")
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=5.0, show_default=True, help="Seconds to wait for any one network answer.")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="Extra trusted CA certificates (PEM) for HTTPS fetches.")
@click.option("--allow-private", is_flag=True, help="Also probe names that resolve to loopback or private addresses.")
@click.option("--dkim-selector", "dkim_selectors", multiple=True, help="DKIM selector to look for besides the common ones (repeatable).")
@click.option("--host", "extra_hosts", multiple=True, help="Extra host name of yours to include, e.g. shop.museum.nl (repeatable).")
@click.option("--ports", is_flag=True, help="Also check for exposed services with a port scan (asks for confirmation).")
@click.option("--i-am-authorised", "authorised", is_flag=True, help="Confirm without a prompt that you may scan these hosts.")
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False), help="Questionnaire answers file (see `cyberscan questionnaire`).")
@click.option("--catalogue", "catalogue_dirs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path), help="Folder with extra check definitions.")
@click.option("--fail-on", type=click.Choice(["none", *[s.value for s in Severity]]), default="none", show_default=True, help="Exit with 1 when a failed check has this severity or higher.")
@click.option("--no-progress", is_flag=True, help="Do not show a progress display.")
def scan_cmd(
    domains: tuple[str, ...],
    profile_name: str,
    formats: tuple[str, ...],
    output: str | None,
    lang: str,
    nameservers: tuple[str, ...],
    timeout: float,
    ca_bundle: str | None,
    allow_private: bool,
    dkim_selectors: tuple[str, ...],
    extra_hosts: tuple[str, ...],
    ports: bool,
    authorised: bool,
    answers_file: str | None,
    catalogue_dirs: tuple[Path, ...],
    fail_on: str,
    no_progress: bool,
) -> None:
    """Scan one or more DOMAINS (e.g. museum.nl) and report on their cyber readiness."""
    cat, registry = load_catalogue(catalogue_dirs)
    unknown = [f for f in formats if f not in registry.renderers]
    if unknown:
        raise click.BadParameter(f"unknown format {unknown[0]!r}; choose from {', '.join(sorted(registry.renderers))}", param_hint="--format")
    profile = pick_profile(cat, profile_name)
    notices: list[Notice] = []
    targets: list[str] = []
    for raw in domains:
        try:
            norm = normalize_domain(raw)
        except UsageError as exc:
            fail(str(exc), EXIT_USAGE)
        if norm.notice:
            notices.append(Notice(f"input.{norm.notice}", {"original": norm.original, "domain": norm.domain}, norm.domain))
            click.echo(f"cyberscan: {raw!r} -> {norm.domain}", err=True)
        if norm.domain not in targets:
            targets.append(norm.domain)
    hosts = []
    for raw in extra_hosts:
        try:
            hosts.append(normalize_domain(raw).domain)
        except UsageError as exc:
            fail(f"--host: {exc}", EXIT_USAGE)
    answers = read_answers(Path(answers_file), cat) if answers_file else None
    if (ports or profile.settings.get("port_scan")) and not authorised:
        authorised = _confirm_authorised(targets, lang)
    options = ScanOptions(
        timeout=timeout,
        nameservers=_parse_nameservers(nameservers),
        ca_bundle=ca_bundle,
        allow_private=allow_private,
        dkim_selectors=tuple(dkim_selectors),
        extra_hosts=tuple(hosts),
        ports=ports or bool(profile.settings.get("port_scan", False)),
        authorised=authorised,
        extra={"answers": answers} if answers is not None else {},
    )
    failed: list[str] = []
    reachable: list[str] = []
    for target in targets:
        try:
            preflight(target, options)
        except TargetError as exc:
            click.echo(f"cyberscan: {exc}", err=True)
            failed.append(target)
        else:
            reachable.append(target)
    if not reachable:
        sys.exit(EXIT_TARGET)
    show_progress = not no_progress and sys.stderr.isatty()
    try:
        if show_progress:
            with click.progressbar(length=1, label="scannen" if lang == "nl" else "scanning", file=sys.stderr) as bar:

                def progress(done: int, total: int, _target: str) -> None:
                    bar.length = max(total, 1)
                    bar.update(done - bar.pos)

                result = scan(reachable, catalogue=cat, profile=profile, registry=registry, options=options, progress=progress)
        else:
            result = scan(reachable, catalogue=cat, profile=profile, registry=registry, options=options)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except CyberscanError as exc:
        fail(str(exc), EXIT_USAGE)
    result.notices[:0] = notices
    if answers is not None:
        result.results.extend(answer_results(cat, profile, answers, target=reachable[0]))
    report = Report(result, cat, lang, answers=answers)
    stem = f"cyberscan-{reachable[0]}" if len(reachable) == 1 else "cyberscan-report"
    for path in write_reports(report, formats, output, registry, stem=stem):
        click.echo(f"{'rapport' if lang == 'nl' else 'report'}: {path}", err=True)
    code = exit_code(result, fail_on)
    sys.exit(EXIT_TARGET if failed else code)


def _confirm_authorised(targets: Sequence[str], lang: str) -> bool:
    if not sys.stdin.isatty():
        click.echo(
            "cyberscan: port checks need your confirmation; add --i-am-authorised in scripts"
            if lang == "en"
            else "cyberscan: poortscans vragen om uw bevestiging; gebruik --i-am-authorised in scripts",
            err=True,
        )
        return False
    question = (
        f"Port scans contact the servers of {', '.join(targets)} actively. Are you responsible for them or allowed to scan them?"
        if lang == "en"
        else f"Een poortscan benadert de servers van {', '.join(targets)} actief. Bent u hiervoor verantwoordelijk of heeft u toestemming?"
    )
    return click.confirm(question, default=False, err=True)


@main.command("checks")
@click.option("--lang", type=LANGS, default="nl", show_default=True)
@click.option("--area", help="Only checks of this area (dns, mail, web, net ...).")
@click.option("--tag", help="Only checks with this tag.")
@click.option("--severity", type=click.Choice([s.value for s in Severity]), help="Only checks of this severity.")
@click.option("--profile", "profile_name", help="Only checks this profile selects.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def checks_cmd(lang: str, area: str | None, tag: str | None, severity: str | None, profile_name: str | None, as_json: bool) -> None:
    """List the check catalogue."""
    import json

    cat, _ = load_catalogue()
    selected = cat.select(pick_profile(cat, profile_name)) if profile_name else list(cat.checks.values())
    rows = [
        c
        for c in selected
        if (area is None or c.area == area) and (tag is None or tag in c.tags) and (severity is None or c.severity == severity)
    ]
    if as_json:
        data = [
            {"id": c.id, "version": c.version, "severity": c.severity.value, "title": text(c.title, lang), "maps_to": dict(c.maps_to), "tags": list(c.tags)}
            for c in rows
        ]
        click.echo(json.dumps({"catalogue_version": cat.version, "checks": data}, indent=2, ensure_ascii=False))
        return
    width = max((len(c.id) for c in rows), default=10)
    for c in rows:
        click.echo(f"{c.id.ljust(width)}  {c.severity.value:<8}  {text(c.title, lang)}")
    click.echo(f"\n{len(rows)} checks, catalogue {cat.version}")


@main.command("profiles")
@click.option("--lang", type=LANGS, default="nl", show_default=True)
def profiles_cmd(lang: str) -> None:
    """List the profiles that select and tune checks."""
    cat, _ = load_catalogue()
    for p in cat.profiles.values():
        n = len(cat.select(p))
        click.echo(f"{p.id:<16} {text(p.title, lang)} ({n} checks)")
        if p.description:
            click.echo(f"{'':<16} {text(p.description, lang)}")


@main.command("demo")
@click.option("--lang", type=LANGS, default="nl", show_default=True)
@click.option("--output", "-o", default="cyberscan-demo", show_default=True, help="Folder for the demo reports.")
def demo_cmd(lang: str, output: str) -> None:
    """Scan a fictional museum on this computer (no internet needed) and write its reports."""
    from .demo import run_demo

    try:
        paths = run_demo(Path(output), lang=lang)
    except OSError as exc:
        fail(f"the demo could not run: {exc}", EXIT_IO)
    for path in paths:
        click.echo(f"{'rapport' if lang == 'nl' else 'report'}: {path}")


@main.command("docs")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def docs_cmd(folder: Path) -> None:
    """Write the check reference and framework coverage (Markdown) into FOLDER."""
    from .docgen import write

    cat, _ = load_catalogue()
    try:
        for path in write(cat, folder):
            click.echo(str(path))
    except OSError as exc:
        fail(f"cannot write documentation: {exc}", EXIT_IO)


def run() -> None:
    """Console entry point: user errors never end in a traceback."""
    try:
        main(standalone_mode=True)
    except CyberscanError as exc:  # pragma: no cover - commands catch their own
        fail(str(exc), EXIT_USAGE)


from .commands import questionnaire as _questionnaire_cmd  # noqa: E402 - after main is defined
from .commands import report as _report_cmd  # noqa: E402

main.add_command(_questionnaire_cmd.command)
main.add_command(_report_cmd.command)

if __name__ == "__main__":  # pragma: no cover
    run()
