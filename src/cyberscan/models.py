"""Typed result model shared by probes, evaluators, the engine and renderers.

Facts are what probes observed; verdicts are what evaluators concluded; results are verdicts
enriched by the engine with the catalogue's metadata (severity, mappings). A ``ScanResult`` keeps
the raw facts beside the results, with the catalogue version, so a stored scan can be judged again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    WARN = "warn"
    INFO = "info"
    ERROR = "error"
    SKIPPED = "skipped"
    MANUAL = "manual"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class ErrorReason(enum.StrEnum):
    """Why a fact could not be collected or a check could not be judged."""

    TIMEOUT = "timeout"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    PROTOCOL = "protocol"  # the peer answered something we could not make sense of
    OUT_OF_SCOPE = "out-of-scope"  # e.g. a private address without --allow-private
    NOT_APPLICABLE = "not-applicable"
    BUG = "bug"  # an evaluator or probe crashed; the scan goes on


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """A probe's result: a fact, or the reason there is none.

    ``fact`` is a frozen dataclass registered with :func:`cyberscan.plugin.fact`.
    """

    probe: str
    subject: str
    fact: Any | None = None
    error: ErrorReason | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an evaluator concludes. ``message`` is a key into the check's ``messages``."""

    status: Status
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    host: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """One judged check for one target (and optionally one host or address)."""

    check_id: str
    check_version: int
    target: str
    status: Status
    severity: Severity
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    host: str | None = None
    maps_to: tuple[str, ...] = ()
    source: str = "scan"  # "scan" or "self-reported"
    error_reason: ErrorReason | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know about the scan itself (scope decisions, reduced detection)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None


@dataclass(slots=True)
class ScanResult:
    tool_version: str
    catalogue_version: str
    profile: str
    started: str  # ISO 8601, UTC
    finished: str
    targets: list[str]
    results: list[Result]
    outcomes: list[ProbeOutcome]
    notices: list[Notice] = field(default_factory=list)
    addresses_probed: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
