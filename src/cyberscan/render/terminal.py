"""A readable summary for the terminal: a header with the readiness, then the worst findings first.

Plain text by default; colours only when the caller asks (``Report.extra["color"] = True``), so a file
written with ``--format terminal --output x.txt`` never holds escape codes.
"""

from __future__ import annotations

import textwrap

import click

from ..models import Status
from ..plugin import renderer
from . import Report
from .view import Finding, View, build_view, compact, fmt

_COLOUR = {"fail": "red", "error": "magenta", "warn": "yellow", "pass": "green", "info": "cyan"}
_WIDTH = 100


def _style(value: str, colour: bool, **styles: object) -> str:
    return click.style(value, **styles) if colour else value  # type: ignore[arg-type]


def _wrap(value: str, indent: int) -> list[str]:
    return textwrap.wrap(value, width=_WIDTH, initial_indent=" " * indent, subsequent_indent=" " * indent) or [""]


def _label(f: Finding, width: int, colour: bool) -> str:
    return _style(f.short_label.ljust(width), colour, fg=_COLOUR.get(f.status), bold=f.status == Status.FAIL.value)


def _header(v: View, colour: bool) -> list[str]:
    t = v.t
    lines = [
        _style(f"{t['report_title']}: {', '.join(v.targets)}", colour, bold=True),
        f"{t['scanned_at']}: {v.started} · {t['profile']}: {v.profile} · cyberscan {v.tool_version}",
        fmt(t["readiness_line"], score=v.overall),
    ]
    for fw in v.frameworks:
        lines.append(f"  {fw.title}: {fw.score} ({fw.assessed})")
    lines.append(f"{t['counts']}: " + ", ".join(f"{c.label} {c.count}" for c in v.counts))
    if v.unassessed_count:
        lines.extend(_wrap(v.unassessed, 0))
    return lines


def render_view(v: View, *, colour: bool = False) -> str:
    t = v.t
    lines = _header(v, colour)
    if v.notices:
        lines.append("")
        for n in v.notices:
            wrapped = _wrap(n, 2)
            wrapped[0] = "!" + wrapped[0][1:]
            lines.extend(wrapped)
    width = max((len(f.short_label) for f in v.findings if f.status != Status.SKIPPED.value), default=4)
    lines.append("")
    if v.attention_cards:
        lines.append(_style(t["worst_first"], colour, bold=True))
        for card in v.attention_cards:
            f = card.lead
            domain = f" [{f.target}]" if len(v.targets) > 1 else ""
            lines.append(f"{_label(f, width, colour)}  {f.title}{domain}")
            for g in card.findings:
                prefix = f"{g.short_label}: " if len(card.findings) > 1 and g.status != f.status else ""
                where = f"{g.host}: " if g.host else ""
                lines.extend(_wrap(prefix + where + g.message, width + 2))
            if f.status != Status.ERROR.value and f.remediation_short:
                lines.extend(_wrap(f"→ {f.remediation_short}", width + 2))
    else:
        lines.append(t["nothing_to_fix"])
    rest = compact(v.passed)
    if rest.ok:
        lines.append("")
        lines.append(_style(t["passed_checks"], colour, bold=True))
        seen: dict[str, list[Finding]] = {}
        for f in rest.ok:
            seen.setdefault(f.title, []).append(f)
        for title, same in seen.items():
            times = f" ({len(same)}×)" if len(same) > 1 else ""
            lines.append(f"{_label(same[0], width, colour)}  {title}{times}")
    if rest.notes:
        lines.append("")
        lines.append(_style(t["notes_heading"], colour, bold=True))
        for f in rest.notes:
            where = f" [{f.host}]" if f.host else ""
            lines.append(f"{_label(f, width, colour)}  {f.title}{where}")
            if f.status != Status.PASS.value:
                lines.extend(_wrap(f.message, width + 2))
    for reason, items in rest.skipped:
        lines.append("")
        lines.append(_style(f"{t['status_skipped']} ({len(items)})", colour, bold=True))
        lines.extend(_wrap(reason, 2))
        lines.extend(_wrap("; ".join(f.title for f in items), 2))
    return "\n".join(lines) + "\n"


@renderer("terminal", suffix="txt")
def render_terminal(report: Report) -> str:
    return render_view(build_view(report), colour=bool(report.extra.get("color", False)))
