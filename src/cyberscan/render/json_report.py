"""The canonical JSON report (schema: ``schema/report.schema.json``)."""

from __future__ import annotations

import json

from ..plugin import renderer
from ..serialize import scan_to_dict
from . import Report


@renderer("json", suffix="json")
def render_json(report: Report) -> str:
    data = scan_to_dict(report.scan)
    data["lang"] = report.lang
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
