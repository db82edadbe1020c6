"""The TLS and HTTP probes and web evaluators through the real engine, against in-process servers."""

from __future__ import annotations

import datetime as dt
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes

import cyberscan
from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.catalogue import Profile
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.facts.tls import TlsScan
from cyberscan.models import Result, Scan, Status
from cyberscan.options import Nameserver, ScanOptions
from cyberscan.render.tables import host_table
from cyberscan.serialize import scan_from_dict, scan_to_dict
from tests.fixtures.certs import NOW, Minted, TestPki
from tests.fixtures.tlsservers import HostileServer, HttpServer, HttpsServer, LegacyServer, free_port

DOMAIN = "museum.test"
MULTI = "twee-adressen.test"  # one name, two addresses
DUAL = "ipv6-museum.test"  # one name, an IPv4 and an IPv6 address
POLICY = "beleid-museum.test"  # website on 127.0.0.1, mta-sts.<domain> (policy only) on 127.0.0.2
TEXT = {"nl": "t", "en": "t"}
WEB_CHECKS = (
    "web.https.available", "web.https.redirect", "web.tls.version", "web.tls.ciphers", "web.tls.cert.valid",
    "web.tls.cert.expiry", "web.tls.cert.key", "web.tls.cert.signature", "web.hsts", "web.headers.basic",
    "web.cookies", "web.securitytxt", "web.software.banner", "web.cms.version",
)

GOOD_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'",
    "Server": "nginx",
}


def securitytxt(expires: dt.datetime) -> bytes:
    return (
        "Contact: mailto:security@museum.test\n"
        f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        "Canonical: https://museum.test/.well-known/security.txt\n"
    ).encode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LocalDnsServer]:
    # hosted DNS (the nameserver outside the domain), so the web host is the only one examined: an
    # NS name inside the domain would be a found name with TLS results of its own (test_found_names.py)
    zones = ZoneSet()
    zones.add_text(
        DOMAIN,
        f"""
$TTL 300
@ IN SOA ns.{DOMAIN}. admin.{DOMAIN}. 1 3600 600 86400 300
@ IN NS ns.dns-hoster.test.
@ IN A 127.0.0.1
""",
    )
    zones.add_text(
        MULTI,
        f"""
$TTL 300
@ IN SOA ns.{MULTI}. admin.{MULTI}. 1 3600 600 86400 300
@ IN NS ns.dns-hoster.test.
@ IN A 127.0.0.1
@ IN A 127.0.0.2
""",
    )
    zones.add_text(
        DUAL,
        f"""
$TTL 300
@ IN SOA ns.{DUAL}. admin.{DUAL}. 1 3600 600 86400 300
@ IN NS ns.dns-hoster.test.
@ IN A 127.0.0.1
@ IN AAAA ::1
""",
    )
    zones.add_text(
        POLICY,
        f"""
$TTL 300
@ IN SOA ns.{POLICY}. admin.{POLICY}. 1 3600 600 86400 300
@ IN NS ns.dns-hoster.test.
@ IN A 127.0.0.1
@ IN MX 10 mail.{POLICY}.
www IN A 127.0.0.1
mail IN A 127.0.0.1
mta-sts IN A 127.0.0.2
_mta-sts IN TXT "v=STSv1; id=20261101"
""",
    )
    with LocalDnsServer(zones) as srv:
        yield srv


def run_scan(dns_server: LocalDnsServer, pki: TestPki, https_port: int, http_port: int, *, timeout: float = 2.0,
             checks: tuple[str, ...] = WEB_CHECKS, domain: str = DOMAIN) -> dict[str, list[Result]]:
    cat = catalogue_mod.load()
    profile = Profile("t", TEXT, TEXT, include=checks, settings={"https_port": https_port, "http_port": http_port})
    options = ScanOptions(
        timeout=timeout,
        nameservers=(Nameserver(dns_server.address, dns_server.port),),
        ca_bundle=str(pki.ca_path),
        allow_private=True,
        workers=8,
    )
    assessment = cyberscan.assess([domain], catalogue=cat, profile=profile, options=options)
    result = assessment.scan
    by_id: dict[str, list[Result]] = {}
    for r in result.results:
        # every message an evaluator emits has a text in the catalogue (check's own or shared)
        assert r.message in cat.checks[r.check_id].messages or r.message in cat.extras["messages"], r
        by_id.setdefault(r.check_id, []).append(r)
    by_id["_facts"] = result.outcomes  # type: ignore[assignment]
    by_id["_scan"] = result  # type: ignore[assignment]
    return by_id


