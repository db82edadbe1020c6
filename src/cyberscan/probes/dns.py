"""DNS probes for the domain itself."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import ProbeContext
from ..plugin import probe
from .dnsbase import DnsAnswer, lookup


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
