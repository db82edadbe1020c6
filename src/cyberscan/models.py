"""Typed result model shared by probes, evaluators, the engine, the assessment and renderers.

Facts are what probes observed; verdicts are what evaluators concluded; results are verdicts
enriched by the engine with the catalogue's metadata (severity, mappings) and a full
:class:`Subject`. A :class:`Scan` keeps the raw facts beside the results, with the catalogue and fact
versions, so a stored scan can be judged again.

A finding is identified by its :attr:`Result.key`: the check id plus the subject's identifying
fields (domain, host name, address, port, service), never by a display label. History, diffs,
accepted risks and alerts hang on that key.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    """Why a fact could not be collected, or a check could not be judged.

    Probes report these values as data (``Fetch.error``, ``TlsEndpoint.error`` ...); one shared helper
    (:func:`cyberscan.evaluators.common.not_judged`) turns them into verdicts. ``REFUSED`` is a refused
    connection or a DNS REFUSED answer; what it means (no HTTPS offered, or an error) is the check's
    to say.
    """

    TIMEOUT = "timeout"  # no answer in time, or the endpoint's overall deadline ran out
    SERVFAIL = "servfail"  # the nameservers answered SERVFAIL: the truth is unknown
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    PROTOCOL = "protocol"  # the peer answered something we could not make sense of
    TRUNCATED = "truncated"  # the answer was cut off (size cap, deadline): never judged as content
    OUT_OF_SCOPE = "out-of-scope"  # e.g. a private address without --allow-private
    NO_IPV6 = "no-ipv6"  # this computer cannot reach IPv6 addresses at all
    NOT_APPLICABLE = "not-applicable"
    INTERRUPTED = "interrupted"  # the scan was stopped (Ctrl-C) before this was collected
    UNREADABLE = "unreadable"  # a stored fact from another version that cannot be read (or migrated)
    BUG = "bug"  # an evaluator or probe crashed; the scan goes on


# reasons that say nothing is wrong or right: the check is skipped, not in error
SKIP_REASONS = frozenset({ErrorReason.OUT_OF_SCOPE, ErrorReason.NOT_APPLICABLE, ErrorReason.NO_IPV6,
                          ErrorReason.UNREADABLE})


def _norm_address(address: str | None) -> str | None:
    if not address:
        return None
    try:
        return ipaddress.ip_address(address.strip("[]")).compressed
    except ValueError:
        return address.lower()


def _norm_name(name: str | None) -> str | None:
    return name.rstrip(".").lower() if name else None


@dataclass(frozen=True, slots=True)
class Subject:
    """What a finding is about, with the same fields in every area.

    ``domain`` is the scanned domain (the engine fills it in); ``host`` the host name judged (none for
    domain-level and address-level findings); ``address``, ``port`` and ``service`` where relevant.
    ``names`` are the host names of the domain that point to ``address`` (port findings): shown to
    people, not part of the key, so a new alias does not make a finding "new".
    """

    domain: str = ""
    host: str | None = None
    address: str | None = None
    port: int | None = None
    service: str | None = None
    names: tuple[str, ...] = ()

    def normalised(self) -> Subject:
        return Subject(
            domain=_norm_name(self.domain) or "",
            host=_norm_name(self.host),
            address=_norm_address(self.address),
            port=self.port,
            service=self.service.lower() if self.service else None,
            names=tuple(sorted({n for n in (_norm_name(x) for x in self.names) if n})),
        )

    def with_domain(self, domain: str) -> Subject:
        return replace(self, domain=domain).normalised()

    @property
    def key(self) -> str:
        """``domain|host|address|port|service``: stable whatever the order of DNS answers."""
        parts = (self.domain, self.host or "", self.address or "", "" if self.port is None else str(self.port),
                 self.service or "")
        return "|".join(parts)


def finding_key(check_id: str, subject: Subject) -> str:
    """The identity of a finding across scans: check id plus subject (see :class:`Subject`)."""
    return f"{check_id}|{subject.key}"


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """A probe's result: a fact, or the reason there is none.

    ``fact`` is a frozen dataclass registered with :func:`cyberscan.plugin.probe` (or, for a stored
    scan whose fact could not be read back, ``None`` with ``error`` set).
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
    """What an evaluator concludes. ``message`` is a key into the check's ``messages`` (or the shared
    ``checks/data/messages.yaml``); ``subject`` says which host, address or port (the engine adds the
    domain); ``reason`` why an ERROR or SKIPPED verdict could not be judged."""

    status: Status
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    subject: Subject | None = None
    reason: ErrorReason | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """One judged check for one subject."""

    check_id: str
    check_version: int
    target: str  # the scanned domain
    status: Status
    severity: Severity
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    subject: Subject = field(default_factory=Subject)
    maps_to: tuple[str, ...] = ()
    source: str = "scan"  # "scan" or "self-reported"
    error_reason: ErrorReason | None = None
    accepted: AcceptedRisk | None = None  # the organisation accepted this finding (see risks.py)

    @property
    def key(self) -> str:
        return finding_key(self.check_id, self.subject)

    @property
    def judged(self) -> bool:
        """A verdict about the organisation (not an error, not skipped)."""
        return self.status not in (Status.ERROR, Status.SKIPPED)


@dataclass(frozen=True, slots=True)
class AcceptedRisk:
    """A finding the organisation marked as accepted or not applicable, until ``expires``."""

    key: str  # finding key, or a check id (then every finding of that check)
    kind: str  # "accepted" | "not-applicable"
    reason: str
    who: str
    expires: str  # ISO date
    status: str = ""  # the finding's status when accepted: the acceptance lapses when it changes
    line: int = 0  # line in the file, for messages


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know about the scan itself (scope decisions, reduced detection)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Scan:
    """The raw outcome of one scan: facts and the verdicts on them, with what the scan was told."""

    tool_version: str
    catalogue_version: str
    profile: str
    started: str  # ISO 8601, UTC
    finished: str
    targets: tuple[str, ...]
    results: tuple[Result, ...]
    outcomes: tuple[ProbeOutcome, ...]
    notices: tuple[Notice, ...] = ()
    addresses_probed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    complete: bool = True  # False when the scan was interrupted before every fact was collected
    fact_versions: Mapping[str, int] = field(default_factory=dict)  # probe id -> version of its fact type