def statuses(results: dict[str, list[Result]], check: str) -> list[tuple[Status, str]]:
    return [(r.status, r.message) for r in results[check]]


def where(result: Result) -> str:
    """``host (address)`` of a finding's subject, as reports show it."""
    return f"{result.subject.host} ({result.subject.address})"


def site(pki: TestPki, leaf: Minted, *, headers: dict[str, str] | None = None, **tls: Any) -> HttpsServer:
    routes = {
        "/": (200, headers if headers is not None else GOOD_HEADERS, b"<html><head></head><body>museum</body></html>"),
        "/.well-known/security.txt": (200, {"Content-Type": "text/plain"}, securitytxt(NOW + dt.timedelta(days=180))),
    }
    return HttpsServer(leaf.chain_path, leaf.key_path, routes, **tls)


def redirector() -> HttpServer:
    return HttpServer({"*": (301, {"Location": f"https://{DOMAIN}/"}, b"")})


def test_good_site_has_no_failures(dns_server: LocalDnsServer, pki: TestPki) -> None:
    leaf = pki.issue(DOMAIN, f"www.{DOMAIN}")
    with site(pki, leaf, minimum=ssl.TLSVersion.TLSv1_2) as https, redirector() as http:
        results = run_scan(dns_server, pki, https.port, http.port)
    for check in WEB_CHECKS:
        got = statuses(results, check)
        assert all(s in (Status.PASS, Status.INFO) for s, _ in got), (check, got, [r.params for r in results[check]])
    assert statuses(results, "web.tls.version") == [(Status.PASS, "good")]
    assert where(results["web.tls.version"][0]) == f"{DOMAIN} (127.0.0.1)"
    assert statuses(results, "web.https.redirect") == [(Status.PASS, "redirects")]
    assert statuses(results, "web.securitytxt") == [(Status.PASS, "valid")]
    assert statuses(results, "web.hsts") == [(Status.PASS, "ok-subdomains")]
    # the same TLS fact serves every TLS check: one tls.scan outcome for the domain
    facts = [o for o in results["_facts"] if o.probe == "tls.scan"]  # type: ignore[attr-defined]
    assert len(facts) == 1 and isinstance(facts[0].fact, TlsScan)
    endpoint = facts[0].fact.endpoints[0]
    assert set(endpoint.accepted_versions()) == {"TLSv1.2", "TLSv1.3"}
    assert endpoint.chain_trusted is True

    # stored facts survive JSON and are judged the same way again
    stored: Scan = results["_scan"]  # type: ignore[assignment]
    reg = registry_mod.load()
    cat = catalogue_mod.load()
    again = scan_from_dict(json.loads(json.dumps(scan_to_dict(stored))), reg)
    profile = Profile("t", TEXT, TEXT, include=WEB_CHECKS)
    rejudged = cyberscan.reassess(again, catalogue=cat, profile=profile, registry=reg)
    assert [(r.check_id, r.status, r.message, r.key) for r in rejudged.results] == [
        (r.check_id, r.status, r.message, r.key) for r in stored.results
    ]

    rows = host_table(again)
    assert rows == [{
        "target": DOMAIN, "service": "https", "name": DOMAIN, "address": "127.0.0.1", "status": None,
        "versions": ["TLSv1.2", "TLSv1.3"], "subject": f"CN={DOMAIN}", "issuer": "CN=cyberscan Test CA",
        "not_after": leaf.cert.not_valid_after_utc.date().isoformat(), "key": "RSA 2048",
        "signature_hash": "sha256", "trusted": True,
    }]


def test_legacy_tls10_is_detected(dns_server: LocalDnsServer, pki: TestPki) -> None:
    leaf = pki.issue(DOMAIN)
    with site(pki, leaf, ciphers="ALL:@SECLEVEL=0", minimum=ssl.TLSVersion.TLSv1,
              maximum=ssl.TLSVersion.TLSv1_2) as https, redirector() as http:
        results = run_scan(dns_server, pki, https.port, http.port,
                           checks=("web.tls.version", "web.tls.ciphers"))
    (version,) = results["web.tls.version"]
    assert version.status is Status.WARN and version.message == "phase-out"
    assert "TLSv1.0" in version.params["weak"]
    (ciphers,) = results["web.tls.ciphers"]
    # ALL includes static-RSA and CBC suites: at least phase-out, with the suites named as evidence
    assert ciphers.status in (Status.WARN, Status.FAIL)
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in str(ciphers.evidence["suites"])


