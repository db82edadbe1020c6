"""Judgement of the website: HTTPS, redirect, HSTS, security headers, cookies, security.txt, software."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..facts import Facts
from ..facts.web import Exchange, Fetch, HttpSite, WebEndpoint
from ..models import ErrorReason, Status, Verdict
from ..parsers.eol import judge_build
from ..parsers.headers import csp_directive, parse_hsts, parse_products, parse_set_cookie
from ..parsers.securitytxt import looks_like_securitytxt, parse_securitytxt
from ..plugin import evaluator
from .common import judged_role, lookups_failed, no_hosts, not_judged, unseen

NO_HTTPS = (Status.SKIPPED, "endpoint.no-https")  # a refused HTTPS connection, for checks that need HTTPS


def _problem(endpoint: WebEndpoint, fetch: Fetch) -> Verdict | None:
    if fetch.ok:
        return None
    return not_judged(fetch.error or ErrorReason.PROTOCOL, fetch.detail, endpoint.subject, refused=NO_HTTPS,
                      evidence={"address": endpoint.address})


def _each(site: HttpSite, judge: Callable[[WebEndpoint], Verdict], pick: Callable[[WebEndpoint], Fetch],
          params: Mapping[str, Any]) -> list[Verdict]:
    out = lookups_failed(site.failed, "https")
    for endpoint in judged(site, params, pick):
        problem = _problem(endpoint, pick(endpoint))
        out.append(problem if problem is not None else judge(endpoint))
    return out or [no_hosts(site.unresolved)]


def judged(site: HttpSite, params: Mapping[str, Any], pick: Callable[[WebEndpoint], Fetch]) -> list[WebEndpoint]:
    """The endpoints a check judges: those whose host roles its ``roles`` param lists (data), less the
    names found in the zone where ``pick``'s fetch found no service.

    ``mta-sts.<domain>`` only serves a policy to mail servers, so the website checks (headers,
    cookies, security.txt) list the visitor roles only; TLS and HSTS checks judge every listed host.
    Names the zone revealed (role ``found``) are judged on their software and TLS where they answer.
    """
    return [e for e in site.endpoints if judged_role(e.roles, params) and not unseen(e.roles, pick(e).error)]


def _https(e: WebEndpoint) -> Fetch:
    return e.https


# ----------------------------------------------------------------------------- HTTPS available


@evaluator("web.https_available")
def https_available(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    site: HttpSite = facts.fact("http.site")
    out = lookups_failed(site.failed, "https")
    for e in judged(site, params, _https):
        first = e.https.first
        if first is not None:  # the server answered over HTTPS (a later redirect hop may have failed)
            out.append(Verdict(Status.PASS, "available", {"code": first.status},
                               {"url": first.url, "status": first.status}, e.subject))
        elif e.https.error is ErrorReason.REFUSED:
            out.append(Verdict(Status.FAIL, "not-offered", {}, {"detail": e.https.detail}, e.subject))
        else:
            problem = _problem(e, e.https)
            assert problem is not None
            out.append(problem)
    return out or [no_hosts(site.unresolved)]


# ----------------------------------------------------------------------------- redirect


def redirect_verdict(e: WebEndpoint) -> Verdict:
    first = e.http.first
    assert first is not None
    evidence = {"url": first.url, "status": first.status, "location": first.location}
    p: dict[str, Any] = {"code": first.status}
    subject = e.subject
    if not first.is_redirect:
        return Verdict(Status.FAIL, "no-redirect", p, evidence, subject)
    try:
        target = urlsplit(urljoin(first.url, first.location or ""))
        hostname = (target.hostname or "").lower()
    except ValueError:
        return Verdict(Status.FAIL, "redirect-not-https", {**p, "location": (first.location or "")[:200]}, evidence,
                       subject)
    p["location"] = (first.location or "")[:200]
    if target.scheme != "https":
        return Verdict(Status.FAIL, "redirect-not-https", p, evidence, subject)
    if hostname != e.name.lower():
        return Verdict(Status.WARN, "redirect-other-host", p, evidence, subject)
    return Verdict(Status.PASS, "redirects", p, evidence, subject)


@evaluator("web.https_redirect")
def https_redirect(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    site: HttpSite = facts.fact("http.site")
    out = lookups_failed(site.failed, "http")
    for e in judged(site, params, lambda e: e.http):
        subject = replace(e.subject, port=None, service="http")
        if e.http.error is ErrorReason.REFUSED:
            out.append(Verdict(Status.PASS, "no-plain-http", {}, {"detail": e.http.detail}, subject))
            continue
        if not e.http.ok:
            out.append(not_judged(e.http.error or ErrorReason.PROTOCOL, e.http.detail, subject))
            continue
        out.append(replace(redirect_verdict(e), subject=subject))
    return out or [no_hosts(site.unresolved)]


# ----------------------------------------------------------------------------- HSTS


def hsts_verdict(e: WebEndpoint, params: Mapping[str, Any]) -> Verdict:
    first = e.https.first
    assert first is not None
    value = first.header("Strict-Transport-Security")
    if value is None:  # some sites only send it after their own redirect
        value = next((h.header("Strict-Transport-Security") for h in e.https.hops
                      if h.header("Strict-Transport-Security")), None)
    p: dict[str, Any] = {}
    if value is None:
        return Verdict(Status.FAIL, "missing", p, {"url": first.url}, e.subject)
    hsts = parse_hsts(value)
    minimum = int(params.get("min_max_age", 31536000))
    p.update({"max_age": hsts.max_age if hsts.max_age is not None else "-", "minimum": minimum,
              "include_subdomains": hsts.include_subdomains})
    evidence = {"header": value[:300], "url": first.url}
    if not hsts.valid or hsts.max_age is None:
        return Verdict(Status.FAIL, "invalid", p, evidence, e.subject)
    if hsts.max_age < minimum:
        return Verdict(Status.FAIL, "too-short", p, evidence, e.subject)
    key = "ok-subdomains" if hsts.include_subdomains else "ok"
    return Verdict(Status.PASS, key, p, evidence, e.subject)


@evaluator("web.hsts")
def hsts(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    return _each(facts.fact("http.site"), lambda e: hsts_verdict(e, params), _https, params)


# ----------------------------------------------------------------------------- security headers


def headers_verdict(e: WebEndpoint) -> Verdict:
    final = e.https.final
    assert final is not None
    csp = " ; ".join(final.header_all("Content-Security-Policy"))
    missing = []
    xcto = (final.header("X-Content-Type-Options") or "").strip().lower()
    if xcto != "nosniff":
        missing.append("X-Content-Type-Options")
    xfo = (final.header("X-Frame-Options") or "").strip().lower()
    if csp_directive(csp, "frame-ancestors") is None and xfo not in ("deny", "sameorigin"):
        missing.append("X-Frame-Options / frame-ancestors")
    if not (final.header("Referrer-Policy") or "").strip():
        missing.append("Referrer-Policy")
    evidence = {
        "url": final.url,
        "headers": {n: final.header(n) for n in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                                                 "Content-Security-Policy") if final.header(n) is not None},
    }
    p: dict[str, Any] = {"missing": ", ".join(missing), "csp": bool(csp)}
    if missing:
        return Verdict(Status.FAIL, "missing", p, evidence, e.subject)
    if not csp:
        return Verdict(Status.PASS, "ok-no-csp", p, evidence, e.subject)
    return Verdict(Status.PASS, "ok", p, evidence, e.subject)


@evaluator("web.headers_basic")
def headers_basic(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    return _each(facts.fact("http.site"), headers_verdict, _https, params)


# ----------------------------------------------------------------------------- cookies


def cookies_verdict(e: WebEndpoint) -> Verdict:
    cookies = [parse_set_cookie(v) for hop in e.https.hops for v in hop.header_all("Set-Cookie")]
    p: dict[str, Any] = {"count": len(cookies)}
    evidence = {"cookies": [{"name": c.name, "secure": c.secure, "httponly": c.http_only, "samesite": c.same_site}
                            for c in cookies]}
    if not cookies:
        return Verdict(Status.PASS, "no-cookies", p, evidence, e.subject)
    insecure = sorted({c.name for c in cookies if not c.secure})
    weak = sorted({c.name for c in cookies if not c.http_only or c.same_site in ("", "none", "invalid")})
    if insecure:
        return Verdict(Status.FAIL, "not-secure", {**p, "cookies": ", ".join(insecure)}, evidence, e.subject)
    if weak:
        return Verdict(Status.WARN, "missing-flags", {**p, "cookies": ", ".join(weak)}, evidence, e.subject)
    return Verdict(Status.PASS, "ok", p, evidence, e.subject)


@evaluator("web.cookies")
def cookies(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    return _each(facts.fact("http.site"), cookies_verdict, _https, params)


# ----------------------------------------------------------------------------- security.txt


def securitytxt_verdict(e: WebEndpoint, facts: Facts, params: Mapping[str, Any]) -> Verdict:
    final = e.securitytxt.final
    assert final is not None
    if final.truncated:  # a cut-off file is never judged
        return not_judged(ErrorReason.TRUNCATED, final.url, e.subject, evidence={"url": final.url})
    encoding = (final.header("Content-Encoding") or "").strip().lower()
    if final.status == 200 and encoding not in ("", "identity"):  # we asked for identity; it is not decoded
        return not_judged(ErrorReason.PROTOCOL, f"Content-Encoding: {encoding}"[:100], e.subject,
                          evidence={"url": final.url, "content_encoding": encoding[:100]})
    url = f"https://{e.name}/.well-known/security.txt"
    p: dict[str, Any] = {"url": url}
    evidence: dict[str, Any] = {"url": final.url, "status": final.status,
                                "redirects": [h.url for h in e.securitytxt.hops[:-1]]}
    if final.status != 200 or final.is_redirect:
        return Verdict(Status.FAIL, "missing", {**p, "code": final.status}, evidence, e.subject)
    if not looks_like_securitytxt(final.content_type, final.body):
        return Verdict(Status.FAIL, "missing", {**p, "code": final.status}, {**evidence, "content_type": final.content_type},
                       e.subject)
    doc = parse_securitytxt(final.body)
    evidence.update({"contacts": list(doc.contacts), "expires": list(doc.expires_raw), "canonical": list(doc.canonical),
                     "signed": doc.signed, "problems": list(doc.errors)})
    p.update({"contacts": ", ".join(doc.contacts) or "-", "signed": doc.signed})
    structural = [x for x in doc.errors if x in ("no-contact", "no-expires", "bad-expires", "multiple-expires")]
    if structural:
        return Verdict(Status.FAIL, "malformed", {**p, "problems": ", ".join(structural)}, evidence, e.subject)
    assert doc.expires is not None
    p["expires"] = doc.expires.date().isoformat()
    if doc.expires <= facts.now:
        return Verdict(Status.FAIL, "expired", p, evidence, e.subject)
    if doc.expires > facts.now + timedelta(days=int(params.get("max_expires_days", 366))):
        return Verdict(Status.WARN, "expires-too-far", p, evidence, e.subject)
    if doc.canonical and not any(_canonical_ok(c, final.url, url, facts.target) for c in doc.canonical):
        return Verdict(Status.WARN, "canonical-mismatch", {**p, "canonical": ", ".join(doc.canonical)}, evidence,
                       e.subject)
    if doc.errors:
        return Verdict(Status.WARN, "minor-problems", {**p, "problems": ", ".join(doc.errors)}, evidence, e.subject)
    return Verdict(Status.PASS, "valid-signed" if doc.signed else "valid", p, evidence, e.subject)


def _canonical_ok(canonical: str, fetched: str, expected: str, domain: str) -> bool:
    """The Canonical URI is where this file was fetched, or the same path on a host of the scanned domain.

    A www host serving the apex's file (Canonical names the apex) is common and harmless; a Canonical
    pointing at another organisation's domain suggests a copied file.
    """
    value = canonical.strip().lower()
    if value in (fetched.lower(), expected.lower()):
        return True
    parts = urlsplit(value)
    host = (parts.hostname or "").rstrip(".")
    in_domain = host == domain or host.endswith("." + domain)
    return parts.scheme == "https" and in_domain and parts.path == "/.well-known/security.txt"


@evaluator("web.securitytxt")
def securitytxt(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    return _each(facts.fact("http.site"), lambda e: securitytxt_verdict(e, facts, params), lambda e: e.securitytxt, params)


# ----------------------------------------------------------------------------- software versions


def _judge_products(sources: list[tuple[str, str]], facts: Facts) -> tuple[list[dict[str, Any]], str]:
    """(findings, worst status) for product strings such as ("Server", "nginx/1.22.1")."""
    eol_data = facts.data.get("eol") if isinstance(facts.data, Mapping) else None
    today = facts.now.date()
    rows: list[dict[str, Any]] = []
    order = {"": 0, "hidden": 1, "unknown": 2, "supported": 2, "outdated": 3, "end-of-life": 4}
    worst = ""
    for source, value in sources:
        for product in parse_products(value):
            if not product.version:
                rows.append({"source": source, "product": product.name, "version": "", "status": "hidden"})
                status = "hidden"
            else:  # a distribution build ("Apache/2.4.62 (Debian)") is judged by its release's support
                verdict = judge_build(eol_data, product.name, product.version, today, extra=value)
                status = verdict.status
                rows.append({"source": source, "product": verdict.title or product.name, "version": product.version,
                             "status": status, "eol": verdict.eol.isoformat() if verdict.eol else None,
                             "cycle": verdict.cycle, "reason": verdict.reason,
                             "distribution": verdict.distribution_title or None,
                             "by_distribution": verdict.by_distribution})
            if order[status] > order[worst]:
                worst = status
    return rows, worst


def _summary(rows: list[dict[str, Any]], statuses: tuple[str, ...]) -> str:
    """``nginx 1.22.1, OpenSSH 9.2p1 (Debian 12)``: names and versions only (the message says the rest)."""
    return ", ".join(
        f"{r['product']} {r['version']}".strip() + (f" ({r['distribution']})" if r.get("distribution") else "")
        for r in rows if r["status"] in statuses)


def _distribution_basis(rows: list[dict[str, Any]], statuses: tuple[str, ...]) -> dict[str, Any] | None:
    """Params for the ``*-distribution`` messages when every row of ``statuses`` is a distribution build
    judged by its release's support period (``PHP/7.4.33-1+deb11u5``: Debian 11, not PHP 7.4)."""
    chosen = [r for r in rows if r["status"] in statuses]
    if not chosen or not all(r.get("by_distribution") for r in chosen):
        return None
    return {"distribution": ", ".join(dict.fromkeys(str(r["distribution"]) for r in chosen)),
            "eol": min(str(r["eol"]) for r in chosen if r.get("eol")) if any(r.get("eol") for r in chosen) else "-"}


