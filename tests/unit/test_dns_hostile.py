"""Hostile and unusual DNS: answers too large for UDP, alias loops and over-long alias chains, SPF
include trees built to explode, and TXT records carrying terminal control codes or HTML.

Each case asserts the verdict (a failure where the zone is provably broken, an error where the truth
is unknown, with the evidence), that the number of queries stays bounded, and that the scan ends
well within a generous bound.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.facts.mail import SpfFact
from cyberscan.models import ErrorReason, Status
from cyberscan.probes.dns import MAX_ALIASES
from cyberscan.probes.mail import MAX_TEMP_ERRORS, MAX_WALK_LOOKUPS
from tests.unit.test_dns_errors import SoaOnlyServer
from tests.unit.test_dns_probes import fact, of, scan_zones, summary, zone_text

BOUND = 60.0  # seconds


@dataclass
class CountingZones(ZoneSet):
    """A ZoneSet that remembers every question it was asked: (name, type)."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        if query.question:
            q = query.question[0]
            self.seen.append((q.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(q.rdtype)))
        return super().answer(query)

    def asked(self, rdtype: str, suffix: str = "") -> int:
        return sum(1 for name, t in self.seen if t == rdtype and name.endswith(suffix))


def txt_value(text: str) -> str:
    """A zone-file TXT value: character-strings of at most 250 bytes."""
    return " ".join(f'"{text[i : i + 250]}"' for i in range(0, len(text), 250))


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.monotonic()
    out = fn(*args, **kwargs)
    return out, time.monotonic() - started


# ------------------------------------------------------------------------------------------ large answers


SPF_BIG = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(100)) + " -all"  # about 1.8 KB
DMARC_BIG = "v=DMARC1; p=reject; rua=" + ",".join(f"mailto:dmarc-{i:02d}@big.test" for i in range(60))  # about 1.5 KB


def big_zones() -> ZoneSet:
    zones = ZoneSet()
    zones.add_text("big.test", zone_text("big.test", f"@ MX 10 mail\nmail A 192.0.2.1\n@ TXT {txt_value(SPF_BIG)}\n"
                                         f"_dmarc TXT {txt_value(DMARC_BIG)}\n"))  # fmt: skip
    return zones


def test_records_larger_than_the_edns_size_come_over_tcp_and_are_judged() -> None:
    assert len(SPF_BIG) > 1232 and len(DMARC_BIG) > 1232
    zones = big_zones()
    with LocalDnsServer(zones) as srv:
        query = dns.message.make_query("big.test.", "TXT", use_edns=0, payload=1232)
        udp = dns.query.udp(query, srv.address, port=srv.port, timeout=2)
        assert udp.flags & dns.flags.TC and not udp.answer  # too large for UDP: truncated, nothing judged
        tcp = dns.query.tcp(query, srv.address, port=srv.port, timeout=2)  # the same EDNS query over TCP: all
        assert b"".join(tcp.answer[0][0].strings).decode() == SPF_BIG
        result, elapsed = timed(scan_zones, zones, "big.test", ["mail.spf", "mail.dmarc.policy", "mail.dmarc.rua"],
                                server=srv)
    spf: SpfFact = fact(result, "dns.spf")
    assert spf.record == SPF_BIG
    assert summary(result, "mail.spf") == {("pass", "ok")}
    assert summary(result, "mail.dmarc.policy") == {("pass", "ok")}
    (rua,) = of(result, "mail.dmarc.rua")
    assert rua.status is Status.PASS and rua.params["addresses"].count("@big.test") == 60
    assert elapsed < BOUND