@pytest.mark.parametrize(
    ("kind", "check", "expected"),
    [
        ("expired", "web.tls.cert.valid", (Status.FAIL, "expired")),
        ("expired", "web.tls.cert.expiry", (Status.FAIL, "expired")),
        ("not-yet-valid", "web.tls.cert.valid", (Status.FAIL, "not-yet-valid")),
        ("self-signed", "web.tls.cert.valid", (Status.FAIL, "self-signed")),
        ("wrong-name", "web.tls.cert.valid", (Status.FAIL, "name-mismatch")),
        ("rsa1024", "web.tls.cert.key", (Status.FAIL, "weak-key")),
        ("sha1", "web.tls.cert.signature", (Status.FAIL, "weak-signature")),
        ("soon", "web.tls.cert.expiry", (Status.WARN, "expires-soon")),
        ("very-soon", "web.tls.cert.expiry", (Status.FAIL, "expires-very-soon")),
        ("wildcard", "web.tls.cert.valid", (Status.FAIL, "name-mismatch")),  # *.museum.test does not cover the apex
    ],
)
def test_bad_certificates(dns_server: LocalDnsServer, pki: TestPki, kind: str, check: str,
                          expected: tuple[Status, str]) -> None:
    leaf = {
        "expired": lambda: pki.issue(DOMAIN, file_stem="expired", not_before=NOW - dt.timedelta(days=100),
                                     not_after=NOW - dt.timedelta(days=1)),
        "not-yet-valid": lambda: pki.issue(DOMAIN, file_stem="future", not_before=NOW + dt.timedelta(days=2),
                                           not_after=NOW + dt.timedelta(days=90)),
        "self-signed": lambda: pki.issue(DOMAIN, file_stem="selfsigned", self_signed=True),
        "wrong-name": lambda: pki.issue("other.test", file_stem="wrongname"),
        "rsa1024": lambda: pki.issue(DOMAIN, file_stem="rsa1024", key_size=1024),
        "sha1": lambda: pki.issue(DOMAIN, file_stem="sha1", hash_alg=hashes.SHA1()),
        "soon": lambda: pki.issue(DOMAIN, file_stem="soon", not_after=NOW + dt.timedelta(days=20)),
        "very-soon": lambda: pki.issue(DOMAIN, file_stem="verysoon", not_after=NOW + dt.timedelta(days=5)),
        "wildcard": lambda: pki.issue(f"*.{DOMAIN}", file_stem="wildcard"),
    }[kind]()
    with site(pki, leaf, ciphers="DEFAULT:@SECLEVEL=0") as https, redirector() as http:
        results = run_scan(dns_server, pki, https.port, http.port, checks=(check,))
    assert statuses(results, check) == [expected]


def test_bad_headers_and_missing_securitytxt(dns_server: LocalDnsServer, pki: TestPki) -> None:
    leaf = pki.issue(DOMAIN, file_stem="bare")
    routes = {
        "/": (200, [("Server", "nginx/1.22.1"), ("X-Powered-By", "PHP/7.4.33"),
                    ("Set-Cookie", "session=abc; Path=/"),
                    ("Strict-Transport-Security", "max-age=3600")],
              b'<html><head><meta name="generator" content="WordPress 3.9.2"></head></html>'),
    }
    with HttpsServer(leaf.chain_path, leaf.key_path, routes) as https, \
            HttpServer({"*": (200, {}, b"plain")}) as http:
        results = run_scan(dns_server, pki, https.port, http.port)
    assert statuses(results, "web.https.redirect") == [(Status.FAIL, "no-redirect")]
    assert statuses(results, "web.hsts") == [(Status.FAIL, "too-short")]
    assert statuses(results, "web.headers.basic") == [(Status.FAIL, "missing")]
    assert statuses(results, "web.cookies") == [(Status.FAIL, "not-secure")]
    assert statuses(results, "web.securitytxt") == [(Status.FAIL, "missing")]
    (banner,) = results["web.software.banner"]
    assert (banner.status, banner.message) == (Status.FAIL, "end-of-life")
    assert "PHP 7.4.33" in banner.params["software"]
    assert statuses(results, "web.cms.version") == [(Status.FAIL, "end-of-life")]


@pytest.mark.parametrize("mode", ["stall", "garbage", "drop"])
def test_hostile_https_server_gives_error_not_verdicts(dns_server: LocalDnsServer, pki: TestPki, mode: str) -> None:
    with HostileServer(mode) as hostile, HttpServer({"*": (200, {}, b"plain")}) as http:
        results = run_scan(dns_server, pki, hostile.port, http.port, timeout=1.0)
    for check in ("web.tls.version", "web.tls.cert.valid", "web.hsts", "web.securitytxt", "web.https.available"):
        got = statuses(results, check)
        assert [s for s, _ in got] == [Status.ERROR], (check, got)
    # the plain-HTTP check still ran on its own
    assert statuses(results, "web.https.redirect") == [(Status.FAIL, "no-redirect")]


