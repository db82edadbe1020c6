"""Judgement of the port scan: literal facts in, expected status and message key out.

The check params come from the real catalogue (checks/net/*.yaml), so these tests also hold the
port lists and message keys of the catalogue to account.
"""

from __future__ import annotations

import dataclasses
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.engine import judge
from cyberscan.evaluators.net import eol_product, hosting_provider, identify, judge_service
from cyberscan.facts import Facts
from cyberscan.facts.ports import BUDGET, AddressScan, OpenPort, PortScan
from cyberscan.i18n import message
from cyberscan.models import ErrorReason, ProbeOutcome, Result, Status
from cyberscan.parsers.banner import parse_banner
from cyberscan.probes.portscan_nmap import facts_from_xml

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
    version=st.sampled_from(["", "5.7.44", "9.2p1", "1.28.0", "x", "9.2p1 Debian 2+deb12u10", "5.5.5-10.11.19-MariaDB-0+deb12u1"]),
    auth_methods=st.sampled_from([(), ("publickey",), ("password",)]),
    cert_names=st.sampled_from([(), ("museum.test",), ("a.test", "b.test", "c.test", "museum.test")]),
    title=st.sampled_from(["", "Ivanti Connect Secure", "Museum"]),
    extrainfo=st.sampled_from(["", "(Debian)", "protocol 2.0"]),
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


# ----------------------------------------------------------------------------- clean versions


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nmap"
EOL_MORE = {
    "products": {
        **EOL["products"],
        "mysql": {"title": "MySQL", "cycles": [{"cycle": "5.5", "eol": "2018-12-31"}, {"cycle": "8.0", "eol": "2026-04-30"}]},
        "mariadb": {"title": "MariaDB", "cycles": [{"cycle": "10.6", "eol": "2026-07-06"}, {"cycle": "10.11", "eol": "2028-02-16"}]},
        "apache": {"title": "Apache HTTP Server", "cycles": [{"cycle": "2.4", "eol": None, "latest": "2.4.65"}]},
        "iis": {"title": "Microsoft IIS", "cycles": [{"cycle": "10.0", "eol": None}]},
    }
}


def _recorded(name: str, address: str, tcp: tuple[int, ...]) -> PortScan:
    (scan,) = facts_from_xml((FIXTURES / name).read_text(), {address: ("museum.test",)}, tcp, ())
    return PortScan("museum.test", "nmap", (scan,), tcp)


def test_mariadb_is_judged_as_mariadb_not_as_the_mysql_it_pretends_to_be() -> None:
    fact = _recorded("banners.xml", "127.0.41.20", (3306,))
    (result,) = _judge("net.software.outdated", fact, data={"eol": EOL_MORE})
    assert (result.status, result.message) == (Status.PASS, "current")  # MariaDB 10.11, not MySQL 5.5 (end of life)
    assert result.params["services"] == ["MariaDB 10.11.19 (Debian) (127.0.41.20 3306/tcp)"]
    # a fact stored before the probe cleaned versions holds nmap's raw text: judged the same way
    raw = OpenPort(3306, service="mysql", product="MySQL", version="5.5.5-10.11.19-MariaDB-0+deb12u1",
                   cpe=("cpe:/a:mariadb:mariadb:5.5.5-10.11.19-mariadb-0%2Bdeb12u1",))
    (old,) = _judge("net.software.outdated", _fact(_addr("127.0.41.20", raw)), data={"eol": EOL_MORE})
    assert (old.status, old.message) == (Status.PASS, "current")
    assert "MariaDB 10.11.19 (Debian)" in old.params["services"][0]


def test_recorded_banners_are_judged_by_their_upstream_versions() -> None:
    fact = _recorded("banners.xml", "127.0.41.20", (80, 2200, 2201, 2202, 3306, 8080, 8081))
    results = _judge("net.software.outdated", fact, data={"eol": EOL_MORE})
    by_port = {r.subject.port: r for r in results}
    # OpenSSH below the recommended 9.8: the cycle is the product's own (9.2), never "9.2p1 Debian 2+deb12u10"
    debian = by_port[2200]
    assert (debian.status, debian.message, debian.params["cycle"]) == (Status.WARN, "outdated", "9.2")
    assert debian.params["service"] == "OpenSSH 9.2p1 (Debian) (127.0.41.20 2200/tcp)"
    judgement = debian.evidence["judgement"]
    assert (judgement["product"], judgement["version"], judgement["cycle"]) == ("openssh", "9.2p1", "9.2")
    assert debian.evidence["open"][0]["distribution"] == "Debian" and debian.evidence["open"][0]["build"] == "2+deb12u10"
    assert (by_port[2201].params["cycle"], by_port[2202].params["cycle"]) == ("8.9", "8.7")
    assert by_port[2200].subject.service == "openssh"
    apache = by_port[80]
    assert (apache.status, apache.message, apache.params["cycle"]) == (Status.WARN, "outdated", "2.4")  # 2.4.65 exists
    assert apache.params["service"] == "Apache httpd 2.4.57 (Debian) (127.0.41.20 80/tcp)"
    assert (by_port[8081].status, by_port[8081].message) == (Status.FAIL, "end-of-life")  # nginx 1.22
    assert sorted(by_port) == [80, 2200, 2201, 2202, 8081]  # MariaDB 10.11 and IIS 10.0 are supported


