"""Which hosts belong to a scanned domain, and their addresses: the scope of every connecting probe.

Apex and ``www``, every MX host, ``mta-sts`` when it exists, and the hosts the user listed with
``--host``. Never ranges, never neighbours. A lookup that failed (timeout, SERVFAIL) is recorded as
such: the host is unknown, not absent, and every check about it reports an error.
"""

from __future__ import annotations

from ..errors import ProbeError
from ..facts.dns import Host, HostInventory, MxFact
from ..models import ErrorReason
from ..options import MAX_MX_HOSTS
from ..plugin import probe
from ..runtime import ProbeContext
from . import fanout
from .dnsbase import lookups, reason_of

WEB_ROLES = ("apex", "www", "mta-sts", "extra")


def resolve_host(ctx: ProbeContext, name: str, roles: tuple[str, ...]) -> Host:
    addresses: list[str] = []
    cnames: list[str] = []
    failed: list[tuple[str, ErrorReason]] = []
    details = []
    # A and AAAA at the same time; after an NXDOMAIN for A the AAAA answer is not used (no AAAA either)
    for rdtype, answer in zip(("A", "AAAA"), lookups(ctx, name, ("A", "AAAA"), probe="hosts.inventory"), strict=True):
        if isinstance(answer, ProbeError):
            failed.append((rdtype, reason_of(answer)))
            details.append(answer.detail)
            continue
        addresses.extend(answer.records)
        cnames.extend(c for c in answer.cname_chain if c not in cnames)
        if not answer.exists:
            break  # NXDOMAIN: no AAAA either
    # one family answered: the host is known (the other family's trouble stays in lookup_errors)
    error = failed[0][1] if failed and not addresses else None
    return Host(name, roles, tuple(addresses), tuple(cnames), error, "; ".join(details), lookup_errors=tuple(failed))


@probe("hosts.inventory", fact=HostInventory)
def probe_inventory(ctx: ProbeContext, domain: str) -> HostInventory:
    roles: dict[str, list[str]] = {}

    def add(name: str, role: str) -> None:
        roles.setdefault(name.rstrip(".").lower(), []).append(role)

    add(domain, "apex")
    add(f"www.{domain}", "www")
    mx_outcome = ctx.outcome("dns.mx")
    mx_error = None
    capped = 0
    if isinstance(mx_outcome.fact, MxFact):
        exchanges = list(dict.fromkeys(mx.exchange.lower() for mx in mx_outcome.fact.hosts if mx.exchange))
        capped = max(0, len(exchanges) - MAX_MX_HOSTS)
        if capped:
            ctx.notice("limits.mx-capped", count=len(exchanges), kept=MAX_MX_HOSTS)
        for exchange in exchanges[:MAX_MX_HOSTS]:  # lowest preference first: the ones mail goes to
            add(exchange, "mx")
    else:
        mx_error = mx_outcome.error or ErrorReason.PROTOCOL
    add(f"mta-sts.{domain}", "mta-sts")
    for extra in ctx.options.extra_hosts:
        add(extra, "extra")
    hosts = fanout.run(lambda item: resolve_host(ctx, item[0], tuple(item[1])), list(roles.items()),
                       cancel=ctx.cancel_event)
    # mta-sts only counts when it exists
    kept = tuple(h for h in hosts if h.roles != ("mta-sts",) or h.addresses or h.error)
    return HostInventory(domain, kept, mx_error, capped)


def web_targets(inventory: HostInventory) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[str],
                                                   list[tuple[str, ErrorReason]]]:
    """(name, address, roles) of the web hosts; names without any address; names whose lookup failed."""
    pairs: list[tuple[str, str, tuple[str, ...]]] = []
    unresolved: list[str] = []
    failed: list[tuple[str, ErrorReason]] = []
    for host in inventory.hosts:
        if not set(host.roles) & set(WEB_ROLES):
            continue
        if host.error is not None:
            failed.append((host.name, host.error))
        elif not host.addresses:
            unresolved.append(host.name)
        pairs.extend((host.name, a, host.roles) for a in host.addresses)
    return pairs, unresolved, failed
