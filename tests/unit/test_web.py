"""Web and TLS evaluators on literal facts: table-driven, no network."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from cyberscan.evaluators import smtp as smtp_eval
from cyberscan.evaluators import tls as tls_eval
from cyberscan.evaluators import web
from cyberscan.facts import Facts
from cyberscan.facts.smtp import MailEndpoint, StarttlsFact
from cyberscan.facts.tls import CertInfo, TlsEndpoint, TlsScan, VersionResult
from cyberscan.facts.web import Exchange, Fetch, HttpSite, WebEndpoint
from cyberscan.models import ErrorReason, ProbeOutcome, Status

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
NAME = "museum.test"
EOL = {"products": {"nginx": {"title": "nginx", "cycles": [{"cycle": "1.22", "eol": dt.date(2023, 4, 11)},
                                                           {"cycle": "1.28", "eol": None}]},
                    "wordpress": {"title": "WordPress", "eol_before": "4.7", "min_recommended": "6.8",
                                  "cycles": [{"cycle": "6.8", "eol": None}]}}}


def exchange(status: int = 200, headers: list[tuple[str, str]] | None = None, body: str = "",
             url: str = f"https://{NAME}/", content_type: str = "") -> Exchange:
    return Exchange(url, status, tuple(headers or ()), body, False, content_type)


def endpoint(*, http: Fetch | None = None, https: Fetch | None = None, sectxt: Fetch | None = None,
             generators: tuple[str, ...] = ()) -> WebEndpoint:
    ok = Fetch(None, "", (exchange(),))
    return WebEndpoint(NAME, "192.0.2.1", http or ok, https or ok, sectxt or ok, generators)


def facts(*endpoints: WebEndpoint, data: Mapping[str, Any] | None = None) -> Facts:
    site = HttpSite(NAME, tuple(endpoints))
    return Facts(NAME, {"http.site": ProbeOutcome("http.site", NAME, fact=site)}, now=NOW, data=data or {"eol": EOL})


def one(verdicts: list[Any]) -> tuple[Status, str]:
    (v,) = verdicts
    assert v.subject is not None and (v.subject.host, v.subject.address) == (NAME, "192.0.2.1")
    return v.status, v.message


def securitytxt(text: str, *, status: int = 200, ctype: str = "text/plain") -> Fetch:
    return Fetch(None, "", (exchange(status, [("Content-Type", ctype)], text,
                                     url=f"https://{NAME}/.well-known/security.txt", content_type=ctype),))


GOOD_TXT = "Contact: mailto:security@museum.test\nExpires: 2027-06-01T00:00:00Z\n"


@pytest.mark.parametrize(
    ("fetch", "expected"),
    [
        (securitytxt(GOOD_TXT), (Status.PASS, "valid")),
        (securitytxt("not found", status=404), (Status.FAIL, "missing")),
        (securitytxt("<!DOCTYPE html><html>home</html>", ctype="text/html"), (Status.FAIL, "missing")),
        (securitytxt("Contact: mailto:a@museum.test\nExpires: 2026-01-01T00:00:00Z\n"), (Status.FAIL, "expired")),
        (securitytxt("Contact: mailto:a@museum.test\n"), (Status.FAIL, "malformed")),
        (securitytxt("Expires: 2027-06-01T00:00:00Z\n"), (Status.FAIL, "malformed")),
        (securitytxt("Contact: mailto:a@museum.test\nExpires: 2029-01-01T00:00:00Z\n"), (Status.WARN, "expires-too-far")),
        (securitytxt(GOOD_TXT + "Canonical: https://other.test/.well-known/security.txt\n"),
         (Status.WARN, "canonical-mismatch")),
        (securitytxt(GOOD_TXT + "Canonical: https://www.museum.test/.well-known/security.txt\n"), (Status.PASS, "valid")),
        (Fetch(ErrorReason.TIMEOUT, "no answer"), (Status.ERROR, "endpoint.timeout")),
    ],
)
def test_securitytxt(fetch: Fetch, expected: tuple[Status, str]) -> None:
    assert one(web.securitytxt(facts(endpoint(sectxt=fetch)), {"max_expires_days": 366})) == expected


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (exchange(301, [("Location", f"https://{NAME}/")], url=f"http://{NAME}/"), (Status.PASS, "redirects")),
        (exchange(302, [("Location", "/login")], url=f"http://{NAME}/"), (Status.FAIL, "redirect-not-https")),
        (exchange(301, [("Location", f"https://www.{NAME}/")], url=f"http://{NAME}/"), (Status.WARN, "redirect-other-host")),
        (exchange(200, url=f"http://{NAME}/"), (Status.FAIL, "no-redirect")),
    ],
)
def test_redirect(first: Exchange, expected: tuple[Status, str]) -> None:
    assert one(web.https_redirect(facts(endpoint(http=Fetch(None, "", (first,)))), {})) == expected


def test_redirect_without_plain_http_is_fine() -> None:
    assert one(web.https_redirect(facts(endpoint(http=Fetch(ErrorReason.REFUSED, "refused"))), {})) == (Status.PASS, "no-plain-http")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("Strict-Transport-Security", "max-age=31536000")], (Status.PASS, "ok")),
        ([("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload")], (Status.PASS, "ok-subdomains")),
        ([("Strict-Transport-Security", "max-age=86400")], (Status.FAIL, "too-short")),
        ([("Strict-Transport-Security", "max-age=0")], (Status.FAIL, "too-short")),
        ([("Strict-Transport-Security", "includeSubDomains")], (Status.FAIL, "invalid")),
        ([], (Status.FAIL, "missing")),
    ],
)
def test_hsts(headers: list[tuple[str, str]], expected: tuple[Status, str]) -> None:
    https = Fetch(None, "", (exchange(200, headers),))
    assert one(web.hsts(facts(endpoint(https=https)), {"min_max_age": 31536000})) == expected


def test_hsts_not_judged_without_https() -> None:
    assert one(web.hsts(facts(endpoint(https=Fetch(ErrorReason.REFUSED, "x"))), {}))[0] is Status.SKIPPED


BASIC = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer")]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (BASIC, (Status.PASS, "ok-no-csp")),
        ([*BASIC, ("Content-Security-Policy", "default-src 'self'")], (Status.PASS, "ok")),
        ([BASIC[0], BASIC[2], ("Content-Security-Policy", "frame-ancestors 'none'")], (Status.PASS, "ok")),
        (BASIC[1:], (Status.FAIL, "missing")),
        ([], (Status.FAIL, "missing")),
    ],
)
def test_headers(headers: list[tuple[str, str]], expected: tuple[Status, str]) -> None:
    https = Fetch(None, "", (exchange(200, headers),))
    assert one(web.headers_basic(facts(endpoint(https=https)), {})) == expected


@pytest.mark.parametrize(
    ("cookies", "expected"),
    [
        ([], (Status.PASS, "no-cookies")),
        (["sid=1; Secure; HttpOnly; SameSite=Lax"], (Status.PASS, "ok")),
        (["sid=1; HttpOnly; SameSite=Lax"], (Status.FAIL, "not-secure")),
        (["sid=1; Secure"], (Status.WARN, "missing-flags")),
    ],
)
def test_cookies(cookies: list[str], expected: tuple[Status, str]) -> None:
    https = Fetch(None, "", (exchange(200, [("Set-Cookie", c) for c in cookies]),))
    assert one(web.cookies(facts(endpoint(https=https)), {})) == expected


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("nginx", (Status.PASS, "no-version")),
        ("nginx/1.22.1", (Status.FAIL, "end-of-life")),
        ("nginx/1.28.0", (Status.INFO, "version-disclosed")),
        ("cloudflare", (Status.PASS, "none-detected")),
    ],
)
def test_banner(server: str, expected: tuple[Status, str]) -> None:
    https = Fetch(None, "", (exchange(200, [("Server", server)]),))
    assert one(web.software_banner(facts(endpoint(https=https)), {})) == expected


@pytest.mark.parametrize(
    ("generator", "expected"),
    [
        ((), (Status.INFO, "none-detected")),
        (("WordPress 4.5.2",), (Status.FAIL, "end-of-life")),
        (("WordPress 6.5.1",), (Status.WARN, "outdated")),
        (("WordPress 6.8.1",), (Status.PASS, "current")),
        (("WordPress",), (Status.PASS, "no-version")),
    ],
)
def test_cms(generator: tuple[str, ...], expected: tuple[Status, str]) -> None:
    assert one(web.cms_version(facts(endpoint(generators=generator)), {})) == expected


# ----------------------------------------------------------------------------- TLS on literal facts


def cert(**changes: Any) -> CertInfo:
    base: dict[str, Any] = dict(
        subject=f"CN={NAME}", issuer="CN=Test CA", common_names=(NAME,), dns_names=(NAME,),
        not_before=NOW - dt.timedelta(days=10), not_after=NOW + dt.timedelta(days=80),
        key_type="RSA", key_bits=2048, signature_hash="sha256", sha256="00", der=b"", self_signed=False,
    )
    base.update(changes)
    return CertInfo(**base)


def tls_endpoint(certificate: CertInfo | None = None, *, trusted: bool | None = True, code: int = 0,
                 versions: tuple[VersionResult, ...] = ()) -> TlsEndpoint:
    return TlsEndpoint(NAME, "192.0.2.1", 443, None, versions=versions, certificate=certificate or cert(),
                       chain_trusted=trusted, verify_code=code, verify_message="")


def tls_facts(*endpoints: TlsEndpoint) -> Facts:
    return Facts(NAME, {"tls.scan": ProbeOutcome("tls.scan", NAME, fact=TlsScan(NAME, endpoints))}, now=NOW)


@pytest.mark.parametrize(
    ("endpoint_", "expected"),
    [
        (tls_endpoint(), (Status.PASS, "valid")),
        (tls_endpoint(cert(not_after=NOW - dt.timedelta(days=1)), trusted=False, code=10), (Status.FAIL, "expired")),
        (tls_endpoint(cert(dns_names=("other.test",))), (Status.FAIL, "name-mismatch")),
        (tls_endpoint(cert(dns_names=(f"*.{NAME}",))), (Status.FAIL, "name-mismatch")),
        (tls_endpoint(cert(self_signed=True), trusted=False, code=18), (Status.FAIL, "self-signed")),
        (tls_endpoint(trusted=False, code=20), (Status.FAIL, "untrusted")),
        # OpenSSL said "expired" at scan time, but judged again at NOW the dates are fine: trust unknown -> PASS
        # is not claimed; the date code is ignored and the rest holds
        (tls_endpoint(trusted=False, code=10), (Status.PASS, "valid")),
    ],
)
def test_cert_valid(endpoint_: TlsEndpoint, expected: tuple[Status, str]) -> None:
    assert one(tls_eval.cert_valid(tls_facts(endpoint_), {})) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [(80, (Status.PASS, "ok")), (25, (Status.WARN, "expires-soon")), (5, (Status.FAIL, "expires-very-soon")),
     (-2, (Status.FAIL, "expired"))],
)
def test_cert_expiry(days: int, expected: tuple[Status, str]) -> None:
    e = tls_endpoint(cert(not_after=NOW + dt.timedelta(days=days, hours=1)))
    assert one(tls_eval.cert_expiry(tls_facts(e), {"warn_days": 30, "fail_days": 14})) == expected


@pytest.mark.parametrize(
    ("key", "bits", "expected"),
    [("RSA", 2048, Status.PASS), ("RSA", 1024, Status.FAIL), ("EC", 256, Status.PASS), ("EC", 224, Status.FAIL),
     ("DSA", 2048, Status.FAIL), ("Ed25519", 256, Status.PASS)],
)
def test_cert_key(key: str, bits: int, expected: Status) -> None:
    e = tls_endpoint(cert(key_type=key, key_bits=bits))
    assert one(tls_eval.cert_key(tls_facts(e), {}))[0] is expected


@pytest.mark.parametrize(("hash_", "expected"), [("sha256", Status.PASS), ("sha1", Status.FAIL), ("md5", Status.FAIL)])
def test_cert_signature(hash_: str, expected: Status) -> None:
    assert one(tls_eval.cert_signature(tls_facts(tls_endpoint(cert(signature_hash=hash_))), {}))[0] is expected


def v(version: str, *suites: str, accepted: bool = True, groups: tuple[str, ...] = ()) -> VersionResult:
    return VersionResult(version, accepted, suites, groups)


GCM = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ((v("TLSv1.2", GCM), v("TLSv1.3", "TLS_AES_128_GCM_SHA256")), (Status.PASS, "good")),
        ((v("TLSv1.2", GCM), v("TLSv1.3", accepted=False)), (Status.PASS, "sufficient-no-tls13")),
        ((v("TLSv1.0", GCM), v("TLSv1.2", GCM)), (Status.WARN, "phase-out")),
        ((v("SSLv3", "TLS_RSA_WITH_RC4_128_SHA"), v("TLSv1.2", GCM)), (Status.FAIL, "insufficient")),
        ((v("TLSv1.2", accepted=False),), (Status.ERROR, "versions-unknown")),
    ],
)
def test_versions(versions: tuple[VersionResult, ...], expected: tuple[Status, str]) -> None:
    assert one(tls_eval.tls_version(tls_facts(tls_endpoint(versions=versions)), {})) == expected


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ((v("TLSv1.2", GCM, groups=("x25519",)),), (Status.PASS, "good")),
        ((v("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),), (Status.PASS, "sufficient")),
        ((v("TLSv1.2", GCM, "TLS_RSA_WITH_AES_128_GCM_SHA256"),), (Status.WARN, "phase-out")),
        ((v("TLSv1.2", GCM, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),), (Status.FAIL, "insufficient")),
        ((v("TLSv1.2", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", groups=("dh1024",)),), (Status.FAIL, "insufficient")),
    ],
)
def test_ciphers(versions: tuple[VersionResult, ...], expected: tuple[Status, str]) -> None:
    assert one(tls_eval.tls_ciphers(tls_facts(tls_endpoint(versions=versions)), {})) == expected


def test_unreachable_endpoint_is_error_and_closed_port_is_skipped() -> None:
    timeout = TlsEndpoint(NAME, "192.0.2.1", 443, ErrorReason.TIMEOUT, "no answer")
    closed = TlsEndpoint(NAME, "192.0.2.2", 443, ErrorReason.REFUSED, "refused")
    verdicts = tls_eval.tls_version(tls_facts(timeout, closed), {})
    assert [(x.status, x.message, x.reason) for x in verdicts] == [
        (Status.ERROR, "endpoint.timeout", ErrorReason.TIMEOUT),
        (Status.SKIPPED, "endpoint.no-https", ErrorReason.NOT_APPLICABLE)]
    assert [x.subject.address for x in verdicts if x.subject] == ["192.0.2.1", "192.0.2.2"]


def test_smtp_verdicts_reuse_tls_rules() -> None:
    good = MailEndpoint("mx.museum.test", "192.0.2.9", 25, None, banner="220 mx", starttls=True,
                        tls=TlsEndpoint("mx.museum.test", "192.0.2.9", 25, None,
                                        versions=(v("TLSv1.2", GCM), v("TLSv1.3", "TLS_AES_128_GCM_SHA256")),
                                        certificate=cert(dns_names=("mx.museum.test",)), chain_trusted=True))
    plain = MailEndpoint("mx2.museum.test", "192.0.2.10", 25, None, banner="220 mx2", starttls=False)
    fact = StarttlsFact(NAME, (good, plain), ("mx.museum.test", "mx2.museum.test"))
    f = Facts(NAME, {"smtp.starttls": ProbeOutcome("smtp.starttls", NAME, fact=fact)}, now=NOW)
    assert [(x.status, x.message) for x in smtp_eval.starttls(f, {})] == [(Status.PASS, "ok"),
                                                                          (Status.FAIL, "no-starttls")]


def _keys_by_evaluator(module: Any) -> dict[str, set[str]]:
    """Message keys each evaluator of ``module`` can emit: string literals in Verdict(...) calls and in
    the module's not-judged constants (``NO_HTTPS = (Status.SKIPPED, "endpoint.no-https")``), followed
    through the module's own helper functions. ``not_judged`` itself emits ``endpoint.<reason>``
    (see test_every_error_reason_has_a_shared_endpoint_message)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    table_keys = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple) and len(node.value.elts) == 2:
            key = node.value.elts[1]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                table_keys.add(key.value)

    def direct(fn: ast.FunctionDef) -> tuple[set[str], set[str]]:
        keys, calls = set(), set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id == "Verdict" and len(node.args) > 1:
                    if isinstance(node.args[1], ast.Constant):
                        keys.add(str(node.args[1].value))
                    elif isinstance(node.args[1], ast.IfExp):
                        keys |= {str(x.value) for x in (node.args[1].body, node.args[1].orelse)
                                 if isinstance(x, ast.Constant)}
            if isinstance(node, ast.Name) and node.id in funcs:
                calls.add(node.id)
        return keys, calls

    out: dict[str, set[str]] = {}
    for name, fn in funcs.items():
        deco = [d for d in fn.decorator_list if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "evaluator"]
        if not deco:
            continue
        evaluator_name = str(deco[0].args[0].value)  # type: ignore[attr-defined]
        seen, todo, keys = {name}, [name], set()
        while todo:
            k, calls = direct(funcs[todo.pop()])
            keys |= k
            for c in calls - seen:
                seen.add(c)
                todo.append(c)
        out[evaluator_name] = keys | (table_keys if any(c in seen for c in ("_problem", "_each", "endpoint_problem",
                                                                            "_per_endpoint", "_endpoint_problem"))
                                      else set())
    return out