def test_banner_products_map_to_the_same_end_of_life_keys_as_nmaps() -> None:
    products = CAT.checks["net.software.outdated"].params["products"]
    cases = {
        b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.57 (Debian)\r\n\r\n": "apache",
        b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/10.0\r\n\r\n": "iis",
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n": "nginx",
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n": "openssh",
        b"n\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1\x00": "mariadb",
    }
    for banner, key in cases.items():
        info = parse_banner(banner)
        op = OpenPort(1, service=info.service, product=info.product, version=info.version)
        assert eol_product(op, products) == key, banner
        assert key in CAT.extras["eol"]["products"]


# ----------------------------------------------------------------------------- edge devices

EDGE_KEYS = {"fortios", "ivanti-connect-secure", "citrix-netscaler", "sonicwall-sonicos", "pulse-connect-secure"}
EOL_EDGE = {
    "products": {
        "fortios": {"title": "Fortinet FortiOS", "cycles": [{"cycle": "6.4", "eol": "2025-03-31"}, {"cycle": "7.4", "eol": None}]},
        "citrix-netscaler": {"title": "NetScaler ADC and Gateway",
                             "cycles": [{"cycle": "13.0", "eol": "2023-12-15"}, {"cycle": "14.1", "eol": None}]},
        "ivanti-connect-secure": {"title": "Ivanti Connect Secure", "cycles": [{"cycle": "22.7", "eol": None}]},
        "pulse-connect-secure": {"title": "Pulse Connect Secure", "cycles": [{"cycle": "9.1", "eol": "2024-12-31"}]},
        "sonicwall-sonicos": {"title": "SonicWall SonicOS", "cycles": [{"cycle": "7.0", "eol": None}]},
    }
}


def test_the_edge_device_products_are_the_end_of_life_keys() -> None:
    products = CAT.checks["net.exposed.remote_access"].params["products"]
    assert {p["product"] for p in products} == EDGE_KEYS


@pytest.mark.parametrize(
    ("name", "address", "port", "key", "named"),
    [
        ("edge-devices.xml", "127.0.41.21", 443, "fortios", "Fortinet SSL VPN"),
        ("edge-devices.xml", "127.0.41.21", 4433, "citrix-netscaler", "Citrix NetScaler httpd"),
        ("edge-devices.xml", "127.0.41.21", 8443, "citrix-netscaler", "Citrix NetScaler SSL VPN"),
        ("edge-devices.xml", "127.0.41.21", 10443, "pulse-connect-secure", "Pulse Secure VPN gateway http config"),
        ("edge-devices-2.xml", "127.0.41.22", 443, "sonicwall-sonicos", "SonicWALL SSL-VPN http proxy"),
        ("edge-devices-2.xml", "127.0.41.22", 8443, "ivanti-connect-secure", "Ivanti Connect Secure"),  # by its title
    ],
)
def test_recorded_edge_devices_map_to_their_product_keys(name: str, address: str, port: int, key: str, named: str) -> None:
    products = CAT.checks["net.exposed.remote_access"].params["products"]
    (scan,) = facts_from_xml((FIXTURES / name).read_text(), {address: ("museum.test",)}, (443, 4433, 8443, 10443), ())
    op = scan.find(port)
    assert op is not None
    assert identify(op, products) == (key, named)


