"""DNS probes and checks against the in-process LocalDnsServer: DNSSEC, NS, AXFR, CAA, MX, CNAMEs.

Every scan goes through the real engine with the default catalogue; the profile setting ``dns_port``
points the nameserver checks at the local server's port.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.rrset
import dns.zone
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.engine import scan
from cyberscan.models import Result, Scan
from cyberscan.options import Nameserver, ScanOptions

HEADER = """$TTL 300
@ SOA ns1.{d}. hostmaster.{d}. {serial} 3600 600 86400 300
@ NS ns1.{d}.
@ NS ns2.{d}.
ns1 A 127.0.0.1
ns2 A 127.0.0.1
"""


def zone_text(domain: str, body: str = "", *, serial: int = 1) -> str:
    return HEADER.format(d=domain, serial=serial) + body


def scan_zones(
    zones: ZoneSet,
    domain: str,
    checks: Sequence[str],
    *,
    settings: dict[str, Any] | None = None,
    server: LocalDnsServer | None = None,
    **options: Any,
) -> Scan:
    """Scan ``domain`` with only ``checks``, through a LocalDnsServer serving ``zones``."""
    cat = catalogue_mod.builtin()
    base = catalogue_mod.profile(cat, "default")

    def run(srv: LocalDnsServer) -> Scan:
        profile = replace(base, include=tuple(checks), include_tags=(), settings={"dns_port": srv.port, **(settings or {})})
        opts = ScanOptions(nameservers=(Nameserver(srv.address, srv.port),), **{"timeout": 1.0, "allow_private": True, **options})
        return scan([domain], catalogue=cat, profile=profile, registry=registry_mod.load(), options=opts)

    if server is not None:
        result = run(server)
    else:
        with LocalDnsServer(zones) as srv:
            result = run(srv)
    assert_messages_complete(result)
    return result


def assert_messages_complete(result: Scan) -> None:
    """Every result has a message in Dutch and English, and every placeholder in it has a value."""
    cat = catalogue_mod.builtin()
    shared = cat.extras.get("messages", {})
    for r in result.results:
        templates = cat.checks[r.check_id].messages.get(r.message) or shared.get(r.message)
        assert templates is not None, f"{r.check_id}: no text for message {r.message!r}"
        for lang in ("nl", "en"):
            fields = {f for _, f, _, _ in string.Formatter().parse(templates[lang]) if f}
            assert fields <= set(r.params), f"{r.check_id} {r.message} ({lang}) lacks params {fields - set(r.params)}"


def of(result: Scan, check_id: str) -> list[Result]:
    found = [r for r in result.results if r.check_id == check_id]
    assert found, f"no result for {check_id}"
    return found


def summary(result: Scan, check_id: str) -> set[tuple[str, str]]:
    """Every (status, message) the check concluded: each finding's lead verdict and the verdicts the
    engine merged into it (one finding per subject, the others in ``evidence["also"]``)."""
    out = set()
    for r in of(result, check_id):
        out.add((r.status.value, r.message))
        out.update((a["status"], a["message"]) for a in r.evidence.get("also", ()))
    return out


def leads(result: Scan, check_id: str) -> set[tuple[str, str]]:
    """The (status, message) of each finding (the worst verdict per subject)."""
    return {(r.status.value, r.message) for r in of(result, check_id)}


def fact(result: Scan, probe: str) -> Any:
    return next(o.fact for o in result.outcomes if o.probe == probe)


# ------------------------------------------------------------------------------------------ DNSSEC


def _key(flags: int) -> tuple[ec.EllipticCurvePrivateKey, dns.rdtypes.ANY.DNSKEY.DNSKEY]:
    private = ec.generate_private_key(ec.SECP256R1())
    return private, dns.dnssec.make_dnskey(private.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=flags)


def signed_zoneset(
    *, ds: str = "match", expired: bool = False, tamper: bool = False, domain: str = "signed.test"
) -> ZoneSet:
    """``signed.test`` signed with a KSK and ZSK; the parent ``test.`` has a DS that matches, mismatches or is absent."""
    zone = dns.zone.from_text(zone_text(domain, "@ MX 0 .\n"), origin=domain, relativize=False)
    ksk, zsk = _key(257), _key(256)
    now = datetime.now(UTC)
    inception, expiration = (now - timedelta(days=60), now - timedelta(days=30)) if expired else (now - timedelta(hours=1), now + timedelta(days=14))
    dns.dnssec.sign_zone(zone, keys=[ksk, zsk], inception=inception, expiration=expiration)
    if tamper:  # change the SOA after signing: its RRSIG no longer fits
        with zone.writer() as txn:
            soa = txn.get(zone.origin, dns.rdatatype.SOA)
            changed = soa[0].replace(serial=soa[0].serial + 1)
            txn.replace(zone.origin, dns.rrset.from_rdata(zone.origin, soa.ttl, changed))
    zones = ZoneSet()
    zones.add_zone(zone)
    parent = "$TTL 300\n@ SOA ns.test. h.test. 1 3600 600 86400 300\n@ NS ns.test.\nns A 127.0.0.1\n"
    label = domain.removesuffix(".test")
    parent += f"{label} NS ns1.{domain}.\n"
    if ds == "match":
        parent += f"{label} DS {dns.dnssec.make_ds(domain + '.', ksk[1], 'SHA256').to_text()}\n"
    elif ds == "mismatch":
        parent += f"{label} DS 4711 13 2 {'CD' * 32}\n"
    zones.add_text("test", parent)
    return zones


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {("pass", "ok")}),
        ({"ds": "none"}, {("warn", "signed-not-delegated")}),
        ({"ds": "mismatch"}, {("fail", "ds-mismatch")}),
        ({"expired": True}, {("fail", "expired")}),
        ({"tamper": True}, {("fail", "bad-signature")}),
    ],
)
def test_dnssec_states(kwargs: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    result = scan_zones(signed_zoneset(**kwargs), "signed.test", ["dns.dnssec"])
    assert summary(result, "dns.dnssec") == expected


def test_dnssec_unsigned_and_ds_without_key() -> None:
    zones = ZoneSet()
    zones.add_text("plain.test", zone_text("plain.test"))
    zones.add_text("test", "$TTL 300\n@ SOA ns.test. h.test. 1 3600 600 86400 300\n@ NS ns.test.\nns A 127.0.0.1\n"
                   f"plain DS 4711 13 2 {'AB' * 32}\nother NS ns.test.\n")  # fmt: skip
    zones.add_text("other.test", zone_text("other.test"))
    assert summary(scan_zones(zones, "plain.test", ["dns.dnssec"]), "dns.dnssec") == {("fail", "ds-without-dnskey")}
    assert summary(scan_zones(zones, "other.test", ["dns.dnssec"]), "dns.dnssec") == {("fail", "not-signed")}


def test_dnssec_fact_can_be_judged_again_later() -> None:
    """The evaluator validates at the scan time, so the same stored facts expire when judged later."""
    from cyberscan.evaluators.dns import dnssec
    from cyberscan.facts import Facts
    from cyberscan.models import ProbeOutcome

    result = scan_zones(signed_zoneset(), "signed.test", ["dns.dnssec"])
    outcome = next(o for o in result.outcomes if o.probe == "dns.dnssec")
    later = datetime.now(UTC) + timedelta(days=30)
    verdicts = dnssec(Facts("signed.test", {"dns.dnssec": outcome}, now=later), {})
    assert isinstance(outcome, ProbeOutcome)
    assert [(v.status.value, v.message, v.params["rrtype"]) for v in verdicts] == [("fail", "expired", "DNSKEY")]
    # one finding for the domain; every expired signature is in its evidence
    problems = {(p["problem"], p["rrtype"]) for p in verdicts[0].evidence["problems"]}
    assert problems == {("expired", "DNSKEY"), ("expired", "SOA")}


# ------------------------------------------------------------------------------------------ NS / AXFR


def test_axfr_refused_and_open() -> None:
    zones = ZoneSet()
    zones.add_text("closed.test", zone_text("closed.test"))
    zones.add_text("open.test", zone_text("open.test", "secret A 10.0.0.1\n"), allow_axfr=True)
    with LocalDnsServer(zones) as srv:
        closed = scan_zones(zones, "closed.test", ["dns.axfr", "dns.ns"], server=srv)
        opened = scan_zones(zones, "open.test", ["dns.axfr"], server=srv)
    assert summary(closed, "dns.axfr") == {("pass", "refused")}
    assert {r.subject.host for r in of(closed, "dns.axfr")} == {"ns1.closed.test", "ns2.closed.test"}
    assert summary(closed, "dns.ns") == {("pass", "ok")}
    assert summary(opened, "dns.axfr") == {("fail", "open")}
    assert all(r.params["records"] >= 5 for r in of(opened, "dns.axfr"))


def test_nameserver_checks_respect_scope() -> None:
    zones = ZoneSet()
    zones.add_text("scoped.test", zone_text("scoped.test"))
    with LocalDnsServer(zones) as srv:
        cat = catalogue_mod.builtin()
        profile = replace(catalogue_mod.profile(cat, "default"), include=("dns.axfr", "dns.ns"), include_tags=(),
                          settings={"dns_port": srv.port})  # fmt: skip
        opts = ScanOptions(timeout=1.0, nameservers=(Nameserver(srv.address, srv.port),), allow_private=False)
        result = scan(["scoped.test"], catalogue=cat, profile=profile, registry=registry_mod.load(), options=opts)
    assert summary(result, "dns.axfr") == {("skipped", "out-of-scope")}
    assert summary(result, "dns.ns") == {("skipped", "ns-out-of-scope"), ("pass", "ok")}
    assert any(n.key == "scope.private-address" and n.params["address"] == "127.0.0.1" for n in result.notices)


def test_single_nameserver_and_no_answer() -> None:
    zones = ZoneSet()
    zones.add_text("one.test", "$TTL 300\n@ SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\n@ NS ns2\nns1 A 127.0.0.1\nns2 A 127.0.0.9\n")
    zones.add_text("single.test", "$TTL 300\n@ SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n")
    with LocalDnsServer(zones) as srv:
        single = scan_zones(zones, "single.test", ["dns.ns"], server=srv)
        silent = scan_zones(zones, "one.test", ["dns.ns", "dns.axfr"], server=srv, timeout=0.3)
    assert summary(single, "dns.ns") == {("fail", "too-few")}
    assert ("error", "ns-no-answer") in summary(silent, "dns.ns")
    err = next(r for r in of(silent, "dns.ns") if r.status.value == "error")
    assert err.subject.host == "ns2.one.test" and err.subject.address == "127.0.0.9" and err.error_reason is not None
    assert ("error", "no-answer") in summary(silent, "dns.axfr")
    assert ("pass", "refused") in summary(silent, "dns.axfr")


def test_lame_nameserver_and_serial_mismatch() -> None:
    first = ZoneSet()
    first.add_text("two.test", "$TTL 300\n@ SOA ns1 h 5 3600 600 86400 300\n@ NS ns1\n@ NS ns2\nns1 A 127.0.0.1\nns2 A 127.0.0.2\n")
    second = ZoneSet()
    second.add_text("two.test", "$TTL 300\n@ SOA ns1 h 4 3600 600 86400 300\n@ NS ns1\n@ NS ns2\nns1 A 127.0.0.1\nns2 A 127.0.0.2\n")
    nothing = ZoneSet()
    with LocalDnsServer(first) as srv:
        try:
            other = LocalDnsServer(second, host="127.0.0.2", port=srv.port)
        except OSError:
            pytest.skip("port not free on 127.0.0.2")
        with other:
            stale = scan_zones(first, "two.test", ["dns.ns"], server=srv)
        lame_server = LocalDnsServer(nothing, host="127.0.0.2", port=srv.port)
        with lame_server:
            lame = scan_zones(first, "two.test", ["dns.ns"], server=srv)
    assert summary(stale, "dns.ns") == {("warn", "serial-mismatch")}
    assert "4: ns2.two.test (127.0.0.2)" in of(stale, "dns.ns")[0].params["serials"]
    assert summary(lame, "dns.ns") == {("fail", "lame")}
    assert of(lame, "dns.ns")[0].params["rcode"] == "REFUSED"


# ------------------------------------------------------------------------------------------ CAA / MX / CNAME


def test_caa_present_inherited_and_missing() -> None:
    zones = ZoneSet()
    zones.add_text("caa.test", zone_text("caa.test", '@ CAA 0 issue "letsencrypt.org; validationmethods=dns-01"\n'
                                         '@ CAA 0 iodef "mailto:sec@caa.test"\n@ CAA 128 future "x"\nsub A 192.0.2.1\n'))  # fmt: skip
    zones.add_text("bare.test", zone_text("bare.test"))
    with LocalDnsServer(zones) as srv:
        apex = scan_zones(zones, "caa.test", ["dns.caa"], server=srv)
        sub = scan_zones(zones, "sub.caa.test", ["dns.caa"], server=srv)
        bare = scan_zones(zones, "bare.test", ["dns.caa"], server=srv)
    assert summary(apex, "dns.caa") == {("warn", "unknown-critical")}  # one finding: the worst state leads
    warn = of(apex, "dns.caa")[0]
    assert warn.evidence["issue"] == ["letsencrypt.org"] and warn.evidence["iodef"] == ["mailto:sec@caa.test"]
    assert summary(sub, "dns.caa") == {("warn", "unknown-critical")}
    assert of(sub, "dns.caa")[0].evidence["found_at"] == "caa.test"  # inherited from the parent
    assert summary(bare, "dns.caa") == {("fail", "missing")}
    assert fact(bare, "dns.caa").checked == ("bare.test",)


def test_mx_hosts() -> None:
    zones = ZoneSet()
    zones.add_text("mx.test", zone_text("mx.test", "@ MX 10 alias\n@ MX 20 gone\n@ MX 30 192.0.2.25.\n@ MX 40 noaddr\n"
                                        "@ MX 50 good\nalias CNAME good\ngood A 192.0.2.1\nnoaddr TXT \"x\"\n"))  # fmt: skip
    zones.add_text("null.test", zone_text("null.test", "@ MX 0 .\n"))
    zones.add_text("none.test", zone_text("none.test"))
    with LocalDnsServer(zones) as srv:
        bad = scan_zones(zones, "mx.test", ["mail.mx"], server=srv)
        null = scan_zones(zones, "null.test", ["mail.mx"], server=srv)
        none = scan_zones(zones, "none.test", ["mail.mx"], server=srv)
    assert {(r.message, r.subject.host) for r in of(bad, "mail.mx")} == {
        ("cname", "alias.mx.test"), ("nonexistent", "gone.mx.test"), ("ip-literal", "192.0.2.25"), ("no-address", "noaddr.mx.test"),
    }  # fmt: skip
    assert summary(null, "mail.mx") == {("pass", "null-mx")}
    assert summary(none, "mail.mx") == {("info", "no-mx")}


def test_dangling_and_servfail_alias() -> None:
    zones = ZoneSet()
    zones.add_text("cn.test", zone_text("cn.test", "www CNAME site.cn.test.\nsite A 192.0.2.1\nshop CNAME gone.cn.test.\n"
                                        "mta-sts CNAME broken.cn.test.\nloop1 CNAME loop2\nloop2 CNAME loop1\n"))  # fmt: skip
    zones.servfail.add("broken.cn.test")
    # without --allow-private: the certificate names of www (on a documentation address) are not asked for
    result = scan_zones(zones, "cn.test", ["dns.dangling"], extra_hosts=("shop.cn.test",), allow_private=False)
    got = {(r.status.value, r.message, r.subject.host) for r in of(result, "dns.dangling")}
    assert ("fail", "dangling", "shop.cn.test") in got
    assert ("error", "lookup-failed", "mta-sts.cn.test") in got
    assert not any(h == "www.cn.test" for _, _, h in got)


def test_dangling_all_fine() -> None:
    zones = ZoneSet()
    zones.add_text("fine.test", zone_text("fine.test", "www CNAME site.fine.test.\nsite A 192.0.2.1\n"))
    result = scan_zones(zones, "fine.test", ["dns.dangling"], allow_private=False)
    assert summary(result, "dns.dangling") == {("pass", "ok")}



def test_local_server_truncates_large_udp_answers_and_serves_them_over_tcp() -> None:
    import dns.flags
    import dns.message
    import dns.query

    long_txt = " ".join(f'"{"x" * 200}"' for _ in range(5))
    zones = ZoneSet()
    zones.add_text("big.test", zone_text("big.test", f"@ TXT {long_txt}\n"))
    with LocalDnsServer(zones) as srv:
        query = dns.message.make_query("big.test.", "TXT")  # no EDNS: 512 bytes at most
        udp = dns.query.udp(query, srv.address, port=srv.port, timeout=2)
        assert udp.flags & dns.flags.TC and not udp.answer
        full, used_tcp = dns.query.udp_with_fallback(query, srv.address, port=srv.port, timeout=2)
        assert used_tcp and len(full.answer[0][0].strings) == 5


def test_dnssec_judged_even_when_a_validating_resolver_refuses_the_domain() -> None:
    """With CD set the resolver hands over the broken signatures, so the report can say what is wrong."""
    zones = signed_zoneset(expired=True)
    zones.bogus.add("signed.test")
    result = scan_zones(zones, "signed.test", ["dns.dnssec"])
    assert summary(result, "dns.dnssec") == {("fail", "expired")}
    assert fact(result, "dns.dnssec").resolver_verdict == "rejected"
    assert of(result, "dns.dnssec")[0].evidence["resolver"] == "rejected"
    assert fact(scan_zones(signed_zoneset(), "signed.test", ["dns.dnssec"]), "dns.dnssec").resolver_verdict == "not-validated"