@pytest.mark.parametrize("module", [web, tls_eval, smtp_eval])
def test_every_emitted_message_key_has_texts(module: Any) -> None:
    from cyberscan import catalogue

    cat = catalogue.load()
    shared = set(cat.extras["messages"])
    keys = _keys_by_evaluator(module)
    assert keys
    for check in cat.checks.values():
        if check.evaluator in keys:
            missing = keys[check.evaluator] - set(check.messages) - shared
            assert not missing, (check.id, missing)


def test_every_error_reason_has_a_shared_endpoint_message() -> None:
    """``evaluators.common.not_judged`` says ``endpoint.<reason>`` for any reason a probe reports."""
    from cyberscan import catalogue

    shared = catalogue.load().extras["messages"]
    for reason in ErrorReason:
        assert f"endpoint.{reason.value}" in shared, reason
        assert set(shared[f"endpoint.{reason.value}"]) >= {"nl", "en"}, reason
    assert {"endpoint.no-https", "endpoint.lookup-failed", "no-web-hosts"} <= set(shared)


# ----------------------------------------------------------------------------- host roles (mta-sts)


def test_policy_host_is_judged_only_by_tls_and_https_checks() -> None:
    """mta-sts.<domain> serves only the MTA-STS policy: without security headers, cookies or a
    security.txt it gets no fail from any web check (with the catalogue's own params), while the same
    bare answer on the website host does fail, and HTTPS/HSTS still judge the policy host."""
    from cyberscan import catalogue

    hsts = ("Strict-Transport-Security", "max-age=31536000")
    bare = Fetch(None, "", (exchange(404, [hsts], url=f"https://mta-sts.{NAME}/"),))
    redirect = Fetch(None, "", (exchange(301, [("Location", f"https://mta-sts.{NAME}/")], url=f"http://mta-sts.{NAME}/"),))
    no_txt = Fetch(None, "", (exchange(404, [hsts], "not found", url=f"https://mta-sts.{NAME}/.well-known/security.txt"),))
    policy_host = WebEndpoint(f"mta-sts.{NAME}", "192.0.2.1", redirect, bare, no_txt, (), 443, ("mta-sts",))
    website = WebEndpoint(NAME, "192.0.2.2", redirect, bare, no_txt, (), 443, ("apex",))
    f = Facts(NAME, {"http.site": ProbeOutcome("http.site", NAME, fact=HttpSite(NAME, (policy_host, website)))},
              now=NOW, data={"eol": EOL})
    cat = catalogue.load()
    judged_on_policy_host = set()
    for check in cat.checks.values():
        if not check.id.startswith("web.") or "http.site" not in check.needs:
            continue
        fn = getattr(web, check.evaluator.split(".", 1)[1])
        verdicts = fn(f, check.params)
        on_policy = [x for x in verdicts if x.subject is not None and x.subject.host == f"mta-sts.{NAME}"]
        assert all(x.status is not Status.FAIL for x in on_policy), (check.id, on_policy)
        if on_policy:
            judged_on_policy_host.add(check.id)
        if check.id in ("web.headers.basic", "web.securitytxt"):  # the same answer fails on the website
            assert [x.status for x in verdicts if x.subject and x.subject.host == NAME] == [Status.FAIL], check.id
    assert judged_on_policy_host == {"web.https.available", "web.https.redirect", "web.hsts"}


