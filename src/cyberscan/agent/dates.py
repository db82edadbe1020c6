"""Dates that run out, read from a scan's facts, and how urgent each one is.

- a website's or mail server's certificate (``tls.scan``, ``smtp.starttls``): its lifetime is
  ``not_before`` .. ``not_after``;
- security.txt's ``Expires`` (``http.site``): its lifetime runs from when the agent first saw that
  value (a file says when it ends, not when it began);
- the DNSSEC signatures over the zone's SOA and DNSKEY (``dns.dnssec``): inception .. expiration.

Urgency is measured against the item's own lifetime, because certificates no longer live a year:
maximum lifetimes fall to 200, 100 and then 47 days (CA/Browser Forum ballot SC-081), and short-lived
certificates of a few days exist. A *stage* is passed at a third of the lifetime remaining, then at
each of ``days`` (14, 7, 1 by default) that is shorter than that third, and at expiry. Each stage is
alerted once per item; a renewed item (another fingerprint or date) starts again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dns.exception
import dns.rdatatype
import dns.rrset

from ..facts.dns import DnssecFact
from ..facts.smtp import StarttlsFact
from ..facts.tls import CertInfo, TlsEndpoint, TlsScan
from ..facts.web import HttpSite
from ..models import ProbeOutcome, Subject
from ..parsers.securitytxt import looks_like_securitytxt, parse_securitytxt

EXPIRED = "expired"
THIRD = "third"

# which probe gives which dated item, and the check that collects that probe's fact again
CERTIFICATE, SECURITYTXT, SIGNATURE = "certificate", "securitytxt", "signature"
PROBES = {CERTIFICATE: ("tls.scan", "smtp.starttls"), SECURITYTXT: ("http.site",), SIGNATURE: ("dns.dnssec",)}


@dataclass(frozen=True, slots=True)
class Dated:
    """Something that runs out: ``key`` names where it is, ``identity`` which one it is."""

    key: str  # expiry.<what>|domain|<which>: one certificate (fingerprint), one Expires value, the zone
    what: str  # certificate | securitytxt | signature
    domain: str
    probe: str
    identity: str  # certificate fingerprint, the Expires value, the signature expiration
    end: datetime
    start: datetime | None  # None: unknown (security.txt): the first time it was seen counts
    where: tuple[str, ...]  # where it is served or found, for people ("www.museum.nl (192.0.2.1:443)")

    def lifetime(self, first_seen: datetime | None = None) -> timedelta | None:
        start = self.start or first_seen
        return None if start is None else max(self.end - start, timedelta(0))


def stages(lifetime: timedelta | None, days: Sequence[int]) -> list[tuple[str, timedelta]]:
    """The stages of an item, least urgent first: (name, time remaining when it is passed)."""
    out: list[tuple[str, timedelta]] = []
    third = lifetime / 3 if lifetime is not None else None
    if third is not None and third > timedelta(0):
        out.append((THIRD, third))
    for day in sorted(set(days), reverse=True):
        remaining = timedelta(days=day)
        if third is None or remaining < third:
            out.append((f"{day}d", remaining))
    out.append((EXPIRED, timedelta(0)))
    return out


def stage_of(end: datetime, now: datetime, lifetime: timedelta | None, days: Sequence[int]) -> int:
    """How many stages have been passed at ``now`` (0: none yet; the last one is expiry)."""
    remaining = end - now
    passed = 0
    for index, (_name, threshold) in enumerate(stages(lifetime, days), start=1):
        if remaining <= threshold:
            passed = index
    return passed


def stage_name(stage: int, lifetime: timedelta | None, days: Sequence[int]) -> str:
    names = stages(lifetime, days)
    return names[stage - 1][0] if 0 < stage <= len(names) else ""


# ----------------------------------------------------------------------------- from facts


def _label(subject: Subject) -> str:
    spot = f"[{subject.address}]" if subject.address and ":" in subject.address else (subject.address or "")
    if spot and subject.port:
        spot = f"{spot}:{subject.port}"
    host = subject.host or subject.domain
    return f"{host} ({spot})" if spot else host


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _certificates(domain: str, probe: str, endpoints: Iterable[TlsEndpoint]) -> Iterator[Dated]:
    """One item per certificate (by fingerprint), wherever it is served: one alert for one certificate."""
    by_print: dict[str, tuple[CertInfo, list[Subject]]] = {}
    for e in endpoints:
        cert = e.certificate
        if e.error is not None or cert is None:
            continue
        by_print.setdefault(cert.sha256, (cert, []))[1].append(e.subject.with_domain(domain))
    for fingerprint, (cert, subjects) in by_print.items():
        yield Dated(f"expiry.{CERTIFICATE}|{domain}|{fingerprint}", CERTIFICATE, domain, probe, fingerprint,
                    _aware(cert.not_after), _aware(cert.not_before), tuple(sorted({_label(s) for s in subjects})))


def _signatures(domain: str, fact: DnssecFact) -> Iterator[Dated]:
    """The zone's signatures: the record whose newest signature runs out first decides."""
    found = []
    for signed in (fact.soa, fact.dnskey):
        if not signed.rrsigs:
            continue
        try:
            sigs = dns.rrset.from_text_list(signed.name + ".", signed.ttl or 0, "IN", "RRSIG", list(signed.rrsigs))
        except (dns.exception.DNSException, ValueError):
            continue
        usable = [s for s in sigs if s.type_covered == dns.rdatatype.from_text(signed.rdtype)] or list(sigs)
        if usable:
            found.append(max(usable, key=lambda s: s.expiration))  # valid while one signature is
    if found:
        first = min(found, key=lambda s: s.expiration)
        yield Dated(f"expiry.{SIGNATURE}|{domain}", SIGNATURE, domain, "dns.dnssec", str(first.expiration),
                    datetime.fromtimestamp(first.expiration, UTC), datetime.fromtimestamp(first.inception, UTC),
                    (domain,))


