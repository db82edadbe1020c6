"""Which services answer on the domain's own addresses: one port scan shared by every ``net.*`` check.

Scope: the addresses come only from the ``hosts.inventory`` fact (apex, www, MX hosts, mta-sts and
the user's ``--host`` names; not the names the zone revealed, role ``found``), each admitted through the scan's scope before it is contacted. Never
ranges, never neighbours. MX hosts outside the scanned domain (a mail provider's servers, such as
Microsoft 365 or Google) are not the user's to authorise: they are left out, with a notice. The checks are ``active: true``, so the engine runs this probe only with
``--ports`` and the user's confirmation.

Which ports: the union of the ``ports`` params of the selected checks that need ``net.ports``
(:meth:`ProbeContext.check_params`). The port lists live in the catalogue, so a profile that
overrides a check's ports changes both what is scanned and what is judged; the fact records what
was scanned, so a stored scan judged under newer rules never passes a port that was not looked at.

How: nmap (``-sV``, polite timing, ``--host-timeout``, one run per address, several addresses at
once, a time budget per domain), ended within about a second when the scan is cancelled. Without the nmap binary a built-in TCP
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
from typing import Any

import dns.reversename

from ..errors import Interrupted, OutOfScope, ProbeError, TargetUnreachable
from ..facts.dns import HostInventory
from ..facts.ports import AddressScan, PortScan
from ..models import ErrorReason
from ..parsers.ports import port_spec
from ..plugin import probe
from ..runtime import ProbeContext
from ..scope import in_domain
from .dnsbase import lookup
from .portscan_fallback import connect_scan
from .portscan_nmap import nmap_version, scan_address
from .portscan_settings import ScanSettings

log = logging.getLogger(__name__)

PROBE = "net.ports"


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


def _targets(
    ctx: ProbeContext, inventory: HostInventory, *, external: bool = False
) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """Addresses to scan (address -> names), each admitted by the scope first; those refused; and the
    host names left out because they belong to someone else (an MX host of the mail provider)."""
    admitted: dict[str, list[str]] = {}
    refused: list[str] = []
    foreign: list[str] = []
    for host in inventory.hosts:
        if host.roles == ("found",):
            continue  # names the zone revealed are examined passively only
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
        answer = lookup(ctx, name, "PTR", probe=PROBE)
    except Interrupted:
        raise
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
        raise OutOfScope(", ".join(refused), probe=PROBE, target=domain)
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
                    cancel=ctx.cancel_event,
                )

        scans = ctx.map(one, list(targets), workers=settings.parallel)
        method = "nmap"
    else:
        ctx.notice("ports.reduced-detection", reason="disabled" if not settings.use_nmap else "nmap-missing")
        per_address = max(1, min(ctx.options.per_host_connections, settings.max_parallelism))
        results = connect_scan(
            {a: tcp for a in targets},
            connect_timeout=min(settings.connect_timeout, ctx.timeout),
            banner_timeout=settings.banner_timeout,
            per_address=per_address,
            parallel=settings.parallel,
            budget=settings.budget,
            cancel=ctx.cancel_event,
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
    ctx.check_cancelled()
    if scans and all(s.error is ErrorReason.UNREACHABLE for s in scans):
        raise TargetUnreachable(scans[0].detail, probe=PROBE, target=domain)
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


