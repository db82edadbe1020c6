"""Website facts per host address: the plain-HTTP first hop, the HTTPS home page, security.txt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..models import ErrorReason, Subject
from . import migrates, v1_status


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response (body only kept where a check reads it)."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]  # in order, repeated names kept (Set-Cookie)
    body: str = ""
    truncated: bool = False  # the body was cut at the size cap (the headers are whole)
    content_type: str = ""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        lname = name.lower()
        return tuple(v for k, v in self.headers if k.lower() == lname)

    @property
    def location(self) -> str | None:
        return self.header("Location")

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and bool(self.location)


@dataclass(frozen=True, slots=True)
class Fetch:
    """A request chain (following redirects on the same host, scheme and port), or why it failed."""

    error: ErrorReason | None = None
    detail: str = ""
    hops: tuple[Exchange, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.hops)

    @property
    def first(self) -> Exchange | None:
        return self.hops[0] if self.hops else None

    @property
    def final(self) -> Exchange | None:
        return self.hops[-1] if self.hops else None


@dataclass(frozen=True, slots=True)
class WebEndpoint:
    name: str
    address: str
    http: Fetch  # GET http://name/ (first hop only)
    https: Fetch  # GET https://name/ with same-host redirects
    securitytxt: Fetch  # GET https://name/.well-known/security.txt
    generators: tuple[str, ...] = ()  # <meta name="generator"> of the home page
    port: int = 443
    roles: tuple[str, ...] = ()  # of the host name (apex, www, mta-sts, extra ...)

    @property
    def subject(self) -> Subject:
        return Subject(host=self.name, address=self.address, port=self.port, service="https")


@dataclass(frozen=True, slots=True)
class HttpSite:
    VERSION: ClassVar[int] = 2
    domain: str
    endpoints: tuple[WebEndpoint, ...]
    unresolved: tuple[str, ...] = ()  # web host names without any address
    failed: tuple[tuple[str, ErrorReason], ...] = ()  # web host names whose lookup failed, with why


def _fetch_v1(fetch: dict[str, Any]) -> dict[str, Any]:
    status = fetch.pop("status", "ok")
    fetch["error"] = v1_status(status)
    if fetch["error"] is None and not fetch.get("hops"):
        fetch["error"] = ErrorReason.PROTOCOL.value
    return fetch


@migrates(HttpSite, 1)
def _site_v1(data: dict[str, Any]) -> dict[str, Any]:
    for endpoint in data.get("endpoints") or []:
        for key in ("http", "https", "securitytxt"):
            if isinstance(endpoint.get(key), dict):
                _fetch_v1(endpoint[key])
        endpoint.setdefault("port", 443)
        endpoint.setdefault("roles", [])
    data.setdefault("failed", [])
    return data
