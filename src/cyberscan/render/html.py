"""The self-contained HTML report: inline CSS, no scripts, print-friendly, Dutch by default."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import markupsafe

if TYPE_CHECKING:  # jinja2 is imported when a template is first rendered (a JSON scan never does)
    import jinja2

from ..plugin import renderer
from . import Report
from .view import STATUS_SYMBOL, build_view, clean, compact, neutralise

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")


def md_escape(value: object) -> str:
    """Text safe to put in Markdown: control characters neutralised, markup characters escaped, line
    breaks flattened."""
    return _MD_SPECIAL.sub(r"\\\1", clean(value))


def words(value: object) -> markupsafe.Markup:
    """Header text whose words never break inside (not even at a hyphen); lines break between words."""
    parts = str(value).split()
    return markupsafe.Markup(" ").join(markupsafe.Markup('<span class="w">{}</span>').format(w) for w in parts)


@functools.cache
def environment() -> jinja2.Environment:
    """One template environment: HTML autoescaped, undefined names an error."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cyberscan", "render/templates"),
        autoescape=jinja2.select_autoescape(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["words"] = words
    env.globals["compact"] = compact
    env.globals["symbols"] = STATUS_SYMBOL
    return env


@renderer("html", suffix="html")
def render_html(report: Report) -> str:
    view = build_view(report)
    return neutralise(environment().get_template("report.html").render(v=view, t=view.t), keep="\n")
