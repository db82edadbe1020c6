"""nmap XML parser: recorded output of the real nmap 7.93 (tests/fixtures/nmap/), plus property tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberscan.parsers.nmap import NmapRun, parse_nmap_xml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nmap"


def _load(name: str) -> NmapRun:
    return parse_nmap_xml((FIXTURES / name).read_text(encoding="utf-8"))


def _ports(run: NmapRun) -> dict[tuple[int, str], object]:
    return {(p.port, p.proto): p for p in run.hosts[0].ports}


def test_open_services_recorded_against_loopback_daemons() -> None:
    run = _load("open-services.xml")
    assert run.error == "" and run.finished and run.exit == "success" and run.version == "7.93"
    (host,) = run.hosts
    assert host.address == "127.0.40.1" and host.addrtype == "ipv4" and not host.timed_out
    ports = {p.port: p for p in host.ports}
    assert {p for p, v in ports.items() if v.is_open} == {21, 22, 23, 502, 1723, 3389, 5000, 5900, 6379}
    assert ports[139].state == "closed" and ports[139].reason == "reset"
    ssh = ports[22]
    assert (ssh.service, ssh.product, ssh.version) == ("ssh", "OpenSSH", "9.2p1 Debian 2+deb12u10")
    assert ssh.auth_methods == ("publickey", "password")
    assert "cpe:/a:openbsd:openssh:9.2p1" in ssh.cpe
    assert ports[6379].product == "Redis key-value store" and ports[6379].version == "7.0.15"
    assert ports[3389].product == "Microsoft Terminal Services" and ports[3389].method == "probed"
    assert ports[5900].service == "vnc" and ports[5900].extrainfo == "protocol 3.8"
    assert ports[1723].method == "table"  # only guessed from the port number
    assert ports[21].product == "vsftpd" and ports[21].version == ""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # (fixture, (address, timed out, open ports, extraports))
        ("tcp-udp-root.xml", ("127.0.40.1", False, {(21, "tcp"), (22, "tcp"), (6379, "tcp")}, ())),
        ("host-timeout.xml", ("127.0.40.1", True, set(), ())),
        ("ipv6-extraports.xml", ("::1", False, {(5432, "tcp")}, (("closed", 56),))),
    ],
)
def test_recorded_runs(name: str, expected: tuple[str, bool, set[tuple[int, str]], tuple[tuple[str, int], ...]]) -> None:
    run = _load(name)
    assert run.error == ""
    (host,) = run.hosts
    address, timed_out, open_ports, extra = expected
    assert host.address == address
    assert host.timed_out is timed_out
    assert {(p.port, p.proto) for p in host.ports if p.is_open} == open_ports
    assert host.extraports == extra


def test_udp_port_state_is_kept() -> None:
    ports = _ports(_load("tcp-udp-root.xml"))
    bacnet = ports[(47808, "udp")]
    assert bacnet.state == "closed" and bacnet.service == "bacnet"  # type: ignore[attr-defined]


def test_nmap_error_run() -> None:
    run = _load("nmap-error.xml")
    assert run.hosts == () and run.exit == "error"
    assert "between 0 and 65535" in run.errormsg


def test_output_cut_off_keeps_complete_hosts() -> None:
    text = (FIXTURES / "open-services.xml").read_text()
    cut = text[: text.index("</host>") + len("</host>") + 5]
    run = parse_nmap_xml(cut)
    assert run.error.startswith("nmap XML: ")
    assert [h.address for h in run.hosts] == ["127.0.40.1"]
    assert len(run.hosts[0].ports) == 11
    half = parse_nmap_xml(text[: len(text) // 2])
    assert half.hosts == () and half.error


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "nmap: no output"),
        ("   \n", "nmap: no output"),
        ("<html><body>nope</body></html>", "root <html>"),
        ("Starting Nmap 7.93", "nmap XML: "),
        (b"\xff\xfe<nmaprun", "nmap XML: "),
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><nmaprun>&e;</nmaprun>', "nmap XML: "),
    ],
)
def test_garbage_gives_an_error_not_an_exception(text: str | bytes, error: str) -> None:
    run = parse_nmap_xml(text)
    assert run.hosts == ()
    assert error in run.error


def test_odd_values_are_skipped_not_fatal() -> None:
    xml = """<nmaprun><host><address addr="192.0.2.1" addrtype="ipv4"/><ports>
    <port protocol="tcp" portid="99999"><state state="open"/></port>
    <port protocol="tcp" portid="x"><state state="open"/></port>
    <port protocol="tcp" portid="80"/>
    <extraports state="filtered" count="many"/></ports></host>
    <host><address addr="00:11:22:33:44:55" addrtype="mac"/></host></nmaprun>"""
    run = parse_nmap_xml(xml)
    (host,) = run.hosts
    assert [(p.port, p.state) for p in host.ports] == [(80, "")]
    assert host.extraports == (("filtered", 0),)
    assert not run.finished


_tags = st.sampled_from(["nmaprun", "host", "ports", "port", "state", "service", "script", "table", "elem", "address", "extraports", "runstats", "finished"])
_attrs = st.dictionaries(
    st.sampled_from(["portid", "protocol", "state", "addr", "addrtype", "name", "product", "version", "timedout", "count", "id", "key", "exit"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"<&'), max_size=8),
    max_size=4,
)


@st.composite
def _xml(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(_tags)
    attrs = " ".join(f'{k}="{v}"' for k, v in draw(_attrs).items())
    children = "" if depth > 3 else "".join(draw(st.lists(_xml(depth + 1), max_size=3)))
    return f"<{tag} {attrs}>{children}</{tag}>"


@settings(max_examples=300, deadline=None)
@given(_xml())
def test_parser_never_raises_on_structured_input(text: str) -> None:
    run = parse_nmap_xml("<nmaprun>" + text + "</nmaprun>")
    assert isinstance(run, NmapRun)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_parser_never_raises_on_any_text(text: str | bytes) -> None:
    assert isinstance(parse_nmap_xml(text), NmapRun)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=4700))
def test_parser_never_raises_on_truncated_recordings(cut: int) -> None:
    text = (FIXTURES / "open-services.xml").read_text()
    run = parse_nmap_xml(text[:cut])
    assert isinstance(run, NmapRun)


def test_certificate_names_of_a_shared_server() -> None:
    run = _load("shared-tls.xml")
    ports = {p.port: p for p in run.hosts[0].ports}
    assert ports[443].tunnel == "ssl"
    assert ports[443].cert_names == (
        "web01.sharedhost.test", "museum.test", "www.museum.test", "bakery.test", "www.bakery.test",
        "football-club.test", "dentist.test", "*.photos.test",
    )  # fmt: skip
    assert ports[22].cert_names == ()


def test_recorded_banners_keep_what_nmap_said() -> None:
    ports = {p.port: p for p in _load("banners.xml").hosts[0].ports}
    # the parser keeps nmap's text; cleaning it is parsers.banner.software()'s job
    assert (ports[3306].product, ports[3306].version) == ("MySQL", "5.5.5-10.11.19-MariaDB-0+deb12u1")
    assert "cpe:/a:mariadb:mariadb:5.5.5-10.11.19-mariadb-0%2Bdeb12u1" in ports[3306].cpe
    assert (ports[2201].version, ports[2201].extrainfo) == ("8.9p1 Ubuntu 3ubuntu0.10", "Ubuntu Linux; protocol 2.0")
    assert (ports[80].product, ports[80].extrainfo) == ("Apache httpd", "(Debian)")


def test_home_page_titles_of_vpn_portals() -> None:
    first = {p.port: p for p in _load("edge-devices.xml").hosts[0].ports}
    assert {n: (p.product, p.version, p.title) for n, p in first.items()} == {
        443: ("Fortinet SSL VPN", "", ""),  # "Site doesn't have a title" is nmap's sentence, not a title
        4433: ("Citrix NetScaler httpd", "13.0", ""),
        8443: ("Citrix NetScaler SSL VPN", "", ""),  # a redirect nmap did not follow
        10443: ("Pulse Secure VPN gateway http config", "", "Bad Request"),
    }
    second = {p.port: p for p in _load("edge-devices-2.xml").hosts[0].ports}
    assert (second[443].service, second[443].product) == ("http-proxy", "SonicWALL SSL-VPN http proxy")
    assert (second[8443].product, second[8443].title) == ("", "Ivanti Connect Secure")  # no fingerprint, only the title
