"""The self-contained HTML report: inline CSS, no scripts, print-friendly, Dutch by default."""

from __future__ import annotations

import functools
import re

import jinja2

from ..plugin import renderer
from . import Report
from .view import build_view, compact

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(value: object) -> str:
    """Text safe to put in Markdown: markup characters escaped, line breaks flattened."""
    flat = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


@functools.cache
def environment() -> jinja2.Environment:
    """One template environment: HTML autoescaped, undefined names an error."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cyberscan", "render/templates"),
        autoescape=jinja2.select_autoescape(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.globals["compact"] = compact
    return env


@renderer("html", suffix="html")
def render_html(report: Report) -> str:
    view = build_view(report)
    return environment().get_template("report.html").render(v=view, t=view.t)
