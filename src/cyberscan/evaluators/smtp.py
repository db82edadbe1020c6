"""Judgement of mail transport security: STARTTLS on each MX, and DANE (TLSA) for it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..facts import Facts
from ..facts.smtp import MailEndpoint, StarttlsFact, TlsaFact, TlsaSet
from ..models import ErrorReason, Status, Subject, Verdict
from ..parsers.x509 import spki_der
from ..plugin import evaluator
from .common import lookups_failed, not_judged
from .tls import cert_valid_verdict, endpoint_problem, version_verdict


def _endpoint_problem(e: MailEndpoint) -> Verdict | None:
    if e.ok:
        return None
    return not_judged(e.error or ErrorReason.PROTOCOL, e.detail, e.subject, evidence={"address": e.address, "port": e.port})


def starttls_verdict(e: MailEndpoint, facts: Facts, params: Mapping[str, Any]) -> Verdict:
    p: dict[str, Any] = {}
    subject = e.subject
    evidence: dict[str, Any] = {"banner": e.banner, "starttls": e.starttls}
    if not e.starttls or e.tls is None:
        return Verdict(Status.FAIL, "no-starttls", p, evidence, subject)
    problem = endpoint_problem(e.tls)
    if problem is not None:
        return Verdict(Status.ERROR, "tls-failed", {**p, "detail": e.tls.detail[:300]}, evidence, subject,
                       problem.reason or ErrorReason.PROTOCOL)
    versions = version_verdict(e.tls, params)
    evidence["versions"] = versions.evidence
    if e.tls.certificate is None:
        return Verdict(Status.ERROR, "tls-failed", {**p, "detail": "no certificate"}, evidence, subject,
                       ErrorReason.PROTOCOL)
    cert = cert_valid_verdict(e.tls, facts.now)
    evidence["certificate"] = cert.evidence
    p.update({"versions": versions.params.get("versions", "-"), "certificate": cert.message})
    if versions.status is Status.FAIL:
        return Verdict(Status.FAIL, "weak-tls", {**p, "weak": versions.params.get("weak", "")}, evidence, subject)
    if cert.status is Status.FAIL:
        # Many MTAs deliver over STARTTLS without checking certificates (opportunistic TLS), so a bad
        # certificate weakens protection rather than breaking delivery: warn unless asked otherwise.
        status = Status.FAIL if params.get("fail_on_bad_certificate", False) else Status.WARN
        return Verdict(status, "bad-certificate", {**p, "problem": cert.message}, evidence, subject)
    if versions.status is Status.WARN:
        return Verdict(Status.WARN, "weak-tls", {**p, "weak": versions.params.get("weak", "")}, evidence, subject)
    if versions.status is Status.ERROR:
        return Verdict(Status.ERROR, "tls-failed", {**p, "detail": "versions unknown"}, evidence, subject,
                       ErrorReason.PROTOCOL)
    return Verdict(Status.PASS, "ok", p, evidence, subject)


@evaluator("mail.starttls")
def starttls(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: StarttlsFact = facts.fact("smtp.starttls")
    if fact.mx_error is not None:
        return [not_judged(fact.mx_error, "MX", None)]
    if fact.null_mx:
        return [Verdict(Status.INFO, "null-mx", {})]
    out = lookups_failed(fact.failed, "smtp")
    if not fact.endpoints and not out:
        return [Verdict(Status.INFO, "no-mx", {"unresolved": ", ".join(fact.unresolved) or "-"})]
    for e in fact.endpoints:
        problem = _endpoint_problem(e)
        out.append(problem if problem is not None else starttls_verdict(e, facts, params))
    return out


# ----------------------------------------------------------------------------- DANE


def tlsa_matches(record: str, cert_der: bytes, chain: tuple[bytes, ...] = ()) -> bool | None:
    """Does one TLSA record (presentation form) match? None when its usage cannot be checked here.

    Usage 3 (DANE-EE) and 1 (PKIX-EE) match the leaf; usage 2 (DANE-TA) and 0 (PKIX-TA) a certificate
    in the chain the server sent. Selector 0 = full certificate, 1 = SubjectPublicKeyInfo; matching
    0 = exact, 1 = SHA-256, 2 = SHA-512.
    """
    parts = record.split()
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        return False
    usage, selector, matching = int(parts[0]), int(parts[1]), int(parts[2])
    data = "".join(parts[3:]).lower()
    if usage in (3, 1):
        candidates = [cert_der]
    elif usage in (2, 0):
        if len(chain) < 2:
            return None
        candidates = list(chain[1:])
    else:
        return False
    for der in candidates:
        try:
            blob = der if selector == 0 else spki_der(der) if selector == 1 else None
        except ValueError:
            continue
        if blob is None:
            return False
        if matching == 0:
            digest = blob.hex()
        elif matching == 1:
            digest = hashlib.sha256(blob).hexdigest()
        elif matching == 2:
            digest = hashlib.sha512(blob).hexdigest()
        else:
            return False
        if digest == data:
            return True
    return False


def dane_verdict(tlsa: TlsaSet, endpoints: list[MailEndpoint], port: int = 25) -> list[Verdict]:
    p: dict[str, Any] = {"host": tlsa.mx, "owner": tlsa.owner}
    evidence: dict[str, Any] = {"records": list(tlsa.records), "signed": tlsa.signed, "authenticated": tlsa.authenticated}
    host = Subject(host=tlsa.mx, port=port, service="smtp")
    if tlsa.error is not None:
        return [Verdict(Status.ERROR, "lookup-failed", {**p, "detail": tlsa.detail[:300]}, evidence, host, tlsa.error)]
    if not tlsa.records:
        return [Verdict(Status.WARN, "no-tlsa", p, evidence, host)]
    if not (tlsa.signed or tlsa.authenticated):
        return [Verdict(Status.FAIL, "no-dnssec", p, evidence, host)]
    if not endpoints:
        return [Verdict(Status.ERROR, "no-certificate", p, evidence, host, ErrorReason.UNREACHABLE)]
    out = []
    for e in endpoints:
        problem = _endpoint_problem(e)
        if problem is not None:  # the mail server itself could not be examined: unknown, with its reason
            out.append(problem)
            continue
        if not e.starttls:  # DANE needs STARTTLS: senders that use DANE will not deliver to this server
            out.append(Verdict(Status.FAIL, "no-starttls", p, evidence, e.subject))
            continue
        tls = e.tls
        if tls is not None and tls.error is not None:
            out.append(not_judged(tls.error, tls.detail, e.subject, evidence=evidence))
            continue
        if tls is None or tls.certificate is None:
            out.append(Verdict(Status.ERROR, "no-certificate", p, evidence, e.subject, ErrorReason.PROTOCOL))
            continue
        results = [tlsa_matches(r, tls.certificate.der, tls.chain) for r in tlsa.records]
        ev = {**evidence, "certificate_sha256": tls.certificate.sha256}
        if any(r is True for r in results):
            key = "valid" if tlsa.authenticated else "valid-unvalidated"
            out.append(Verdict(Status.PASS, key, p, ev, e.subject))
        elif all(r is None for r in results):
            out.append(Verdict(Status.INFO, "unchecked-usage", p, ev, e.subject))
        else:
            out.append(Verdict(Status.FAIL, "mismatch", p, ev, e.subject))
    return out


@evaluator("mail.dane")
def dane(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    tlsa: TlsaFact = facts.fact("dns.tlsa")
    smtp: StarttlsFact = facts.fact("smtp.starttls")
    if tlsa.mx_error is not None:
        return [not_judged(tlsa.mx_error, "MX", None)]
    if smtp.null_mx:
        return [Verdict(Status.INFO, "null-mx", {})]
    if not tlsa.sets:
        return [Verdict(Status.INFO, "no-mx", {"unresolved": "-"})]
    out = []
    for tset in tlsa.sets:
        endpoints = [e for e in smtp.endpoints if e.name == tset.mx]
        port = endpoints[0].port if endpoints else 25
        out.extend(dane_verdict(tset, endpoints, port))
    return out
