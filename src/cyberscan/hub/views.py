"""The dashboard: the published aggregates as one page, in Dutch (default) or English (``?lang=en``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from .. import catalogue as catalogue_mod
from ..texts import LANGUAGES, say, strings, text
from . import aggregates, charts, store

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("cyberscan", "hub/templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)


def _lang(request: HttpRequest) -> str:
    wanted = request.GET.get("lang", "")
    return wanted if wanted in LANGUAGES else "nl"


def value_label(dimension: str, value: str, lang: str) -> str:
    return say(f"hub.value.{dimension}.{value or 'none'}", lang)


def context(data: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Everything the template shows, from the published aggregates (nothing else is read)."""
    t = strings("dashboard.", lang)
    cat = catalogue_mod.builtin()

    def title(item_id: str) -> str:
        item = cat.item(item_id)
        return text(item.title, lang) if item else item_id

    periods = [p for p in data.get("periods", []) if p.get("published")]
    latest = periods[-1] if periods else None
    overall = aggregates.group(latest, "all", "all") if latest else None
    out: dict[str, Any] = {"t": t, "lang": lang, "k": data.get("k", settings.HUB_K), "latest": latest,
                           "overall": overall, "unpublished": [p["period"] for p in data.get("periods", [])
                                                               if not p.get("published")]}
    if latest is None or overall is None:
        return out
    checklist = overall["items"].get("den-checklist", {})
    themes = overall["items"].get("den-stappenplan", {})
    out["histogram"] = charts.histogram(overall["frameworks"]["den-checklist"]["histogram"], label=t["histogram"])
    out["checklist_chart"] = charts.bars([(title(i), s["ready"]) for i, s in checklist.items()], label=t["checklist"])
    out["themes_chart"] = charts.bars([(title(i), s["ready"]) for i, s in themes.items()], label=t["themes"])
    out["gaps"] = [{"title": title(g["item"]), "share": g["gap"]} for g in overall["gaps"]]
    trend_rows = []
    for period in periods:
        g = aggregates.group(period, "all", "all")
        mean = g["frameworks"]["den-checklist"]["mean"] if g else None
        if g is not None and mean is not None:
            trend_rows.append({"period": period["period"], "organisations": g["organisations"], "mean": float(mean)})
    out["trend"] = charts.trend([(r["period"], r["mean"]) for r in trend_rows], label=t["trend"])
    out["trend_rows"] = trend_rows
    breakdowns = []
    for dimension, vocabulary in data.get("dimensions", {}).items():
        rows = []
        for value in vocabulary:
            g = aggregates.group(latest, dimension, value)
            rows.append({
                "value": value, "label": value_label(dimension, value, lang), "shown": g is not None,
                "organisations": g["organisations"] if g else None,
                "mean": g["frameworks"]["den-checklist"]["mean"] if g else None,
            })
        breakdowns.append({"dimension": dimension, "title": t[f"by-{dimension}"], "rows": rows})
    out["breakdowns"] = breakdowns
    return out


def dashboard(request: HttpRequest) -> HttpResponse:
    lang = _lang(request)
    try:
        data = store.published()
    except (OperationalError, InterfaceError):
        return HttpResponse(say("dashboard.database", lang), status=503, content_type="text/plain; charset=utf-8")
    html = _env.get_template("hub/dashboard.html").render(context(data, lang))
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
    return response
