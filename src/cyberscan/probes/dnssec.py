"""DNSSEC material of the domain: DNSKEY, the signatures over DNSKEY and SOA, and DS at the parent.

The probe only collects records (with the DO bit, through the configured resolver); the evaluator
checks the signatures against the keys at the scan time, so a stored scan can be judged again.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from ..errors import ProbeError, ProbeTimeout, ServerFailure, TargetUnreachable
from ..facts.dns import DnssecFact, SignedRRset
from ..plugin import probe
from ..runtime import ProbeContext, make_resolver
from . import fanout
from .dnsbase import no_nameservers


def fetch_signed(resolver: dns.resolver.Resolver, name: str, rdtype: str, *, probe: str) -> SignedRRset:
    """One RRset with its RRSIGs. Raises ProbeError subclasses when there is no answer."""
    qname = dns.name.from_text(name.rstrip(".") + ".")
    wanted = dns.rdatatype.from_text(rdtype)
    try:
        answer = resolver.resolve(qname, wanted, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return SignedRRset(name, rdtype, "NXDOMAIN", None, (), ())
    except dns.resolver.LifetimeTimeout as exc:
        raise ProbeTimeout(f"{qname} {rdtype}", probe=probe, target=name) from exc
    except dns.resolver.NoNameservers as exc:
        raise no_nameservers(exc, f"{qname} {rdtype}", probe, name) from exc
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        raise TargetUnreachable(f"{qname} {rdtype}: {exc}", probe=probe, target=name) from exc
    records: tuple[str, ...] = ()
    ttl = None
    owner = qname
    if answer.rrset is not None:
        records = tuple(sorted(r.to_text() for r in answer.rrset))
        ttl = answer.rrset.ttl
        owner = answer.rrset.name
    sigs: list[str] = []
    for rrset in answer.response.answer:
        if rrset.rdtype == dns.rdatatype.RRSIG and rrset.covers == wanted and rrset.name == owner:
            sigs.extend(r.to_text() for r in rrset)
    authenticated = bool(answer.response.flags & dns.flags.AD)
    return SignedRRset(owner.to_text().rstrip("."), rdtype, "NOERROR", ttl, records, tuple(sorted(sigs)), authenticated)


def _checking_disabled(ctx: ProbeContext) -> dns.resolver.Resolver:
    """A resolver like the scan's, with CD set: a validating resolver then hands over broken
    signatures too (instead of SERVFAIL), so cyberscan can say what is wrong with them."""
    res = make_resolver(ctx.options)
    res.flags = dns.flags.RD | dns.flags.CD
    res.cache = None
    return res


@probe("dns.dnssec", fact=DnssecFact)
def probe_dnssec(ctx: ProbeContext, domain: str) -> DnssecFact:
    """DNSKEY, SOA and DS with CD set, and SOA as a validating resolver answers it: four questions
    asked at the same time (each with its own resolver object), read in that order."""
    ctx.check_cancelled()

    def signed(rdtype: str) -> SignedRRset | ProbeError:
        try:
            return fetch_signed(_checking_disabled(ctx), domain, rdtype, probe="dns.dnssec")
        except ProbeError as exc:
            return exc

    def validated() -> str | ProbeError:
        try:
            plain = fetch_signed(ctx.resolver, domain, "SOA", probe="dns.dnssec")
        except ServerFailure:
            return "rejected"
        except ProbeError as exc:
            return exc
        return "validated" if plain.authenticated else "not-validated"

    asked: list[SignedRRset | str | ProbeError] = fanout.run(
        lambda part: part(), [lambda: signed("DNSKEY"), lambda: signed("SOA"), lambda: signed("DS"), validated],
        workers=4, cancel=ctx.cancel_event)
    for answer in asked:
        if isinstance(answer, ProbeError):
            raise answer
    dnskey, soa, ds, verdict = asked
    assert isinstance(dnskey, SignedRRset) and isinstance(soa, SignedRRset) and isinstance(ds, SignedRRset)
    assert isinstance(verdict, str)
    return DnssecFact(domain, dnskey, soa, ds, verdict)
