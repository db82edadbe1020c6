"""DNS probes for the domain itself: MX and its hosts, CAA, nameservers, zone transfer, CNAME targets.

Lookups of the domain's own data go through the configured resolver (``ctx.resolver``). The
nameserver checks (``dns.ns``, ``dns.axfr``) talk to each authoritative server directly, on port 53
unless the profile setting ``dns_port`` says otherwise (tests run servers on other ports), and only
after ``ctx.admit`` allowed the address.
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Mapping
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ..errors import OutOfScope, ProbeError
from ..facts.dns import (
    AxfrAttempt,
    AxfrFact,
    CaaFact,
    CnameChain,
    CnameFact,
    DnsAnswer,
    HostInventory,
    MxFact,
    MxHost,
    MxTarget,
    MxTargetsFact,
    NsFact,
    NsReply,
    NsServer,
    SrvAnswer,
    SrvFact,
    ZoneLink,
)
from ..models import ErrorReason
from ..options import MAX_MX_HOSTS, MAX_NS_HOSTS
from ..plugin import probe
from ..runtime import ProbeContext
from . import fanout
from .dnsbase import lookup, lookups, reason_of

# ------------------------------------------------------------------------------------------ MX


@probe("dns.mx", fact=MxFact)
def probe_mx(ctx: ProbeContext, domain: str) -> MxFact:
    answer = lookup(ctx, domain, "MX", probe="dns.mx")
    hosts = []
    for record in answer.records:
        pref, _, exchange = record.partition(" ")
        exchange = exchange.strip().rstrip(".")
        hosts.append(MxHost(int(pref), exchange))
    hosts.sort(key=lambda h: (h.preference, h.exchange))
    return MxFact(answer, tuple(hosts))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _mx_target(ctx: ProbeContext, name: str) -> MxTarget:
    literal = _is_ip(name)
    cname_answer, a, aaaa = lookups(ctx, name, ("CNAME", "A", "AAAA"), probe="dns.mx_hosts")  # side by side
    if isinstance(a, DnsAnswer) and not a.exists:
        aaaa = a  # an NXDOMAIN: the AAAA answer is not used, as when AAAA was only asked after A
    for answer in (cname_answer, a, aaaa):
        if isinstance(answer, ProbeError):
            return MxTarget(name, literal, None, "", (), error=reason_of(answer), detail=answer.detail)
    assert isinstance(cname_answer, DnsAnswer) and isinstance(a, DnsAnswer) and isinstance(aaaa, DnsAnswer)
    cname = cname_answer.records[0].rstrip(".") if cname_answer.records else None
    return MxTarget(name, literal, cname, a.rcode, (*a.records, *aaaa.records))


@probe("dns.mx_hosts", fact=MxTargetsFact)
def probe_mx_hosts(ctx: ProbeContext, domain: str) -> MxTargetsFact:
    mx: MxFact = ctx.fact("dns.mx")
    names = sorted(list(dict.fromkeys(h.exchange.lower() for h in mx.hosts if h.exchange))[:MAX_MX_HOSTS])
    return MxTargetsFact(tuple(fanout.run(lambda n: _mx_target(ctx, n), names, cancel=ctx.cancel_event)))


# ------------------------------------------------------------------------------------------ CAA


@probe("dns.caa", fact=CaaFact)
def probe_caa(ctx: ProbeContext, domain: str) -> CaaFact:
    labels = domain.rstrip(".").split(".")
    checked = []
    for i in range(len(labels) - 1):  # never the top-level domain itself
        name = ".".join(labels[i:])
        checked.append(name)
        answer = lookup(ctx, name, "CAA", probe="dns.caa")
        if answer.records:
            return CaaFact(domain, name, answer.records, tuple(checked))
    return CaaFact(domain, None, (), tuple(checked))


# ------------------------------------------------------------------------------------------ NS


def dns_port(ctx: ProbeContext) -> int:
    value = ctx.settings.get("dns_port", 53)
    try:
        port = int(value)
    except (TypeError, ValueError):
        return 53
    return port if 0 < port < 65536 else 53


_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}


def _no_ipv6_route(address: str, exc: OSError) -> bool:
    """This computer cannot reach IPv6 addresses at all: says nothing about the nameserver."""
    return ":" in address and exc.errno in _NO_ROUTE


def _ask_soa(ctx: ProbeContext, address: str, ns_name: str, domain: str, port: int) -> NsReply:
    try:
        ctx.admit(address, ns_name)
    except OutOfScope as exc:
        return NsReply(address, error=ErrorReason.OUT_OF_SCOPE, detail=exc.detail)
    ctx.check_cancelled()
    query = dns.message.make_query(domain.rstrip(".") + ".", dns.rdatatype.SOA)
    query.flags &= ~dns.flags.RD
    try:
        with ctx.connection_slot(address):
            budget = ctx.options.budget("ns", ctx.settings)
            response, _ = dns.query.udp_with_fallback(query, address, timeout=budget, port=port)
    except dns.exception.Timeout:
        return NsReply(address, error=ErrorReason.TIMEOUT, detail=f"{address}:{port} SOA")
    except OSError as exc:
        if _no_ipv6_route(address, exc):
            return NsReply(address, error=ErrorReason.NO_IPV6, detail=str(exc))
        return NsReply(address, error=ErrorReason.UNREACHABLE, detail=str(exc))
    except (dns.exception.DNSException, ValueError, EOFError) as exc:
        return NsReply(address, error=ErrorReason.PROTOCOL, detail=f"{type(exc).__name__}: {exc}"[:300])
    serial = None
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == query.question[0].name:
            serial = int(rrset[0].serial)
    return NsReply(
        address,
        rcode=dns.rcode.to_text(response.rcode()),
        authoritative=bool(response.flags & dns.flags.AA),
        serial=serial,
    )


def _ns_server(ctx: ProbeContext, name: str, domain: str, port: int) -> NsServer:
    addresses: list[str] = []
    rcode = "NOERROR"
    for answer in lookups(ctx, name, ("A", "AAAA"), probe="dns.ns"):  # side by side, read in turn
        if isinstance(answer, ProbeError):
            return NsServer(name, tuple(addresses), (), error=reason_of(answer), detail=answer.detail)
        addresses.extend(answer.records)
        rcode = answer.rcode
        if not answer.exists:
            break
    replies = tuple(fanout.run(lambda address: _ask_soa(ctx, address, name, domain, port), addresses,
                               cancel=ctx.cancel_event))
    return NsServer(name, tuple(addresses), replies, rcode=rcode)


@probe("dns.ns", fact=NsFact)
def probe_ns(ctx: ProbeContext, domain: str) -> NsFact:
    answer = lookup(ctx, domain, "NS", probe="dns.ns")
    names = sorted({r.rstrip(".").lower() for r in answer.records})
    if len(names) > MAX_NS_HOSTS:
        ctx.notice("limits.ns-capped", count=len(names), kept=MAX_NS_HOSTS)
        names = names[:MAX_NS_HOSTS]
    port = dns_port(ctx)
    servers = fanout.run(lambda n: _ns_server(ctx, n, domain, port), names, cancel=ctx.cancel_event)
    return NsFact(domain, tuple(names), tuple(servers), port)


# ------------------------------------------------------------------------------------------ AXFR

MAX_ZONE_NAMES = 500  # owner names (and, apart, CNAME/MX/NS/SRV records) kept from a transferred zone
_LINK_TYPES = (dns.rdatatype.CNAME, dns.rdatatype.MX, dns.rdatatype.NS, dns.rdatatype.SRV)


def _links(answer: list[dns.rrset.RRset]) -> tuple[ZoneLink, ...]:
    """The records of a transferred zone that point at other names (for the host inventory)."""
    links = set()
    for rrset in answer:
        if rrset.rdtype not in _LINK_TYPES:
            continue
        owner = rrset.name.to_text().rstrip(".").lower()
        for rdata in rrset:
            target = rdata.exchange if rrset.rdtype == dns.rdatatype.MX else rdata.target
            text = target.to_text().rstrip(".").lower()
            if text:
                links.add(ZoneLink(owner, dns.rdatatype.to_text(rrset.rdtype), text))
    return tuple(sorted(links, key=lambda link: (link.owner, link.rdtype, link.target))[:MAX_ZONE_NAMES])


def _try_axfr(ctx: ProbeContext, server: str, address: str, domain: str, port: int) -> AxfrAttempt:
    try:
        ctx.admit(address, server)
    except OutOfScope as exc:
        return AxfrAttempt(server, address, error=ErrorReason.OUT_OF_SCOPE, detail=exc.detail)
    ctx.check_cancelled()
    zone = dns.name.from_text(domain.rstrip(".") + ".")
    query = dns.message.make_query(zone, dns.rdatatype.AXFR)
    try:
        with ctx.connection_slot(address):
            # only the first message: enough to know the zone is handed out, and polite
            # dnspython's timeout here bounds the whole exchange, not one read
            response = dns.query.tcp(query, address, timeout=ctx.options.budget("axfr", ctx.settings), port=port)
    except dns.exception.Timeout:
        return AxfrAttempt(server, address, error=ErrorReason.TIMEOUT, detail=f"{address}:{port} AXFR")
    except ConnectionRefusedError as exc:
        return AxfrAttempt(server, address, error=ErrorReason.UNREACHABLE, detail=f"TCP: {exc}")
    except OSError as exc:
        if _no_ipv6_route(address, exc):
            return AxfrAttempt(server, address, error=ErrorReason.NO_IPV6, detail=str(exc))
        return AxfrAttempt(server, address, detail=f"closed: {exc}")  # servers commonly close to refuse
    except EOFError as exc:
        return AxfrAttempt(server, address, detail=f"closed: {exc}")
    except (dns.exception.DNSException, ValueError) as exc:
        return AxfrAttempt(server, address, error=ErrorReason.PROTOCOL, detail=f"{type(exc).__name__}: {exc}"[:300])
    rcode = dns.rcode.to_text(response.rcode())
    has_soa = any(r.rdtype == dns.rdatatype.SOA and r.name == zone for r in response.answer)
    if response.rcode() == dns.rcode.NOERROR and has_soa:
        count = sum(len(r) for r in response.answer)
        names = sorted({r.name.to_text().rstrip(".").lower() for r in response.answer})[:MAX_ZONE_NAMES]
        return AxfrAttempt(server, address, True, rcode, count, tuple(names), _links(response.answer))
    return AxfrAttempt(server, address, rcode=rcode)


@probe("dns.axfr", fact=AxfrFact)
def probe_axfr(ctx: ProbeContext, domain: str) -> AxfrFact:
    ns: NsFact = ctx.fact("dns.ns")
    pairs = [(s.name, a) for s in ns.servers for a in s.addresses]
    attempts = fanout.run(lambda p: _try_axfr(ctx, p[0], p[1], domain, ns.port), pairs, cancel=ctx.cancel_event)
    missing = tuple(s.name for s in ns.servers if not s.addresses)
    return AxfrFact(domain, tuple(attempts), missing)


# ------------------------------------------------------------------------------------------ SRV


def srv_services(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The SRV service names looked up under the domain (``srv`` in ``checks/data/found.yaml``)."""
    found = data.get("found")
    raw = found.get("srv") if isinstance(found, Mapping) else None
    if not isinstance(raw, list):
        return ()
    return tuple(dict.fromkeys(str(s).strip(".").lower() for s in raw if isinstance(s, str) and s.startswith("_")))