def test_a_truncated_answer_without_a_full_one_over_tcp_is_an_error_never_content() -> None:
    """UDP answers come back truncated (TC) and TCP closes at once: nothing is judged."""
    server, tcp = _udp_and_tcp()
    with server:
        stop = threading.Event()

        def hang_up() -> None:
            tcp.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = tcp.accept()
                except OSError:
                    continue
                conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        try:
            result, elapsed = timed(scan_zones, ZoneSet(), "silent.test", ["mail.spf", "mail.mx", "dns.caa"],
                                    server=_Fake(server.port), timeout=0.5)
        finally:
            stop.set()
            thread.join(2)
            tcp.close()
    for check_id in ("mail.spf", "mail.mx", "dns.caa"):
        (verdict,) = of(result, check_id)
        assert (verdict.status, verdict.error_reason) == (Status.ERROR, ErrorReason.TRUNCATED), check_id
        assert "Truncated" in verdict.params["detail"]
    assert elapsed < BOUND


def _udp_and_tcp() -> tuple[SoaOnlyServer, socket.socket]:
    """A truncating SoaOnlyServer and a TCP listener on the same (free) port."""
    for _ in range(20):
        server = SoaOnlyServer("truncate")
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", server.port))
        except OSError:  # that port is taken over TCP: pick another
            tcp.close()
            server.sock.close()
            continue
        tcp.listen(16)
        return server, tcp
    raise OSError("no port free for both UDP and TCP")


@dataclass
class _Fake:
    """Stands in for a LocalDnsServer in scan_zones (address and port only)."""

    port: int
    address: str = "127.0.0.1"


# ------------------------------------------------------------------------------------------ aliases


def test_alias_loop_and_a_chain_of_twenty_are_failures_with_their_chains() -> None:
    body = "www CNAME loop-a\nloop-a CNAME loop-b\nloop-b CNAME www\n"
    body += "shop CNAME c1\n" + "".join(f"c{i} CNAME c{i + 1}\n" for i in range(1, 20)) + "c20 A 192.0.2.1\n"
    body += "ten CNAME t1\n" + "".join(f"t{i} CNAME t{i + 1}\n" for i in range(1, MAX_ALIASES)) + f"t{MAX_ALIASES} A 192.0.2.1\n"
    zones = CountingZones()
    zones.add_text("alias.test", zone_text("alias.test", "@ A 192.0.2.1\n" + body))
    result, elapsed = timed(scan_zones, zones, "alias.test", ["dns.dangling", "web.https.available"],
                            extra_hosts=("shop.alias.test", "ten.alias.test"))
    found = {r.subject.host: r for r in of(result, "dns.dangling")}
    loop, long_chain = found["www.alias.test"], found["shop.alias.test"]
    assert (loop.status, loop.message) == (Status.FAIL, "loop")
    assert loop.evidence["aliases"]["www.alias.test"]["chain"] == ["loop-a.alias.test", "loop-b.alias.test", "www.alias.test"]
    assert (long_chain.status, long_chain.message) == (Status.FAIL, "too-long")
    assert long_chain.params["count"] == MAX_ALIASES
    assert long_chain.evidence["aliases"]["shop.alias.test"]["chain"][-1] == f"c{MAX_ALIASES}.alias.test"
    assert "ten.alias.test" not in found or found["ten.alias.test"].status is not Status.FAIL  # ten hops: fine
    assert zones.asked("CNAME", "alias.test") <= 4 * (MAX_ALIASES + 2)  # bounded per name
    # the web checks cannot reach the loop or the long chain: errors, never "no website"
    web = {r.subject.host: r for r in of(result, "web.https.available")}
    for host in ("www.alias.test", "shop.alias.test"):
        assert web[host].status is Status.ERROR and web[host].message == "endpoint.lookup-failed", host
    assert elapsed < BOUND


# ------------------------------------------------------------------------------------------ SPF explosion


def _tree_zone(fanout: int, depth: int) -> str:
    """Every record includes ``fanout`` more, ``depth`` levels down: fanout ** depth leaves."""
    lines = []

    def node(label: str, level: int) -> None:
        owner = label or "@"
        if level == depth:
            lines.append(f'{owner} TXT "v=spf1 -all"')
            return
        children = [f"n{label}{i}" if not label else f"{label}{i}" for i in range(fanout)]
        record = "v=spf1 " + " ".join(f"include:{c}.spf.test" for c in children) + " -all"
        lines.append(f"{owner} TXT {txt_value(record)}")
        for child in children:
            node(child, level + 1)

    node("", 0)
    return "\n".join(lines) + "\n"


