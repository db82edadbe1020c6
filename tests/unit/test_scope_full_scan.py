"""A full scan (passive checks and the built-in port scan) contacts nothing outside its scope.

Every connection and datagram of the test process is recorded while cyberscan scans a zone whose
hosts live on their own loopback addresses, beside names and addresses it must leave alone.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan.assessment import assess
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.options import Nameserver, ScanOptions

ZONE = """
$TTL 300
@        SOA ns1 hostmaster 1 3600 600 86400 300
@        NS  ns1
ns1      A   127.0.61.53
@        A   127.0.61.1
www      CNAME @
@        MX  10 mail
mail     A   127.0.61.2
mta-sts  A   127.0.61.3
_mta-sts TXT "v=STSv1; id=1"
; names a scan must leave alone: not web, mail or policy hosts of the domain
intranet A   127.0.61.9
backup   A   127.0.61.10
_spf     TXT "v=spf1 ip4:127.0.61.11 -all"
@        TXT "v=spf1 include:_spf.scope.test -all"
"""
ALLOWED = {"127.0.61.1", "127.0.61.2", "127.0.61.3", "127.0.61.53"}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    connect, connect_ex, sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto

    def note(address: Any) -> None:
        if isinstance(address, tuple):
            seen.append(str(address[0]))

    def rec_connect(self: socket.socket, address: Any) -> Any:
        note(address)
        return connect(self, address)

    def rec_connect_ex(self: socket.socket, address: Any) -> Any:
        note(address)
        return connect_ex(self, address)

    def rec_sendto(self: socket.socket, data: bytes, *args: Any) -> Any:
        note(args[-1])
        return sendto(self, data, *args)

    monkeypatch.setattr(socket.socket, "connect", rec_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", rec_connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", rec_sendto)
    yield seen


def test_a_full_scan_contacts_only_the_domains_own_hosts_and_the_resolver(recorded: list[str]) -> None:
    zones = ZoneSet()
    zones.add_text("scope.test", ZONE)
    with LocalDnsServer(zones, host="127.0.0.1", port=0) as dns:
        catalogue = catalogue_mod.builtin()
        base = catalogue_mod.profile(catalogue, "default")
        profile = replace(base, settings={**base.settings, "dns_port": dns.port, "https_port": 8443,
                                          "http_port": 8080, "smtp_port": 2525,
                                          "portscan": {"nmap": False, "budget": 20, "connect_timeout": 0.3}})
        result = assess(["scope.test"], profile=profile, catalogue=catalogue,
                        options=ScanOptions(timeout=0.5, nameservers=(Nameserver("127.0.0.1", dns.port),),
                                            allow_private=True, ports=True, authorised=True))
    contacted = set(recorded) - {"127.0.0.1"}  # the resolver (and the test's own DNS server)
    assert contacted, "the scan contacted nothing: the test proves nothing"
    assert contacted <= ALLOWED, sorted(contacted - ALLOWED)
    probed = set(result.scan.addresses_probed)
    assert contacted - {"127.0.61.53"} <= probed  # every connection is in the report's list
    assert {"127.0.61.9", "127.0.61.10", "127.0.61.11"}.isdisjoint(contacted)
    assert any(r.check_id.startswith("net.") and r.status.value != "skipped" for r in result.results)