def _srv(ctx: ProbeContext, service: str, domain: str) -> SrvAnswer:
    try:
        answer = lookup(ctx, f"{service}.{domain}", "SRV", probe="dns.srv")
    except ProbeError as exc:
        return SrvAnswer(service, error=reason_of(exc), detail=exc.detail)
    targets = []
    for record in answer.records:  # "priority weight port target"
        parts = record.split()
        target = parts[3].rstrip(".").lower() if len(parts) == 4 else ""
        if target and target not in targets:  # "." says the service is not offered (RFC 2782)
            targets.append(target)
    return SrvAnswer(service, answer.rcode, tuple(targets))


def _absent(ctx: ProbeContext, parent: str, domain: str) -> bool:
    """Whether ``<parent>.<domain>`` (``_tcp``, ``_tls``) does not exist, so no service name below it
    does either (RFC 8020). Unknown (the lookup failed) is not absent."""
    try:
        return lookup(ctx, f"{parent}.{domain}", "SRV", probe="dns.srv").rcode == "NXDOMAIN"
    except ProbeError:
        return False


@probe("dns.srv", fact=SrvFact)
def probe_srv(ctx: ProbeContext, domain: str) -> SrvFact:
    """SRV records of a short list of common services (in data): their targets are names the domain
    itself reveals, for the host inventory.

    The protocol labels the services share (``_tcp``, ``_tls``) are asked first: below one that does
    not exist no service name exists (RFC 8020), and its services are NXDOMAIN without a question of
    their own (2 questions instead of 10 for a domain without SRV records). The services below the
    others are then asked side by side."""
    services = srv_services(ctx.data)
    parents = tuple(dict.fromkeys(s.partition(".")[2] for s in services if "." in s))
    absent = {p for p, gone in zip(parents, ctx.map(lambda p: _absent(ctx, p, domain), parents,
                                                    workers=max(1, len(parents))), strict=True) if gone}
    asked = [s for s in services if s.partition(".")[2] not in absent]
    answers = dict(zip(asked, ctx.map(lambda s: _srv(ctx, s, domain), asked, workers=max(1, len(asked))), strict=True))
    return SrvFact(domain, tuple(answers.get(s) or SrvAnswer(s, "NXDOMAIN") for s in services))


