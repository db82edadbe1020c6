"""A lookup error is never read as an answer.

Nameservers that answer the domain's SOA (so the preflight lets the scan run) but drop, or SERVFAIL,
every other query: nothing about the domain is known, so every check that depends on those lookups
reports ERROR (never "no website", "no MX" or a pass), no check passes or fails, and the readiness
score is unknown. Each scan also ends within a generous bound at ``--timeout 0.5``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

import cyberscan
from cyberscan.assessment import Assessment
from cyberscan.demo.localdns import ZoneSet
from cyberscan.models import ErrorReason, Status
from cyberscan.options import Nameserver, ScanOptions
from tests.unit.test_dns_probes import fact, of, scan_zones, summary, zone_text

DOMAIN = "silent.test"
BOUND = 60.0  # seconds; far above what the budgets allow at timeout 0.5


class SoaOnlyServer:
    """UDP on 127.0.0.1 (port 0): answers SOA of ``DOMAIN``; every other query is dropped
    (``mode="drop"``), answered SERVFAIL (``mode="servfail"``) or answered empty with the TC bit
    (``mode="truncate"``: "too large, ask over TCP")."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.queries: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            if not query.question:
                continue
            question = query.question[0]
            self.queries.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
            response = dns.message.make_response(query)
            response.flags |= dns.flags.RA
            if question.rdtype == dns.rdatatype.SOA and question.name.to_text().rstrip(".").lower() == DOMAIN:
                response.flags |= dns.flags.AA
                response.answer.append(dns.rrset.from_text(question.name, 300, "IN", "SOA",
                                                           f"ns1.{DOMAIN}. h.{DOMAIN}. 1 3600 600 86400 300"))
            elif self.mode == "drop":
                continue
            elif self.mode == "truncate":
                response.flags |= dns.flags.TC
            else:
                response.set_rcode(dns.rcode.SERVFAIL)
            self.sock.sendto(response.to_wire(), peer)

    def __enter__(self) -> SoaOnlyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


# checks that only read DNS facts of the domain (or facts built on them)
DNS_MAIL = ("dns.ns", "dns.axfr", "dns.caa", "dns.dnssec", "dns.dangling", "dns.ipv6", "mail.mx", "mail.spf",
            "mail.dmarc.policy", "mail.dmarc.rua", "mail.dkim", "mail.nonsending", "mail.mta_sts", "mail.tlsrpt",
            "mail.starttls", "mail.dane")  # fmt: skip


@pytest.fixture(scope="module", params=["drop", "servfail"])
def broken(request: pytest.FixtureRequest) -> Iterator[tuple[Assessment, float, str]]:
    with SoaOnlyServer(request.param) as server:
        options = ScanOptions(timeout=0.5, nameservers=(Nameserver("127.0.0.1", server.port),), allow_private=True)
        started = time.monotonic()
        assessment = cyberscan.assess([DOMAIN], options=options)
        elapsed = time.monotonic() - started
        assert len(server.queries) > 1  # the preflight's SOA and then the scan's queries
    yield assessment, elapsed, request.param


def test_the_domain_was_scanned_not_refused(broken: tuple[Assessment, float, str]) -> None:
    assessment, _, _ = broken
    assert not assessment.failures  # the SOA answered, so the preflight let the scan run
    assert assessment.targets == (DOMAIN,)


def test_every_dns_and_mail_check_is_an_error(broken: tuple[Assessment, float, str]) -> None:
    assessment, _, mode = broken
    expected = ErrorReason.TIMEOUT if mode == "drop" else ErrorReason.SERVFAIL
    for check_id in DNS_MAIL:
        results = [r for r in assessment.results if r.check_id == check_id]
        assert results, check_id
        assert {r.status for r in results} == {Status.ERROR}, [(r.check_id, r.status, r.message) for r in results]
        assert all(r.error_reason is expected for r in results), [(r.check_id, r.error_reason) for r in results]


def test_web_checks_are_errors_never_no_website(broken: tuple[Assessment, float, str]) -> None:
    assessment, _, _ = broken
    web = [r for r in assessment.results if r.check_id.startswith("web.")]
    assert web
    assert {r.status for r in web} == {Status.ERROR}, {(r.check_id, r.status, r.message) for r in web}
    assert not [r for r in web if r.message == "no-web-hosts"]


