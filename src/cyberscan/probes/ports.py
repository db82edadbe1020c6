"""Which services answer on the domain's own addresses: one port scan shared by every ``net.*`` check.

Scope: the addresses come only from the ``hosts.inventory`` fact (apex, www, MX hosts, mta-sts and
the user's ``--host`` names), each admitted through the scan's scope before it is contacted. Never
ranges, never neighbours. MX hosts outside the scanned domain (a mail provider's servers, such as
Microsoft 365 or Google) are not the user's to authorise: they are left out, with a notice. The checks are ``active: true``, so the engine runs this probe only with
``--ports`` and the user's confirmation.

Which ports: the union of the ``ports`` params of the selected checks that need ``net.ports``
(:meth:`ProbeContext.check_params`). The port lists live in the catalogue, so a profile that
overrides a check's ports changes both what is scanned and what is judged; the fact records what
was scanned, so a stored scan judged under newer rules never passes a port that was not looked at.

How: nmap through python-nmap (``-sV``, polite timing, ``--host-timeout``, one run per address,
several addresses at once, a time budget per domain). Without the nmap binary a built-in TCP
connect scan with banner reading takes over (:mod:`.portscan_fallback`) and the scan says that
detection was reduced. UDP ports (BACnet, KNX) need nmap run as root; otherwise they are not
scanned and the checks that wanted them say so.

Profile settings (``settings: {portscan: {...}}``), all optional::

    timing: 3            # nmap -T (0-5); 3 is nmap's normal, polite pace
    host_timeout: 300    # seconds nmap may spend on one address
    budget: 900          # seconds for the whole port scan of one domain
    parallel: 4          # addresses scanned at the same time
    max_parallelism: 8   # nmap probes in flight per address
    version_intensity: 7 # nmap --version-intensity (0-9); lower is faster on silent services
    nmap: true           # false: always use the built-in connect scan
    nmap_binary: nmap    # name or path of the nmap program
    udp: true            # false: never scan UDP
    external_hosts: false  # true: also scan MX hosts outside the domain (the mail provider's servers)
    connect_timeout: 3   # built-in scan: seconds per connection attempt
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dns.reversename

from ..engine import ProbeContext
from ..errors import OutOfScope, ProbeError, TargetUnreachable
from ..parsers.nmap import NmapHost, parse_nmap_xml
from ..plugin import probe
from ..scope import in_domain
from .dnsbase import lookup
from .hosts import HostInventory

log = logging.getLogger(__name__)

PROBE = "net.ports"


@dataclass(frozen=True, slots=True)
class OpenPort:
    """A port that answered, with what was learned about the service behind it."""

    port: int
    proto: str = "tcp"
    state: str = "open"
    service: str = ""  # nmap's service name (ssh, ms-wbt-server, redis ...) or guessed from the banner
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    tunnel: str = ""  # "ssl" when TLS is in front of the service
    cpe: tuple[str, ...] = ()
    banner: str = ""  # built-in scan: what the service said first
    auth_methods: tuple[str, ...] = ()  # SSH: the login methods the server offers
    cert_names: tuple[str, ...] = ()  # TLS: the DNS names in the certificate (many: a shared server)
    confident: bool = True  # False when the service name is only a guess from the port number


@dataclass(frozen=True, slots=True)
class AddressScan:
    address: str
    names: tuple[str, ...]  # the host names of the domain that resolve to this address
    ptr: tuple[str, ...] = ()  # reverse DNS names of the address (hint for shared hosting)
    method: str = "nmap"  # nmap | connect
    scanned_tcp: tuple[int, ...] = ()
    scanned_udp: tuple[int, ...] = ()
    open: tuple[OpenPort, ...] = ()
    error: str = ""  # "" | "timeout" (nmap gave up on the address) | "budget" | "failed"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def scanned(self, port: int, proto: str = "tcp") -> bool:
        return self.ok and port in (self.scanned_udp if proto == "udp" else self.scanned_tcp)

    def find(self, port: int, proto: str = "tcp") -> OpenPort | None:
        for item in self.open:
            if item.port == port and item.proto == proto:
                return item
        return None


@dataclass(frozen=True, slots=True)
class PortScan:
    domain: str
    method: str  # nmap | connect
    addresses: tuple[AddressScan, ...]
    wanted_tcp: tuple[int, ...] = ()
    wanted_udp: tuple[int, ...] = ()
    udp_skipped: str = ""  # why the wanted UDP ports were not scanned: "" | needs-root | no-nmap | disabled
    refused: tuple[str, ...] = ()  # addresses of the domain left alone (outside the scope)
    nmap_version: str = ""


@dataclass(frozen=True, slots=True)
class ScanSettings:
    timing: int = 3
    host_timeout: float = 300.0
    budget: float = 900.0
    parallel: int = 4
    max_parallelism: int = 8
    version_intensity: int = 7
    use_nmap: bool = True
    nmap_binary: str = "nmap"
    udp: bool = True
    external_hosts: bool = False
    connect_timeout: float = 3.0
    banner_timeout: float = 2.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ScanSettings:
        raw = settings.get("portscan") or {}
        if not isinstance(raw, Mapping):
            raw = {}

        def num(key: str, default: float, low: float, high: float) -> float:
            try:
                return min(max(float(raw.get(key, default)), low), high)
            except (TypeError, ValueError):
                return default

        return cls(
            timing=int(num("timing", 3, 0, 5)),
            host_timeout=num("host_timeout", 300, 5, 3600),
            budget=num("budget", 900, 5, 6 * 3600),
            parallel=int(num("parallel", 4, 1, 64)),
            max_parallelism=int(num("max_parallelism", 8, 1, 100)),
            version_intensity=int(num("version_intensity", 7, 0, 9)),
            use_nmap=bool(raw.get("nmap", True)),
            nmap_binary=str(raw.get("nmap_binary", "nmap")),
            udp=bool(raw.get("udp", True)),
            external_hosts=bool(raw.get("external_hosts", False)),
            connect_timeout=num("connect_timeout", 3, 0.1, 60),
            banner_timeout=num("banner_timeout", 2, 0.1, 30),
        )


# ----------------------------------------------------------------------------- what to scan


def wanted_ports(params_list: Iterable[Mapping[str, Any]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The union of the ``ports`` params of the checks: (TCP ports, UDP ports), sorted."""
    tcp: set[int] = set()
    udp: set[int] = set()
    for params in params_list:
        for entry in params.get("ports") or ():
            spec = port_spec(entry)
            if spec is None:
                continue
            (udp if spec[1] == "udp" else tcp).add(spec[0])
    return tuple(sorted(tcp)), tuple(sorted(udp))