def test_an_include_tree_built_to_explode_stops_early_and_stays_bounded() -> None:
    zones = CountingZones()
    zones.add_text("spf.test", zone_text("spf.test", _tree_zone(10, 3)))  # 1110 records
    result, elapsed = timed(scan_zones, zones, "spf.test", ["mail.spf"])
    spf: SpfFact = fact(result, "dns.spf")
    assert spf.truncated
    assert spf.lookups <= MAX_WALK_LOOKUPS + 1
    assert len(spf.nodes) <= MAX_WALK_LOOKUPS + 1
    assert zones.asked("TXT") <= MAX_WALK_LOOKUPS + 2  # the root twice (probe and walk) at most, then one per include
    (verdict,) = of(result, "mail.spf")
    assert (verdict.status, verdict.message) == (Status.FAIL, "too-many-lookups")
    assert verdict.params["count"] == f"{spf.lookups}+"
    assert verdict.evidence["lookups"] == spf.lookups and len(verdict.evidence["tree"]) == len(spf.nodes)
    assert elapsed < BOUND


def test_hundreds_of_includes_in_one_record_stop_early() -> None:
    record = "v=spf1 " + " ".join(f"include:i{i}.spf.test" for i in range(300)) + " -all"  # about 5.5 KB: TCP
    body = f"@ TXT {txt_value(record)}\n" + "".join(f'i{i} TXT "v=spf1 -all"\n' for i in range(300))
    zones = CountingZones()
    zones.add_text("spf.test", zone_text("spf.test", body))
    result, elapsed = timed(scan_zones, zones, "spf.test", ["mail.spf"])
    spf: SpfFact = fact(result, "dns.spf")
    assert spf.record == record and spf.truncated
    assert zones.asked("TXT") <= MAX_WALK_LOOKUPS + 2
    assert summary(result, "mail.spf") == {("fail", "too-many-lookups")}
    assert elapsed < BOUND


def test_includes_that_never_answer_stop_after_a_few_timeouts() -> None:
    record = "v=spf1 " + " ".join(f"include:h{i}.spf.test" for i in range(30)) + " -all"
    zones = CountingZones()
    zones.add_text("spf.test", zone_text("spf.test", f"@ TXT {txt_value(record)}\n"))
    zones.hang.update(f"h{i}.spf.test" for i in range(30))
    result, elapsed = timed(scan_zones, zones, "spf.test", ["mail.spf"], timeout=0.5)
    (verdict,) = of(result, "mail.spf")
    assert (verdict.status, verdict.message, verdict.error_reason) == (Status.ERROR, "lookup-failed", ErrorReason.SERVFAIL)
    spf: SpfFact = fact(result, "dns.spf")
    assert len(spf.temp_errors) == MAX_TEMP_ERRORS and spf.truncated
    assert all("timeout" in t for t in spf.temp_errors)
    assert len({name for name, t in zones.seen if t == "TXT" and name.startswith("h")}) == MAX_TEMP_ERRORS
    assert elapsed < BOUND


# ------------------------------------------------------------------------------------------ text as data


ESC_SPF = "v=spf1 \x1b[2J\x1b[31m mx -all"
HTML_SPF = "v=spf1 <script>alert(1)</script> -all"
HTML_DMARC = 'v=DMARC1; p=reject; rua=mailto:<img src=x onerror="alert(1)">@x.test'


def _zone_escape(text: str) -> str:
    """``text`` as one zone-file character-string (control characters as \\DDD, quotes escaped)."""
    out = "".join(f"\\{ord(c):03d}" if ord(c) < 32 or c in '"\\' else c for c in text)
    return f'"{out}"'


