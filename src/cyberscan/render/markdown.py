"""A compact Markdown summary, to paste into an e-mail or a ticket."""

from __future__ import annotations

from ..plugin import renderer
from . import Report
from .html import environment
from .view import build_view, neutralise


@renderer("markdown", suffix="md")
def render_markdown(report: Report) -> str:
    view = build_view(report)
    out = environment().get_template("summary.md").render(v=view, t=view.t)
    while "\n\n\n" in out:
        out = out.replace("\n\n\n", "\n\n")
    return neutralise(out, keep="\n")  # untrusted text never carries a control character into the file