def port_spec(entry: Any) -> tuple[int, str] | None:
    """``{port: 3389, proto: tcp}`` (or a bare number) as (port, proto); None when malformed."""
    if isinstance(entry, int):
        entry = {"port": entry}
    if not isinstance(entry, Mapping):
        return None
    try:
        number = int(entry.get("port", -1))
    except (TypeError, ValueError):
        return None
    proto = str(entry.get("proto", "tcp")).lower()
    if not 0 < number < 65536 or proto not in ("tcp", "udp"):
        return None
    return number, proto


def _targets(
    ctx: ProbeContext, inventory: HostInventory, *, external: bool = False
) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """Addresses to scan (address -> names), each admitted by the scope first; those refused; and the
    host names left out because they belong to someone else (an MX host of the mail provider)."""
    admitted: dict[str, list[str]] = {}
    refused: list[str] = []
    foreign: list[str] = []
    for host in inventory.hosts:
        if not external and "extra" not in host.roles and not in_domain(host.name, inventory.domain):
            foreign.append(host.name)  # e.g. the mail provider's MX: not the user's to authorise
            continue
        for address in host.addresses:
            if address in refused:
                continue
            try:
                ctx.admit(address, host.name)
            except OutOfScope:
                refused.append(address)
                continue
            names = admitted.setdefault(address, [])
            if host.name not in names:
                names.append(host.name)
    return admitted, refused, foreign


def _ptr(ctx: ProbeContext, address: str) -> tuple[str, ...]:
    """Reverse DNS names of ``address`` through the scan's resolver; none when there are none."""
    try:
        name = dns.reversename.from_address(address).to_text().rstrip(".")
        answer = lookup(ctx.resolver, name, "PTR", probe=PROBE)
    except (ProbeError, ValueError):
        return ()
    return tuple(r.rstrip(".").lower() for r in answer.records)


# ----------------------------------------------------------------------------- the probe