def test_nothing_passes_or_fails_and_readiness_is_unknown(broken: tuple[Assessment, float, str]) -> None:
    assessment, _, _ = broken
    judged = [(r.check_id, r.status.value, r.message) for r in assessment.results if r.status in (Status.PASS, Status.FAIL)]
    assert judged == []
    assert not [r for r in assessment.results if r.message in ("no-mx", "no-web-hosts", "no-aliases")]
    den = assessment.readiness.framework("den-checklist")
    assert den is not None and den.score is None


def test_the_scan_ends_in_bounded_time(broken: tuple[Assessment, float, str]) -> None:
    _, elapsed, _ = broken
    assert elapsed < BOUND


# ------------------------------------------------------------------------------------------ one lookup fails


MAIL_CHECKS = ["mail.mx", "mail.nonsending", "mail.dmarc.rua", "mail.dkim", "mail.tlsrpt", "mail.mta_sts", "dns.dangling",
               "mail.starttls", "mail.dane"]  # fmt: skip


def test_mx_lookup_failure_is_never_read_as_no_mail() -> None:
    """Only the MX query fails: nothing that hinges on whether the domain receives mail is judged."""
    zones = ZoneSet()
    zones.add_text("mxfail.test", zone_text("mxfail.test", '@ MX 10 mail\nmail A 192.0.2.1\n@ TXT "v=spf1 -all"\n'
                                            '_dmarc TXT "v=DMARC1; p=reject"\n_smtp._tls TXT "v=TLSRPTv1; rua=mailto:t@mxfail.test"\n'
                                            "www CNAME gone.mxfail.test.\n"))  # fmt: skip
    zones.servfail.add("mxfail.test MX")
    started = time.monotonic()
    result = scan_zones(zones, "mxfail.test", MAIL_CHECKS, timeout=0.5)
    assert time.monotonic() - started < BOUND
    for check_id in ("mail.mx", "mail.nonsending", "mail.dmarc.rua", "mail.tlsrpt", "mail.starttls", "mail.dane"):
        assert {r.status for r in of(result, check_id)} == {Status.ERROR}, (check_id, summary(result, check_id))
        assert all(r.error_reason is ErrorReason.SERVFAIL for r in of(result, check_id)), check_id
    # DKIM and MTA-STS: nothing found is a warning for a domain that may use mail, never "no mail"
    assert summary(result, "mail.dkim") == {("warn", "not-found")}
    assert summary(result, "mail.mta_sts") == {("warn", "not-configured")}
    # the aliases that were looked at are judged; the MX hosts could not be, and say so
    dangling = {(r.status.value, r.message, r.subject.host, r.subject.service) for r in of(result, "dns.dangling")}
    assert ("fail", "dangling", "www.mxfail.test", None) in dangling
    assert ("error", "mx-unknown", None, "smtp") in dangling
    assert not any(s == "pass" for s, *_ in dangling)


def test_aaaa_failure_is_not_read_as_no_ipv6() -> None:
    zones = ZoneSet()
    zones.add_text("v6fail.test", zone_text("v6fail.test", "@ A 192.0.2.1\n@ AAAA 2001:db8::1\nwww A 192.0.2.1\n"
                                            "www AAAA 2001:db8::1\n"))  # fmt: skip
    zones.hang.add("www.v6fail.test AAAA")
    result = scan_zones(zones, "v6fail.test", ["dns.ipv6"], timeout=0.5)
    (verdict,) = of(result, "dns.ipv6")
    assert (verdict.status, verdict.error_reason) == (Status.ERROR, ErrorReason.TIMEOUT)
    inventory = fact(result, "hosts.inventory")
    www = next(h for h in inventory.hosts if h.name == "www.v6fail.test")
    assert www.addresses == ("192.0.2.1",) and www.error is None  # the host is known (IPv4) ...
    assert www.lookup_errors == (("AAAA", ErrorReason.TIMEOUT),)  # ... its IPv6 is not


def test_nameserver_without_address_lookup_is_an_error_in_every_nameserver_check() -> None:
    zones = ZoneSet()
    zones.add_text("nsfail.test", zone_text("nsfail.test"))
    zones.servfail.add("ns2.nsfail.test")
    result = scan_zones(zones, "nsfail.test", ["dns.ns", "dns.axfr"])
    axfr = {(r.status.value, r.message, r.subject.host) for r in of(result, "dns.axfr")}
    assert axfr == {("pass", "refused", "ns1.nsfail.test"), ("error", "ns-lookup-failed", "ns2.nsfail.test")}
    assert ("error", "ns-lookup-failed") in summary(result, "dns.ns")
    assert not any(r.status is Status.PASS for r in of(result, "dns.ns"))


