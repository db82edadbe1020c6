"""Shared DNS lookup used by every probe: classifies answers into facts and failures into errors.

NXDOMAIN and NODATA are facts (the name or record does not exist). Timeouts, SERVFAIL and refused
queries are errors: they say nothing about the domain, so they must never become a pass or a fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from ..errors import ProbeError, ProbeTimeout, TargetUnreachable


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


class DnsServerFailure(ProbeError):
    """SERVFAIL or REFUSED from every resolver: the truth is unknown."""


def lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str, *, probe: str = "dns") -> DnsAnswer:
    """Resolve ``name``/``rdtype`` and classify the outcome. Raises ProbeError subclasses on errors."""
    qname = name.rstrip(".") + "."
    try:
        answer = resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return DnsAnswer(name.rstrip("."), rdtype, "NXDOMAIN")
    except dns.resolver.LifetimeTimeout as exc:
        raise ProbeTimeout(f"no DNS answer for {qname} {rdtype} in time", probe=probe, target=name) from exc
    except dns.resolver.NoNameservers as exc:
        raise DnsServerFailure(
            f"the nameservers could not answer {qname} {rdtype} (SERVFAIL or refused)", probe=probe, target=name
        ) from exc
    except dns.resolver.YXDOMAIN as exc:
        raise DnsServerFailure(f"{qname} is too long after DNAME substitution", probe=probe, target=name) from exc
    except (dns.exception.DNSException, OSError) as exc:
        raise TargetUnreachable(f"DNS lookup of {qname} {rdtype} failed: {exc}", probe=probe, target=name) from exc
    records: tuple[str, ...] = ()
    ttl = None
    chain: list[str] = []
    if answer.rrset is not None:
        records = tuple(sorted(r.to_text() for r in answer.rrset))
        ttl = answer.rrset.ttl
    for rrset in answer.response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME:
            chain.extend(r.target.to_text().rstrip(".") for r in rrset)
    authenticated = bool(answer.response.flags & dns.flags.AD)
    return DnsAnswer(name.rstrip("."), rdtype, "NOERROR", records, ttl, authenticated, tuple(chain))


def txt_strings(answer: DnsAnswer) -> list[str]:
    """TXT records joined into single strings (character-strings are concatenated, per RFC 7208 3.3)."""
    import dns.rdata
    import dns.rdataclass

    out = []
    for text in answer.records:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
        out.append(b"".join(rdata.strings).decode("utf-8", errors="replace"))  # type: ignore[attr-defined]
    return out
