"""What a scan is told: resolver, timeout, scope switches, consent. Plain data, validated once.

Every network wait in a scan derives from :attr:`ScanOptions.timeout` (``--timeout``): one read or
one DNS query may take that long, one endpoint (all connections to one address for one purpose)
at most ``budget`` times that long. The budgets are documented in ``docs/architecture.md``
("Time bounds") and can be tuned per profile (``settings: {budgets: {tls: 8}}``).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError

MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 120.0

# the overall deadline of one endpoint, in multiples of the timeout (documented in docs/architecture.md)
MAX_MX_HOSTS = 10  # mail servers examined per domain (lowest preference first); more is noted, not scanned
MAX_NS_HOSTS = 13  # nameservers examined per domain (the root zone has 13)
BUDGETS: Mapping[str, float] = {
    "web": 6,  # plain-HTTP first hop, HTTPS home page with redirects, security.txt of one address
    "tls": 8,  # ordinary and verifying handshake plus the raw ClientHello walk of one address
    "smtp": 8,  # banner, EHLO, STARTTLS and the TLS facts of one mail server address
    "policy": 3,  # the MTA-STS policy from one address
    "ns": 1,  # one SOA query to one nameserver address
    "axfr": 2,  # one zone-transfer attempt
    "names": 2,  # one handshake that reads the names in the apex or www certificate (tls.names)
    "dns": 3,  # one lookup, all configured nameservers in turn (at most 3 of them)
    "spf": 10,  # the whole SPF walk: includes and redirects, however the records are built
}


@dataclass(frozen=True, slots=True)
class Nameserver:
    address: str
    port: int = 53

    @classmethod
    def parse(cls, raw: str) -> Nameserver:
        """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address. Raises ValueError."""
        value = raw.strip()
        port = 53
        if value.startswith("["):
            host, closed, rest = value[1:].partition("]")
            if not closed or (rest and not rest.startswith(":")):
                raise ValueError(value)
            if rest.startswith(":"):
                port = int(rest[1:])
            value = host
        elif value.count(":") == 1:
            value, port_s = value.split(":")
            port = int(port_s)
        value = ipaddress.ip_address(value).compressed
        if not 0 < port < 65536:
            raise ValueError(value)
        return cls(value, port)

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


def check_timeout(value: float) -> float:
    """A usable timeout in seconds, or UsageError (``nan``, ``inf`` and out-of-range values are refused)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise UsageError("option.bad-timeout", value=str(value), low=MIN_TIMEOUT, high=MAX_TIMEOUT)
    if not MIN_TIMEOUT <= float(value) <= MAX_TIMEOUT:
        raise UsageError("option.bad-timeout", value=str(value), low=MIN_TIMEOUT, high=MAX_TIMEOUT)
    return float(value)


@dataclass(frozen=True, slots=True)
class ScanOptions:
    timeout: float = 5.0
    nameservers: tuple[Nameserver, ...] = ()
    ca_bundle: str | None = None
    allow_private: bool = False
    dkim_selectors: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    ports: bool = False  # active port checks requested
    authorised: bool = False  # the user confirmed they may scan these hosts
    workers: int = 32
    # connections to one address at once in one scan: a browser's six per host (a batch sets its own, 4 by
    # default for the whole batch); at 4 a typical domain's TLS walk waited for slots (0.93 s -> 0.78 s)
    per_host_connections: int = 6

    def __post_init__(self) -> None:
        check_timeout(self.timeout)

    def budget(self, kind: str, settings: Mapping[str, Any] | None = None) -> float:
        """Seconds one endpoint of ``kind`` may take in all (``BUDGETS`` times the timeout)."""
        factor = BUDGETS.get(kind, 4)
        custom = (settings or {}).get("budgets")
        if isinstance(custom, Mapping):
            try:
                value = float(custom.get(kind, factor))
            except (TypeError, ValueError):
                value = factor
            if math.isfinite(value) and 0 < value <= 100:
                factor = value
        return self.timeout * factor

    def public(self) -> dict[str, Any]:
        """Options worth recording in a report (never secrets; answers are stored separately)."""
        return {
            "timeout": self.timeout,
            "nameservers": [str(ns) for ns in self.nameservers],
            "allow_private": self.allow_private,
            "dkim_selectors": list(self.dkim_selectors),
            "extra_hosts": list(self.extra_hosts),
            "ports": self.ports,
            "authorised": self.authorised,
        }


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """Everything :func:`cyberscan.assess` is asked, kept with the assessment (for rescans and history)."""

    targets: tuple[str, ...]
    profile: str = "default"
    options: ScanOptions = field(default_factory=ScanOptions)
