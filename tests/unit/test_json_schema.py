"""The JSON report validates against schema/report.schema.json: real demo output and edge cases."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan import serialize
from cyberscan.demo import scan_demo
from cyberscan.models import ErrorReason, Notice, ProbeOutcome, Result, Scan, Severity, Status, Subject
from cyberscan.render import Report, render
from cyberscan.render.json_report import REPORT_SCHEMA_VERSION, schema

from .reports import report_of


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    doc = schema()
    jsonschema.Draft202012Validator.check_schema(doc)
    return jsonschema.Draft202012Validator(doc, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def demo_report() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render("json", Report(scan_demo(), "nl"), registry_mod.load()))
    return data


def test_schema_is_read_from_the_data_root() -> None:
    assert (catalogue_mod.data_root() / "schema" / "report.schema.json").is_file()
    assert "check_id" in schema()["$defs"]["result"]["required"]


def test_real_scan_output_validates(validator: jsonschema.protocols.Validator, demo_report: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(demo_report), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert demo_report["schema_version"] == REPORT_SCHEMA_VERSION
    assert demo_report["schema_version"].split(".")[0] == serialize.SCHEMA_VERSION.split(".")[0]
    assert demo_report["results"] and demo_report["facts"]
    den = next(f for f in demo_report["readiness"]["frameworks"] if f["id"] == "den-checklist")
    assert den["items"] and demo_report["readiness"]["checks_total"] == len(demo_report["results"])


def _edge_case_scan() -> Scan:
    results = [
        Result("dns.ipv6", 1, "museum.test", Status.ERROR, Severity.INFO, "error.timeout", {"detail": "x"},
               error_reason=ErrorReason.TIMEOUT),
        Result("dns.ipv6", 1, "museum.test", Status.SKIPPED, Severity.INFO, "error.out-of-scope", {},
               error_reason=ErrorReason.OUT_OF_SCOPE),
        Result("q.backup.offline", 1, "museum.test", Status.WARN, Severity.MEDIUM, "answer.partly",
               maps_to=("den.check.backup",), source="self-reported"),
        Result("dns.ipv6", 1, "museum.test", Status.PASS, Severity.INFO, "all", {"hosts": "a"},
               {"hosts": {"www.museum.test": ["192.0.2.1", "2001:db8::1"]}}, subject=Subject("museum.test", host="www.museum.test"),
               maps_to=("den.check.5",)),
    ]
    return Scan(
        tool_version="0.1.0",
        catalogue_version="1",
        profile="default",
        started="2026-11-28T10:00:00+00:00",
        finished="2026-11-28T10:00:01+00:00",
        targets=["museum.test"],
        results=results,
        outcomes=[ProbeOutcome("dns.mx", "museum.test", error=ErrorReason.SERVFAIL, detail="SERVFAIL")],
        notices=[Notice("input.url", {"original": "https://museum.test/", "domain": "museum.test"}, "museum.test")],
    )


def test_edge_cases_validate(validator: jsonschema.protocols.Validator) -> None:
    cat, reg = catalogue_mod.builtin(), registry_mod.load()
    data = json.loads(render("json", report_of(_edge_case_scan(), cat, "en"), reg))
    assert not list(validator.iter_errors(data))


def _broken(data: dict[str, Any], how: str) -> dict[str, Any]:
    doc = copy.deepcopy(data)
    if how == "status":
        doc["results"][0]["status"] = "maybe"
    elif how == "no-results":
        del doc["results"]
    elif how == "error-without-reason":
        first_error = next(r for r in doc["results"] if r["status"] == "error")
        first_error["error_reason"] = None
    elif how == "pass-with-reason":
        first_pass = next(r for r in doc["results"] if r["status"] == "pass")
        first_pass["error_reason"] = "timeout"
    elif how == "severity":
        doc["results"][0]["severity"] = "extreme"
    elif how == "maps-to":
        doc["results"][0]["maps_to"] = "den.check.4"
    elif how == "readiness-status":
        doc["readiness"]["frameworks"][0]["items"][0]["status"] = "fine"
    elif how == "readiness-score":
        doc["readiness"]["frameworks"][0]["score"] = 1.5
    elif how == "fact-missing":
        doc["facts"][0] = {"probe": "dns.mx", "subject": "museum.test", "error": None, "fact": None}
    return doc


@pytest.mark.parametrize(
    "how", ["readiness-status", "readiness-score", "status", "no-results", "error-without-reason", "pass-with-reason", "severity", "maps-to", "fact-missing"]
)
def test_schema_rejects_broken_reports(validator: jsonschema.protocols.Validator, how: str) -> None:
    cat, reg = catalogue_mod.builtin(), registry_mod.load()
    data = json.loads(render("json", report_of(_edge_case_scan(), cat, "en"), reg))
    assert not list(validator.iter_errors(data))
    assert list(validator.iter_errors(_broken(data, how))), how


def test_json_carries_the_prioritised_actions(demo_report: dict[str, Any]) -> None:
    actions = demo_report["actions"]
    failed = {r["check_id"] for r in demo_report["results"] if r["status"] == "fail"}
    warned = {r["check_id"] for r in demo_report["results"] if r["status"] == "warn"}
    # every failed or warned check once (info-severity ones are not actions), riskiest first
    assert {a["id"] for a in actions} <= failed | warned and len(actions) == len({a["id"] for a in actions})
    assert actions[0]["id"] in failed
    assert {"nl", "en"} <= set(actions[0]["remediation"])