def banner_verdict(e: WebEndpoint, facts: Facts, sources: list[tuple[str, str]]) -> Verdict:
    """Server/X-Powered-By/... versions: end-of-life FAIL, outdated WARN, a disclosed supported version INFO.
    A distribution build is judged by its release's support period, and the message says so."""
    rows, worst = _judge_products(sources, facts)
    evidence = {"found": rows, "eol_updated": str((facts.data.get("eol") or {}).get("updated", ""))}
    if not rows:
        return Verdict(Status.PASS, "none-detected", {}, evidence, e.subject)
    if worst == "end-of-life":
        p: dict[str, Any] = {"software": _summary(rows, ("end-of-life",))}
        basis = _distribution_basis(rows, ("end-of-life",))
        if basis is not None:
            return Verdict(Status.FAIL, "end-of-life-distribution", {**p, **basis}, evidence, e.subject)
        return Verdict(Status.FAIL, "end-of-life", p, evidence, e.subject)
    if worst == "outdated":
        p = {"software": _summary(rows, ("outdated",))}
        basis = _distribution_basis(rows, ("outdated",))
        if basis is not None:
            return Verdict(Status.WARN, "outdated-distribution", {**p, **basis}, evidence, e.subject)
        return Verdict(Status.WARN, "outdated", p, evidence, e.subject)
    if worst in ("supported", "unknown"):
        p = {"software": _summary(rows, ("supported", "unknown"))}
        basis = _distribution_basis(rows, ("supported", "unknown"))
        if basis is not None:
            return Verdict(Status.INFO, "version-disclosed-distribution", {**p, **basis}, evidence, e.subject)
        return Verdict(Status.INFO, "version-disclosed", p, evidence, e.subject)
    return Verdict(Status.PASS, "no-version", {"software": ", ".join(r["product"] for r in rows)}, evidence, e.subject)