DEBIAN = {**EOL, "products": {**EOL["products"], "php": {"title": "PHP", "cycles": [
    {"cycle": "7.4", "eol": dt.date(2022, 11, 28)}, {"cycle": "8.2", "eol": dt.date(2026, 12, 31)}]}},
    "distributions": {"debian": {"title": "Debian", "extended_free": True, "releases": [
        {"release": "11", "security": dt.date(2024, 8, 14), "extended": dt.date(2026, 8, 31)},
        {"release": "12", "security": dt.date(2026, 6, 10), "extended": dt.date(2028, 6, 30)}]}}}


@pytest.mark.parametrize(
    ("powered_by", "expected", "distribution"),
    [
        ("PHP/7.4.33-1+deb11u5", (Status.FAIL, "end-of-life-distribution"), "Debian 11"),  # Debian 11 LTS ended
        ("PHP/8.2.29-1~deb12u1", (Status.INFO, "version-disclosed-distribution"), "Debian 12"),  # Debian 12 LTS
        ("PHP/7.4.33", (Status.FAIL, "end-of-life"), None),  # upstream build: upstream support
    ],
)
def test_banner_of_a_distribution_build_is_judged_by_its_release(powered_by: str, expected: tuple[Status, str],
                                                                  distribution: str | None) -> None:
    https = Fetch(None, "", (exchange(200, [("X-Powered-By", powered_by)]),))
    (verdict,) = web.software_banner(facts(endpoint(https=https), data={"eol": DEBIAN}), {})
    assert (verdict.status, verdict.message) == expected
    assert verdict.params.get("distribution") == distribution
    (row,) = verdict.evidence["found"]
    assert row["cycle"] == powered_by.split("/")[1][:3]  # the branch, not the whole package version
