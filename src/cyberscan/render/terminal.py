"""A readable summary for the terminal: worst findings first."""

from __future__ import annotations

import click

from ..catalogue import text
from ..i18n import message, notice
from ..models import Status
from ..plugin import renderer
from . import Report

_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.INFO: 3, Status.SKIPPED: 4, Status.MANUAL: 5, Status.PASS: 6}
_COLOUR = {Status.FAIL: "red", Status.ERROR: "magenta", Status.WARN: "yellow", Status.PASS: "green"}
_LABEL = {
    "nl": {Status.PASS: "OK", Status.FAIL: "FOUT", Status.WARN: "LET OP", Status.INFO: "INFO", Status.ERROR: "ONBEKEND", Status.SKIPPED: "OVERGESLAGEN", Status.MANUAL: "HANDMATIG"},
    "en": {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.WARN: "WARN", Status.INFO: "INFO", Status.ERROR: "ERROR", Status.SKIPPED: "SKIPPED", Status.MANUAL: "MANUAL"},
}


@renderer("terminal", suffix="txt")
def render_terminal(report: Report) -> str:
    lang = report.lang if report.lang in _LABEL else "nl"
    labels = _LABEL[lang]
    lines: list[str] = []
    scan = report.scan
    for n in scan.notices:
        lines.append(click.style("! ", fg="yellow") + notice(report.catalogue, n, lang))
    results = sorted(scan.results, key=lambda r: (_ORDER[r.status], -r.severity.rank, r.check_id))
    width = max(len(v) for v in labels.values())
    for r in results:
        check = report.catalogue.checks.get(r.check_id)
        title = text(check.title, lang) if check else r.check_id
        where = f" [{r.host}]" if r.host else ""
        label = click.style(labels[r.status].ljust(width), fg=_COLOUR.get(r.status), bold=r.status is Status.FAIL)
        lines.append(f"{label}  {r.target}{where}  {title}")
        lines.append(" " * (width + 2) + message(report.catalogue, check, r, lang))
    counts = {s: sum(1 for r in scan.results if r.status is s) for s in Status}
    summary = ", ".join(f"{labels[s]}: {n}" for s, n in counts.items() if n)
    lines.append("")
    lines.append(summary)
    return "\n".join(lines) + "\n"