def test_closed_https_port_is_a_finding_not_an_error(dns_server: LocalDnsServer, pki: TestPki) -> None:
    with HttpServer({"*": (200, {}, b"plain")}) as http:
        results = run_scan(dns_server, pki, free_port(), http.port)
    assert statuses(results, "web.https.available") == [(Status.FAIL, "not-offered")]
    assert [s for s, _ in statuses(results, "web.tls.version")] == [Status.SKIPPED]


def test_private_address_without_permission_is_skipped(dns_server: LocalDnsServer, pki: TestPki,
                                                       tmp_path: Path) -> None:
    cat = catalogue_mod.load()
    profile = Profile("t", TEXT, TEXT, include=("web.tls.version",), settings={"https_port": free_port()})
    options = ScanOptions(timeout=1, nameservers=(Nameserver(dns_server.address, dns_server.port),))
    result = cyberscan.assess([DOMAIN], catalogue=cat, profile=profile, options=options)
    (r,) = result.results
    assert r.status is Status.SKIPPED and r.message == "endpoint.out-of-scope"
    assert r.error_reason is not None and r.error_reason.value == "out-of-scope"


def test_every_address_is_judged_on_its_own(dns_server: LocalDnsServer, pki: TestPki) -> None:
    leaf = pki.issue(MULTI, file_stem="multi")
    with HttpsServer(leaf.chain_path, leaf.key_path, minimum=ssl.TLSVersion.TLSv1_2) as good:
        with HostileServer("stall", host="127.0.0.2", port=good.port), \
                HttpServer({"*": (301, {"Location": f"https://{MULTI}/"}, b"")}) as http:
            results = run_scan(dns_server, pki, good.port, http.port, timeout=1.0, domain=MULTI,
                               checks=("web.tls.version", "web.tls.cert.valid"))
    for check in ("web.tls.version", "web.tls.cert.valid"):
        by_host = {where(r): r.status for r in results[check]}
        assert by_host == {f"{MULTI} (127.0.0.1)": Status.PASS, f"{MULTI} (127.0.0.2)": Status.ERROR}, check
    stalled = next(r for r in results["web.tls.version"] if r.subject.address == "127.0.0.2")
    assert stalled.error_reason is not None and stalled.error_reason.value == "timeout"


