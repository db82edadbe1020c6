"""Bounded by construction: hostile servers on loopback never hold a scan up, and what they do is an
error (never a pass or a fail) for the checks they affect, while the rest of the scan is judged.

Layout (one DNS server, several loopback addresses, the same port numbers everywhere):

- 127.0.0.1: well-behaved website (HTTPS + plain-HTTP redirect) and mail server for every domain;
- 127.0.0.2: the apex of ``vijandig.test`` (each test puts its hostile web or TLS server there);
- 127.0.0.3: the MX of ``post-vijandig.test`` (hostile mail servers);
- 127.0.0.4: ``mta-sts.beleid-vijandig.test`` (a hostile MTA-STS policy server).

Time bounds are generous upper bounds far above the documented budgets (``options.BUDGETS``), never
performance measurements.
"""

from __future__ import annotations

import dataclasses
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import cyberscan
from cyberscan import catalogue as catalogue_mod
from cyberscan.assessment import Assessment
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.demo.servers import SmtpServer
from cyberscan.errors import ProbeTimeout
from cyberscan.models import ErrorReason, Result, Status
from cyberscan.options import BUDGETS, Nameserver, ScanOptions
from cyberscan.probes import http as http_probe
from cyberscan.probes import tls as tls_probe
from cyberscan.runtime import Deadline, Endpoint, Reaper
from tests.fixtures import hostile
from tests.fixtures.certs import NOW, Minted, TestPki
from tests.fixtures.tlsservers import HttpServer, HttpsServer

# one read or DNS query: the well-behaved servers here answer within it even on a loaded two-CPU machine
# (at 0.5 s their answers came late there: errors where the test expects judgements)
TIMEOUT = 1.0
WEB = "vijandig.test"
MAIL = "post-vijandig.test"
STS = "beleid-vijandig.test"
GOOD, APEX, MX, POLICY = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"
# a whole scan of one domain against hostile servers ends well within this (seconds): the probes run
# side by side, each endpoint within its budget, after a few DNS lookups
SCAN_LIMIT = 3 * max(BUDGETS.values()) * TIMEOUT + 5
# how late a slow server answers each connection: well within one timeout (the scan runs many connections
# at once and a busy test machine adds its own delay), yet a suite walk of 29 hellos needs far more than
# the TLS budget with it
SLOW_ANSWER = 0.3

GOOD_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'",
    "Server": "nginx",
}
WEB_HOST_CHECKS = ("web.hsts", "web.headers.basic", "web.cookies", "web.securitytxt", "web.software.banner",
                   "web.cms.version")
TLS_CHECKS = ("web.tls.version", "web.tls.ciphers", "web.tls.cert.valid", "web.tls.cert.expiry", "web.tls.cert.key",
              "web.tls.cert.signature")