@probe(PROBE, fact=PortScan)
def probe_ports(ctx: ProbeContext, domain: str) -> PortScan:
    settings = ScanSettings.from_settings(ctx.settings)
    tcp, udp = wanted_ports(ctx.check_params(PROBE))
    inventory: HostInventory = ctx.fact("hosts.inventory")
    targets, refused, foreign = _targets(ctx, inventory, external=settings.external_hosts)
    if foreign:
        ctx.notice("ports.external-hosts", names=sorted(foreign))
    if not targets and refused:
        raise OutOfScope(
            f"every address of {domain} ({', '.join(refused)}) is outside the scope; use --allow-private to scan them",
            probe=PROBE,
            target=domain,
        )
    binary = shutil.which(settings.nmap_binary) if settings.use_nmap else None
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    udp_skipped = ""
    if udp:
        if not settings.udp:
            udp_skipped = "disabled"
        elif binary is None:
            udp_skipped = "no-nmap"
        elif not root:
            udp_skipped = "needs-root"
    scan_udp = udp if not udp_skipped else ()
    if udp_skipped in ("needs-root", "no-nmap"):
        ctx.notice("ports.udp-skipped", ports=list(udp), reason=udp_skipped)
    deadline = time.monotonic() + settings.budget
    ptrs = dict(zip(targets, ctx.map(lambda a: _ptr(ctx, a), list(targets)), strict=True))
    version = ""
    if binary is not None:
        from .portscan_nmap import nmap_version, scan_address

        version = nmap_version(binary)

        def one(address: str) -> AddressScan:
            with ctx.connection_slot(address):
                return scan_address(
                    binary,
                    address,
                    tuple(targets[address]),
                    tcp,
                    scan_udp,
                    settings=settings,
                    deadline=deadline,
                    privileged=root,
                    ptr=ptrs[address],
                )

        scans = ctx.map(one, list(targets), workers=settings.parallel)
        method = "nmap"
    else:
        from .portscan_fallback import connect_scan

        ctx.notice("ports.reduced-detection", reason="disabled" if not settings.use_nmap else "nmap-missing")
        per_address = max(1, min(ctx.options.per_host_connections, settings.max_parallelism))
        results = connect_scan(
            {a: tcp for a in targets},
            connect_timeout=min(settings.connect_timeout, ctx.timeout),
            banner_timeout=settings.banner_timeout,
            per_address=per_address,
            parallel=settings.parallel,
            budget=settings.budget,
        )
        scans = [
            AddressScan(
                address=a,
                names=tuple(targets[a]),
                ptr=ptrs[a],
                method="connect",
                scanned_tcp=results[a].scanned,
                scanned_udp=(),
                open=results[a].open,
                error=results[a].error,
                detail=results[a].detail,
            )
            for a in targets
        ]
        method = "connect"
    if scans and all(s.error == "failed" for s in scans):
        raise TargetUnreachable(f"the port scan failed: {scans[0].detail}", probe=PROBE, target=domain)
    return PortScan(
        domain=domain,
        method=method,
        addresses=tuple(scans),
        wanted_tcp=tcp,
        wanted_udp=udp,
        udp_skipped=udp_skipped,
        refused=tuple(refused),
        nmap_version=version,
    )


def address_from_nmap(
    host: NmapHost | None,
    address: str,
    names: tuple[str, ...],
    tcp: tuple[int, ...],
    udp: tuple[int, ...],
    *,
    ptr: tuple[str, ...] = (),
) -> AddressScan:
    """The fact for one address from nmap's parsed output (pure, so recorded XML can be replayed)."""
    if host is None:
        return AddressScan(address, names, ptr, "nmap", error="failed", detail="nmap reported nothing for this address")
    if host.timed_out:
        return AddressScan(address, names, ptr, "nmap", error="timeout", detail="nmap's --host-timeout ran out")
    found = []
    for p in host.ports:
        wanted = udp if p.proto == "udp" else tcp
        if p.port not in wanted:
            continue
        if p.state == "open":  # UDP "open|filtered" means no answer at all: not evidence of a service
            found.append(
                OpenPort(
                    port=p.port,
                    proto=p.proto,
                    state=p.state,
                    service=p.service,
                    product=p.product,
                    version=p.version,
                    extrainfo=p.extrainfo,
                    tunnel=p.tunnel,
                    cpe=p.cpe,
                    auth_methods=p.auth_methods,
                    cert_names=p.cert_names,
                    confident=p.method == "probed",
                )
            )
    return AddressScan(address, names, ptr, "nmap", scanned_tcp=tcp, scanned_udp=udp, open=tuple(found))


def facts_from_xml(xml: str, targets: Mapping[str, tuple[str, ...]], tcp: tuple[int, ...], udp: tuple[int, ...]) -> list[AddressScan]:
    """Replay recorded nmap XML into address facts (used by tests and for re-reading raw output)."""
    run = parse_nmap_xml(xml)
    by_address = {h.address: h for h in run.hosts}
    return [address_from_nmap(by_address.get(a), a, names, tcp, udp) for a, names in targets.items()]
