"""JSON-ready dictionaries for scans, and back: facts keep their types so a stored scan can be rejudged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import cattrs
import cattrs.preconf.json

from .models import ErrorReason, Notice, ProbeOutcome, Result, ScanResult, Severity, Status
from .registry import Registry

SCHEMA_VERSION = "1.0"

_conv = cattrs.preconf.json.make_converter()
_conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
_conv.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
_conv.register_unstructure_hook(bytes, lambda b: b.hex())
_conv.register_structure_hook(bytes, lambda v, _: bytes.fromhex(v))


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for any fact or model value (dataclasses, enums, tuples, datetimes, bytes)."""
    return _conv.unstructure(value)


def result_to_dict(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(result)
    data["maps_to"] = list(result.maps_to)
    return data


def outcome_to_dict(outcome: ProbeOutcome) -> dict[str, Any]:
    return {
        "probe": outcome.probe,
        "subject": outcome.subject,
        "error": outcome.error.value if outcome.error else None,
        "detail": outcome.detail,
        "fact": to_jsonable(outcome.fact) if outcome.fact is not None else None,
    }


def scan_to_dict(scan: ScanResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": scan.tool_version,
        "catalogue_version": scan.catalogue_version,
        "profile": scan.profile,
        "started": scan.started,
        "finished": scan.finished,
        "targets": list(scan.targets),
        "options": scan.options,
        "addresses_probed": scan.addresses_probed,
        "notices": [to_jsonable(n) for n in scan.notices],
        "results": [result_to_dict(r) for r in scan.results],
        "facts": [outcome_to_dict(o) for o in scan.outcomes],
    }


def scan_from_dict(data: dict[str, Any], registry: Registry) -> ScanResult:
    """Rebuild a stored scan. Facts of probes that are no longer installed stay plain dicts."""
    types = registry.fact_types()
    outcomes = []
    for raw in data.get("facts", []):
        fact = raw.get("fact")
        fact_type = types.get(raw["probe"])
        if fact is not None and fact_type is not None:
            fact = _conv.structure(fact, fact_type)
        outcomes.append(
            ProbeOutcome(
                probe=raw["probe"],
                subject=raw["subject"],
                fact=fact,
                error=ErrorReason(raw["error"]) if raw.get("error") else None,
                detail=raw.get("detail", ""),
            )
        )
    results = [
        Result(
            check_id=r["check_id"],
            check_version=int(r["check_version"]),
            target=r["target"],
            status=Status(r["status"]),
            severity=Severity(r["severity"]),
            message=r["message"],
            params=r.get("params", {}),
            evidence=r.get("evidence", {}),
            host=r.get("host"),
            maps_to=tuple(r.get("maps_to", ())),
            source=r.get("source", "scan"),
            error_reason=ErrorReason(r["error_reason"]) if r.get("error_reason") else None,
        )
        for r in data.get("results", [])
    ]
    return ScanResult(
        tool_version=data["tool_version"],
        catalogue_version=data["catalogue_version"],
        profile=data["profile"],
        started=data["started"],
        finished=data["finished"],
        targets=list(data["targets"]),
        results=results,
        outcomes=outcomes,
        notices=[Notice(n["key"], n.get("params", {}), n.get("target")) for n in data.get("notices", [])],
        addresses_probed=data.get("addresses_probed", {}),
        options=data.get("options", {}),
    )
