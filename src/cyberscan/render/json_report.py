"""The canonical JSON report, described by ``schema/report.schema.json`` (shipped in the wheel)."""

from __future__ import annotations

import functools
import json
from typing import Any

from .. import readiness as readiness_mod
from ..actions import actions_to_dict, prioritise
from ..catalogue import data_root
from ..plugin import renderer
from ..serialize import scan_to_dict
from . import Report

SCHEMA_FILE = "report.schema.json"


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the report (from ``schema/`` in a source tree, ``_data/schema`` in a wheel)."""
    data: dict[str, Any] = json.loads((data_root() / "schema" / SCHEMA_FILE).read_text(encoding="utf-8"))
    return data


def report_to_dict(report: Report) -> dict[str, Any]:
    data = scan_to_dict(report.scan)
    data["lang"] = report.lang
    to_dict = getattr(readiness_mod, "readiness_to_dict", None)
    if callable(to_dict):
        profile = report.catalogue.profiles.get(report.scan.profile)
        frameworks = list(profile.frameworks) if profile and profile.frameworks else None
        assessed = readiness_mod.assess(report.catalogue, report.scan.results, frameworks)
        data["readiness"] = to_dict(assessed)
    data["actions"] = actions_to_dict(prioritise(report.catalogue, report.scan.results, outcomes=report.scan.outcomes))
    return data


@renderer("json", suffix="json")
def render_json(report: Report) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