# ------------------------------------------------------------------------------------------ CNAMEs


MAX_ALIASES = 10  # hops followed; resolvers give up on longer chains (Unbound and BIND after about 11)


def _follow(ctx: ProbeContext, name: str, roles: tuple[str, ...]) -> CnameChain:
    """Follow the aliases of ``name`` one CNAME query at a time (at most MAX_ALIASES + 1 of them),
    then look up the last name: a loop, an over-long chain or a vanished target each show."""
    chain: list[str] = []
    current = name
    try:
        for hop in range(MAX_ALIASES + 1):
            answer = lookup(ctx, current, "CNAME", probe="dns.cnames")
            if not answer.records:
                break
            target = answer.records[0].rstrip(".").lower()
            if target in chain or target == name:
                return CnameChain(name, roles, (*chain, target), "", loop=True)
            if hop == MAX_ALIASES:  # the last name followed is an alias too
                return CnameChain(name, roles, tuple(chain), "", too_long=True)
            chain.append(target)
            current = target
        if not chain:
            return CnameChain(name, roles, (), "")
        final = lookup(ctx, current, "A", probe="dns.cnames")
        if final.exists and not final.records:
            final = lookup(ctx, current, "AAAA", probe="dns.cnames")
    except ProbeError as exc:
        return CnameChain(name, roles, tuple(chain), "", error=reason_of(exc), detail=exc.detail)
    return CnameChain(name, roles, tuple(chain), final.rcode)


@probe("dns.cnames", fact=CnameFact)
def probe_cnames(ctx: ProbeContext, domain: str) -> CnameFact:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    names: dict[str, tuple[str, ...]] = {h.name: h.roles for h in inventory.hosts}
    names.setdefault(f"mta-sts.{domain}", ("mta-sts",))  # the inventory drops it when it has no address
    chains = fanout.run(lambda item: _follow(ctx, item[0], item[1]), sorted(names.items()), cancel=ctx.cancel_event)
    return CnameFact(tuple(chains))
