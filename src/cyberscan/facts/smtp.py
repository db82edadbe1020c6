"""Mail transport facts: STARTTLS per MX address, and TLSA records for DANE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..models import ErrorReason, Subject
from . import migrates, v1_status
from .tls import TlsEndpoint, endpoint_v1


@dataclass(frozen=True, slots=True)
class MailEndpoint:
    name: str  # the MX host name
    address: str
    port: int
    error: ErrorReason | None = None
    detail: str = ""
    banner: str = ""
    starttls: bool = False
    tls: TlsEndpoint | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def subject(self) -> Subject:
        return Subject(host=self.name, address=self.address, port=self.port, service="smtp")


@dataclass(frozen=True, slots=True)
class StarttlsFact:
    VERSION: ClassVar[int] = 2
    domain: str
    endpoints: tuple[MailEndpoint, ...]
    mx_names: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    null_mx: bool = False
    mx_error: ErrorReason | None = None  # the MX hosts are unknown (their lookup failed)
    failed: tuple[tuple[str, ErrorReason], ...] = ()  # MX host names whose address lookup failed


@migrates(StarttlsFact, 1)
def _starttls_v1(data: dict[str, Any]) -> dict[str, Any]:
    for endpoint in data.get("endpoints") or []:
        endpoint["error"] = v1_status(endpoint.pop("status", "ok"))
        if isinstance(endpoint.get("tls"), dict):
            endpoint_v1(endpoint["tls"])
            endpoint["tls"]["service"] = "smtp"
    data.setdefault("failed", [])
    return data


@dataclass(frozen=True, slots=True)
class TlsaSet:
    mx: str
    owner: str  # _25._tcp.<mx>
    rcode: str
    records: tuple[str, ...]  # "usage selector matching data"
    signed: bool  # RRSIGs present
    authenticated: bool  # AD flag from a validating resolver
    error: ErrorReason | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TlsaFact:
    VERSION: ClassVar[int] = 2
    domain: str
    sets: tuple[TlsaSet, ...]
    mx_error: ErrorReason | None = None


@migrates(TlsaFact, 1)
def _tlsa_v1(data: dict[str, Any]) -> dict[str, Any]:
    for tset in data.get("sets") or []:
        text = tset.get("error") or ""
        tset["error"] = ErrorReason.SERVFAIL.value if text else None
        tset["detail"] = text
    return data