def _securitytxt(domain: str, site: HttpSite) -> Iterator[Dated]:
    """One item per Expires value, wherever the file is served."""
    by_value: dict[str, tuple[datetime, list[str]]] = {}
    for e in site.endpoints:
        final = e.securitytxt.final
        if e.securitytxt.error is not None or final is None or final.truncated or final.status != 200:
            continue
        if final.is_redirect or not looks_like_securitytxt(final.content_type, final.body):
            continue
        doc = parse_securitytxt(final.body)
        if doc.expires is None:
            continue
        by_value.setdefault(doc.expires.isoformat(), (_aware(doc.expires), []))[1].append(
            _label(e.subject.with_domain(domain)))
    for value, (end, where) in by_value.items():
        yield Dated(f"expiry.{SECURITYTXT}|{domain}|{value}", SECURITYTXT, domain, "http.site", value, end, None,
                    tuple(sorted(set(where))))


def dated(outcomes: Iterable[ProbeOutcome]) -> list[Dated]:
    """Every dated item in a scan's facts, one per key (the first wins)."""
    found: dict[str, Dated] = {}
    for outcome in outcomes:
        fact = outcome.fact
        if not outcome.ok or fact is None:
            continue
        items: Iterable[Dated] = ()
        if outcome.probe == "tls.scan" and isinstance(fact, TlsScan):
            items = _certificates(outcome.subject, "tls.scan", fact.endpoints)
        elif outcome.probe == "smtp.starttls" and isinstance(fact, StarttlsFact):
            items = _certificates(outcome.subject, "smtp.starttls", (m.tls for m in fact.endpoints if m.tls is not None))
        elif outcome.probe == "dns.dnssec" and isinstance(fact, DnssecFact):
            items = _signatures(outcome.subject, fact)
        elif outcome.probe == "http.site" and isinstance(fact, HttpSite):
            items = _securitytxt(outcome.subject, fact)
        for item in items:
            found.setdefault(item.key, item)
    return list(found.values())


__all__ = ["CERTIFICATE", "EXPIRED", "PROBES", "SECURITYTXT", "SIGNATURE", "THIRD", "Dated", "dated",
           "stage_name", "stage_of", "stages"]
