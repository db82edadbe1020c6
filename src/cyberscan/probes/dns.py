"""DNS probes for the domain itself: MX and its hosts, CAA, nameservers, zone transfer, CNAME targets.

Lookups of the domain's own data go through the configured resolver (``ctx.resolver``). The
nameserver checks (``dns.ns``, ``dns.axfr``) talk to each authoritative server directly, on port 53
unless the profile setting ``dns_port`` says otherwise (tests run servers on other ports), and only
after ``ctx.admit`` allowed the address.
"""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from ..engine import ProbeContext
from ..errors import OutOfScope, ProbeError
from ..plugin import probe
from .dnsbase import DnsAnswer, lookup

# ------------------------------------------------------------------------------------------ MX


@dataclass(frozen=True, slots=True)
class MxHost:
    preference: int
    exchange: str  # without trailing dot; "" for a null MX (RFC 7505)


@dataclass(frozen=True, slots=True)
class MxFact:
    answer: DnsAnswer
    hosts: tuple[MxHost, ...]

    @property
    def null_mx(self) -> bool:
        return len(self.hosts) == 1 and self.hosts[0].exchange == ""

    @property
    def has_null_entry(self) -> bool:
        return any(h.exchange == "" for h in self.hosts)

    @property
    def receives_mail(self) -> bool:
        """MX records that name a real host (not only a null MX)."""
        return any(h.exchange for h in self.hosts)


@probe("dns.mx", fact=MxFact)
def probe_mx(ctx: ProbeContext, domain: str) -> MxFact:
    answer = lookup(ctx.resolver, domain, "MX", probe="dns.mx")
    hosts = []
    for record in answer.records:
        pref, _, exchange = record.partition(" ")
        exchange = exchange.strip().rstrip(".")
        hosts.append(MxHost(int(pref), exchange))
    hosts.sort(key=lambda h: (h.preference, h.exchange))
    return MxFact(answer, tuple(hosts))


@dataclass(frozen=True, slots=True)
class MxTarget:
    """How one MX host name resolves."""

    name: str
    ip_literal: bool  # the exchange is written as an IP address (not allowed, RFC 7505/5321)
    cname: str | None  # the exchange is an alias (not allowed, RFC 2181 10.3)
    rcode: str  # of the A lookup: NOERROR | NXDOMAIN
    addresses: tuple[str, ...]
    error: str = ""  # timeout/servfail text: this host could not be judged


@dataclass(frozen=True, slots=True)
class MxTargetsFact:
    targets: tuple[MxTarget, ...]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _mx_target(ctx: ProbeContext, name: str) -> MxTarget:
    literal = _is_ip(name)
    try:
        cname_answer = lookup(ctx.resolver, name, "CNAME", probe="dns.mx_hosts")
        a = lookup(ctx.resolver, name, "A", probe="dns.mx_hosts")
        aaaa = lookup(ctx.resolver, name, "AAAA", probe="dns.mx_hosts") if a.exists else a
    except ProbeError as exc:
        return MxTarget(name, literal, None, "", (), error=f"{type(exc).__name__}: {exc}")
    cname = cname_answer.records[0].rstrip(".") if cname_answer.records else None
    return MxTarget(name, literal, cname, a.rcode, (*a.records, *aaaa.records))


@probe("dns.mx_hosts", fact=MxTargetsFact)
def probe_mx_hosts(ctx: ProbeContext, domain: str) -> MxTargetsFact:
    mx: MxFact = ctx.fact("dns.mx")
    names = sorted({h.exchange.lower() for h in mx.hosts if h.exchange})
    return MxTargetsFact(tuple(ctx.map(lambda n: _mx_target(ctx, n), names)))


# ------------------------------------------------------------------------------------------ CAA


@dataclass(frozen=True, slots=True)
class CaaFact:
    domain: str
    found_at: str | None  # the name whose CAA set applies (RFC 8659 3: climbing towards the root)
    records: tuple[str, ...]  # presentation format: 'flags tag "value"'
    checked: tuple[str, ...]  # names looked at, in order