def securitytxt(domain: str) -> bytes:
    expires = (NOW + dt_days(180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"Contact: mailto:security@{domain}\nExpires: {expires}\n".encode()


def dt_days(days: int) -> Any:
    import datetime as dt

    return dt.timedelta(days=days)


def zone(domain: str, apex: str, *, mx: str = GOOD, mta_sts: str | None = None) -> str:
    extra = f'mta-sts IN A {mta_sts}\n_mta-sts IN TXT "v=STSv1; id=20261202"\n' if mta_sts else ""
    return f"""
$TTL 300
@ IN SOA ns.{domain}. admin.{domain}. 1 3600 600 86400 300
@ IN NS ns.{domain}.
@ IN A {apex}
@ IN MX 10 mx.{domain}.
@ IN TXT "v=spf1 mx -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"
www IN A {GOOD}
mx IN A {mx}
ns IN A 127.0.0.1
{extra}"""


@dataclasses.dataclass
class Lab:
    dns: LocalDnsServer
    pki: TestPki
    https_port: int
    http_port: int
    smtp_port: int
    apex_leaf: Minted  # certificate for the apex names (for hostile HTTPS servers on 127.0.0.2)
    sts_leaf: Minted  # certificate for mta-sts.beleid-vijandig.test

    def context(self, leaf: Minted) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(leaf.chain_path), str(leaf.key_path))
        return ctx

    def options(self, timeout: float = TIMEOUT) -> ScanOptions:
        # the lab's DNS server runs in this process, beside hostile servers that push megabytes: on a
        # loaded machine one of its answers can come after TIMEOUT. It is listed twice, so a late
        # answer gets a second attempt (as a second nameserver would): these tests are about the
        # hostile web, mail and TLS servers, and their DNS must not turn into errors of its own.
        server = Nameserver(self.dns.address, self.dns.port)
        return ScanOptions(timeout=timeout, nameservers=(server, server), ca_bundle=str(self.pki.ca_path),
                           allow_private=True)

    def scan(self, domain: str, *, include: tuple[str, ...] | None = None) -> tuple[Assessment, float]:
        cat = catalogue_mod.builtin()
        base = catalogue_mod.profile(cat, "default")
        settings = {**base.settings, "https_port": self.https_port, "http_port": self.http_port,
                    "smtp_port": self.smtp_port, "dns_port": self.dns.port}
        profile = dataclasses.replace(base, settings=settings)
        if include is not None:
            profile = dataclasses.replace(profile, include=include, include_tags=())
        started = time.monotonic()
        result = cyberscan.assess([domain], profile=profile, options=self.options(), catalogue=cat)
        return result, time.monotonic() - started


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    pki = TestPki.create(tmp_path_factory.mktemp("hostile-pki"))
    names = [n for d in (WEB, MAIL, STS) for n in (d, f"www.{d}")]
    site_leaf = pki.issue(*names, file_stem="hostile-good-site")
    mail_leaf = pki.issue(*(f"mx.{d}" for d in (WEB, MAIL, STS)), file_stem="hostile-good-mx")
    apex_leaf = pki.issue(WEB, file_stem="hostile-apex")
    sts_leaf = pki.issue(f"mta-sts.{STS}", file_stem="hostile-sts")
    zones = ZoneSet()
    zones.add_text(WEB, zone(WEB, APEX))
    zones.add_text(MAIL, zone(MAIL, GOOD, mx=MX))
    zones.add_text(STS, zone(STS, GOOD, mta_sts=POLICY))
    routes = {
        "/": (200, GOOD_HEADERS, b"<html><head></head><body>museum</body></html>"),
        **{"/.well-known/security.txt": (200, {"Content-Type": "text/plain"}, securitytxt(WEB))},
    }
    https_port = hostile.free_port_on(GOOD, APEX, POLICY)
    http_port = hostile.free_port_on(GOOD, APEX, POLICY)
    mail_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    mail_ctx.load_cert_chain(str(mail_leaf.chain_path), str(mail_leaf.key_path))
    with LocalDnsServer(zones) as dns, \
            HttpsServer(site_leaf.chain_path, site_leaf.key_path, routes, port=https_port,
                        minimum=ssl.TLSVersion.TLSv1_2), \
            HttpServer({"*": (301, {"Location": f"https://{WEB}/"}, b"")}, port=http_port):
        smtp = SmtpServer(f"mx.{WEB}", mail_ctx).start()
        try:
            yield Lab(dns, pki, https_port, http_port, smtp.port, apex_leaf, sts_leaf)
        finally:
            smtp.stop()


def by_host(result: Assessment, host: str) -> dict[str, Result]:
    return {r.check_id: r for r in result.results if r.subject.host == host}


def errors(result: Assessment) -> set[tuple[str, str | None]]:
    return {(r.check_id, r.subject.host) for r in result.results if r.status is Status.ERROR}


def good_https(lab: Lab) -> HttpsServer:
    """A well-behaved HTTPS website on the apex address (where only another part of it is hostile)."""
    routes = {"/": (200, GOOD_HEADERS, b"<html><head></head><body>museum</body></html>"),
              "/.well-known/security.txt": (200, {"Content-Type": "text/plain"}, securitytxt(WEB))}
    return HttpsServer(lab.apex_leaf.chain_path, lab.apex_leaf.key_path, routes, host=APEX, port=lab.https_port,
                       minimum=ssl.TLSVersion.TLSv1_2)


def good_http(lab: Lab) -> HttpServer:
    """The apex address's plain-HTTP redirect to HTTPS."""
    return HttpServer({"*": (301, {"Location": f"https://{WEB}/"}, b"")}, host=APEX, port=lab.http_port)


def assert_rest_intact(result: Assessment, affected: set[tuple[str, str | None]]) -> None:
    """Only the affected (check, host) pairs are in error; everything else was judged."""
    assert errors(result) <= affected, errors(result) - affected
    www = by_host(result, f"www.{result.targets[0]}")
    for check in ("web.https.available", "web.hsts", "web.headers.basic", "web.tls.version", "web.tls.cert.valid"):
        assert www[check].status is Status.PASS, (check, www[check])


# ----------------------------------------------------------------------------- the baseline


def test_well_behaved_servers_give_no_errors(lab: Lab) -> None:
    """The false-positive guard of this layout: with every server well-behaved, nothing is in error."""
    with good_https(lab), good_http(lab):
        result, elapsed = lab.scan(WEB)
    assert errors(result) == set()
    apex = by_host(result, WEB)
    for check in (*WEB_HOST_CHECKS[:4], *TLS_CHECKS[:3], "web.https.redirect"):
        assert apex[check].status in (Status.PASS, Status.INFO), (check, apex[check])
    assert elapsed < SCAN_LIMIT



def web_endpoint(address: str = APEX) -> Endpoint:
    """The deadline a scan gives one web host address at TIMEOUT."""
    return Endpoint.standalone(address, timeout=TIMEOUT, budget=BUDGETS["web"] * TIMEOUT, name=WEB)


def assert_error(result: Result, reason: ErrorReason) -> None:
    assert result.status is Status.ERROR, result
    assert result.error_reason is reason, (result.error_reason, result.params)
    assert result.params.get("detail"), result  # the evidence says what happened


# ----------------------------------------------------------------------------- (a) headers drip


@pytest.mark.parametrize("interval", [0.4 * TIMEOUT, 2 * TIMEOUT], ids=["faster-than-timeout", "slower-than-timeout"])
def test_plain_http_dripping_its_headers_is_cut_at_the_endpoint_deadline(lab: Lab, interval: float) -> None:
    with good_https(lab), hostile.HostileHttp(hostile.drip_head(interval), host=APEX, port=lab.http_port):
        result, elapsed = lab.scan(WEB)
    apex = by_host(result, WEB)
    assert_error(apex["web.https.redirect"], ErrorReason.TIMEOUT)
    for check in ("web.https.available", "web.hsts", "web.headers.basic", "web.securitytxt", *TLS_CHECKS):
        assert apex[check].status is Status.PASS, (check, apex[check])  # HTTPS on the same address is judged
    assert_rest_intact(result, {("web.https.redirect", WEB)})
    assert elapsed < SCAN_LIMIT


def test_dripping_headers_end_within_the_web_budget() -> None:
    with hostile.HostileHttp(hostile.drip_head(0.4 * TIMEOUT), host=APEX) as srv:
        started = time.monotonic()
        fetch = http_probe.fetch_chain(web_endpoint(), srv.port, WEB, "/", tls=False, follow=False, max_bytes=0,
                                       keep_body=False)
        elapsed = time.monotonic() - started
    assert fetch.error is ErrorReason.TIMEOUT and fetch.hops == ()
    assert BUDGETS["web"] * TIMEOUT - 0.2 < elapsed < 2 * BUDGETS["web"] * TIMEOUT  # the deadline cut it


# ----------------------------------------------------------------------------- (b) security.txt drip


@pytest.mark.parametrize("interval", [0.4 * TIMEOUT, 2 * TIMEOUT], ids=["faster-than-timeout", "slower-than-timeout"])
def test_security_txt_served_one_byte_at_a_time_is_an_error_not_malformed(lab: Lab, interval: float) -> None:
    responder = hostile.routes({
        "/": hostile.serve(200, GOOD_HEADERS, b"<html><head></head><body>museum</body></html>"),
        "/.well-known/security.txt": hostile.drip_body(securitytxt(WEB), interval, {"Content-Type": "text/plain"}),
    })
    with hostile.HostileHttp(responder, host=APEX, port=lab.https_port, context=lab.context(lab.apex_leaf)), \
            good_http(lab):
        result, elapsed = lab.scan(WEB)
    apex = by_host(result, WEB)
    assert_error(apex["web.securitytxt"], ErrorReason.TIMEOUT)
    for check in ("web.https.available", "web.https.redirect", "web.hsts", "web.headers.basic"):
        assert apex[check].status is Status.PASS, (check, apex[check])
    assert_rest_intact(result, {("web.securitytxt", WEB)})
    assert elapsed < SCAN_LIMIT


# ----------------------------------------------------------------------------- (c) MTA-STS policy drip


@pytest.mark.parametrize("interval", [0.4 * TIMEOUT, 2 * TIMEOUT], ids=["faster-than-timeout", "slower-than-timeout"])
def test_mta_sts_policy_server_dripping_its_headers_is_an_error(lab: Lab, interval: float) -> None:
    sts_host = f"mta-sts.{STS}"
    with hostile.HostileHttp(hostile.drip_head(interval), host=POLICY, port=lab.https_port,
                             context=lab.context(lab.sts_leaf)):
        result, elapsed = lab.scan(STS)
    (sts,) = [r for r in result.results if r.check_id == "mail.mta_sts"]
    assert_error(sts, ErrorReason.TIMEOUT)
    policy_host = by_host(result, sts_host)
    for check in ("web.https.available", "web.hsts"):  # its home page drips the same way
        assert_error(policy_host[check], ErrorReason.TIMEOUT)
    for check in TLS_CHECKS:  # its TLS is fine and judged
        assert policy_host[check].status is Status.PASS, (check, policy_host[check])
    assert_rest_intact(result, {("mail.mta_sts", None), ("web.https.available", sts_host), ("web.hsts", sts_host)})
    assert elapsed < SCAN_LIMIT  # before the bounded HTTP client this took 600 s


# ----------------------------------------------------------------------------- (d) slow TLS


@pytest.fixture()
def apex_backend(lab: Lab) -> Iterator[HttpsServer]:
    """A well-behaved HTTPS server for the apex on an ephemeral port (behind a SlowProxy). It accepts
    many TLS 1.2 suites (29), so its suite walk (one ClientHello after the other) needs more than the
    TLS budget when each answer comes SLOW_ANSWER late: the protocol versions are walked side by side, and a
    server with only a few suites is walked completely within the budget even then."""
    routes = {"/": (200, GOOD_HEADERS, b"<html><head></head><body>museum</body></html>"),
              "/.well-known/security.txt": (200, {"Content-Type": "text/plain"}, securitytxt(WEB))}
    with HttpsServer(lab.apex_leaf.chain_path, lab.apex_leaf.key_path, routes, minimum=ssl.TLSVersion.TLSv1_2,
                     ciphers="ALL:@SECLEVEL=0") as srv:
        yield srv


@pytest.mark.parametrize("slow", [{"delay": SLOW_ANSWER}, {"drip": 0.05}], ids=["sleeps", "drips"])
def test_slow_tls_server_ends_within_the_tls_budget(lab: Lab, apex_backend: HttpsServer, slow: dict[str, float]) -> None:
    with hostile.SlowProxy((GOOD, apex_backend.port), host=APEX, port=lab.https_port, **slow) as proxy, \
            good_http(lab):
        result, elapsed = lab.scan(WEB, include=TLS_CHECKS)
    assert proxy.connections > 0
    apex = by_host(result, WEB)
    for check in TLS_CHECKS:
        assert_error(apex[check], ErrorReason.TIMEOUT)
    assert_rest_intact_tls(result)
    # the whole TLS endpoint (DNS lookups before it) stays within its budget, plus slack
    assert elapsed < 2 * BUDGETS["tls"] * TIMEOUT + 2


def assert_rest_intact_tls(result: Assessment) -> None:
    www = by_host(result, f"www.{WEB}")
    assert {c: www[c].status for c in TLS_CHECKS} == dict.fromkeys(TLS_CHECKS, Status.PASS)


@pytest.mark.parametrize("slow", [{"delay": SLOW_ANSWER}, {"drip": 0.05}], ids=["sleeps", "drips"])
def test_slow_tls_server_in_a_full_scan(lab: Lab, apex_backend: HttpsServer, slow: dict[str, float]) -> None:
    with hostile.SlowProxy((GOOD, apex_backend.port), host=APEX, port=lab.https_port, **slow), good_http(lab):
        result, elapsed = lab.scan(WEB)
    apex = by_host(result, WEB)
    for check in TLS_CHECKS:
        assert_error(apex[check], ErrorReason.TIMEOUT)
    affected = {(c, WEB) for c in TLS_CHECKS}
    if "drip" in slow:  # the website's own handshake drips too: its checks are errors, the plain hop is judged
        affected |= {(c, WEB) for c in ("web.https.available", *WEB_HOST_CHECKS)}
        assert apex["web.https.redirect"].status is Status.PASS
    else:  # a few slow connections are fine for the website checks
        assert apex["web.headers.basic"].status is Status.PASS
    assert_rest_intact(result, affected)
    assert elapsed < SCAN_LIMIT


@pytest.mark.parametrize("slow", [{"delay": SLOW_ANSWER}, {"drip": 0.05}], ids=["sleeps", "drips"])
def test_raw_hello_walk_on_a_slow_server_is_cut_at_the_budget(apex_backend: HttpsServer, slow: dict[str, float]) -> None:
    """Each raw ClientHello answered late, or its ServerHello dripped (no per-read timeout ever fires):
    the reaper ends the walk at the endpoint's deadline. The budget is below what the walk needs for sure
    (TLS 1.2's suite walk asks one ClientHello after another, each answered late), whatever the machine's speed."""
    budget = 3 * TIMEOUT
    with hostile.SlowProxy((GOOD, apex_backend.port), host=APEX, **slow) as proxy:
        # a per-read timeout well above the proxy's delay, so that on a loaded machine too no read
        # times out on its own (each version would then be an error and the walk end early)
        ep = Endpoint.standalone(APEX, timeout=4 * TIMEOUT, budget=budget, name=WEB)
        started = time.monotonic()
        with pytest.raises(ProbeTimeout):
            tls_probe.scan_versions(ep, proxy.port, WEB, enumerate_suites=True)
        elapsed = time.monotonic() - started
    assert budget - 0.2 < elapsed < 2 * budget  # the deadline, not a per-read timeout, ended it


# ----------------------------------------------------------------------------- (e) SMTP


@pytest.mark.parametrize(("mode", "reason"), [
    ("endless-line", ErrorReason.PROTOCOL),
    ("endless-lines", ErrorReason.PROTOCOL),
    ("drip", ErrorReason.TIMEOUT),
    ("junk", ErrorReason.PROTOCOL),
    ("starttls-stall", ErrorReason.TIMEOUT),
    ("starttls-drip", ErrorReason.TIMEOUT),
])
def test_hostile_mail_server_is_an_error_within_the_smtp_budget(lab: Lab, mode: str, reason: ErrorReason) -> None:
    mx = f"mx.{MAIL}"
    with hostile.HostileSmtp(mode, name=mx, host=MX, port=lab.smtp_port) as smtp:
        result, elapsed = lab.scan(MAIL, include=("mail.starttls",))
    assert smtp.connections > 0
    (starttls,) = result.results
    assert starttls.subject.host == mx and starttls.subject.address == MX
    assert starttls.status is Status.ERROR and starttls.error_reason is reason, (starttls, starttls.params)
    assert elapsed < 2 * BUDGETS["smtp"] * TIMEOUT + 2


@pytest.mark.parametrize("mode", ["drip", "starttls-stall"])
def test_hostile_mail_server_in_a_full_scan(lab: Lab, mode: str) -> None:
    mx = f"mx.{MAIL}"
    with hostile.HostileSmtp(mode, name=mx, host=MX, port=lab.smtp_port):
        result, elapsed = lab.scan(MAIL)
    assert by_host(result, mx)["mail.starttls"].status is Status.ERROR
    assert_rest_intact(result, {("mail.starttls", mx)})
    assert by_host(result, MAIL)["web.headers.basic"].status is Status.PASS
    assert elapsed < SCAN_LIMIT


# ----------------------------------------------------------------------------- (f) other ports


@pytest.mark.parametrize(("url", "expected"), [
    ("https://museum.test:8443//127.0.99.99/x", None),  # another port (and a path that looks like a host)
    ("https://museum.test:443//127.0.99.99/x", None),  # same port, but a network-path reference
    ("https://museum.test:8443/a", None),
    ("https://museum.test/a?b=1", "/a?b=1"),
    ("https://MUSEUM.test:443/a", "/a"),
    ("http://museum.test/a", None),  # another scheme
    ("https://www.museum.test/a", None),  # another host
    ("https://museum.test.evil.test/a", None),
    ("https://museum.test:99999/a", None),  # not a port at all
    ("https://museum.test:0/a", None),
])
def test_same_origin_means_same_scheme_host_and_port(url: str, expected: str | None) -> None:
    assert http_probe.same_origin(url, name="museum.test", tls=True, port=443) == expected


def test_redirect_to_another_port_is_not_followed(lab: Lab) -> None:
    ctx = lab.context(lab.apex_leaf)
    with hostile.HostileHttp(hostile.serve(200, {}, b"canary"), context=ctx) as canary:
        target = f"https://{WEB}:{canary.port}//127.0.99.99/x"
        with hostile.HostileHttp(hostile.redirect(target), context=ctx) as srv:
            fetch = http_probe.fetch_chain(web_endpoint(GOOD), srv.port, WEB, "/", tls=True, follow=True,
                                           max_bytes=1024, keep_body=True)
        assert canary.connections == 0
    assert fetch.error is None and len(fetch.hops) == 1
    assert fetch.final is not None and fetch.final.location == target
    assert srv.paths == ["/"]


def test_network_path_redirect_on_the_same_port_is_not_followed(lab: Lab) -> None:
    with hostile.HostileHttp(hostile.redirect("//127.0.99.99/x"), context=lab.context(lab.apex_leaf)) as srv:
        fetch = http_probe.fetch_chain(web_endpoint(GOOD), srv.port, WEB, "/", tls=True, follow=True,
                                       max_bytes=1024, keep_body=True)
    assert fetch.error is None and len(fetch.hops) == 1 and srv.paths == ["/"]


# ----------------------------------------------------------------------------- (g) HTTP, bounded


HOME = b"<html><head></head><body>museum</body></html>"
GZIP_BOMB = hostile.gzip_bomb()


def fetch_bounded(responder: hostile.Responder, path: str, max_bytes: int) -> tuple[Any, float, int]:
    """fetch_chain against ``responder``: (fetch, seconds, peak traced memory in bytes)."""
    with hostile.HostileHttp(responder, host=APEX) as srv:
        tracemalloc.start()
        started = time.monotonic()
        try:
            fetch = http_probe.fetch_chain(web_endpoint(), srv.port, WEB, path, tls=False, follow=True,
                                           max_bytes=max_bytes, keep_body=True)
        finally:
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    return fetch, elapsed, peak


MB = 1024 * 1024


@pytest.mark.parametrize(("responder", "path", "max_bytes", "check"), [
    (hostile.endless_body(), "/", http_probe.MAX_BODY,
     lambda f: f.error is None and f.final.truncated and len(f.final.body) == http_probe.MAX_BODY),
    (hostile.huge_header(4 * MB), "/", http_probe.MAX_BODY,
     lambda f: f.error is ErrorReason.PROTOCOL and "LineTooLong" in f.detail),
    (hostile.many_headers(40000), "/", http_probe.MAX_BODY,
     lambda f: f.error is ErrorReason.PROTOCOL and "headers" in f.detail),
    (hostile.bad_chunking(), "/", http_probe.MAX_BODY,
     lambda f: f.error is ErrorReason.PROTOCOL and f.hops == ()),
    (hostile.serve(200, {"Content-Encoding": "gzip", "Content-Type": "text/plain"}, GZIP_BOMB), "/",
     http_probe.MAX_BODY, lambda f: f.error is None and f.final.body == "" and f.final.header("Content-Encoding") == "gzip"),
    (hostile.sized_body(100 * MB, b"Contact: mailto:security@vijandig.test\n", {"Content-Type": "text/plain"}),
     "/.well-known/security.txt", http_probe.MAX_SECURITYTXT,
     lambda f: f.error is None and f.final.truncated and len(f.final.body) == http_probe.MAX_SECURITYTXT),
    (hostile.redirect_loop(), "/", http_probe.MAX_BODY,
     lambda f: f.error is ErrorReason.PROTOCOL and len(f.hops) == http_probe.MAX_REDIRECTS + 1),
], ids=["endless-body", "megabyte-header-line", "megabytes-of-headers", "bad-chunking", "gzip-bomb",
        "100MB-security.txt", "redirect-loop"])
def test_hostile_http_answers_are_bounded_in_time_and_memory(responder: hostile.Responder, path: str, max_bytes: int,
                                                             check: Callable[[Any], bool]) -> None:
    fetch, elapsed, peak = fetch_bounded(responder, path, max_bytes)
    assert check(fetch), (fetch.error, fetch.detail, [(h.status, h.truncated, len(h.body)) for h in fetch.hops])
    assert elapsed < 2 * BUDGETS["web"] * TIMEOUT
    assert peak < 24 * MB, peak  # the servers offer hundreds of megabytes


def apex_site(lab: Lab, home: hostile.Responder | None = None, sectxt: hostile.Responder | None = None) -> hostile.HostileHttp:
    responder = hostile.routes({
        "/": home or hostile.serve(200, GOOD_HEADERS, HOME),
        "/.well-known/security.txt": sectxt or hostile.serve(200, {"Content-Type": "text/plain"}, securitytxt(WEB)),
    }, default=home or sectxt)  # other paths (where a redirect loop goes) are the hostile part's too
    return hostile.HostileHttp(responder, host=APEX, port=lab.https_port, context=lab.context(lab.apex_leaf))


HOME_CHECKS = ("web.hsts", "web.headers.basic", "web.cookies", "web.software.banner", "web.cms.version")


@pytest.mark.parametrize(("home", "sectxt", "errors_", "reason"), [
    (hostile.endless_body(GOOD_HEADERS), None, (), None),  # the page is cut at the cap; its headers are judged
    (hostile.serve(200, {**GOOD_HEADERS, "Content-Encoding": "gzip"}, GZIP_BOMB), None, (), None),
    (hostile.huge_header(4 * MB), None, ("web.https.available", *HOME_CHECKS), ErrorReason.PROTOCOL),
    (hostile.many_headers(40000), None, ("web.https.available", *HOME_CHECKS), ErrorReason.PROTOCOL),
    (hostile.bad_chunking(GOOD_HEADERS), None, ("web.https.available", *HOME_CHECKS), ErrorReason.PROTOCOL),
    (hostile.redirect_loop(), None, HOME_CHECKS, ErrorReason.PROTOCOL),  # it answered, but never a page
    (None, hostile.sized_body(100 * MB, b"Contact: mailto:security@vijandig.test\n", {"Content-Type": "text/plain"}),
     ("web.securitytxt",), ErrorReason.TRUNCATED),
    (None, hostile.serve(200, {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, GZIP_BOMB),
     ("web.securitytxt",), ErrorReason.PROTOCOL),
    (None, hostile.endless_body({"Content-Type": "text/plain"}, b"Contact: mailto:a@vijandig.test\n" * 2048),
     ("web.securitytxt",), ErrorReason.TRUNCATED),
    (None, hostile.redirect_loop(), ("web.securitytxt",), ErrorReason.PROTOCOL),
], ids=["endless-home", "gzip-bomb-home", "megabyte-header-line", "megabytes-of-headers", "bad-chunking",
        "redirect-loop", "100MB-security.txt", "gzip-security.txt", "endless-security.txt", "security.txt-loop"])
def test_hostile_http_answers_in_a_scan(lab: Lab, home: hostile.Responder | None, sectxt: hostile.Responder | None,
                                        errors_: tuple[str, ...], reason: ErrorReason | None) -> None:
    with apex_site(lab, home, sectxt), good_http(lab):
        result, elapsed = lab.scan(WEB)
    apex = by_host(result, WEB)
    for check in errors_:
        assert reason is not None
        assert_error(apex[check], reason)
    for check in ("web.https.redirect", *TLS_CHECKS, "web.https.available", "web.headers.basic", "web.securitytxt"):
        if check not in errors_:
            assert apex[check].status is Status.PASS, (check, apex[check])
    assert_rest_intact(result, {(c, WEB) for c in errors_})
    assert elapsed < SCAN_LIMIT


# ----------------------------------------------------------------------------- shared connection slots


def test_waiting_for_a_connection_slot_keeps_the_endpoints_own_deadline() -> None:
    """Endpoints of one address share its connection slots: a slot held by a dripping server until its
    own deadline must not keep another endpoint waiting past that endpoint's deadline."""
    reaper = Reaper(threading.Event())
    slot = threading.BoundedSemaphore(1)
    with hostile.HostileHttp(hostile.drip_head(0.1), host=APEX) as srv:
        hog = Endpoint(APEX, WEB, Deadline(TIMEOUT + 4), per_read=TIMEOUT, reaper=reaper, slot=slot)
        holder = threading.Thread(target=http_probe.fetch_chain, args=(hog, srv.port, WEB, "/"),
                                  kwargs={"tls": False, "follow": False, "max_bytes": 0, "keep_body": False})
        holder.start()
        for _ in range(100):
            if srv.connections:
                break
            time.sleep(0.02)
        waiter = Endpoint(APEX, WEB, Deadline(TIMEOUT), per_read=TIMEOUT, reaper=reaper, slot=slot)
        started = time.monotonic()
        with pytest.raises(ProbeTimeout), waiter.connect(srv.port):
            pass
        elapsed = time.monotonic() - started
        holder.join(TIMEOUT + 6)
    reaper.stop()
    assert elapsed < TIMEOUT + 2  # not the TIMEOUT + 4 s the hog holds the only slot


@pytest.mark.parametrize("charset", ["idna", "undefined", "no-such-codec", "rot13"])
def test_a_nonsense_charset_is_read_as_utf8_not_an_error(charset: str) -> None:
    body = b"Contact: mailto:security@vijandig.test\n"
    responder = hostile.serve(200, {"Content-Type": f"text/plain; charset={charset}"}, body)
    fetch, _, _ = fetch_bounded(responder, "/.well-known/security.txt", http_probe.MAX_SECURITYTXT)
    assert fetch.error is None and fetch.final is not None and fetch.final.body == body.decode()