def test_edge_devices_are_judged_and_named() -> None:
    first = _recorded("edge-devices.xml", "127.0.41.21", (443, 4433, 8443, 10443))
    second = _recorded("edge-devices-2.xml", "127.0.41.22", (443, 8443))
    results = _judge("net.exposed.remote_access", PortScan("museum.test", "nmap", first.addresses + second.addresses,
                                                             (443, 4433, 8443, 10443)), data={"eol": EOL_EDGE})
    seen = {(r.subject.address, r.subject.port): (r.status, r.message, r.params["product"]) for r in results}
    assert seen == {
        ("127.0.41.21", 443): (Status.INFO, "gateway-no-version", "Fortinet SSL VPN"),
        # NetScaler 13.0 reached its end of life on 2023-12-15 (CitrixBleed and later flaws stay open)
        ("127.0.41.21", 4433): (Status.FAIL, "end-of-life", "Citrix NetScaler httpd"),
        ("127.0.41.21", 8443): (Status.INFO, "gateway-no-version", "Citrix NetScaler SSL VPN"),
        ("127.0.41.21", 10443): (Status.INFO, "gateway-no-version", "Pulse Secure VPN gateway http config"),
        ("127.0.41.22", 443): (Status.INFO, "gateway-no-version", "SonicWALL SSL-VPN http proxy"),
        ("127.0.41.22", 8443): (Status.INFO, "gateway-no-version", "Ivanti Connect Secure"),
    }
    netscaler = next(r for r in results if r.subject.port == 4433)
    assert (netscaler.params["cycle"], netscaler.params["eol_date"]) == ("13.0", "2023-12-15")
    assert netscaler.evidence["product_key"] == "citrix-netscaler"
    ivanti = next(r for r in results if r.subject.port == 8443 and r.subject.address == "127.0.41.22")
    assert ivanti.params["service"] == "SSL-VPN (8443/tcp: Ivanti Connect Secure)"
    assert ivanti.evidence["open"][0]["title"] == "Ivanti Connect Secure"  # why it was recognised
    assert all(r.subject.service == "ssl-vpn" for r in results)


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (OpenPort(443, service="https", product="FortiGate SSL VPN", version="7.2.4"), ("fortios", Status.INFO, "gateway")),
        (OpenPort(443, service="https", product="Fortinet FortiGate SSL VPN", version="6.4.9"),
         ("fortios", Status.FAIL, "end-of-life")),
        (OpenPort(443, service="https", product="Ivanti Connect Secure", version="22.7R2.4"),
         ("ivanti-connect-secure", Status.INFO, "gateway")),
        (OpenPort(443, service="https", product="Pulse Connect Secure", version="9.1R18"),
         ("pulse-connect-secure", Status.FAIL, "end-of-life")),
        # an Ivanti release that nmap still fingerprints as Pulse: the title says which it is
        (OpenPort(443, service="https", product="Pulse Secure VPN gateway http config", title="Ivanti Connect Secure"),
         ("ivanti-connect-secure", Status.INFO, "gateway-no-version")),
        (OpenPort(443, service="http", product="Boa httpd", extrainfo="SonicWALL SSL-VPN 2.0 http proxy"),
         ("sonicwall-sonicos", Status.INFO, "gateway-no-version")),
        (OpenPort(443, service="https", tunnel="ssl", title="NetScaler Gateway"), ("citrix-netscaler", Status.INFO, "gateway-no-version")),
    ],
)
def test_edge_device_versions(op: OpenPort, expected: tuple[str, Status, str]) -> None:
    products = CAT.checks["net.exposed.remote_access"].params["products"]
    (result,) = _judge("net.exposed.remote_access", _fact(_addr("192.0.2.10", op)), data={"eol": EOL_EDGE})
    assert (identify(op, products)[0], result.status, result.message) == expected


@pytest.mark.parametrize(
    "title",
    ["Checkpoint Charlie museum", "Fortinet-sponsored exhibition", "Welcome - SSL VPN instructions for staff",
     "Our Ivanti Connect Secure guide"],  # titles are anyone's text: only an exact product name at the start counts
)
def test_a_website_whose_title_mentions_a_vendor_is_not_a_vpn_gateway(title: str) -> None:
    op = OpenPort(443, service="http", product="nginx", version="1.28.0", tunnel="ssl", title=title)
    assert _summary(_judge("net.exposed.remote_access", _fact(_addr("192.0.2.10", op)), data={"eol": EOL_EDGE})) == [
        (Status.PASS, "none-found")]


def test_a_broken_match_pattern_in_a_profile_is_an_error_never_a_pass() -> None:
    check = dataclasses.replace(CAT.checks["net.exposed.nas"], params={"ports": [{"port": 8080, "match": "qnap(", "label": "NAS"}]})
    facts = Facts("museum.test", {"net.ports": ProbeOutcome("net.ports", "museum.test", fact=_fact(_addr("192.0.2.10", WEB)))},
                  now=NOW, data={})
    (result,) = judge(check, facts, REG)
    assert (result.status, result.error_reason) == (Status.ERROR, ErrorReason.BUG)


def test_a_debian_openssh_build_on_a_port_is_judged_by_debians_support_and_says_so() -> None:
    """With the shipped end-of-life data: Debian 12's OpenSSH 9.2p1 build is supported (Debian LTS), and
    Debian 10's 7.9p1 build has had no security updates since its LTS ended."""
    eol_data = CAT.extras["eol"]
    facts = Facts("museum.test", {}, now=datetime(2026, 12, 2, tzinfo=UTC), data={"eol": eol_data})
    products = CAT.checks["net.software.outdated"].params["products"]
    current = judge_service(eol_data, OpenPort(22, service="ssh", product="OpenSSH", version="9.2p1 Debian 2+deb12u10"),
                            facts, products)
    assert current is not None and current.status == "supported" and current.by_distribution
    old = judge_service(eol_data, OpenPort(22, service="ssh", product="OpenSSH", version="7.9p1 Debian 10+deb10u4"),
                        facts, products)
    assert old is not None and old.status == "end-of-life" and old.by_distribution and old.cycle == "7.9"