@probe("dns.caa", fact=CaaFact)
def probe_caa(ctx: ProbeContext, domain: str) -> CaaFact:
    labels = domain.rstrip(".").split(".")
    checked = []
    for i in range(len(labels) - 1):  # never the top-level domain itself
        name = ".".join(labels[i:])
        checked.append(name)
        answer = lookup(ctx.resolver, name, "CAA", probe="dns.caa")
        if answer.records:
            return CaaFact(domain, name, answer.records, tuple(checked))
    return CaaFact(domain, None, (), tuple(checked))


# ------------------------------------------------------------------------------------------ NS


@dataclass(frozen=True, slots=True)
class NsReply:
    """One authoritative server address asked for the domain's SOA."""

    address: str
    rcode: str = ""  # NOERROR, REFUSED, ...; "" when there was no answer
    authoritative: bool = False  # AA flag
    serial: int | None = None
    error: str = ""  # "timeout" | "unreachable" | "out-of-scope" | "protocol" | "no-ipv6" (none on this computer)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class NsServer:
    name: str
    addresses: tuple[str, ...]
    replies: tuple[NsReply, ...]
    error: str = ""  # the name's addresses could not be looked up
    rcode: str = "NOERROR"  # of the address lookups (NXDOMAIN: the NS name does not exist)


@dataclass(frozen=True, slots=True)
class NsFact:
    domain: str
    names: tuple[str, ...]  # NS names, sorted
    servers: tuple[NsServer, ...]
    port: int


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
        return NsReply(address, error="out-of-scope", detail=str(exc))
    query = dns.message.make_query(domain.rstrip(".") + ".", dns.rdatatype.SOA)
    query.flags &= ~dns.flags.RD
    try:
        with ctx.connection_slot(address):
            response, _ = dns.query.udp_with_fallback(query, address, timeout=ctx.timeout, port=port)
    except dns.exception.Timeout:
        return NsReply(address, error="timeout", detail=f"no answer from {address} within {ctx.timeout:g} s")
    except OSError as exc:
        if _no_ipv6_route(address, exc):
            return NsReply(address, error="no-ipv6", detail=str(exc))
        return NsReply(address, error="unreachable", detail=str(exc))
    except dns.exception.DNSException as exc:
        return NsReply(address, error="protocol", detail=str(exc))
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
    try:
        for rdtype in ("A", "AAAA"):
            answer = lookup(ctx.resolver, name, rdtype, probe="dns.ns")
            addresses.extend(answer.records)
            rcode = answer.rcode
            if not answer.exists:
                break
    except ProbeError as exc:
        return NsServer(name, tuple(addresses), (), error=f"{type(exc).__name__}: {exc}")
    replies = tuple(_ask_soa(ctx, address, name, domain, port) for address in addresses)
    return NsServer(name, tuple(addresses), replies, rcode=rcode)


@probe("dns.ns", fact=NsFact)
def probe_ns(ctx: ProbeContext, domain: str) -> NsFact:
    answer = lookup(ctx.resolver, domain, "NS", probe="dns.ns")
    names = sorted({r.rstrip(".").lower() for r in answer.records})
    port = dns_port(ctx)
    servers = ctx.map(lambda n: _ns_server(ctx, n, domain, port), names)
    return NsFact(domain, tuple(names), tuple(servers), port)


# ------------------------------------------------------------------------------------------ AXFR


@dataclass(frozen=True, slots=True)
class AxfrAttempt:
    server: str  # NS name
    address: str
    outcome: str  # "refused" | "transferred" | "timeout" | "unreachable" | "out-of-scope" | "protocol" | "no-ipv6"
    rcode: str = ""
    records: int = 0  # records received in the first message when the transfer was allowed
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AxfrFact:
    domain: str
    attempts: tuple[AxfrAttempt, ...]
    servers_without_address: tuple[str, ...]


