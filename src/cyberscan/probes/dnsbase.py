"""Shared DNS lookup used by every probe: classifies answers into facts and failures into errors.

NXDOMAIN and NODATA are facts (the name or record does not exist). Timeouts, SERVFAIL and refused
queries are errors: they say nothing about the domain, so they must never become a pass or a fail.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from ..errors import ProbeTimeout, ServerFailure, TargetUnreachable
from ..facts.dns import DnsAnswer
from ..models import ErrorReason
from ..runtime import ProbeContext


def lookup(ctx: ProbeContext, name: str, rdtype: str, *, probe: str = "dns") -> DnsAnswer:
    """Resolve ``name``/``rdtype`` and classify the outcome. Raises ProbeError subclasses on errors."""
    qname = name.rstrip(".") + "."
    resolver = ctx.resolver  # raises Interrupted once the scan is cancelled
    try:
        answer = resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return DnsAnswer(name.rstrip("."), rdtype, "NXDOMAIN")
    except dns.resolver.LifetimeTimeout as exc:
        raise ProbeTimeout(f"{qname} {rdtype}", probe=probe, target=name) from exc
    except dns.resolver.NoNameservers as exc:
        raise ServerFailure(f"{qname} {rdtype}: SERVFAIL/REFUSED", probe=probe, target=name) from exc
    except dns.resolver.YXDOMAIN as exc:
        raise ServerFailure(f"{qname} {rdtype}: YXDOMAIN", probe=probe, target=name) from exc
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        raise TargetUnreachable(f"{qname} {rdtype}: {exc}", probe=probe, target=name) from exc
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


def reason_of(exc: BaseException) -> ErrorReason:
    """The ErrorReason of a ProbeError (PROTOCOL for anything else)."""
    value = getattr(exc, "reason", None)
    return value if isinstance(value, ErrorReason) else ErrorReason.PROTOCOL


def txt_strings(answer: DnsAnswer) -> list[str]:
    """TXT records joined into single strings (character-strings are concatenated, per RFC 7208 3.3)."""
    out = []
    for text in answer.records:
        try:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
        except (dns.exception.DNSException, ValueError):
            continue
        out.append(b"".join(rdata.strings).decode("utf-8", errors="replace"))  # type: ignore[attr-defined]
    return out
