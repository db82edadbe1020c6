"""Judgement of the port scan: literal facts in, expected status and message key out.

The check params come from the real catalogue (checks/net/*.yaml), so these tests also hold the
port lists and message keys of the catalogue to account.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.engine import judge
from cyberscan.evaluators.net import hosting_provider
from cyberscan.facts import Facts
from cyberscan.facts.ports import BUDGET, AddressScan, OpenPort, PortScan
from cyberscan.i18n import message
from cyberscan.models import ErrorReason, ProbeOutcome, Result, Status

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CAT = catalogue_mod.builtin()
REG = registry_mod.load()

HOSTING = {
    "providers": [{"name": "TransIP", "ptr_suffixes": ["transip.net"]}, {"name": "Hetzner", "ptr_suffixes": ["your-server.de"]}],
    "generic_ptr_patterns": [r"(^|[.-])(shared|vps|webhosting)[0-9]*([.-]|$)"],
}
EOL = {
    "products": {
        "openssh": {"title": "OpenSSH", "eol_before": "7.4", "min_recommended": "9.8"},
        "mysql": {"title": "MySQL", "cycles": [{"cycle": "5.7", "eol": "2023-10-31"}, {"cycle": "8.4", "eol": None}]},
        "nginx": {"title": "nginx", "cycles": [{"cycle": "1.28", "eol": None}]},
    }
}


def _tcp_ports() -> tuple[int, ...]:
    ports: set[int] = set()
    for check in CAT.checks.values():
        if "net.ports" in check.needs:
            for entry in check.params.get("ports") or ():
                if entry.get("proto", "tcp") == "tcp":
                    ports.add(int(entry["port"]))
    return tuple(sorted(ports))


TCP = _tcp_ports()
UDP = (161, 500, 623, 1194, 3671, 47808)


def _addr(address: str = "192.0.2.10", *open_ports: OpenPort, ptr: tuple[str, ...] = (), **kw: Any) -> AddressScan:
    base: dict[str, Any] = {"scanned_tcp": TCP, "scanned_udp": UDP}
    base.update(kw)
    return AddressScan(address, ("museum.test", "www.museum.test"), ptr, "nmap", open=tuple(open_ports), **base)


def _fact(*addresses: AddressScan, udp_skipped: str = "") -> PortScan:
    return PortScan("museum.test", "nmap", tuple(addresses), TCP, UDP, udp_skipped=udp_skipped)


def _judge(check_id: str, fact: PortScan, *, data: dict[str, Any] | None = None) -> list[Result]:
    check = CAT.checks[check_id]
    facts = Facts("museum.test", {"net.ports": ProbeOutcome("net.ports", "museum.test", fact=fact)}, now=NOW, data={"hosting": HOSTING, "eol": EOL} if data is None else data)
    results = judge(check, facts, REG)
    for result in results:  # every message exists in both languages and every placeholder is filled
        templates = check.messages.get(result.message) or CAT.extras["messages"].get(result.message)
        assert templates is not None, result.message
        for lang in ("nl", "en"):
            text = message(CAT, check, result, lang)
            fields = {f for _, f, _, _ in string.Formatter().parse(templates[lang]) if f}
            assert fields <= set(result.params), (result.message, fields - set(result.params))
            assert "{" not in text
    return results


def _summary(results: list[Result]) -> list[tuple[Status, str]]:
    return [(r.status, r.message) for r in results]


RDP = OpenPort(3389, service="ms-wbt-server", product="Microsoft Terminal Services")
SSH_PW = OpenPort(22, service="ssh", product="OpenSSH", version="9.2p1 Debian 2+deb12u10", auth_methods=("publickey", "password"))
SSH_KEYS = OpenPort(22, service="ssh", product="OpenSSH", version="9.9p1", auth_methods=("publickey",))
SSH_UNKNOWN = OpenPort(22, service="ssh", product="OpenSSH", version="9.2p1", banner="SSH-2.0-OpenSSH_9.2p1")
REDIS = OpenPort(6379, service="redis", product="Redis key-value store", version="7.0.15")
WEB = OpenPort(443, service="http", product="nginx", version="1.28.0", tunnel="ssl")


def test_open_rdp_fails_with_the_address_names_and_product() -> None:
    (result,) = _judge("net.exposed.rdp", _fact(_addr("192.0.2.10", RDP), _addr("192.0.2.11")))
    assert (result.status, result.message) == (Status.FAIL, "open")
    subject = result.subject
    assert (subject.domain, subject.host, subject.address, subject.port, subject.service) == (
        "museum.test", None, "192.0.2.10", 3389, "rdp")
    assert subject.names == ("museum.test", "www.museum.test")
    assert result.key == "net.exposed.rdp|museum.test||192.0.2.10|3389|rdp"
    assert result.params["services"] == ["RDP (3389/tcp: Microsoft Terminal Services)"]
    assert result.params["names"] == ["museum.test", "www.museum.test"]
    assert result.evidence["open"] == [{"port": 3389, "proto": "tcp", "service": "ms-wbt-server", "product": "Microsoft Terminal Services"}]


def test_rdp_on_a_hosting_providers_server_is_a_supplier_matter() -> None:
    (result,) = _judge("net.exposed.rdp", _fact(_addr("192.0.2.10", RDP, ptr=("s12.transip.net",))))
    assert (result.status, result.message) == (Status.WARN, "open-hosted")
    assert result.params["provider"] == "TransIP"
    assert "TransIP" in message(CAT, CAT.checks["net.exposed.rdp"], result, "nl")


@pytest.mark.parametrize(
    ("check_id", "fact", "expected"),
    [
        ("net.exposed.rdp", _fact(_addr(), _addr("2001:db8::1")), [(Status.PASS, "closed")]),
        ("net.exposed.smb", _fact(_addr("192.0.2.10", OpenPort(445, service="microsoft-ds"))), [(Status.FAIL, "open")]),
        ("net.exposed.smb", _fact(_addr("192.0.2.10", OpenPort(139, service="netbios-ssn"))), [(Status.FAIL, "open")]),
        ("net.exposed.ftp", _fact(_addr("192.0.2.10", OpenPort(21, service="ftp", product="vsftpd"))), [(Status.FAIL, "open")]),
        ("net.exposed.telnet", _fact(_addr("192.0.2.10", OpenPort(23, service="telnet"))), [(Status.FAIL, "open")]),
        ("net.exposed.db", _fact(_addr("192.0.2.10", REDIS)), [(Status.FAIL, "open")]),
        ("net.exposed.db", _fact(_addr("192.0.2.10", WEB)), [(Status.PASS, "closed")]),
        ("net.exposed.vnc", _fact(_addr("192.0.2.10", OpenPort(5901, service="vnc"))), [(Status.FAIL, "open")]),
        ("net.exposed.nas", _fact(_addr("192.0.2.10", OpenPort(5001, service="http", tunnel="ssl"))), [(Status.FAIL, "open")]),
        # 8080 counts as a NAS only when the service says so
        ("net.exposed.nas", _fact(_addr("192.0.2.10", OpenPort(8080, service="http", product="Apache Tomcat"))), [(Status.PASS, "closed")]),
        ("net.exposed.nas", _fact(_addr("192.0.2.10", OpenPort(8080, service="http", product="QNAP QTS web interface"))), [(Status.FAIL, "open")]),
        ("net.exposed.admin", _fact(_addr("192.0.2.10", SSH_PW)), [(Status.FAIL, "ssh-password")]),
        ("net.exposed.admin", _fact(_addr("192.0.2.10", SSH_PW, ptr=("vps12.example-host.test",))), [(Status.WARN, "ssh-password-hosted")]),
        ("net.exposed.admin", _fact(_addr("192.0.2.10", SSH_KEYS)), [(Status.PASS, "closed")]),
        ("net.exposed.admin", _fact(_addr("192.0.2.10", SSH_UNKNOWN)), [(Status.WARN, "ssh-auth-unknown")]),
        ("net.exposed.admin", _fact(_addr("192.0.2.10", OpenPort(161, proto="udp", service="snmp"))), [(Status.FAIL, "open")]),
        ("net.exposed.ics_bms", _fact(_addr("192.0.2.10", OpenPort(502, service="mbap"))), [(Status.FAIL, "open")]),
        ("net.exposed.ics_bms", _fact(_addr("192.0.2.10", OpenPort(47808, proto="udp", service="bacnet"))), [(Status.FAIL, "open")]),
        (
            "net.exposed.ics_bms",
            _fact(_addr(scanned_udp=()), udp_skipped="needs-root"),
            [(Status.PASS, "closed"), (Status.SKIPPED, "udp-needs-root")],
        ),
        (
            "net.exposed.ics_bms",
            _fact(_addr("192.0.2.10", OpenPort(1911, service="niagara-fox"), scanned_udp=()), udp_skipped="no-nmap"),
            [(Status.FAIL, "open"), (Status.SKIPPED, "udp-no-nmap")],
        ),
        ("net.exposed.rdp", _fact(), [(Status.INFO, "no-addresses")]),
        ("net.exposed.rdp", _fact(_addr(scanned_tcp=(22,))), [(Status.SKIPPED, "not-scanned")]),
    ],
)
def test_exposed_services(check_id: str, fact: PortScan, expected: list[tuple[Status, str]]) -> None:
    assert _summary(_judge(check_id, fact)) == expected


def test_several_exposed_ports_on_one_address_are_separate_findings() -> None:
    ports = (RDP, OpenPort(445, service="microsoft-ds"), OpenPort(5900, service="vnc"))
    results = _judge("net.exposed.rdp", _fact(_addr("192.0.2.10", *ports), _addr("192.0.2.11", RDP)))
    assert [(r.status, r.subject.address, r.subject.port) for r in results] == [
        (Status.FAIL, "192.0.2.10", 3389), (Status.FAIL, "192.0.2.11", 3389)]
    admin = _judge("net.exposed.admin", _fact(_addr("192.0.2.10", SSH_PW, OpenPort(10000, service="http", product="MiniServ"),
                                                    OpenPort(161, proto="udp", service="snmp"))))
    assert [(r.status, r.message, r.subject.port, r.subject.service) for r in admin] == [
        (Status.FAIL, "ssh-password", 22, "ssh"), (Status.FAIL, "open", 10000, "webmin"), (Status.FAIL, "open", 161, "snmp")]
    assert len({r.key for r in admin}) == 3
    assert [r.params["services"] for r in admin][1] == ["Webmin (10000/tcp: MiniServ)"]
    assert [r.evidence["open"][0]["port"] for r in admin] == [22, 10000, 161]


def test_an_address_that_was_not_scanned_is_an_error_never_a_pass() -> None:
    timeout = _addr("192.0.2.10", error=ErrorReason.TIMEOUT, detail="nmap: --host-timeout", scanned_tcp=())
    results = _judge("net.exposed.rdp", _fact(timeout, _addr("192.0.2.11")))
    assert _summary(results) == [(Status.ERROR, "scan-timeout")]
    assert results[0].error_reason is ErrorReason.TIMEOUT
    assert (results[0].subject.address, results[0].subject.port) == ("192.0.2.10", None)
    budget = _judge("net.exposed.db", _fact(_addr("192.0.2.10", error=ErrorReason.TIMEOUT, detail=BUDGET, scanned_tcp=())))
    assert _summary(budget) == [(Status.ERROR, "scan-budget")]
    failed = _judge("net.exposed.db", _fact(_addr("192.0.2.10", error=ErrorReason.UNREACHABLE, detail="nmap: x", scanned_tcp=())))
    assert _summary(failed) == [(Status.ERROR, "scan-failed")]
    assert failed[0].error_reason is ErrorReason.UNREACHABLE
    stopped = _judge("net.exposed.db", _fact(_addr("192.0.2.10", error=ErrorReason.INTERRUPTED, scanned_tcp=())))
    assert _summary(stopped) == [(Status.ERROR, "endpoint.interrupted")]
    # an error on one address does not hide an exposure on another
    mixed = _judge("net.exposed.rdp", _fact(timeout, _addr("192.0.2.11", RDP)))
    assert _summary(mixed) == [(Status.ERROR, "scan-timeout"), (Status.FAIL, "open")]


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        (_fact(_addr()), [(Status.PASS, "none-found")]),
        (_fact(_addr("192.0.2.10", WEB)), [(Status.PASS, "none-found")]),  # a website is not a VPN
        (_fact(_addr("192.0.2.10", OpenPort(443, service="https", product="Fortinet SSL VPN"))), [(Status.INFO, "gateway-no-version")]),
        (_fact(_addr("192.0.2.10", OpenPort(10443, service="https", product="", version=""))), [(Status.INFO, "gateway-no-version")]),
        (_fact(_addr("192.0.2.10", OpenPort(1194, proto="udp", service="openvpn", product="OpenVPN", version="2.6"))), [(Status.INFO, "gateway")]),
        (_fact(_addr("192.0.2.10", OpenPort(1723, service="pptp"))), [(Status.FAIL, "obsolete")]),
        (_fact(_addr(scanned_udp=()), udp_skipped="needs-root"), [(Status.PASS, "none-found"), (Status.SKIPPED, "udp-needs-root")]),
    ],
)
def test_remote_access(fact: PortScan, expected: list[tuple[Status, str]]) -> None:
    assert _summary(_judge("net.exposed.remote_access", fact)) == expected


@pytest.mark.parametrize(
    ("open_ports", "expected", "extra"),
    [
        ((SSH_PW,), [(Status.WARN, "outdated")], {"recommended": "9.8"}),
        ((OpenPort(22, service="ssh", product="OpenSSH", version="7.2p2 Ubuntu 4ubuntu2.10"),), [(Status.FAIL, "end-of-life")], {}),
        ((OpenPort(3306, service="mysql", product="MySQL", version="5.7.44"),), [(Status.FAIL, "end-of-life")], {"eol_date": "2023-10-31"}),
        ((WEB,), [(Status.PASS, "current")], {}),
        ((REDIS,), [(Status.INFO, "unjudged")], {}),  # not in this end-of-life data
        ((OpenPort(21, service="ftp", product="vsftpd"),), [(Status.INFO, "unjudged")], {}),  # no version
        ((OpenPort(3389, service="ms-wbt-server"),), [(Status.INFO, "no-versions")], {}),
        # judged by the CPE when the product name is not in the products table
        ((OpenPort(2222, service="ssh", product="Some SSH", version="7.0", cpe=("cpe:/a:openbsd:openssh:7.0",)),), [(Status.FAIL, "end-of-life")], {}),
    ],
)
def test_software_outdated(open_ports: tuple[OpenPort, ...], expected: list[tuple[Status, str]], extra: dict[str, str]) -> None:
    results = _judge("net.software.outdated", _fact(_addr("192.0.2.10", *open_ports)))
    assert _summary(results) == expected
    for key, value in extra.items():
        assert results[0].params[key] == value


def test_software_outdated_without_eol_data_judges_nothing() -> None:
    results = _judge("net.software.outdated", _fact(_addr("192.0.2.10", SSH_PW)), data={})
    assert _summary(results) == [(Status.INFO, "unjudged")]


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        (_fact(_addr("192.0.2.10", WEB, ptr=("web3.your-server.de",))), [(Status.INFO, "hosted")]),
        (_fact(_addr("192.0.2.10", WEB, REDIS, ptr=("web3.your-server.de",))), [(Status.WARN, "hosted-exposed")]),
        (_fact(_addr("192.0.2.10", REDIS, ptr=("www.museum.test",))), [(Status.INFO, "not-hosted")]),
        (_fact(_addr("192.0.2.10", error=ErrorReason.TIMEOUT, ptr=("x.transip.net",), scanned_tcp=())), [(Status.ERROR, "scan-timeout")]),
        # an address not scanned may still be a shared server: not "not hosted", unknown
        (_fact(_addr("192.0.2.10", REDIS), _addr("192.0.2.11", error=ErrorReason.UNREACHABLE, scanned_tcp=())),
         [(Status.ERROR, "scan-failed")]),
        (_fact(), [(Status.INFO, "no-addresses")]),
    ],
)
def test_supplier(fact: PortScan, expected: list[tuple[Status, str]]) -> None:
    results = _judge("net.exposed.supplier", fact)
    assert _summary(results) == expected


@pytest.mark.parametrize(
    ("ptr", "expected"),
    [
        (("s12.transip.net",), "TransIP"),
        (("transip.net",), "TransIP"),
        (("nottransip.net",), None),  # whole labels only
        (("static.12.34.clients.your-server.de",), "Hetzner"),
        (("shared5.example-hosting.test",), "example-hosting.test"),
        (("vps-123.cheap.test",), "cheap.test"),
        (("vps12.webhost.co.uk",), "webhost.co.uk"),  # with the public suffix list
        (("mail.museum.test",), None),  # the organisation's own name
        (("vps.museum.test",), None),
        (("dsl-84-1-2-3.isp.test",), None),
        ((), None),
    ],
)
def test_hosting_provider(ptr: tuple[str, ...], expected: str | None) -> None:
    assert hosting_provider(ptr, "museum.test", HOSTING, ["co.uk"]) == expected


def test_hosting_provider_with_real_data_file() -> None:
    assert hosting_provider(("srv1.transip.net",), "museum.test", CAT.extras["hosting"]) == "TransIP"
    assert hosting_provider(("ec2-1-2-3-4.eu-west-1.compute.amazonaws.com",), "museum.test", CAT.extras["hosting"]) == "Amazon Web Services"


def test_every_net_check_is_active_and_maps_to_existing_framework_items() -> None:
    net = [c for c in CAT.checks.values() if c.id.startswith("net.")]
    assert {c.id for c in net} >= {
        "net.exposed.rdp", "net.exposed.smb", "net.exposed.ftp", "net.exposed.telnet", "net.exposed.db", "net.exposed.vnc",
        "net.exposed.nas", "net.exposed.admin", "net.exposed.ics_bms", "net.exposed.remote_access", "net.software.outdated",
    }  # fmt: skip
    for check in net:
        assert check.active, check.id
        assert check.needs == ("net.ports",)
        assert all(CAT.item(item) is not None for item in check.maps_to), check.id
    assert CAT.checks["net.exposed.supplier"].maps_to.get("den.check.3") == "partial"
    assert CAT.checks["net.exposed.ics_bms"].maps_to.get("den.check.3") == "direct"


SHARED_TLS = OpenPort(
    443, service="http", product="nginx", version="1.28.0", tunnel="ssl",
    cert_names=("web01.sharedhost.test", "museum.test", "www.museum.test", "bakery.test", "dentist.test", "*.photos.test"),
)  # fmt: skip
OWN_TLS = OpenPort(443, service="http", tunnel="ssl", cert_names=("museum.test", "www.museum.test", "shop.museum.test", "bakery.test"))


def test_a_server_shared_by_many_domains_is_a_supplier_matter_even_without_reverse_dns() -> None:
    (result,) = _judge("net.exposed.db", _fact(_addr("192.0.2.10", SHARED_TLS, REDIS)))
    assert (result.status, result.message) == (Status.WARN, "open-shared")
    assert result.params["count"] == 4 and result.params["examples"] == ["bakery.test", "dentist.test", "photos.test"]
    assert result.evidence["supplier"]["other_domains"] == ["bakery.test", "dentist.test", "photos.test", "sharedhost.test"]
    (admin,) = _judge("net.exposed.admin", _fact(_addr("192.0.2.10", SHARED_TLS, SSH_PW)))
    assert (admin.status, admin.message) == (Status.WARN, "ssh-password-shared")
    # a certificate for the museum's own names plus one other is not "shared hosting"
    (own,) = _judge("net.exposed.db", _fact(_addr("192.0.2.10", OWN_TLS, REDIS)))
    assert (own.status, own.message) == (Status.FAIL, "open")
    # the reverse DNS name wins when both are known: the provider can be named
    (named,) = _judge("net.exposed.db", _fact(_addr("192.0.2.10", SHARED_TLS, REDIS, ptr=("s1.transip.net",))))
    assert (named.message, named.params["provider"]) == ("open-hosted", "TransIP")


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        (_fact(_addr("192.0.2.10", SHARED_TLS)), [(Status.INFO, "shared")]),
        (_fact(_addr("192.0.2.10", SHARED_TLS, REDIS)), [(Status.WARN, "shared-exposed")]),
        (_fact(_addr("192.0.2.10", OWN_TLS, REDIS)), [(Status.INFO, "not-hosted")]),
    ],
)
def test_supplier_shared_server(fact: PortScan, expected: list[tuple[Status, str]]) -> None:
    assert _summary(_judge("net.exposed.supplier", fact)) == expected


def test_shared_threshold_comes_from_the_data_file() -> None:
    strict = {**HOSTING, "shared_min_domains": 10}
    (result,) = _judge("net.exposed.db", _fact(_addr("192.0.2.10", SHARED_TLS, REDIS)), data={"hosting": strict, "eol": EOL})
    assert result.message == "open"


_ports = st.builds(
    OpenPort,
    port=st.sampled_from([21, 22, 23, 139, 443, 445, 502, 1194, 1723, 3306, 3389, 5000, 5900, 6379, 8080, 10443, 47808]),
    proto=st.sampled_from(["tcp", "udp"]),
    service=st.sampled_from(["", "ssh", "http", "vnc", "redis"]),
    product=st.sampled_from(["", "OpenSSH", "MySQL", "nginx", "Fortinet SSL VPN", "QNAP QTS", "Redis key-value store"]),
    version=st.sampled_from(["", "5.7.44", "9.2p1", "1.28.0", "x"]),
    auth_methods=st.sampled_from([(), ("publickey",), ("password",)]),
    cert_names=st.sampled_from([(), ("museum.test",), ("a.test", "b.test", "c.test", "museum.test")]),
)
_addresses = st.builds(
    AddressScan,
    address=st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1"]),
    names=st.just(("museum.test",)),
    ptr=st.sampled_from([(), ("s1.transip.net",), ("vps.cheap.test",), ("www.museum.test",)]),
    method=st.sampled_from(["nmap", "connect"]),
    scanned_tcp=st.sampled_from([(), TCP, (22, 3389)]),
    scanned_udp=st.sampled_from([(), UDP]),
    open=st.lists(_ports, max_size=4).map(tuple),
    error=st.sampled_from([None, None, ErrorReason.TIMEOUT, ErrorReason.UNREACHABLE, ErrorReason.INTERRUPTED]),
    detail=st.sampled_from(["", BUDGET]),
)
_facts = st.builds(
    PortScan,
    domain=st.just("museum.test"),
    method=st.sampled_from(["nmap", "connect"]),
    addresses=st.lists(_addresses, max_size=3).map(tuple),
    udp_skipped=st.sampled_from(["", "needs-root", "no-nmap", "disabled"]),
)


@settings(max_examples=150, deadline=None)
@given(_facts)
def test_net_evaluators_are_total_and_use_only_catalogue_messages(fact: PortScan) -> None:
    for check_id in [c for c in CAT.checks if c.startswith("net.")]:
        results = _judge(check_id, fact)  # asserts every message key and placeholder exists
        assert results
        assert all(r.status is not Status.ERROR or r.error_reason is not None for r in results)
        if any(not a.ok for a in fact.addresses):  # an address not examined never lets a check pass
            assert Status.PASS not in {r.status for r in results}, check_id