def test_control_codes_and_html_in_txt_records_stay_data() -> None:
    zones = ZoneSet()
    zones.add_text("esc.test", zone_text("esc.test", f"@ MX 10 mail\nmail A 192.0.2.1\n@ TXT {_zone_escape(ESC_SPF)}\n"
                                         f"_dmarc TXT {_zone_escape(HTML_DMARC)}\n"
                                         f"_dmarc TXT {_zone_escape('<b>hello</b>')}\n"))  # fmt: skip
    zones.add_text("html.test", zone_text("html.test", f"@ TXT {_zone_escape(HTML_SPF)}\n"))
    with LocalDnsServer(zones) as srv:
        esc = scan_zones(zones, "esc.test", ["mail.spf", "mail.dmarc.policy", "mail.dmarc.rua"], server=srv)
        html = scan_zones(zones, "html.test", ["mail.spf"], server=srv)
    # the record is kept exactly as published, and judged as text: not SPF syntax
    assert fact(esc, "dns.spf").record == ESC_SPF
    (spf,) = of(esc, "mail.spf")
    assert (spf.status, spf.message) == (Status.FAIL, "syntax") and spf.evidence["record"] == ESC_SPF
    (spf_html,) = of(html, "mail.spf")
    assert (spf_html.status, spf_html.message) == (Status.FAIL, "syntax") and spf_html.evidence["record"] == HTML_SPF
    dmarc = fact(esc, "dns.dmarc")
    assert dmarc.records == (HTML_DMARC,) and dmarc.other_txt == ("<b>hello</b>",)
    assert summary(esc, "mail.dmarc.rua") == {("fail", "bad-uri")}
    assert summary(esc, "mail.dmarc.policy") == {("pass", "ok")}  # p=reject is read, the rest is data


def test_control_codes_from_dns_never_reach_the_terminal() -> None:
    from dataclasses import replace

    import cyberscan
    from cyberscan import catalogue as catalogue_mod
    from cyberscan import registry as registry_mod
    from cyberscan.options import Nameserver, ScanOptions
    from cyberscan.render import Report, render

    zones = ZoneSet()
    zones.add_text("esc.test", zone_text("esc.test", f"@ MX 10 mail\nmail A 192.0.2.1\n@ TXT {_zone_escape(ESC_SPF)}\n"))
    cat, registry = catalogue_mod.builtin(), registry_mod.load()
    with LocalDnsServer(zones) as srv:
        profile = replace(catalogue_mod.profile(cat, "default"), include=("mail.spf",), include_tags=())
        options = ScanOptions(timeout=1, nameservers=(Nameserver(srv.address, srv.port),), allow_private=True)
        assessment = cyberscan.assess(["esc.test"], profile=profile, options=options, catalogue=cat, registry=registry)
    assert [r.message for r in assessment.results] == ["syntax"]
    out = render("terminal", Report(assessment, "en"), registry)
    assert "\x1b" not in out


# ------------------------------------------------------------------------------------------ huge record sets


def test_a_domain_with_thousands_of_mx_and_many_ns_records_stays_bounded_and_says_so() -> None:
    mx = "\n".join(f"@ MX {i} mx{i}.huge.test." for i in range(2000))
    ns = "\n".join(f"@ NS ns{i}.huge.test." for i in range(60))
    hosts = "\n".join(f"mx{i} A 192.0.2.{1 + i % 250}" for i in range(2000))
    zones = CountingZones()
    zones.add_text("huge.test", zone_text("huge.test", f"{mx}\n{ns}\n{hosts}\n"))
    result, took = timed(scan_zones, zones, "huge.test", ["mail.mx", "dns.ns", "mail.starttls"], timeout=3.0)
    assert took < BOUND
    inventory = fact(result, "hosts.inventory")
    assert len(inventory.with_role("mx")) == 10 and inventory.capped == 1990
    assert len(fact(result, "dns.mx_hosts").targets) == 10
    assert len(fact(result, "dns.ns").names) == 13
    keys = {n.key for n in result.notices}
    assert {"limits.mx-capped", "limits.ns-capped"} <= keys
    assert zones.asked("A", ".huge.test") < 100  # not 2,000 address lookups