def test_ssl3_only_server_is_detected_although_openssl_cannot_speak_it(dns_server: LocalDnsServer,
                                                                       pki: TestPki) -> None:
    with LegacyServer() as legacy, HttpServer({"*": (200, {}, b"plain")}) as http:
        results = run_scan(dns_server, pki, legacy.port, http.port, timeout=1.0,
                           checks=("web.tls.version", "web.tls.ciphers", "web.tls.cert.valid"))
    (version,) = results["web.tls.version"]
    assert (version.status, version.message) == (Status.FAIL, "insufficient")
    assert version.evidence["accepted"] == ["SSLv3"]
    (ciphers,) = results["web.tls.ciphers"]
    assert (ciphers.status, ciphers.message) == (Status.FAIL, "insufficient")
    assert ciphers.evidence["suites"]["SSLv3"] == [
        {"suite": "TLS_RSA_WITH_RC4_128_SHA", "rating": "insufficient"},
        {"suite": "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "rating": "insufficient"},
    ]
    # no certificate could be read (OpenSSL refuses SSL 3.0): an error, never a pass or fail
    assert [r.status for r in results["web.tls.cert.valid"]] == [Status.ERROR]


def test_dripping_servers_are_cut_off_and_give_timeouts(dns_server: LocalDnsServer, pki: TestPki) -> None:
    """A server that sends one byte just before every read timeout must not hold the scan."""
    with HostileServer("drip") as https, HostileServer("drip", tls_like=False) as http:
        results = run_scan(dns_server, pki, https.port, http.port, timeout=0.5,
                           checks=("web.tls.version", "web.https.redirect", "web.hsts"))
    for check in ("web.tls.version", "web.https.redirect", "web.hsts"):
        (r,) = results[check]
        assert r.status is Status.ERROR and r.error_reason is not None, (check, r)
        assert r.error_reason.value == "timeout", (check, r.error_reason, r.params)


def test_slow_body_keeps_the_headers(dns_server: LocalDnsServer, pki: TestPki) -> None:
    with HostileServer("slowbody") as http:
        results = run_scan(dns_server, pki, free_port(), http.port, timeout=0.5, checks=("web.https.redirect",))
    assert statuses(results, "web.https.redirect") == [(Status.PASS, "redirects")]


def test_ipv6_address_is_scanned_and_named(dns_server: LocalDnsServer, pki: TestPki) -> None:
    leaf = pki.issue(DUAL, file_stem="dual")
    routes = {"/": (200, GOOD_HEADERS, b"museum")}
    with HttpsServer(leaf.chain_path, leaf.key_path, routes, minimum=ssl.TLSVersion.TLSv1_2) as v4, \
            HttpsServer(leaf.chain_path, leaf.key_path, {"/": (200, {}, b"museum")}, host="::1", port=v4.port), \
            HttpServer({"*": (301, {"Location": f"https://{DUAL}/"}, b"")}) as http:
        results = run_scan(dns_server, pki, v4.port, http.port, domain=DUAL,
                           checks=("web.tls.version", "web.hsts"))
    assert {where(r): r.status for r in results["web.tls.version"]} == {
        f"{DUAL} (127.0.0.1)": Status.PASS, f"{DUAL} (::1)": Status.PASS}
    # the IPv6 server forgot its HSTS header: only that address fails
    assert {where(r): r.status for r in results["web.hsts"]} == {
        f"{DUAL} (127.0.0.1)": Status.PASS, f"{DUAL} (::1)": Status.FAIL}


def test_policy_host_is_judged_only_by_tls_hsts_and_https_checks(dns_server: LocalDnsServer, pki: TestPki) -> None:
    """A domain with everything right, whose mta-sts host serves only the policy (no security headers,
    no security.txt): no check fails for that host, the TLS/HSTS/HTTPS checks judge it, and the website
    checks leave it alone."""
    sts_host = f"mta-sts.{POLICY}"
    hsts = {"Strict-Transport-Security": "max-age=31536000"}
    site_leaf = pki.issue(POLICY, f"www.{POLICY}", file_stem="policy-site")
    sts_leaf = pki.issue(sts_host, file_stem="policy-sts")
    site_routes = {
        "/": (200, GOOD_HEADERS, b"<html><head></head><body>museum</body></html>"),
        "/.well-known/security.txt": (200, {"Content-Type": "text/plain"}, (
            f"Contact: mailto:security@{POLICY}\n"
            f"Expires: {(NOW + dt.timedelta(days=180)).strftime('%Y-%m-%dT%H:%M:%SZ')}\n").encode()),
    }
    policy = f"version: STSv1\nmode: enforce\nmx: mail.{POLICY}\nmax_age: 604800\n".encode()
    sts_routes = {
        "/.well-known/mta-sts.txt": (200, {**hsts, "Content-Type": "text/plain"}, policy),
        "*": (404, hsts, b"not found"),
    }
    with HttpsServer(site_leaf.chain_path, site_leaf.key_path, site_routes, minimum=ssl.TLSVersion.TLSv1_2) as https, \
            HttpsServer(sts_leaf.chain_path, sts_leaf.key_path, sts_routes, minimum=ssl.TLSVersion.TLSv1_2,
                        host="127.0.0.2", port=https.port), \
            HttpServer({"*": (301, {"Location": f"https://{POLICY}/"}, b"")}) as http, \
            HttpServer({"*": (301, {"Location": f"https://{sts_host}/"}, b"")}, host="127.0.0.2", port=http.port):
        results = run_scan(dns_server, pki, https.port, http.port, domain=POLICY,
                           checks=(*WEB_CHECKS, "mail.mta_sts"))
    on_policy_host = {(cid, r.status, r.message) for cid, rs in results.items() if not cid.startswith("_")
                      for r in rs if r.subject.host == sts_host}
    assert not [x for x in on_policy_host if x[1] in (Status.FAIL, Status.ERROR)], on_policy_host
    judged = {cid for cid, _, _ in on_policy_host}
    assert judged == {"web.https.available", "web.https.redirect", "web.hsts", "web.tls.version", "web.tls.ciphers",
                      "web.tls.cert.valid", "web.tls.cert.expiry", "web.tls.cert.key", "web.tls.cert.signature"}
    for check in ("web.headers.basic", "web.securitytxt", "web.cookies"):  # still judged on the website
        assert {r.subject.host for r in results[check]} == {POLICY, f"www.{POLICY}"}, check
        assert all(r.status is Status.PASS for r in results[check]), (check, statuses(results, check))
    assert statuses(results, "mail.mta_sts") == [(Status.PASS, "ok")]
