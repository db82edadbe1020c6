"""Which hosts belong to a scanned domain, and their addresses: the scope of every connecting probe.

Apex and ``www``, every MX host, ``mta-sts`` when it exists, and the hosts the user listed with
``--host``. Never ranges, never neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import ProbeContext
from ..errors import ProbeError
from ..plugin import probe
from .dns import MxFact
from .dnsbase import lookup


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    roles: tuple[str, ...]  # apex | www | mx | mta-sts | extra
    addresses: tuple[str, ...]  # IPv4 then IPv6, as resolved
    cnames: tuple[str, ...] = ()
    error: str = ""  # why the name could not be resolved, if it could not

    @property
    def ipv6(self) -> tuple[str, ...]:
        return tuple(a for a in self.addresses if ":" in a)


@dataclass(frozen=True, slots=True)
class HostInventory:
    domain: str
    hosts: tuple[Host, ...]

    def with_role(self, role: str) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if role in h.roles)


def resolve_host(ctx: ProbeContext, name: str, roles: tuple[str, ...]) -> Host:
    addresses: list[str] = []
    cnames: list[str] = []
    errors = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = lookup(ctx.resolver, name, rdtype, probe="hosts.inventory")
        except ProbeError as exc:
            errors.append(str(exc))
            continue
        addresses.extend(answer.records)
        cnames.extend(c for c in answer.cname_chain if c not in cnames)
    return Host(name, roles, tuple(addresses), tuple(cnames), "; ".join(errors))


@probe("hosts.inventory", fact=HostInventory)
def probe_inventory(ctx: ProbeContext, domain: str) -> HostInventory:
    roles: dict[str, list[str]] = {}

    def add(name: str, role: str) -> None:
        roles.setdefault(name.rstrip(".").lower(), []).append(role)

    add(domain, "apex")
    add(f"www.{domain}", "www")
    mx_outcome = ctx.outcome("dns.mx")
    if isinstance(mx_outcome.fact, MxFact):
        for mx in mx_outcome.fact.hosts:
            if mx.exchange:
                add(mx.exchange, "mx")
    mta_sts = f"mta-sts.{domain}"
    add(mta_sts, "mta-sts")
    for extra in ctx.options.extra_hosts:
        add(extra, "extra")
    hosts = ctx.map(lambda item: resolve_host(ctx, item[0], tuple(item[1])), list(roles.items()))
    # mta-sts only counts when it exists
    kept = tuple(h for h in hosts if h.roles != ("mta-sts",) or h.addresses)
    return HostInventory(domain, kept)
