"""Judgement of TLS on web hosts: protocol versions, cipher suites, certificates (NCSC TLS guidelines).

Every verdict names one host, address and port (``Verdict.subject``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..facts import Facts
from ..facts.tls import CertInfo, TlsEndpoint, TlsScan
from ..models import ErrorReason, Status, Verdict
from ..parsers.tlsrating import rate_group, rate_suite, rate_version, worst
from ..plugin import evaluator
from .common import judged_role, lookups_failed, no_hosts, not_judged, unseen

# OpenSSL verification codes that are about dates (judged from the certificate and facts.now instead)
_DATE_CODES = {9, 10}
_SELF_SIGNED_CODES = {18, 19}

NO_HTTPS = (Status.SKIPPED, "endpoint.no-https")


def endpoint_problem(endpoint: TlsEndpoint) -> Verdict | None:
    """A SKIPPED/ERROR verdict when the endpoint gave no TLS facts; None when it can be judged."""
    if endpoint.ok:
        return None
    refused = NO_HTTPS if endpoint.service == "https" else None
    return not_judged(endpoint.error or ErrorReason.PROTOCOL, endpoint.detail, endpoint.subject, refused=refused,
                      evidence={"address": endpoint.address, "port": endpoint.port})


def _per_endpoint(scan: TlsScan, judge: Any, params: Mapping[str, Any], *, need_cert: bool = False) -> list[Verdict]:
    """One verdict per endpoint whose host roles the check's ``roles`` param lists (all without one);
    a name found in the zone whose TLS port did not answer gets none."""
    out = lookups_failed(scan.failed, "https")
    for endpoint in scan.endpoints:
        if not judged_role(endpoint.roles, params) or unseen(endpoint.roles, endpoint.error):
            continue
        problem = endpoint_problem(endpoint)
        if problem is not None:
            out.append(problem)
        elif need_cert and endpoint.certificate is None:
            out.append(Verdict(Status.ERROR, "no-certificate", {}, subject=endpoint.subject,
                               reason=ErrorReason.PROTOCOL))
        else:
            out.append(judge(endpoint))
    return out or [no_hosts(scan.unresolved)]


# ----------------------------------------------------------------------------- protocol versions


@evaluator("web.tls_version")
def tls_version(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    return judge_versions(facts.fact("tls.scan"), params)


def judge_versions(scan: TlsScan, params: Mapping[str, Any]) -> list[Verdict]:
    return _per_endpoint(scan, lambda e: version_verdict(e, params), params)


def version_verdict(endpoint: TlsEndpoint, params: Mapping[str, Any]) -> Verdict:
    accepted = endpoint.accepted_versions()
    ratings = {v: rate_version(v) for v in accepted}
    evidence = {"accepted": list(accepted), "ratings": ratings,
                "errors": {v.version: v.error for v in endpoint.versions if v.error}}
    base = {"versions": ", ".join(accepted) or "-"}
    if not accepted:  # every raw ClientHello failed (even if an ordinary handshake worked): cannot judge
        return Verdict(Status.ERROR, "versions-unknown", base, evidence, endpoint.subject, ErrorReason.PROTOCOL)
    level = worst(ratings.values())
    bad = [v for v, r in ratings.items() if r in ("insufficient", "phase-out")]
    if level == "insufficient":
        return Verdict(Status.FAIL, "insufficient", {**base, "weak": ", ".join(bad)}, evidence, endpoint.subject)
    if level == "phase-out":
        status = Status.FAIL if params.get("fail_on_phase_out", False) else Status.WARN
        return Verdict(status, "phase-out", {**base, "weak": ", ".join(bad)}, evidence, endpoint.subject)
    if "TLSv1.3" not in accepted:
        return Verdict(Status.PASS, "sufficient-no-tls13", base, evidence, endpoint.subject)
    return Verdict(Status.PASS, "good", base, evidence, endpoint.subject)


# ----------------------------------------------------------------------------- cipher suites


@evaluator("web.tls_ciphers")
def tls_ciphers(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    return judge_ciphers(facts.fact("tls.scan"), params)


def judge_ciphers(scan: TlsScan, params: Mapping[str, Any]) -> list[Verdict]:
    return _per_endpoint(scan, lambda e: cipher_verdict(e, params), params)


def cipher_verdict(endpoint: TlsEndpoint, params: Mapping[str, Any]) -> Verdict:
    per_version: dict[str, list[dict[str, str]]] = {}
    suite_ratings: dict[str, str] = {}
    group_ratings: dict[str, str] = {}
    incomplete = []
    for result in endpoint.versions:
        if not result.accepted:
            continue
        rows = []
        for suite in result.suites:
            rating = rate_suite(suite)
            suite_ratings[suite] = rating
            rows.append({"suite": suite, "rating": rating})
        per_version[result.version] = rows
        for group in result.groups:
            group_ratings[group] = rate_group(group, result.dh_bits if group.startswith("dh") else 0)
        if not result.complete:
            incomplete.append(result.version)
    evidence = {"suites": per_version, "key_exchange": group_ratings, "incomplete": incomplete}
    base: dict[str, Any] = {}
    if not suite_ratings:
        return Verdict(Status.ERROR, "suites-unknown", base, evidence, endpoint.subject, ErrorReason.PROTOCOL)
    level = worst([*suite_ratings.values(), *group_ratings.values()])
    weak = sorted({s for s, r in suite_ratings.items() if r in ("insufficient", "phase-out")})
    weak_kx = sorted({g for g, r in group_ratings.items() if r in ("insufficient", "phase-out")})
    names = ", ".join(weak + weak_kx)
    if level == "insufficient":
        bad = sorted({s for s, r in [*suite_ratings.items(), *group_ratings.items()] if r == "insufficient"})
        return Verdict(Status.FAIL, "insufficient", {**base, "suites": ", ".join(bad), "count": len(bad)}, evidence,
                       endpoint.subject)
    if level == "phase-out":
        status = Status.FAIL if params.get("fail_on_phase_out", False) else Status.WARN
        return Verdict(status, "phase-out", {**base, "suites": names, "count": len(weak) + len(weak_kx)}, evidence,
                       endpoint.subject)
    return Verdict(Status.PASS, "good" if level == "good" else "sufficient", {**base, "count": len(suite_ratings)},
                   evidence, endpoint.subject)


# ----------------------------------------------------------------------------- certificates


def hostname_matches(name: str, dns_names: Iterable[str], common_names: Iterable[str] = ()) -> bool:
    """RFC 6125: subjectAltName DNS names (CN only when there are none); ``*`` = one leftmost label."""
    host = name.rstrip(".").lower()
    patterns = [p.rstrip(".").lower() for p in dns_names] or [c.rstrip(".").lower() for c in common_names]
    for pattern in patterns:
        if pattern == host:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            suffix = pattern[1:]  # ".example.nl"
            label, _, rest = host.partition(".")
            if label and "." + rest == suffix and suffix.count(".") >= 2:
                return True
    return False


def _cert_params(endpoint: TlsEndpoint, cert: CertInfo) -> dict[str, Any]:
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "not_after": cert.not_after.date().isoformat(),
    }


def _cert_evidence(cert: CertInfo) -> dict[str, Any]:
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "names": list(cert.dns_names) or list(cert.common_names),
        "not_before": cert.not_before.isoformat(),
        "not_after": cert.not_after.isoformat(),
        "key": f"{cert.key_type} {cert.key_bits}",
        "signature_hash": cert.signature_hash,
        "sha256": cert.sha256,
    }


def cert_valid_verdict(endpoint: TlsEndpoint, now: datetime, label_name: str | None = None) -> Verdict:
    cert = endpoint.certificate
    assert cert is not None
    params = _cert_params(endpoint, cert)
    evidence = {**_cert_evidence(cert), "verify_code": endpoint.verify_code, "verify_message": endpoint.verify_message}
    host = endpoint.subject
    if now < cert.not_before:
        return Verdict(Status.FAIL, "not-yet-valid", {**params, "not_before": cert.not_before.date().isoformat()},
                       evidence, host)
    if now > cert.not_after:
        return Verdict(Status.FAIL, "expired", params, evidence, host)
    if not hostname_matches(label_name or endpoint.name, cert.dns_names, cert.common_names):
        names = ", ".join(cert.dns_names or cert.common_names) or "-"
        return Verdict(Status.FAIL, "name-mismatch", {**params, "names": names}, evidence, host)
    if endpoint.chain_trusted is False and endpoint.verify_code not in _DATE_CODES:
        if endpoint.verify_code in _SELF_SIGNED_CODES or cert.self_signed:
            return Verdict(Status.FAIL, "self-signed", params, evidence, host)
        return Verdict(Status.FAIL, "untrusted", {**params, "reason_text": endpoint.verify_message or "-"}, evidence,
                       host)
    if endpoint.chain_trusted is None:
        return Verdict(Status.ERROR, "chain-unknown", params, evidence, host, ErrorReason.PROTOCOL)
    return Verdict(Status.PASS, "valid", params, evidence, host)


@evaluator("web.tls_cert_valid")
def cert_valid(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    scan: TlsScan = facts.fact("tls.scan")
    return _per_endpoint(scan, lambda e: cert_valid_verdict(e, facts.now), params, need_cert=True)


def cert_expiry_verdict(endpoint: TlsEndpoint, now: datetime, params: Mapping[str, Any]) -> Verdict:
    cert = endpoint.certificate
    assert cert is not None
    days = int((cert.not_after - now).total_seconds() // 86400)
    p = {**_cert_params(endpoint, cert), "days": days}
    evidence = _cert_evidence(cert)
    if days < 0:
        return Verdict(Status.FAIL, "expired", p, evidence, endpoint.subject)
    if days < int(params.get("fail_days", 14)):
        return Verdict(Status.FAIL, "expires-very-soon", p, evidence, endpoint.subject)
    if days < int(params.get("warn_days", 30)):
        return Verdict(Status.WARN, "expires-soon", p, evidence, endpoint.subject)
    return Verdict(Status.PASS, "ok", p, evidence, endpoint.subject)


@evaluator("web.tls_cert_expiry")
def cert_expiry(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    scan: TlsScan = facts.fact("tls.scan")
    return _per_endpoint(scan, lambda e: cert_expiry_verdict(e, facts.now, params), params, need_cert=True)


def cert_key_verdict(endpoint: TlsEndpoint, params: Mapping[str, Any]) -> Verdict:
    cert = endpoint.certificate
    assert cert is not None
    p = {**_cert_params(endpoint, cert), "key": f"{cert.key_type} {cert.key_bits}"}
    evidence = _cert_evidence(cert)
    min_rsa = int(params.get("min_rsa_bits", 2048))
    min_ec = int(params.get("min_ec_bits", 256))
    if cert.key_type in ("RSA", "DSA") and cert.key_bits < min_rsa:
        return Verdict(Status.FAIL, "weak-key", {**p, "minimum": f"{cert.key_type} {min_rsa}"}, evidence, endpoint.subject)
    if cert.key_type == "DSA":
        return Verdict(Status.FAIL, "weak-key", {**p, "minimum": "RSA 2048 / EC 256"}, evidence, endpoint.subject)
    if cert.key_type == "EC" and cert.key_bits < min_ec:
        return Verdict(Status.FAIL, "weak-key", {**p, "minimum": f"EC {min_ec}"}, evidence, endpoint.subject)
    if cert.key_type == "unknown":
        return Verdict(Status.WARN, "unknown-key", p, evidence, endpoint.subject)
    return Verdict(Status.PASS, "ok", p, evidence, endpoint.subject)


@evaluator("web.tls_cert_key")
def cert_key(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    scan: TlsScan = facts.fact("tls.scan")
    return _per_endpoint(scan, lambda e: cert_key_verdict(e, params), params, need_cert=True)


WEAK_HASHES = ("md5", "sha1", "md2", "md4")


def cert_signature_verdict(endpoint: TlsEndpoint) -> Verdict:
    cert = endpoint.certificate
    assert cert is not None
    p = {**_cert_params(endpoint, cert), "hash": cert.signature_hash or "-"}
    evidence = _cert_evidence(cert)
    if cert.signature_hash.lower() in WEAK_HASHES:
        return Verdict(Status.FAIL, "weak-signature", p, evidence, endpoint.subject)
    return Verdict(Status.PASS, "ok", p, evidence, endpoint.subject)


@evaluator("web.tls_cert_signature")
def cert_signature(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    scan: TlsScan = facts.fact("tls.scan")
    return _per_endpoint(scan, cert_signature_verdict, params, need_cert=True)
