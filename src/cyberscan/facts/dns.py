"""DNS facts: answers, MX, CAA, nameservers, zone transfer, aliases, DNSSEC material, the host inventory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..models import ErrorReason, Subject
from . import migrates, v1_status


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """The records of one name and type, as text (``rdata.to_text()``), plus how the answer ended."""

    name: str
    rdtype: str
    rcode: str  # "NOERROR" | "NXDOMAIN"
    records: tuple[str, ...] = ()
    ttl: int | None = None
    authenticated: bool = False  # the AD flag from a validating resolver
    cname_chain: tuple[str, ...] = ()

    @property
    def exists(self) -> bool:
        return self.rcode == "NOERROR"


# ------------------------------------------------------------------------------------------ MX


@dataclass(frozen=True, slots=True)
class MxHost:
    preference: int
    exchange: str  # without trailing dot; "" for a null MX (RFC 7505)


@dataclass(frozen=True, slots=True)
class MxFact:
    VERSION: ClassVar[int] = 1
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


@dataclass(frozen=True, slots=True)
class MxTarget:
    """How one MX host name resolves."""

    name: str
    ip_literal: bool  # the exchange is written as an IP address (not allowed, RFC 7505/5321)
    cname: str | None  # the exchange is an alias (not allowed, RFC 2181 10.3)
    rcode: str  # of the A lookup: NOERROR | NXDOMAIN
    addresses: tuple[str, ...]
    error: ErrorReason | None = None  # the lookups failed: this host could not be judged
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MxTargetsFact:
    VERSION: ClassVar[int] = 2
    targets: tuple[MxTarget, ...]


@migrates(MxTargetsFact, 1)
def _mx_targets_v1(data: dict[str, Any]) -> dict[str, Any]:
    for t in data.get("targets") or []:
        text = t.get("error") or ""
        t["error"] = ErrorReason.TIMEOUT.value if "Timeout" in text else (ErrorReason.SERVFAIL.value if text else None)
        t["detail"] = text
    return data


# ------------------------------------------------------------------------------------------ CAA


@dataclass(frozen=True, slots=True)
class CaaFact:
    VERSION: ClassVar[int] = 1
    domain: str
    found_at: str | None  # the name whose CAA set applies (RFC 8659 3: climbing towards the root)
    records: tuple[str, ...]  # presentation format: 'flags tag "value"'
    checked: tuple[str, ...]  # names looked at, in order


# ------------------------------------------------------------------------------------------ NS


@dataclass(frozen=True, slots=True)
class NsReply:
    """One authoritative server address asked for the domain's SOA."""

    address: str
    rcode: str = ""  # NOERROR, REFUSED, ...; "" when there was no answer
    authoritative: bool = False  # AA flag
    serial: int | None = None
    error: ErrorReason | None = None
    detail: str = ""

    def subject(self, ns_name: str) -> Subject:
        return Subject(host=ns_name, address=self.address, port=53, service="dns")


@dataclass(frozen=True, slots=True)
class NsServer:
    name: str
    addresses: tuple[str, ...]
    replies: tuple[NsReply, ...]
    error: ErrorReason | None = None  # the name's addresses could not be looked up
    detail: str = ""
    rcode: str = "NOERROR"  # of the address lookups (NXDOMAIN: the NS name does not exist)


@dataclass(frozen=True, slots=True)
class NsFact:
    VERSION: ClassVar[int] = 2
    domain: str
    names: tuple[str, ...]  # NS names, sorted
    servers: tuple[NsServer, ...]
    port: int


@migrates(NsFact, 1)
def _ns_v1(data: dict[str, Any]) -> dict[str, Any]:
    for server in data.get("servers") or []:
        text = server.get("error") or ""
        server["error"] = ErrorReason.SERVFAIL.value if text else None
        server["detail"] = text
        for reply in server.get("replies") or []:
            reply["error"] = v1_status(reply.get("error"))
    return data


# ------------------------------------------------------------------------------------------ AXFR


@dataclass(frozen=True, slots=True)
class ZoneLink:
    """A record of a transferred zone that points at another name: CNAME, MX, NS or SRV."""

    owner: str
    rdtype: str  # "CNAME" | "MX" | "NS" | "SRV"
    target: str  # without trailing dot, lower case


@dataclass(frozen=True, slots=True)
class AxfrAttempt:
    server: str  # NS name
    address: str
    transferred: bool = False  # the server handed out the zone
    rcode: str = ""
    records: int = 0  # records received in the first message when the transfer was allowed
    names: tuple[str, ...] = ()  # owner names seen in a transferred zone (capped), for the host inventory
    links: tuple[ZoneLink, ...] = ()  # its CNAME/MX/NS/SRV records (capped), for the host inventory
    error: ErrorReason | None = None  # no judgement possible (None with transferred False: refused)
    detail: str = ""

    @property
    def subject(self) -> Subject:
        return Subject(host=self.server, address=self.address, port=53, service="dns")


@dataclass(frozen=True, slots=True)
class AxfrFact:
    VERSION: ClassVar[int] = 3
    domain: str
    attempts: tuple[AxfrAttempt, ...]
    servers_without_address: tuple[str, ...]


@migrates(AxfrFact, 1)
def _axfr_v1(data: dict[str, Any]) -> dict[str, Any]:
    for attempt in data.get("attempts") or []:
        outcome = attempt.pop("outcome", "refused")
        attempt["transferred"] = outcome == "transferred"
        attempt["error"] = None if outcome in ("transferred", "refused") else v1_status(outcome)
        attempt.setdefault("names", [])
    return data


