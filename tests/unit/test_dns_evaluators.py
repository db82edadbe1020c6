"""DNS evaluators on literal facts: CAA, NS, AXFR, dangling CNAMEs, DNSSEC edge cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cyberscan.evaluators.dns import axfr, caa, dangling, dnssec, nameservers
from cyberscan.facts import Facts
from cyberscan.facts.dns import (
    AxfrAttempt,
    AxfrFact,
    CaaFact,
    CnameChain,
    CnameFact,
    DnssecFact,
    NsFact,
    NsReply,
    NsServer,
    SignedRRset,
)
from cyberscan.models import ErrorReason, ProbeOutcome, Subject, Verdict

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def facts(probe: str, fact: Any) -> Facts:
    return Facts("museum.test", {probe: ProbeOutcome(probe, "museum.test", fact=fact)}, now=NOW)


def pairs(verdicts: list[Verdict]) -> set[tuple[str, str]]:
    return {(v.status.value, v.message) for v in verdicts}


@pytest.mark.parametrize(
    ("records", "found_at", "expected", "issuers"),
    [
        (('0 issue "letsencrypt.org"',), "museum.test", {("pass", "ok")}, "letsencrypt.org"),
        (('0 issue "sectigo.com"', '0 issue "letsencrypt.org; accounturi=https://x"', '0 issuewild ";"'), "museum.test",
         {("pass", "ok")}, "letsencrypt.org, sectigo.com"),
        (('0 issue "letsencrypt.org"',), "parent.test", {("pass", "ok-inherited")}, "letsencrypt.org"),
        (('0 iodef "mailto:x@museum.test"',), "museum.test", {("warn", "no-issue-tag")}, None),
        (('128 tbs "x"', '0 issue "letsencrypt.org"'), "museum.test", {("warn", "unknown-critical")}, "letsencrypt.org"),
        (('0 unknown "x"', '0 issue ";"'), "museum.test", {("pass", "ok")}, "(none)"),
        (("garbage",), "museum.test", {("warn", "unparsed")}, None),
        ((), None, {("fail", "missing")}, None),
    ],
)  # fmt: skip
def test_caa(records: tuple[str, ...], found_at: str | None, expected: set[tuple[str, str]], issuers: str | None) -> None:
    verdicts = caa(facts("dns.caa", CaaFact("museum.test", found_at, records, ("museum.test",))), {})
    assert pairs(verdicts) == expected
    assert len(verdicts) == 1  # one finding for the domain: the worst state leads
    if issuers is not None:
        assert ", ".join(sorted(set(verdicts[0].evidence["issue"]))) == issuers
        passed = [v for v in verdicts if v.status.value == "pass"]
        assert all(v.params["issuers"] == issuers for v in passed)


def _server(
    name: str, *replies: NsReply, addresses: tuple[str, ...] | None = None, error: ErrorReason | None = None
) -> NsServer:
    return NsServer(name, addresses if addresses is not None else tuple(r.address for r in replies), replies, error=error)


GOOD = NsReply("192.0.2.1", "NOERROR", True, 7)


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        ((_server("ns1.t", GOOD), _server("ns2.t", NsReply("192.0.2.2", "NOERROR", True, 7))), {("pass", "ok")}),
        ((_server("ns1.t", GOOD),), {("fail", "too-few")}),
        ((_server("ns1.t", GOOD), _server("ns2.t", NsReply("192.0.2.2", "NOERROR", False, 7))), {("fail", "lame")}),
        ((_server("ns1.t", GOOD), _server("ns2.t", NsReply("192.0.2.2", "REFUSED", False, None))), {("fail", "lame")}),
        ((_server("ns1.t", GOOD), _server("ns2.t", NsReply("192.0.2.2", "NOERROR", True, 6))), {("warn", "serial-mismatch")}),
        ((_server("ns1.t", GOOD), _server("ns2.t", addresses=())), {("fail", "ns-no-address")}),
        ((_server("ns1.t", GOOD), _server("ns2.t", NsReply("192.0.2.2", error=ErrorReason.TIMEOUT, detail="x"))), {("error", "ns-no-answer")}),
        ((_server("ns1.t", GOOD), _server("ns2.t", error=ErrorReason.TIMEOUT)), {("error", "ns-lookup-failed")}),
        ((_server("ns1.t", GOOD), _server("ns2.t", NsReply("10.0.0.1", error=ErrorReason.OUT_OF_SCOPE))), {("skipped", "ns-out-of-scope"), ("pass", "ok")}),
        ((_server("ns1.t", GOOD, NsReply("2001:db8::53", error=ErrorReason.NO_IPV6)), _server("ns2.t", NsReply("192.0.2.2", "NOERROR", True, 7))),
         {("skipped", "ns-no-ipv6"), ("pass", "ok")}),
    ],
)  # fmt: skip
def test_nameservers(servers: tuple[NsServer, ...], expected: set[tuple[str, str]]) -> None:
    fact = NsFact("museum.test", tuple(s.name for s in servers), servers, 53)
    verdicts = nameservers(facts("dns.ns", fact), {"min_nameservers": 2})
    assert pairs(verdicts) == expected
    errors = [v for v in verdicts if v.status.value == "error"]
    assert all(v.reason in (ErrorReason.TIMEOUT, ErrorReason.UNREACHABLE, ErrorReason.PROTOCOL) for v in errors)
    assert all(v.subject is not None and v.subject.host == "ns2.t" for v in errors)


def test_no_ns_records_is_not_judged() -> None:
    assert pairs(nameservers(facts("dns.ns", NsFact("www.museum.test", (), (), 53)), {})) == {("info", "no-ns")}


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("refused", ("pass", "refused")),
        ("transferred", ("fail", "open")),
        ("timeout", ("error", "no-answer")),
        ("unreachable", ("error", "no-answer")),
        ("protocol", ("error", "no-answer")),
        ("out-of-scope", ("skipped", "out-of-scope")),
        ("no-ipv6", ("skipped", "no-ipv6")),
    ],
)
def test_axfr(outcome: str, expected: tuple[str, str]) -> None:
    transferred = outcome == "transferred"
    error = None if outcome in ("refused", "transferred") else ErrorReason(outcome)
    attempt = AxfrAttempt("ns1.museum.test", "192.0.2.1", transferred, records=12, error=error)
    verdicts = axfr(facts("dns.axfr", AxfrFact("museum.test", (attempt,), ())), {})
    assert [(v.status.value, v.message) for v in verdicts] == [expected]
    assert verdicts[0].subject == Subject(host="ns1.museum.test", address="192.0.2.1", port=53, service="dns")
    assert verdicts[0].reason == error


@pytest.mark.parametrize(
    ("chains", "expected"),
    [
        ((CnameChain("museum.test", ("apex",), (), ""),), {("pass", "no-aliases")}),
        ((CnameChain("www.museum.test", ("www",), ("site.host.test",), "NOERROR"),), {("pass", "ok")}),
        ((CnameChain("www.museum.test", ("www",), ("old.host.test",), "NXDOMAIN"),), {("fail", "dangling")}),
        ((CnameChain("a.museum.test", ("extra",), ("b.museum.test", "a.museum.test"), "", loop=True),), {("fail", "loop")}),
        ((CnameChain("a.museum.test", ("extra",), ("x.test",), "", error=ErrorReason.TIMEOUT, detail="slow"),), {("error", "lookup-failed")}),
    ],
)  # fmt: skip
def test_dangling(chains: tuple[CnameChain, ...], expected: set[tuple[str, str]]) -> None:
    assert pairs(dangling(facts("dns.cnames", CnameFact(chains)), {})) == expected


def _signed(rdtype: str, records: tuple[str, ...] = (), rrsigs: tuple[str, ...] = ()) -> SignedRRset:
    return SignedRRset("museum.test", rdtype, "NOERROR", 300, records, rrsigs)


def test_dnskey_without_signatures() -> None:
    key = "257 3 13 " + "A" * 86 + "=="
    fact = DnssecFact("museum.test", _signed("DNSKEY", (key,)), _signed("SOA", ("ns1. h. 1 2 3 4 5",)), _signed("DS"))
    assert pairs(dnssec(facts("dns.dnssec", fact), {})) == {("fail", "unsigned-rrset")}


def test_ipv6_without_a_route_is_not_held_against_the_nameserver() -> None:
    import errno

    from cyberscan.probes.dns import _no_ipv6_route

    assert _no_ipv6_route("2001:db8::53", OSError(errno.ENETUNREACH, "Network is unreachable"))
    assert not _no_ipv6_route("192.0.2.53", OSError(errno.ENETUNREACH, "Network is unreachable"))
    assert not _no_ipv6_route("2001:db8::53", OSError(errno.ECONNRESET, "reset"))


def test_dangling_is_an_error_for_the_mail_hosts_while_the_mx_is_unknown() -> None:
    from cyberscan.facts.dns import HostInventory

    chains = CnameFact((CnameChain("www.museum.test", ("www",), ("site.host.test",), "NOERROR"),))
    inventory = HostInventory("museum.test", (), mx_error=ErrorReason.TIMEOUT)
    outcomes = {"dns.cnames": ProbeOutcome("dns.cnames", "museum.test", fact=chains),
                "hosts.inventory": ProbeOutcome("hosts.inventory", "museum.test", fact=inventory)}
    verdicts = dangling(Facts("museum.test", outcomes, now=NOW), {})
    assert [(v.status.value, v.message, v.reason) for v in verdicts] == [("error", "mx-unknown", ErrorReason.TIMEOUT)]
    assert pairs(dangling(facts("dns.cnames", chains), {})) == {("pass", "ok")}  # MX known (or not asked)


@pytest.mark.parametrize(
    ("lookup_errors", "expected"),
    [
        ((), ("info", "partial")),
        ((("AAAA", ErrorReason.TIMEOUT),), ("error", "endpoint.timeout")),
        ((("A", ErrorReason.SERVFAIL),), ("info", "partial")),  # the AAAA answer is known: none
    ],
)
def test_ipv6_is_unknown_when_the_aaaa_lookup_failed(
    lookup_errors: tuple[tuple[str, ErrorReason], ...], expected: tuple[str, str]
) -> None:
    from cyberscan.evaluators.dns import ipv6
    from cyberscan.facts.dns import Host, HostInventory

    hosts = (Host("museum.test", ("apex",), ("192.0.2.1", "2001:db8::1")),
             Host("www.museum.test", ("www",), ("192.0.2.1",), lookup_errors=lookup_errors))
    verdicts = ipv6(facts("hosts.inventory", HostInventory("museum.test", hosts)), {})
    assert [(v.status.value, v.message) for v in verdicts] == [expected]
