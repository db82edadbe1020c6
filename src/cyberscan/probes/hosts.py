"""Which hosts belong to a scanned domain, and their addresses: the scope of every connecting probe.

Apex and ``www``, every MX host, ``mta-sts`` when it exists, and the hosts the user listed with
``--host``. Never ranges, never neighbours. A lookup that failed (timeout, SERVFAIL) is recorded as
such: the host is unknown, not absent, and every check about it reports an error.

Then the names the domain itself reveals (role ``found``, with ``sources``): the owner names of a
zone transfer that was allowed (``axfr``, only when a selected check needs ``dns.axfr``), the
subjectAltNames of the apex and www certificates (``san``, from ``tls.names``), and the targets
inside the domain of CNAME (the listed hosts' aliases and the zone's), MX and NS records (the zone's,
and the domain's own NS names) and of the SRV records in ``checks/data/found.yaml`` (``dns.srv``).
Only names inside the scanned domain, never wildcards or service labels (``_sip``), at most
``max_names`` of them (with the notice ``limits.found-capped``): aliases in a transferred zone first
(they can dangle), then by the ``order`` of their sources. Found names are only looked for when a
selected check examines them (``dns.cnames``, ``tls.scan``, ``http.site``); the port scan leaves them out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import Interrupted, ProbeError
from ..facts.dns import AxfrFact, Host, HostInventory, MxFact, SrvFact
from ..facts.tls import CertNamesFact
from ..models import ErrorReason, ProbeOutcome
from ..options import MAX_MX_HOSTS
from ..plugin import probe
from ..runtime import ProbeContext
from ..scope import in_domain
from . import fanout
from .dnsbase import lookup, lookups, reason_of

WEB_ROLES = ("apex", "www", "mta-sts", "extra")  # found names are web hosts on addresses not yet examined
FOUND = "found"
SOURCES = ("axfr", "san", "cname", "mx", "ns", "srv")
DEFAULT_MAX_FOUND = 20  # when checks/data/found.yaml does not say
EXAMINERS = ("dns.cnames", "tls.scan", "http.site")  # the probes that look at found names
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def resolve_host(ctx: ProbeContext, name: str, roles: tuple[str, ...], sources: tuple[str, ...] = ()) -> Host:
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
    return Host(name, roles, tuple(addresses), tuple(cnames), error, "; ".join(details), sources,
                lookup_errors=tuple(failed))


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
    found: tuple[Host, ...] = ()
    found_capped = 0
    apex = next(h for h in kept if "apex" in h.roles)
    # found names need a working DNS: when even the apex could not be looked up, more names would only
    # add timeouts (the scan says the domain is unknown already)
    if apex.error is None and any(ctx.check_params(p) for p in EXAMINERS):
        mx_hosts = mx_outcome.fact.hosts if isinstance(mx_outcome.fact, MxFact) else ()
        known = set(roles) | {mx.exchange.lower() for mx in mx_hosts}  # MX hosts over their cap stay out too
        found, found_capped = found_hosts(ctx, domain, kept, known)
    return HostInventory(domain, kept + found, mx_error, capped, found_capped)


# ----------------------------------------------------------------------------- found names

ALIAS = "alias"  # a marker among a candidate's sources: an alias in a transferred zone (can dangle)


def found_limits(data: Mapping[str, Any]) -> tuple[int, tuple[str, ...]]:
    """(most found names examined, source order under the cap) from ``checks/data/found.yaml``."""
    raw = data.get("found")
    settings = raw if isinstance(raw, Mapping) else {}
    limit = settings.get("max_names", DEFAULT_MAX_FOUND)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        limit = DEFAULT_MAX_FOUND
    order = settings.get("order")
    ranked = tuple(str(s) for s in order if s in SOURCES) if isinstance(order, list) else ()
    return limit, ranked + tuple(s for s in SOURCES if s not in ranked)


def _rank(sources: set[str], order: tuple[str, ...], name: str) -> tuple[int, str]:
    if ALIAS in sources:
        return 0, name
    return 1 + min(order.index(s) for s in sources if s in order), name


def host_name(name: str, domain: str) -> str | None:
    """``name`` as a host name strictly inside ``domain``; None for anything else (a name outside the
    domain, the domain itself, a wildcard, a service label such as ``_sip``, an IP address)."""
    text = name.strip().rstrip(".").lower()
    if text == domain or not in_domain(text, domain) or len(text) > 253:
        return None
    if not all(_LABEL.match(label) for label in text.split(".")):
        return None
    return text


def found_hosts(ctx: ProbeContext, domain: str, listed: tuple[Host, ...], known: set[str]) -> tuple[tuple[Host, ...], int]:
    """The found names, capped and resolved (sorted by name), and how many were left out."""
    candidates = found_candidates(ctx, domain, listed, known)
    limit, order = found_limits(ctx.data)
    ranked = sorted(candidates.items(), key=lambda item: _rank(item[1], order, item[0]))
    left_out = max(0, len(ranked) - limit)
    if left_out:
        ctx.notice("limits.found-capped", count=len(ranked), kept=limit)
    hosts = ctx.map(lambda item: resolve_host(ctx, item[0], (FOUND,), tuple(sorted(item[1] - {ALIAS}))), ranked[:limit])
    return tuple(sorted(hosts, key=lambda h: h.name)), left_out


def found_candidates(ctx: ProbeContext, domain: str, listed: tuple[Host, ...], known: set[str]) -> dict[str, set[str]]:
    """Names inside the domain that the scan legitimately saw, with where it saw them (not yet capped)."""
    probes = ["tls.names", "dns.srv"] + (["dns.axfr"] if ctx.check_params("dns.axfr") else [])

    def gather(source: str) -> tuple[ProbeOutcome | None, tuple[str, ...]]:
        if source != "NS":
            return ctx.outcome(source), ()
        try:
            return None, lookup(ctx, domain, "NS", probe="hosts.inventory").records
        except Interrupted:
            raise
        except ProbeError:
            return None, ()  # the NS names are one source among several; dns.ns reports the failure itself

    # the sources side by side, so a slow one (a silent nameserver, a dripping web server) costs its time once
    (_, ns_records), *rest = ctx.map(gather, ["NS", *probes])
    facts = {p: outcome.fact for p, (outcome, _) in zip(probes, rest, strict=True) if outcome is not None}
    candidates: dict[str, set[str]] = {}

    def add(name: str, source: str) -> None:
        text = host_name(name, domain)
        if text is not None and text not in known:
            candidates.setdefault(text, set()).add(source)

    axfr = facts.get("dns.axfr")
    if isinstance(axfr, AxfrFact):
        for attempt in axfr.attempts:
            if not attempt.transferred:
                continue
            for owner in attempt.names:
                add(owner, "axfr")
            for link in attempt.links:
                add(link.target, link.rdtype.lower())
                alias = host_name(link.owner, domain)
                if link.rdtype == "CNAME" and alias is not None and alias in candidates:
                    candidates[alias].add(ALIAS)
    names = facts.get("tls.names")
    if isinstance(names, CertNamesFact):
        for cert in names.certificates:
            for san in cert.names:
                add(san, "san")
    srv = facts.get("dns.srv")
    if isinstance(srv, SrvFact):
        for answer in srv.services:
            for target in answer.targets:
                add(target, "srv")
    for host in listed:
        for alias_target in host.cnames:
            add(alias_target, "cname")
    for ns in ns_records:
        add(ns, "ns")
    return candidates


def web_targets(inventory: HostInventory) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[str],
                                                   list[tuple[str, ErrorReason]]]:
    """(name, address, roles) of the web hosts; names without any address; names whose lookup failed.

    A found name is examined on the addresses no listed web host (and no found name before it) has:
    another name for a server already examined would only repeat its findings. (A second site on
    that address is then not judged on its own; ``--host NAME`` examines it fully.) A found name
    without an address, or whose lookup failed, is not a web target: ``dns.cnames`` still follows it.
    """
    pairs: list[tuple[str, str, tuple[str, ...]]] = []
    unresolved: list[str] = []
    failed: list[tuple[str, ErrorReason]] = []
    listed = [h for h in inventory.hosts if set(h.roles) & set(WEB_ROLES)]
    for host in listed:
        if host.error is not None:
            failed.append((host.name, host.error))
        elif not host.addresses:
            unresolved.append(host.name)
        pairs.extend((host.name, a, host.roles) for a in host.addresses)
    examined = {address for _, address, _ in pairs}
    for host in inventory.hosts:
        if host.roles != (FOUND,) or host.error is not None:
            continue
        new = [a for a in host.addresses if a not in examined]
        examined.update(new)
        pairs.extend((host.name, a, host.roles) for a in new)
    return pairs, unresolved, failed