@migrates(AxfrFact, 2)
def _axfr_v2(data: dict[str, Any]) -> dict[str, Any]:
    for attempt in data.get("attempts") or []:
        attempt.setdefault("links", [])  # version 2 kept the owner names only
    return data


# ------------------------------------------------------------------------------------------ SRV


@dataclass(frozen=True, slots=True)
class SrvAnswer:
    """The SRV records of one service name under the domain (``_sip._tls.<domain>``)."""

    service: str  # "_sip._tls"
    rcode: str = ""  # NOERROR | NXDOMAIN; "" when the lookup failed
    targets: tuple[str, ...] = ()  # target host names, lower case, without "." (service not offered)
    error: ErrorReason | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SrvFact:
    VERSION: ClassVar[int] = 1
    domain: str
    services: tuple[SrvAnswer, ...]


# ------------------------------------------------------------------------------------------ CNAMEs


@dataclass(frozen=True, slots=True)
class CnameChain:
    name: str
    roles: tuple[str, ...]
    chain: tuple[str, ...]  # aliases followed, in order (empty: the name is no alias)
    final_rcode: str  # of the last name in the chain: NOERROR | NXDOMAIN | "" (not looked up)
    loop: bool = False  # the aliases refer in a circle
    error: ErrorReason | None = None  # a lookup failed: the chain is unknown
    detail: str = ""
    too_long: bool = False  # still aliasing after the most hops followed: resolvers give up on it


@dataclass(frozen=True, slots=True)
class CnameFact:
    VERSION: ClassVar[int] = 3
    chains: tuple[CnameChain, ...]


@migrates(CnameFact, 1)
def _cname_v1(data: dict[str, Any]) -> dict[str, Any]:
    for chain in data.get("chains") or []:
        text = chain.get("error") or ""
        chain["loop"] = text == "alias loop"
        chain["error"] = None if not text or text == "alias loop" else ErrorReason.SERVFAIL.value
        chain["detail"] = "" if chain["loop"] else text
    return data


@migrates(CnameFact, 2)
def _cname_v2(data: dict[str, Any]) -> dict[str, Any]:
    for chain in data.get("chains") or []:
        chain.setdefault("too_long", False)  # version 2 looked the rest up through the resolver
    return data


# ------------------------------------------------------------------------------------------ DNSSEC


@dataclass(frozen=True, slots=True)
class SignedRRset:
    name: str
    rdtype: str
    rcode: str  # NOERROR | NXDOMAIN
    ttl: int | None
    records: tuple[str, ...]  # presentation format
    rrsigs: tuple[str, ...]  # RRSIGs covering this type at this name
    authenticated: bool = False  # AD flag (only meaningful with a validating resolver)


@dataclass(frozen=True, slots=True)
class DnssecFact:
    VERSION: ClassVar[int] = 1
    domain: str
    dnskey: SignedRRset
    soa: SignedRRset
    ds: SignedRRset
    resolver_verdict: str = ""  # the resolver's own SOA answer: "validated" (AD) | "not-validated" | "rejected"


# ------------------------------------------------------------------------------------------ hosts


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    roles: tuple[str, ...]  # apex | www | mx | mta-sts | extra | found (revealed by the zone itself)
    addresses: tuple[str, ...]  # IPv4 then IPv6, as resolved
    cnames: tuple[str, ...] = ()
    error: ErrorReason | None = None  # the name could not be resolved (timeout, SERVFAIL): unknown
    detail: str = ""
    sources: tuple[str, ...] = ()  # where a found name came from: axfr | san | cname | mx | ns | srv
    # (rdtype, reason) of every address lookup that failed, also when the other family answered
    # (then ``error`` is None: the host is known, but e.g. whether it has IPv6 is not)
    lookup_errors: tuple[tuple[str, ErrorReason], ...] = ()

    @property
    def ipv6(self) -> tuple[str, ...]:
        return tuple(a for a in self.addresses if ":" in a)


@dataclass(frozen=True, slots=True)
class HostInventory:
    VERSION: ClassVar[int] = 4
    domain: str
    hosts: tuple[Host, ...]
    mx_error: ErrorReason | None = None  # the MX lookup failed: the mail hosts are unknown
    capped: int = 0  # MX hosts left out because of the cap (options.MAX_MX_HOSTS)
    found_capped: int = 0  # found names (role "found") left out because of their cap

    def with_role(self, role: str) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if role in h.roles)


@migrates(HostInventory, 1)
def _inventory_v1(data: dict[str, Any]) -> dict[str, Any]:
    for host in data.get("hosts") or []:
        text = host.get("error") or ""
        host["error"] = (ErrorReason.TIMEOUT.value if "Timeout" in text else ErrorReason.SERVFAIL.value) if text and not host.get("addresses") else None
        host["detail"] = text
        host.setdefault("sources", [])
    return data


@migrates(HostInventory, 2)
def _inventory_v2(data: dict[str, Any]) -> dict[str, Any]:
    for host in data.get("hosts") or []:  # which family failed was not recorded: only whole-host errors
        error = host.get("error")
        host["lookup_errors"] = [["A", error], ["AAAA", error]] if error else []
    return data


@migrates(HostInventory, 3)
def _inventory_v3(data: dict[str, Any]) -> dict[str, Any]:
    data.setdefault("found_capped", 0)  # version 3 did not add found names
    return data
