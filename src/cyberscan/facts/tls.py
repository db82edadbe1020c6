"""TLS facts per host address: protocol versions and suites a server accepts, its certificate, chain trust."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from ..models import ErrorReason, Subject
from . import migrates, v1_status


@dataclass(frozen=True, slots=True)
class CertInfo:
    """The parts of an X.509 certificate the checks judge (the DER is kept for DANE)."""

    subject: str
    issuer: str
    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]  # subjectAltName dNSName entries
    not_before: datetime
    not_after: datetime
    key_type: str  # "RSA" | "EC" | "Ed25519" | "Ed448" | "DSA" | "unknown"
    key_bits: int
    signature_hash: str  # "sha256", "sha1", "md5", "" (e.g. Ed25519)
    sha256: str  # fingerprint, hex
    der: bytes = b""
    self_signed: bool = False


@dataclass(frozen=True, slots=True)
class VersionResult:
    version: str  # "SSLv3" | "TLSv1.0" | ... | "TLSv1.3"
    accepted: bool
    suites: tuple[str, ...] = ()  # IANA names, server's order of choice
    groups: tuple[str, ...] = ()
    dh_bits: int = 0
    complete: bool = True
    error: str = ""


@dataclass(frozen=True, slots=True)
class TlsEndpoint:
    name: str
    address: str
    port: int
    error: ErrorReason | None = None  # None: the facts below are whole
    detail: str = ""
    versions: tuple[VersionResult, ...] = ()
    negotiated_version: str = ""
    negotiated_suite: str = ""
    certificate: CertInfo | None = None
    chain: tuple[bytes, ...] = ()  # DER as sent by the server (TLS <= 1.2 only), leaf first
    chain_trusted: bool | None = None  # None when no verifying handshake completed
    verify_code: int = 0
    verify_message: str = ""
    service: str = "https"
    roles: tuple[str, ...] = ()  # of the host (see facts.dns.Host); checks may judge some roles only

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def subject(self) -> Subject:
        return Subject(host=self.name, address=self.address, port=self.port, service=self.service)

    def accepted_versions(self) -> tuple[str, ...]:
        return tuple(v.version for v in self.versions if v.accepted)


@dataclass(frozen=True, slots=True)
class TlsScan:
    VERSION: ClassVar[int] = 3
    domain: str
    endpoints: tuple[TlsEndpoint, ...]
    unresolved: tuple[str, ...] = ()  # web host names without any address
    failed: tuple[tuple[str, ErrorReason], ...] = ()  # web host names whose lookup failed


def endpoint_v1(endpoint: dict[str, Any]) -> dict[str, Any]:
    endpoint["error"] = v1_status(endpoint.pop("status", "ok"))
    endpoint.setdefault("service", "https")
    return endpoint


@migrates(TlsScan, 1)
def _tls_v1(data: dict[str, Any]) -> dict[str, Any]:
    for endpoint in data.get("endpoints") or []:
        endpoint_v1(endpoint)
    data.setdefault("failed", [])
    return data


@migrates(TlsScan, 2)
def _tls_v2(data: dict[str, Any]) -> dict[str, Any]:
    for endpoint in data.get("endpoints") or []:
        endpoint.setdefault("roles", [])  # version 2 had no found hosts: every check judges every endpoint
    return data


# ----------------------------------------------------------------------------- certificate names


@dataclass(frozen=True, slots=True)
class CertNames:
    """The subjectAltNames of the certificate one host (apex or www) presents, from one handshake."""

    name: str
    address: str = ""  # "" when the name has no address
    port: int = 443
    names: tuple[str, ...] = ()  # dNSName entries, lower case
    error: ErrorReason | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CertNamesFact:
    VERSION: ClassVar[int] = 1
    domain: str
    certificates: tuple[CertNames, ...]
