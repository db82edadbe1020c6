"""The canonical JSON report, described by ``schema/report.schema.json`` (shipped in the wheel)."""

from __future__ import annotations

import functools
import json
from typing import Any

from ..actions import actions_to_dict
from ..assessment import Assessment
from ..catalogue import data_root
from ..plugin import renderer
from ..readiness import readiness_to_dict
from ..serialize import accepted_to_dict, result_to_dict, scan_to_dict, to_jsonable
from . import Report
from .view import tally_to_dict

SCHEMA_FILE = "report.schema.json"
# The report is the stored scan (serialize.SCHEMA_VERSION, read back by ``cyberscan report``) plus the
# assessment; 2.1 adds ``summary`` and each action's priority. Readers compare the major version only.
REPORT_SCHEMA_VERSION = "2.1"


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the report (from ``schema/`` in a source tree, ``_data/schema`` in a wheel)."""
    data: dict[str, Any] = json.loads((data_root() / "schema" / SCHEMA_FILE).read_text(encoding="utf-8"))
    return data


def assessment_to_dict(assessment: Assessment, lang: str = "nl") -> dict[str, Any]:
    """The whole assessment: the scan with its facts, every result, readiness, actions, and the
    summary figures the other reports show (``summary``, from :func:`cyberscan.render.view.tally`)."""
    data = scan_to_dict(assessment.scan)
    data["schema_version"] = REPORT_SCHEMA_VERSION
    data["lang"] = lang
    data["results"] = [result_to_dict(r) for r in assessment.results]
    data["readiness"] = readiness_to_dict(assessment.readiness)
    data["actions"] = actions_to_dict(assessment.actions)
    data["accepted"] = [accepted_to_dict(r) for r in assessment.accepted]
    data["failures"] = [{"domain": f.domain, "key": f.key, "params": to_jsonable(dict(f.params))}
                        for f in assessment.failures]
    data["answers"] = to_jsonable(assessment.answers.public()) if assessment.answers is not None else None
    data["summary"] = tally_to_dict(assessment)
    return data


@renderer("json", suffix="json")
def render_json(report: Report) -> str:
    return json.dumps(assessment_to_dict(report.assessment, report.lang), indent=2, ensure_ascii=False) + "\n"
