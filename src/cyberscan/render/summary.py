"""The one-page summary for the director (``--format summary``): an HTML page that prints to exactly
one A4 page: the score and what it means, a traffic light per DEN checklist item, the counts, the first
five actions and what we ask of the director. Same view, same numbers as the full report."""

from __future__ import annotations

from ..plugin import renderer
from . import Report
from .html import environment
from .view import build_view, neutralise


@renderer("summary", suffix="summary.html")
def render_summary(report: Report) -> str:
    view = build_view(report)
    return neutralise(environment().get_template("director.html").render(v=view, t=view.t), keep="\n")