def test_mx_host_lookup_failure_is_an_error_for_that_host() -> None:
    zones = ZoneSet()
    zones.add_text("mxhost.test", zone_text("mxhost.test", "@ MX 10 good\n@ MX 20 flaky\ngood A 192.0.2.1\nflaky A 192.0.2.2\n"))
    zones.servfail.add("flaky.mxhost.test")
    result = scan_zones(zones, "mxhost.test", ["mail.mx"])
    got = {(r.status.value, r.message, r.subject.host) for r in of(result, "mail.mx")}
    assert got == {("error", "host-error", "flaky.mxhost.test")}


def test_a_stored_version_2_inventory_is_read_with_its_failed_hosts_unknown() -> None:
    from cyberscan import registry as registry_mod
    from cyberscan.facts.dns import HostInventory
    from cyberscan.serialize import outcomes_from_dicts

    stored = {"probe": "hosts.inventory", "subject": "museum.test", "error": None, "detail": "", "fact": {
        "domain": "museum.test", "mx_error": None, "capped": 0, "hosts": [
            {"name": "museum.test", "roles": ["apex"], "addresses": ["192.0.2.1"], "cnames": [], "error": None,
             "detail": "", "sources": []},
            {"name": "www.museum.test", "roles": ["www"], "addresses": [], "cnames": [], "error": "timeout",
             "detail": "www.museum.test. A", "sources": []},
        ]}}  # fmt: skip
    (outcome,), notices = outcomes_from_dicts([stored], registry_mod.load(), {"hosts.inventory": 2})
    assert not notices and isinstance(outcome.fact, HostInventory)
    apex, www = outcome.fact.hosts
    assert apex.lookup_errors == ()
    assert www.error is ErrorReason.TIMEOUT and ("AAAA", ErrorReason.TIMEOUT) in www.lookup_errors


# ------------------------------------------------------------------------------------------ nameservers in turn


@pytest.mark.parametrize("silent_count", [1, 2])
def test_silent_first_nameservers_do_not_use_up_the_time_of_the_next(silent_count: int) -> None:
    """Each attempt waits --timeout, a lookup as long as all configured servers together (at most 3):
    with the first nameserver(s) silent, the next answers every query and the domain is judged."""
    from dataclasses import replace

    from cyberscan import catalogue as catalogue_mod
    from cyberscan.demo.localdns import LocalDnsServer

    zones = ZoneSet()
    zones.add_text("turn.test", zone_text("turn.test", '@ MX 10 mail\nmail A 192.0.2.1\n@ TXT "v=spf1 mx -all"\n'
                                          '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@turn.test"\n@ CAA 0 issue "x.test"\n'
                                          '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:t@turn.test"\n'))  # fmt: skip
    checks = ("mail.mx", "mail.spf", "mail.dmarc.policy", "mail.dmarc.rua", "mail.tlsrpt", "mail.dkim", "dns.caa",
              "dns.ns", "dns.dangling", "dns.ipv6")  # fmt: skip
    silent = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(silent_count)]
    for sock in silent:  # bound, never read: no answer, no ICMP
        sock.bind(("127.0.0.1", 0))
    try:
        with LocalDnsServer(zones) as good:
            cat = catalogue_mod.builtin()
            profile = replace(catalogue_mod.profile(cat, "default"), include=checks, include_tags=(),
                              settings={"dns_port": good.port})
            quiet = tuple(Nameserver("127.0.0.1", sock.getsockname()[1]) for sock in silent)
            # 2 s: the last server's attempt gets one timeout's time, and the well-behaved server (in this
            # process, answering some 50 lookups at once) answers within it even on a loaded machine (at
            # 0.5 s and 1 s its answers were late there, under load average 10: errors, not passes)
            options = ScanOptions(timeout=2.0, allow_private=True,
                                  nameservers=(*quiet, Nameserver(good.address, good.port)))
            started = time.monotonic()
            assessment = cyberscan.assess(["turn.test"], profile=profile, options=options, catalogue=cat)
            elapsed = time.monotonic() - started
    finally:
        for sock in silent:
            sock.close()
    assert not assessment.failures
    errors = [(r.check_id, r.message, dict(r.params)) for r in assessment.results if r.status is Status.ERROR]
    assert errors == []
    got = {r.check_id: r.status for r in assessment.results}
    assert set(got) == set(checks)
    for check_id in ("mail.spf", "mail.dmarc.policy", "mail.dmarc.rua", "mail.tlsrpt", "dns.caa"):
        assert got[check_id] is Status.PASS, check_id
    assert elapsed < BOUND
