"""A readable summary for the terminal: where the organisation stands, the first actions, then every
finding by result, with the same words and counts as the other reports.

Plain text by default; colours only when the caller asks (``Report.extra["color"] = True``), so a file
written with ``--format terminal --output x.txt`` never holds escape codes. Untrusted text (DNS
records, banners, headers) is neutralised before it is laid out: an ``ESC[2J`` in a TXT record shows
as ``␛[2J`` and never reaches the terminal as a control sequence.
"""

from __future__ import annotations

import textwrap

import click

from ..plugin import renderer
from . import Report
from .view import DETAILED, Finding, View, build_view, fmt, neutralise

_COLOUR = {"fail": "red", "error": "magenta", "warn": "yellow", "pass": "green", "info": "cyan", "accepted": "blue"}
_LAMP = {"red": "red", "amber": "yellow", "green": "green"}
_WIDTH = 100


class _Out:
    """Lines built from plain text; styling is added after the text was neutralised."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour
        self.lines: list[str] = []

    def style(self, value: str, **styles: object) -> str:
        plain = neutralise(value)
        return click.style(plain, **styles) if self.colour else plain  # type: ignore[arg-type]

    def add(self, value: str = "", **styles: object) -> None:
        self.lines.append(self.style(value, **styles) if styles else neutralise(value))

    def wrap(self, value: str, indent: int, first: str = "") -> None:
        lines = textwrap.wrap(neutralise(value), width=_WIDTH, initial_indent=" " * indent,
                              subsequent_indent=" " * indent, break_on_hyphens=False,
                              break_long_words=False) or [""]
        if first:
            lines[0] = first + lines[0][len(first):]
        self.lines.extend(lines)

    def label(self, status: str, label: str, width: int) -> str:
        return self.style(label.ljust(width), fg=_COLOUR.get(status), bold=status == "fail")


def _header(v: View, out: _Out) -> None:
    t = v.t
    out.add(f"{t['report_title']}: {', '.join(v.targets)}", bold=True)
    out.add(f"{t['scanned_at']}: {v.started} · {t['profile']}: {v.profile} · cyberscan {v.tool_version}")
    out.add(f"{t['overall_score']}: {v.overall}", bold=True)
    out.wrap(v.score_source, 2)
    for g in v.groups:
        score = f" ({g.score})" if g.status != "unknown" else ""
        lamp = out.style(f"[{g.status_label}]", fg=_LAMP.get(g.lamp)) if g.lamp in _LAMP else f"[{g.status_label}]"
        out.lines.append(f"  {lamp} {neutralise(g.label)}{score}")
    counts = " · ".join(f"{c.label} {c.count}" for c in v.counts)
    out.add(f"{t['counts']}: {counts} = {fmt(t['counts_total'], count=v.total)}")
    if v.since is not None:
        out.add(f"{t['since_title']}: {v.since.line}")
    if v.unassessed_count:
        out.wrap(v.unassessed, 0)


def _seen(f: Finding, out: _Out, indent: int) -> None:
    marker = f" [{f.marker_label}]" if f.marker_label else ""
    out.wrap(f"{f.where}: {f.message}{marker}", indent)


def render_view(v: View, *, colour: bool = False) -> str:
    t = v.t
    out = _Out(colour)
    _header(v, out)
    if v.notices:
        out.add()
        for n in v.notices:
            out.wrap(n, 2, first="!")
    width = max((len(c.label) for c in v.counts), default=4)
    out.add()
    out.add(t["first_actions"], bold=True)
    if v.actions:
        for i, a in enumerate(v.actions, start=1):
            places = f" ({a.places_label})" if a.places_label else ""
            out.wrap(f"{a.headline}{places}", 3, first=f"{i}.")
            if a.headline != a.title:
                out.wrap(f"{t['check_label']}: {a.title}", 3)
            if a.remediation_short:
                out.wrap(f"→ {a.remediation_short} ({t['who']}: {a.who})", 3)
            if a.why:
                out.wrap(f"{t['why_first']}: {a.why}", 3)
            for line in a.suppliers:
                out.wrap(line, 3)
        if v.more_actions:
            out.wrap(fmt(t["more_actions"], count=v.more_actions), 3)
    else:
        out.add(t["nothing_to_fix"])
    out.add()
    out.add(t["all_findings"], bold=True)
    findings = {f.anchor: f for f in v.findings}
    for sl in v.status_lists:
        out.add()
        out.lines.append(f"{out.label(sl.status, sl.label, width)}  {sl.count}")
        if sl.status in DETAILED:
            for card in v.attention_cards:
                mine = [f for f in card.findings if f.status == sl.status]
                if not mine:
                    continue
                domain = f" [{card.lead.target}]" if len(v.targets) > 1 else ""
                out.wrap(f"{len(mine)}× {card.lead.title}{domain}", 2)
                for f in mine:
                    _seen(f, out, 6)
                lead = mine[0]
                if lead.status != "error" and lead.remediation_short:
                    out.wrap(f"→ {lead.remediation_short}", 6)
        elif sl.status == "accepted":
            for f in v.accepted:
                out.wrap(f"{f.title}: {f.where}", 2)
                if f.accepted is not None:
                    out.wrap(f"{f.accepted.label}. {f.accepted.by}", 6)
        elif sl.status == "skipped":  # one reason, then the checks it applies to
            by_reason: dict[str, list[str]] = {}
            for e in sl.entries:
                found = findings.get(e.anchor)
                where = f" ({', '.join(e.places)})" if len(v.targets) > 1 else ""
                by_reason.setdefault(found.message if found else "", []).append(f"{e.count}× {e.title}{where}")
            for reason, titles in by_reason.items():
                out.wrap(reason, 2)
                for title in titles:
                    out.wrap(title, 4)
        else:
            for e in sl.entries:
                out.wrap(f"{e.count}× {e.title} — {', '.join(e.places)}", 2)
                found = findings.get(e.anchor)
                if sl.status == "info" and found is not None:
                    out.wrap(found.message, 6)
    return "\n".join(out.lines) + "\n"


@renderer("terminal", suffix="txt")
def render_terminal(report: Report) -> str:
    return render_view(build_view(report), colour=bool(report.extra.get("color", False)))
