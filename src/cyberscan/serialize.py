"""JSON-ready dictionaries for scans and assessments, and back.

Facts keep their types so a stored scan can be judged again. Every stored scan records the version
of each fact type (``fact_versions``); reading an older fact runs the migrations its module
registered (:func:`cyberscan.facts.migrates`). A fact that cannot be read (no migration, a newer
version, a broken file) becomes an ``unreadable`` outcome with a notice naming it: the checks that
need it are skipped, never judged on guesswork, and nothing raises.

Schema versions of the JSON report: ``1.0`` (cyberscan 0.1) and ``2.0`` (structured subjects,
finding keys, fact versions, the assessment). Both are read.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import cattrs
import cattrs.preconf.json

from .errors import StoredScanError
from .facts import migration, version_of
from .models import AcceptedRisk, ErrorReason, Notice, ProbeOutcome, Result, Scan, Severity, Status, Subject
from .registry import Registry

SCHEMA_VERSION = "2.0"
READABLE_SCHEMAS = ("1.0", "2.0", "2.1")  # 2.1: the JSON report adds a summary (render/json_report.py)

_conv = cattrs.preconf.json.make_converter()
_conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
_conv.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
_conv.register_unstructure_hook(bytes, lambda b: b.hex())
_conv.register_structure_hook(bytes, lambda v, _: bytes.fromhex(v))


def to_jsonable(value: Any) -> Any:
    """Plain JSON types for any fact or model value (dataclasses, enums, tuples, datetimes, bytes)."""
    return _conv.unstructure(value)


# ----------------------------------------------------------------------------- results


def subject_to_dict(subject: Subject) -> dict[str, Any]:
    return {"domain": subject.domain, "host": subject.host, "address": subject.address, "port": subject.port,
            "service": subject.service, "names": list(subject.names)}


def subject_from_dict(raw: Any, domain: str) -> Subject:
    if not isinstance(raw, Mapping):
        return Subject(domain=domain)
    port = raw.get("port")
    return Subject(
        domain=str(raw.get("domain") or domain),
        host=str(raw["host"]) if raw.get("host") else None,
        address=str(raw["address"]) if raw.get("address") else None,
        port=int(port) if isinstance(port, int) and not isinstance(port, bool) else None,
        service=str(raw["service"]) if raw.get("service") else None,
        names=tuple(str(n) for n in raw.get("names") or ()),
    ).normalised()


def _subject_v1(label: Any, domain: str) -> Subject:
    """A version-1 display label ("name (address)", a bare address or a name) as a subject."""
    if not isinstance(label, str) or not label:
        return Subject(domain=domain)
    name, _, rest = label.partition(" (")
    if rest.endswith(")"):
        return Subject(domain=domain, host=name, address=rest[:-1]).normalised()
    if any(ch.isdigit() for ch in label) and ("." in label or ":" in label) and not any(c.isalpha() for c in label.replace(":", "")):
        return Subject(domain=domain, address=label).normalised()
    return Subject(domain=domain, host=label).normalised()


def result_to_dict(result: Result) -> dict[str, Any]:
    return {
        "key": result.key,
        "check_id": result.check_id,
        "check_version": result.check_version,
        "target": result.target,
        "subject": subject_to_dict(result.subject),
        "status": result.status.value,
        "severity": result.severity.value,
        "message": result.message,
        "params": to_jsonable(dict(result.params)),
        "evidence": to_jsonable(dict(result.evidence)),
        "maps_to": list(result.maps_to),
        "source": result.source,
        "error_reason": result.error_reason.value if result.error_reason else None,
        "accepted": accepted_to_dict(result.accepted) if result.accepted else None,
    }


def result_from_dict(r: Mapping[str, Any]) -> Result:
    target = str(r["target"])
    subject = subject_from_dict(r["subject"], target) if "subject" in r else _subject_v1(r.get("host"), target)
    return Result(
        check_id=str(r["check_id"]),
        check_version=int(r["check_version"]),
        target=target,
        status=Status(r["status"]),
        severity=Severity(r["severity"]),
        message=str(r["message"]),
        params=dict(r.get("params") or {}),
        evidence=dict(r.get("evidence") or {}),
        subject=subject,
        maps_to=tuple(str(m) for m in r.get("maps_to") or ()),
        source=str(r.get("source", "scan")),
        error_reason=ErrorReason(r["error_reason"]) if r.get("error_reason") else None,
        accepted=accepted_from_dict(r["accepted"]) if r.get("accepted") else None,
    )


def accepted_to_dict(risk: AcceptedRisk) -> dict[str, Any]:
    return {"finding": risk.key, "kind": risk.kind, "reason": risk.reason, "who": risk.who, "expires": risk.expires,
            "status": risk.status}


def accepted_from_dict(raw: Mapping[str, Any]) -> AcceptedRisk:
    return AcceptedRisk(str(raw["finding"]), str(raw.get("kind", "accepted")), str(raw.get("reason", "")),
                        str(raw.get("who", "")), str(raw["expires"]), str(raw.get("status", "")))


# ----------------------------------------------------------------------------- facts


def outcome_to_dict(outcome: ProbeOutcome) -> dict[str, Any]:
    return {
        "probe": outcome.probe,
        "subject": outcome.subject,
        "error": outcome.error.value if outcome.error else None,
        "detail": outcome.detail,
        "fact": to_jsonable(outcome.fact) if outcome.fact is not None else None,
    }


def _read_fact(raw: Any, fact_type: type, stored_version: int) -> Any:
    """Structure a stored fact, migrating it forward. Raises ValueError when it cannot be read."""
    current = version_of(fact_type)
    if stored_version > current:
        raise ValueError(f"stored v{stored_version} > v{current}")  # a technical detail, never a sentence
    data = copy.deepcopy(raw)
    for version in range(stored_version, current):
        step = migration(fact_type, version)
        if step is None:
            raise ValueError(f"migration v{version}?")
        data = step(data)
    try:
        return _conv.structure(data, fact_type)
    except (cattrs.BaseValidationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{type(exc).__name__}") from exc


def outcomes_from_dicts(
    raws: Iterable[Any], registry: Registry, versions: Mapping[str, int]
) -> tuple[list[ProbeOutcome], list[Notice]]:
    types = registry.fact_types()
    outcomes: list[ProbeOutcome] = []
    unreadable: dict[str, str] = {}
    for raw in raws:
        if not isinstance(raw, Mapping):
            continue
        probe, subject = str(raw.get("probe", "")), str(raw.get("subject", ""))
        fact: Any = raw.get("fact")
        error = _reason(raw.get("error"))
        detail = str(raw.get("detail") or "")
        fact_type = types.get(probe)
        if fact is not None and fact_type is not None:
            try:
                fact = _read_fact(fact, fact_type, int(versions.get(probe, 1)))
            except (ValueError, TypeError) as exc:
                unreadable[probe] = str(exc)
                fact, error, detail = None, ErrorReason.UNREADABLE, f"{probe}: {exc}"
        elif fact is not None:  # a probe that is no longer installed: its checks are gone too
            fact = None
            error, detail = ErrorReason.UNREADABLE, f"{probe}: not installed"
        outcomes.append(ProbeOutcome(probe, subject, fact=fact, error=error, detail=detail))
    notices = [Notice("stored.fact-unreadable", {"probe": p, "detail": d}) for p, d in sorted(unreadable.items())]
    return outcomes, notices


def _reason(value: Any) -> ErrorReason | None:
    if not value:
        return None
    try:
        return ErrorReason(str(value))
    except ValueError:
        return ErrorReason.PROTOCOL


# ----------------------------------------------------------------------------- scans


def scan_to_dict(scan: Scan) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": scan.tool_version,
        "catalogue_version": scan.catalogue_version,
        "profile": scan.profile,
        "started": scan.started,
        "finished": scan.finished,
        "complete": scan.complete,
        "targets": list(scan.targets),
        "options": dict(scan.options),
        "addresses_probed": {a: list(n) for a, n in scan.addresses_probed.items()},
        "notices": [{"key": n.key, "params": to_jsonable(dict(n.params)), "target": n.target} for n in scan.notices],
        "fact_versions": dict(scan.fact_versions),
        "results": [result_to_dict(r) for r in scan.results],
        "facts": [outcome_to_dict(o) for o in scan.outcomes],
    }


def _date(value: Any, name: str) -> str:
    try:
        return datetime.fromisoformat(str(value)).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        raise StoredScanError("stored.bad-field", field=name) from None


def scan_from_dict(data: Any, registry: Registry) -> Scan:
    """Rebuild a stored scan (schema 1.0 or 2.0). Raises StoredScanError naming what is wrong."""
    if not isinstance(data, Mapping):
        raise StoredScanError("stored.not-a-report")
    schema = str(data.get("schema_version", ""))
    if schema not in READABLE_SCHEMAS:
        if schema and schema.split(".")[0].isdigit() and int(schema.split(".")[0]) > int(SCHEMA_VERSION.split(".")[0]):
            raise StoredScanError("stored.newer-schema", schema=schema[:20], supported=", ".join(READABLE_SCHEMAS))
        raise StoredScanError("stored.not-a-report")
    try:
        targets = tuple(str(t) for t in data["targets"])
        versions = {str(k): int(v) for k, v in (data.get("fact_versions") or {}).items()}
        outcomes, unreadable = outcomes_from_dicts(data.get("facts") or [], registry, versions)
        results = tuple(result_from_dict(r) for r in data.get("results") or [])
        notices = [Notice(str(n["key"]), dict(n.get("params") or {}), n.get("target"))
                   for n in data.get("notices") or []]
        return Scan(
            tool_version=str(data["tool_version"]),
            catalogue_version=str(data["catalogue_version"]),
            profile=str(data["profile"]),
            started=_date(data.get("started"), "started"),
            finished=_date(data.get("finished", data.get("started")), "finished"),
            targets=targets,
            results=results,
            outcomes=tuple(outcomes),
            notices=(*notices, *unreadable),
            addresses_probed={str(a): tuple(str(x) for x in n) for a, n in (data.get("addresses_probed") or {}).items()},
            options=dict(data.get("options") or {}),
            complete=bool(data.get("complete", True)),
            fact_versions=versions,
        )
    except StoredScanError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        missing = exc.args[0] if isinstance(exc, KeyError) and exc.args else type(exc).__name__
        raise StoredScanError("stored.bad-field", field=str(missing)[:60]) from None