def cms_verdict(e: WebEndpoint, facts: Facts, sources: list[tuple[str, str]]) -> Verdict:
    """The CMS named in the page's generator tag: end-of-life FAIL, outdated WARN, current PASS."""
    rows, worst = _judge_products(sources, facts)
    evidence = {"found": rows, "eol_updated": str((facts.data.get("eol") or {}).get("updated", ""))}
    if not rows:
        return Verdict(Status.INFO, "none-detected", {}, evidence, e.subject)
    if worst == "end-of-life":
        return Verdict(Status.FAIL, "end-of-life", {"software": _summary(rows, ("end-of-life",))}, evidence, e.subject)
    if worst == "outdated":
        return Verdict(Status.WARN, "outdated", {"software": _summary(rows, ("outdated",))}, evidence, e.subject)
    if worst in ("supported", "unknown"):
        return Verdict(Status.PASS, "current", {"software": _summary(rows, ("supported", "unknown"))}, evidence,
                       e.subject)
    return Verdict(Status.PASS, "no-version", {"software": ", ".join(r["product"] for r in rows)}, evidence, e.subject)


def _banner_sources(e: WebEndpoint) -> list[tuple[str, str]]:
    hops: list[Exchange] = [*e.https.hops, *e.http.hops]
    out: list[tuple[str, str]] = []
    for hop in hops:
        for name in ("Server", "X-Powered-By", "X-AspNet-Version", "X-Generator"):
            for value in hop.header_all(name):
                if (name, value) not in out:
                    out.append((name, value))
    return out


@evaluator("web.software_banner")
def software_banner(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    return _each(facts.fact("http.site"), lambda e: banner_verdict(e, facts, _banner_sources(e)), _https, params)


@evaluator("web.cms_version")
def cms_version(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    return _each(
        facts.fact("http.site"),
        lambda e: cms_verdict(e, facts, [("generator", g) for g in e.generators]),
        _https,
        params,
    )