def _try_axfr(ctx: ProbeContext, server: str, address: str, domain: str, port: int) -> AxfrAttempt:
    try:
        ctx.admit(address, server)
    except OutOfScope as exc:
        return AxfrAttempt(server, address, "out-of-scope", detail=str(exc))
    zone = dns.name.from_text(domain.rstrip(".") + ".")
    query = dns.message.make_query(zone, dns.rdatatype.AXFR)
    try:
        with ctx.connection_slot(address):
            # only the first message: enough to know the zone is handed out, and polite
            response = dns.query.tcp(query, address, timeout=ctx.timeout, port=port)
    except dns.exception.Timeout:
        return AxfrAttempt(server, address, "timeout", detail=f"no answer within {ctx.timeout:g} s")
    except ConnectionRefusedError as exc:
        return AxfrAttempt(server, address, "unreachable", detail=f"TCP connection refused: {exc}")
    except OSError as exc:
        if _no_ipv6_route(address, exc):
            return AxfrAttempt(server, address, "no-ipv6", detail=str(exc))
        return AxfrAttempt(server, address, "refused", detail=f"connection closed: {exc}")
    except EOFError as exc:
        # servers commonly close the connection to refuse a transfer
        return AxfrAttempt(server, address, "refused", detail=f"connection closed: {exc}")
    except dns.exception.DNSException as exc:
        return AxfrAttempt(server, address, "protocol", detail=str(exc))
    rcode = dns.rcode.to_text(response.rcode())
    has_soa = any(r.rdtype == dns.rdatatype.SOA and r.name == zone for r in response.answer)
    if response.rcode() == dns.rcode.NOERROR and has_soa:
        count = sum(len(r) for r in response.answer)
        return AxfrAttempt(server, address, "transferred", rcode, count)
    return AxfrAttempt(server, address, "refused", rcode)


@probe("dns.axfr", fact=AxfrFact)
def probe_axfr(ctx: ProbeContext, domain: str) -> AxfrFact:
    ns: NsFact = ctx.fact("dns.ns")
    pairs = [(s.name, a) for s in ns.servers for a in s.addresses]
    attempts = ctx.map(lambda p: _try_axfr(ctx, p[0], p[1], domain, ns.port), pairs)
    missing = tuple(s.name for s in ns.servers if not s.addresses)
    return AxfrFact(domain, tuple(attempts), missing)


# ------------------------------------------------------------------------------------------ CNAMEs


@dataclass(frozen=True, slots=True)
class CnameChain:
    name: str
    roles: tuple[str, ...]
    chain: tuple[str, ...]  # aliases followed, in order (empty: the name is no alias)
    final_rcode: str  # of the last name in the chain: NOERROR | NXDOMAIN | "" (not looked up)
    error: str = ""


@dataclass(frozen=True, slots=True)
class CnameFact:
    chains: tuple[CnameChain, ...]


def _follow(ctx: ProbeContext, name: str, roles: tuple[str, ...]) -> CnameChain:
    chain: list[str] = []
    current = name
    try:
        for _ in range(10):
            answer = lookup(ctx.resolver, current, "CNAME", probe="dns.cnames")
            if not answer.records:
                break
            target = answer.records[0].rstrip(".").lower()
            if target in chain or target == name:
                return CnameChain(name, roles, (*chain, target), "", error="alias loop")
            chain.append(target)
            current = target
        if not chain:
            return CnameChain(name, roles, (), "")
        final = lookup(ctx.resolver, current, "A", probe="dns.cnames")
        if final.exists and not final.records:
            final = lookup(ctx.resolver, current, "AAAA", probe="dns.cnames")
    except ProbeError as exc:
        return CnameChain(name, roles, tuple(chain), "", error=f"{type(exc).__name__}: {exc}")
    return CnameChain(name, roles, tuple(chain), final.rcode)


@probe("dns.cnames", fact=CnameFact)
def probe_cnames(ctx: ProbeContext, domain: str) -> CnameFact:
    from .hosts import HostInventory

    inventory: HostInventory = ctx.fact("hosts.inventory")
    names: dict[str, tuple[str, ...]] = {h.name: h.roles for h in inventory.hosts}
    names.setdefault(f"mta-sts.{domain}", ("mta-sts",))  # the inventory drops it when it has no address
    chains = ctx.map(lambda item: _follow(ctx, item[0], item[1]), sorted(names.items()))
    return CnameFact(tuple(chains))
