"""Shared DNS lookup used by every probe: classifies answers into facts and failures into errors.

NXDOMAIN and NODATA are facts (the name or record does not exist). Timeouts, SERVFAIL and refused
queries are errors: they say nothing about the domain, so they must never become a pass or a fail.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from ..errors import Interrupted, ProbeError, ProbeTimeout, ServerFailure, TargetUnreachable, Truncated
from ..facts.dns import DnsAnswer
from ..models import ErrorReason
from ..runtime import ProbeContext
from . import fanout


def lookup(ctx: ProbeContext, name: str, rdtype: str, *, probe: str = "dns") -> DnsAnswer:
    """Resolve ``name``/``rdtype`` and classify the outcome. Raises ProbeError subclasses on errors."""
    qname = name.rstrip(".") + "."
    resolver = ctx.resolver  # raises Interrupted once the scan is cancelled
    try:
        answer = resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN as exc:
        return _nxdomain(name, rdtype, exc)
    except dns.resolver.LifetimeTimeout as exc:
        raise ProbeTimeout(f"{qname} {rdtype}", probe=probe, target=name) from exc
    except dns.resolver.NoNameservers as exc:
        raise no_nameservers(exc, f"{qname} {rdtype}", probe, name) from exc
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


def lookups(ctx: ProbeContext, name: str, rdtypes: tuple[str, ...], *, probe: str = "dns") -> list[DnsAnswer | ProbeError]:
    """:func:`lookup` of several types of one name at the same time: each answer, or its ProbeError,
    in the order asked (Interrupted raises). Callers that would have skipped a later type after an
    earlier answer (no AAAA after an NXDOMAIN for A) ignore that later answer."""

    def one(rdtype: str) -> DnsAnswer | ProbeError:
        try:
            return lookup(ctx, name, rdtype, probe=probe)
        except Interrupted:
            raise
        except ProbeError as exc:
            return exc

    return fanout.run(one, rdtypes, workers=len(rdtypes), cancel=ctx.cancel_event)


def addresses_of(ctx: ProbeContext, name: str, *, probe: str) -> tuple[DnsAnswer, DnsAnswer]:
    """A and AAAA of ``name`` at the same time; an NXDOMAIN for A stands for AAAA too (as when AAAA was
    only asked after A). Raises the ProbeError of the first that failed."""
    a, aaaa = lookups(ctx, name, ("A", "AAAA"), probe=probe)
    if isinstance(a, ProbeError):
        raise a
    if not a.exists:
        return a, a
    if isinstance(aaaa, ProbeError):
        raise aaaa
    return a, aaaa


def _aliases(response: dns.message.Message, qname: dns.name.Name) -> list[tuple[str, str]]:
    """The CNAME chain from ``qname`` in an answer section, as (owner, target) pairs, in order."""
    cnames = {r.name: r[0].target for r in response.answer if r.rdtype == dns.rdatatype.CNAME and len(r)}
    chain: list[tuple[str, str]] = []
    current = qname
    while current in cnames and len(chain) < len(cnames):
        target = cnames[current]
        chain.append((current.to_text(), target.to_text()))
        current = target
    return chain


def _nxdomain(name: str, rdtype: str, exc: dns.resolver.NXDOMAIN) -> DnsAnswer:
    """NXDOMAIN, keeping the aliases followed on the way (RFC 6604: the rcode is about the last name).

    An alias whose target does not exist is exactly what ``dns.dangling`` looks for, so its CNAME
    must not be lost: dnspython caches such an answer as NXDOMAIN for the alias itself (every type),
    so a later CNAME query of the alias is answered from the response cached here."""
    qname = dns.name.from_text(name.rstrip(".") + ".")
    responses = exc.kwargs.get("responses") or {}  # what NXDOMAIN.response() reads (it is untyped)
    response = responses.get(qname) if isinstance(responses, dict) else None
    chain = _aliases(response, qname) if isinstance(response, dns.message.Message) else []
    targets = tuple(target.rstrip(".") for _, target in chain)
    if rdtype.upper() == "CNAME" and chain:  # the alias exists; its target does not
        return DnsAnswer(name.rstrip("."), rdtype, "NOERROR", (chain[0][1],), None, False, targets[:1])
    return DnsAnswer(name.rstrip("."), rdtype, "NXDOMAIN", cname_chain=targets)


def no_nameservers(exc: dns.resolver.NoNameservers, what: str, probe: str, name: str) -> ProbeError:
    """Why every nameserver failed, from what each attempt ran into (dnspython's ``errors``).

    A cut-off UDP answer whose full (TCP) version could not be had is TRUNCATED; nothing but
    network trouble is UNREACHABLE; REFUSED answers only are REFUSED; anything else (SERVFAIL, a
    malformed answer) is SERVFAIL: the truth is unknown in every case."""
    raw = exc.kwargs.get("errors") or []
    problems = [entry[3] for entry in raw if isinstance(entry, tuple) and len(entry) >= 4]
    detail = f"{what}: " + "; ".join(sorted({_problem_text(p) for p in problems}) or {"SERVFAIL/REFUSED"})
    failure: ProbeError
    if any(isinstance(p, dns.message.Truncated) for p in problems):
        failure = Truncated(detail[:300], probe=probe, target=name)
    elif problems and all(isinstance(p, OSError | EOFError) for p in problems):
        failure = TargetUnreachable(detail[:300], probe=probe, target=name)
    else:
        failure = ServerFailure(detail[:300], probe=probe, target=name)
        if problems and all(p == "REFUSED" for p in problems):
            failure.reason = ErrorReason.REFUSED
    return failure


def _problem_text(problem: object) -> str:
    if isinstance(problem, str):
        return problem  # an rcode: SERVFAIL, REFUSED ...
    return type(problem).__name__


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
