"""Port-scan facts: which services answer on the domain's own addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..models import ErrorReason, Subject
from . import migrates

BUDGET = "budget"  # AddressScan.detail when the port scan's time budget ran out before the address was done


@dataclass(frozen=True, slots=True)
class OpenPort:
    """A port that answered, with what was learned about the service behind it."""

    port: int
    proto: str = "tcp"
    state: str = "open"
    service: str = ""  # nmap's service name (ssh, ms-wbt-server, redis ...) or guessed from the banner
    # product and upstream version cleaned by parsers.banner.software(): "OpenSSH" "9.2p1", never
    # "9.2p1 Debian 2+deb12u10"; the distribution that built it ("Debian") and its package revision apart.
    # Facts stored before these were cleaned hold nmap's raw text; evaluators clean it again (idempotent).
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    tunnel: str = ""  # "ssl" when TLS is in front of the service
    cpe: tuple[str, ...] = ()
    banner: str = ""  # built-in scan: what the service said first
    auth_methods: tuple[str, ...] = ()  # SSH: the login methods the server offers
    cert_names: tuple[str, ...] = ()  # TLS: the DNS names in the certificate (many: a shared server)
    title: str = ""  # web: the home page's title (names VPN portals such as Ivanti Connect Secure)
    confident: bool = True  # False when the service name is only a guess from the port number
    distribution: str = ""  # Debian | Ubuntu | Red Hat ... when the version or nmap's extra information names it
    build: str = ""  # the distribution's package revision: 2+deb12u10, 3ubuntu0.10


@dataclass(frozen=True, slots=True)
class AddressScan:
    address: str
    names: tuple[str, ...]  # the host names of the domain that resolve to this address
    ptr: tuple[str, ...] = ()  # reverse DNS names of the address (hint for shared hosting)
    method: str = "nmap"  # nmap | connect
    scanned_tcp: tuple[int, ...] = ()
    scanned_udp: tuple[int, ...] = ()
    open: tuple[OpenPort, ...] = ()
    # TIMEOUT: nmap's --host-timeout, or (detail BUDGET) the port scan's time budget ran out;
    # UNREACHABLE: nmap could not be run or gave nothing; INTERRUPTED: the scan was stopped
    error: ErrorReason | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def scanned(self, port: int, proto: str = "tcp") -> bool:
        return self.ok and port in (self.scanned_udp if proto == "udp" else self.scanned_tcp)

    def find(self, port: int, proto: str = "tcp") -> OpenPort | None:
        for item in self.open:
            if item.port == port and item.proto == proto:
                return item
        return None

    def subject(self, port: int | None = None, service: str | None = None) -> Subject:
        return Subject(address=self.address, port=port, service=service, names=self.names)


@dataclass(frozen=True, slots=True)
class PortScan:
    VERSION: ClassVar[int] = 2
    domain: str
    method: str  # nmap | connect
    addresses: tuple[AddressScan, ...]
    wanted_tcp: tuple[int, ...] = ()
    wanted_udp: tuple[int, ...] = ()
    udp_skipped: str = ""  # why the wanted UDP ports were not scanned: "" | needs-root | no-nmap | disabled
    refused: tuple[str, ...] = ()  # addresses of the domain left alone (outside the scope)
    nmap_version: str = ""


@migrates(PortScan, 1)
def _ports_v1(data: dict[str, Any]) -> dict[str, Any]:
    for scan in data.get("addresses") or []:
        old = scan.get("error") or ""
        scan["error"] = {"": None, "timeout": "timeout", "budget": "timeout"}.get(old, ErrorReason.UNREACHABLE.value)
        if old == "budget":
            scan["detail"] = BUDGET  # version 1 told the budget apart by its error value
    return data

