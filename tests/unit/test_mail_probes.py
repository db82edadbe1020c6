"""E-mail probes and checks against the in-process LocalDnsServer (and a local HTTPS server for the
MTA-STS policy): SPF include walking, DMARC fallback and report authorisation, DKIM selectors."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from cyberscan.demo.localdns import ZoneSet
from cyberscan.demo.pki import DemoCA
from cyberscan.demo.servers import tls_context
from cyberscan.facts.mail import SpfFact
from cyberscan.models import ErrorReason
from cyberscan.probes.mail import MAX_POLICY_BYTES
from tests.integration.bind9 import dkim_txt
from tests.unit.test_dns_probes import fact, leads, of, scan_zones, summary, zone_text

# ------------------------------------------------------------------------------------------ SPF


def spf_zones(records: dict[str, str], extra: str = "") -> ZoneSet:
    zones = ZoneSet()
    body = "@ MX 10 mail\nmail A 192.0.2.1\n" + extra
    for name, record in records.items():
        body += f'{name} TXT "{record}"\n'
    zones.add_text("spf.test", zone_text("spf.test", body))
    return zones


def test_spf_walk_counts_lookups_and_follows_redirect() -> None:
    zones = spf_zones({
        "@": "v=spf1 a mx include:i1.spf.test redirect=r.spf.test",
        "i1": "v=spf1 ip4:192.0.2.0/24 include:i2.spf.test ~all",
        "i2": "v=spf1 exists:%{i}.e.spf.test -all",
        "r": "v=spf1 mx:spf.test -all",
    }, "@ A 192.0.2.1\n")  # fmt: skip
    result = scan_zones(zones, "spf.test", ["mail.spf"])
    spf: SpfFact = fact(result, "dns.spf")
    assert spf.lookups == 7  # a, mx, include, include, exists (macro: counted, not resolved), redirect, mx
    assert [(n.domain, n.via, n.depth) for n in spf.nodes] == [
        ("spf.test", "root", 0), ("i1.spf.test", "include", 1), ("i2.spf.test", "include", 2), ("r.spf.test", "redirect", 1),
    ]  # fmt: skip
    assert spf.void_lookups == 0
    assert summary(result, "mail.spf") == {("pass", "ok")}  # the redirect's -all decides


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ({"@": "v=spf1 mx ~all"}, {("pass", "ok-softfail")}),
        ({"@": "v=spf1 +all"}, {("fail", "pass-all")}),
        ({"@": "v=spf1 mx ?all"}, {("fail", "neutral-all")}),
        ({"@": "v=spf1 mx"}, {("fail", "no-all")}),
        ({"@": "v=spf1 mx ptr -all"}, {("warn", "ptr"), ("pass", "ok")}),
        ({"@": "v=spf1 include:x.spf.test -all", "x": "v=spf1 +all"}, {("fail", "include-pass-all")}),
        ({"@": "v=spf1 include:none.spf.test -all"}, {("fail", "broken-include-no-record")}),
        ({"@": "v=spf1 redirect=bad.spf.test", "bad": "v=spf1 ip4:nope -all"}, {("fail", "broken-include-syntax")}),
        ({"@": "v=spf1 redirect=spf.test"}, {("fail", "loop"), ("fail", "no-all")}),
        ({"@": "v=spf1 a:n1.spf.test a:n2.spf.test mx:n3.spf.test -all"}, {("fail", "too-many-void-lookups")}),
        ({"@": "v=spf1 mx -all", "www": "unrelated"}, {("pass", "ok")}),
        ({"@": "v=spf1 ip4:192.0.2.300 -all"}, {("fail", "syntax")}),
        ({}, {("fail", "missing")}),
    ],
)
def test_spf_verdicts(records: dict[str, str], expected: set[tuple[str, str]]) -> None:
    result = scan_zones(spf_zones(records), "spf.test", ["mail.spf"])
    assert summary(result, "mail.spf") == expected
    # one finding for the domain, led by its worst verdict
    order = ("fail", "error", "warn", "info", "pass")
    (lead,) = leads(result, "mail.spf")
    assert lead in expected and lead[0] == min((s for s, _ in expected), key=order.index)


def test_spf_void_lookups_are_named() -> None:
    result = scan_zones(spf_zones({"@": "v=spf1 a:n1.spf.test a:n2.spf.test exists:n3.spf.test -all"}), "spf.test", ["mail.spf"])
    verdict = of(result, "mail.spf")[0]
    assert verdict.params["count"] == 3 and verdict.params["names"] == "n1.spf.test, n2.spf.test, n3.spf.test"


def test_spf_include_that_fails_to_answer_is_an_error_not_a_verdict() -> None:
    zones = spf_zones({"@": "v=spf1 include:broken.spf.test -all"})
    zones.servfail.add("broken.spf.test")
    result = scan_zones(zones, "spf.test", ["mail.spf"])
    assert summary(result, "mail.spf") == {("error", "lookup-failed")}
    verdict = of(result, "mail.spf")[0]
    assert verdict.error_reason is not None and "broken.spf.test" in verdict.params["detail"]


def test_spf_walk_stops_far_beyond_the_limit() -> None:
    records = {"@": "v=spf1 include:c0.spf.test -all"}
    extra = ""
    for i in range(30):
        records[f"c{i}"] = f"v=spf1 a mx include:c{i + 1}.spf.test -all"
        extra += f"c{i} A 192.0.2.1\nc{i} MX 10 mail.spf.test.\n"
    result = scan_zones(spf_zones(records, extra), "spf.test", ["mail.spf"])
    spf: SpfFact = fact(result, "dns.spf")
    assert spf.truncated
    verdict = of(result, "mail.spf")[0]
    assert (verdict.status.value, verdict.message) == ("fail", "too-many-lookups")
    assert verdict.params["count"].endswith("+")


# ------------------------------------------------------------------------------------------ DMARC


def dmarc_zones() -> ZoneSet:
    zones = ZoneSet()
    zones.add_text("museum.test", zone_text("museum.test",
        '_dmarc TXT "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@museum.test,mailto:agg@reports.test; ruf=mailto:f@other.test"\n'
        '_dmarc TXT "some other text"\nshop A 192.0.2.1\n'))  # fmt: skip
    zones.add_text("reports.test", zone_text("reports.test", 'museum.test._report._dmarc TXT "v=DMARC1"\n'))
    zones.add_text("other.test", zone_text("other.test"))
    zones.add_text("two.test", zone_text("two.test", '_dmarc TXT "v=DMARC1; p=reject"\n_dmarc TXT "v=DMARC1; p=none"\n'))
    return zones


def test_dmarc_at_domain_with_external_report_authorisation() -> None:
    result = scan_zones(dmarc_zones(), "museum.test", ["mail.dmarc.policy", "mail.dmarc.rua"])
    dmarc = fact(result, "dns.dmarc")
    assert dmarc.records == ("v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@museum.test,mailto:agg@reports.test; ruf=mailto:f@other.test",)
    assert dmarc.other_txt == ("some other text",) and not dmarc.inherited
    assert {(a.report_domain, a.authorised) for a in dmarc.authorisations} == {("reports.test", True), ("other.test", False)}
    assert summary(result, "mail.dmarc.policy") == {("pass", "ok")}
    assert summary(result, "mail.dmarc.rua") == {("warn", "external-ruf-not-authorised"), ("pass", "ok")}


def test_dmarc_falls_back_to_the_organisational_domain() -> None:
    result = scan_zones(dmarc_zones(), "shop.museum.test", ["mail.dmarc.policy"])
    dmarc = fact(result, "dns.dmarc")
    assert dmarc.inherited and dmarc.name == "_dmarc.museum.test" and dmarc.org_domain == "museum.test"
    verdict = of(result, "mail.dmarc.policy")[0]
    assert (verdict.status.value, verdict.message, verdict.params["policy"]) == ("pass", "ok-inherited", "quarantine")


def test_two_dmarc_records() -> None:
    result = scan_zones(dmarc_zones(), "two.test", ["mail.dmarc.policy", "mail.dmarc.rua"])
    assert summary(result, "mail.dmarc.policy") == {("fail", "multiple")}
    assert summary(result, "mail.dmarc.rua") == {("fail", "no-dmarc")}


# ------------------------------------------------------------------------------------------ DKIM


def test_dkim_selectors_common_and_given() -> None:
    zones = ZoneSet()
    zones.add_text("dk.test", zone_text("dk.test", f"@ MX 10 mail\nmail A 192.0.2.1\n"
                                        f"google._domainkey TXT {dkim_txt(2048)}\nown._domainkey TXT {dkim_txt(1024)}\n"
                                        'selector1._domainkey CNAME selector1-dk._domainkey.hosted.test.\n'))  # fmt: skip
    zones.add_text("hosted.test", zone_text("hosted.test", 'selector1-dk._domainkey TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ"\n'))
    common = scan_zones(zones, "dk.test", ["mail.dkim"])
    given = scan_zones(zones, "dk.test", ["mail.dkim"], dkim_selectors=("own",))
    assert {(r.status.value, r.message, r.params["selector"]) for r in of(common, "mail.dkim")} == {
        ("pass", "ok", "google"), ("fail", "invalid", "selector1"),
    }  # fmt: skip
    selector1 = next(s for s in fact(common, "dns.dkim").found if s.selector == "selector1")
    assert selector1.aliases == ("selector1-dk._domainkey.hosted.test",)
    assert ("warn", "short-key") in summary(given, "mail.dkim")
    assert fact(given, "dns.dkim").selectors_tried[0] == "own"


def test_dkim_not_found_is_never_a_failure() -> None:
    zones = ZoneSet()
    zones.add_text("nokey.test", zone_text("nokey.test", "@ MX 10 mail\nmail A 192.0.2.1\n"))
    zones.add_text("nomail.test", zone_text("nomail.test", "@ MX 0 .\n"))
    assert summary(scan_zones(zones, "nokey.test", ["mail.dkim"]), "mail.dkim") == {("warn", "not-found")}
    nomail = scan_zones(zones, "nomail.test", ["mail.dkim"])
    assert summary(nomail, "mail.dkim") == {("info", "not-found-no-mail")}
    assert fact(nomail, "dns.dkim").domainkey_rcode == "NXDOMAIN"


def test_dkim_asks_no_further_selectors_below_a_domainkey_name_that_does_not_exist() -> None:
    zones = ZoneSet()
    zones.add_text("nokey.test", zone_text("nokey.test", "@ MX 10 mail\nmail A 192.0.2.1\n"))
    result = scan_zones(zones, "nokey.test", ["mail.dkim"], dkim_selectors=("own",))
    dkim = fact(result, "dns.dkim")
    assert dkim.domainkey_rcode == "NXDOMAIN"
    assert dkim.selectors_tried == ("own", "default", "selector1", "selector2", "google", "k1", "k2")
    assert summary(result, "mail.dkim") == {("warn", "not-found")}
    assert of(result, "mail.dkim")[0].params["count"] == 7


def test_dkim_asks_every_selector_when_the_server_denies_an_existing_domainkey_name() -> None:
    # against RFC 8020 the server says _domainkey does not exist, but a first-round selector does
    zones = ZoneSet()
    zones.add_text("liar.test", zone_text("liar.test", f"@ MX 10 mail\nmail A 192.0.2.1\n"
                                          f"selector1._domainkey TXT {dkim_txt(2048)}\n"
                                          f"mxvault._domainkey TXT {dkim_txt(1024)}\n"))
    zones.nxdomain_when_empty.add("_domainkey.liar.test")
    result = scan_zones(zones, "liar.test", ["mail.dkim"])
    dkim = fact(result, "dns.dkim")
    assert dkim.domainkey_rcode == "NXDOMAIN"
    assert {s.selector for s in dkim.found} == {"selector1", "mxvault"}  # mxvault: a second-round selector
    assert len(dkim.selectors_tried) > 30


def test_dkim_asks_every_selector_below_an_existing_domainkey_name() -> None:
    zones = ZoneSet()
    zones.add_text("late.test", zone_text("late.test", f"@ MX 10 mail\nmail A 192.0.2.1\n"
                                          f"202401._domainkey TXT {dkim_txt(2048)}\n"))
    dkim = fact(scan_zones(zones, "late.test", ["mail.dkim"]), "dns.dkim")
    assert dkim.domainkey_rcode == "NOERROR"
    assert [s.selector for s in dkim.found] == ["202401"]


# ------------------------------------------------------------------------------------------ MTA-STS


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0]
        status, headers, body = self.pages.get(host, (404, {}, b"nope"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp("sts")
    ca = DemoCA(folder, datetime.now(UTC))
    names = [f"mta-sts.{n}.test" for n in ("enf", "tst", "none", "redir", "big", "uncov", "html", "gone", "bin")]
    leaf = ca.issue("sts", names, valid_days=30)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context: ssl.SSLContext = tls_context(leaf.cert_file, leaf.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    policy = "version: STSv1\nmode: {mode}\nmx: mail.{d}.test\nmx: *.backup.test\nmax_age: {age}\n"
    plain = {"Content-Type": "text/plain"}
    _Handler.pages = {
        "mta-sts.enf.test": (200, plain, policy.format(mode="enforce", d="enf", age=604800).encode()),
        "mta-sts.tst.test": (200, plain, policy.format(mode="testing", d="tst", age=3600).encode()),
        "mta-sts.none.test": (200, plain, policy.format(mode="none", d="none", age=604800).encode()),
        "mta-sts.redir.test": (301, {"Location": "https://elsewhere.test/policy"}, b""),
        "mta-sts.big.test": (200, plain, b"x" * (MAX_POLICY_BYTES + 10)),
        "mta-sts.uncov.test": (200, plain, policy.format(mode="enforce", d="other", age=604800).encode()),
        "mta-sts.html.test": (200, {"Content-Type": "text/html"}, policy.format(mode="enforce", d="html", age=604800).encode()),
        "mta-sts.bin.test": (200, plain, b"version: STSv1\nmode: enforce\nmx: \xff\xfe\n"),
    }
    yield server.server_address[1], ca.ca_file
    server.shutdown()
    server.server_close()


def sts_zones() -> ZoneSet:
    zones = ZoneSet()
    for name in ("enf", "tst", "none", "redir", "big", "uncov", "html", "gone", "bin", "nohost"):
        body = '@ MX 10 mail\n@ MX 20 mx1.backup.test.\nmail A 192.0.2.1\n_mta-sts TXT "v=STSv1; id=1"\n'
        if name != "nohost":
            body += "mta-sts A 127.0.0.1\n"
        zones.add_text(f"{name}.test", zone_text(f"{name}.test", body))
    zones.add_text("bad.test", zone_text("bad.test", '@ MX 10 mail\nmail A 192.0.2.1\n_mta-sts TXT "v=STSv1"\n'))
    zones.add_text("off.test", zone_text("off.test", "@ MX 10 mail\nmail A 192.0.2.1\n"))
    return zones


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("enf", {("pass", "ok")}),
        ("tst", {("warn", "mode-testing"), ("warn", "short-max-age")}),
        ("none", {("fail", "mode-none")}),
        ("redir", {("fail", "policy-redirect")}),
        ("big", {("error", "error.truncated")}),  # a policy cut off at the size cap is never judged
        ("uncov", {("fail", "mx-not-covered")}),
        ("html", {("warn", "content-type"), ("pass", "ok")}),
        ("gone", {("fail", "policy-http-status")}),
        ("bin", {("fail", "policy-unreadable")}),
        ("nohost", {("fail", "policy-host-missing")}),
        ("bad", {("fail", "bad-record")}),
        ("off", {("warn", "not-configured")}),
    ],
)
def test_mta_sts(https: tuple[int, Path], domain: str, expected: set[tuple[str, str]]) -> None:
    port, ca_file = https
    result = scan_zones(sts_zones(), f"{domain}.test", ["mail.mta_sts"], settings={"https_port": port}, ca_bundle=str(ca_file))
    assert summary(result, "mail.mta_sts") == expected
    if ("error", "error.truncated") in expected:
        assert of(result, "mail.mta_sts")[0].error_reason is ErrorReason.TRUNCATED


def test_mta_sts_untrusted_certificate_fails(https: tuple[int, Path]) -> None:
    port, _ = https
    result = scan_zones(sts_zones(), "enf.test", ["mail.mta_sts"], settings={"https_port": port})
    assert summary(result, "mail.mta_sts") == {("fail", "policy-tls")}


def test_mta_sts_unreachable_is_an_error(https: tuple[int, Path]) -> None:
    result = scan_zones(sts_zones(), "enf.test", ["mail.mta_sts"], settings={"https_port": 9})  # nothing listens on 9
    verdict = of(result, "mail.mta_sts")[0]
    assert verdict.status.value == "error" and verdict.error_reason is not None


def test_tlsrpt() -> None:
    zones = ZoneSet()
    zones.add_text("rpt.test", zone_text("rpt.test", '@ MX 10 mail\nmail A 192.0.2.1\n_smtp._tls TXT "v=TLSRPTv1; rua=mailto:t@rpt.test"\n'))
    zones.add_text("norpt.test", zone_text("norpt.test", '@ MX 10 mail\nmail A 192.0.2.1\n_smtp._tls TXT "v=TLSRPTv1; rua=t@x"\n'))
    assert summary(scan_zones(zones, "rpt.test", ["mail.tlsrpt"]), "mail.tlsrpt") == {("pass", "ok")}
    assert summary(scan_zones(zones, "norpt.test", ["mail.tlsrpt"]), "mail.tlsrpt") == {("fail", "invalid")}
