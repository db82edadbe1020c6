"""The port-scan probe's pure parts and the built-in connect scan against loopback listeners."""

from __future__ import annotations

import socket
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cyberscan.facts.ports import BUDGET
from cyberscan.models import ErrorReason
from cyberscan.parsers.banner import BannerInfo, Software, cycle_of, parse_banner, software
from cyberscan.parsers.ports import port_spec
from cyberscan.probes.ports import wanted_ports
from cyberscan.probes.portscan_fallback import connect_scan
from cyberscan.probes.portscan_nmap import facts_from_xml, nmap_arguments, nmap_command, run_nmap, scan_address
from cyberscan.probes.portscan_settings import ScanSettings
from tests.fixtures import loopback
from tests.integration.exposed_listeners import (
    APACHE_DEBIAN,
    IIS,
    MARIADB,
    NAS,
    RDP,
    SSH_DEBIAN,
    SSH_RHEL,
    SSH_UBUNTU,
    TELNET,
    VNC,
    Behaviour,
    Listeners,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nmap"
# listeners on fixed ports (23, 3389 ...): on addresses of this test process's own block, never shared
ADDR = {n: loopback.block().address(50 + n) for n in range(1, 10)}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"port": 3389}, (3389, "tcp")),
        ({"port": 47808, "proto": "UDP"}, (47808, "udp")),
        (22, (22, "tcp")),
        ({"port": "5432"}, (5432, "tcp")),
        ({"port": 0}, None),
        ({"port": 65536}, None),
        ({"port": 80, "proto": "sctp"}, None),
        ({"port": "x"}, None),
        ({"label": "no port"}, None),
        ("3389", None),
        (None, None),
    ],
)
def test_port_spec(entry: Any, expected: tuple[int, str] | None) -> None:
    assert port_spec(entry) == expected


def test_wanted_ports_is_the_sorted_union_of_the_checks_ports() -> None:
    params = [
        {"ports": [{"port": 3389}, {"port": 445}, {"port": 139}]},
        {"ports": [{"port": 445}, {"port": 47808, "proto": "udp"}, {"port": "bad"}]},
        {"other": 1},
        {"ports": None},
    ]
    assert wanted_ports(params) == ((139, 445, 3389), (47808,))
    assert wanted_ports([]) == ((), ())


def test_settings_are_clamped_and_default() -> None:
    default = ScanSettings.from_settings({})
    assert (default.timing, default.host_timeout, default.budget, default.use_nmap, default.udp) == (3, 300, 900, True, True)
    odd = ScanSettings.from_settings({"portscan": {"timing": 9, "budget": "x", "parallel": 0, "nmap": False, "nmap_binary": "/opt/nmap"}})
    assert (odd.timing, odd.budget, odd.parallel, odd.use_nmap, odd.nmap_binary) == (5, 900, 1, False, "/opt/nmap")
    assert ScanSettings.from_settings({"portscan": "nonsense"}) == default


@pytest.mark.parametrize(
    ("address", "tcp", "udp", "privileged", "expected_ports", "must", "must_not"),
    [
        ("192.0.2.10", (22, 3389), (), False, "T:22,T:3389", ["-sT", "--script", "ssh-auth-methods"], ["-sS", "-sU", "-6"]),
        ("192.0.2.10", (3389,), (47808,), True, "T:3389,U:47808", ["-sS", "-sU"], ["-sT", "--script"]),
        ("2001:db8::10", (445,), (), True, "T:445", ["-6", "-sS"], ["-sU", "--script"]),
        ("192.0.2.10", (22, 443), (), True, "T:22,T:443", ["ssh-auth-methods,ssl-cert,http-title"], []),
        ("192.0.2.10", (10443,), (), True, "T:10443", ["http-title"], ["ssl-cert"]),
    ],
)
def test_nmap_command_is_polite_and_exact(
    address: str, tcp: tuple[int, ...], udp: tuple[int, ...], privileged: bool, expected_ports: str, must: list[str], must_not: list[str]
) -> None:
    ports, arguments = nmap_arguments(address, tcp, udp, settings=ScanSettings(), host_timeout=120.7, privileged=privileged)
    args = arguments.split()
    assert ports == expected_ports
    for flag in ["-n", "-Pn", "-sV", "-T3", "--host-timeout", "120s", *must]:
        assert flag in args
    for flag in must_not:
        assert flag not in args
    assert address not in arguments
    command = nmap_command("/usr/bin/nmap", address, ports, arguments)
    assert command[:5] == ["/usr/bin/nmap", "-oX", "-", address, "-p"] and command.count(address) == 1


def test_recorded_nmap_output_becomes_address_facts() -> None:
    xml = (FIXTURES / "open-services.xml").read_text()
    tcp = (21, 22, 23, 139, 445, 502, 1723, 3389, 5000, 5900, 6379)
    (scan,) = facts_from_xml(xml, {"127.0.40.1": ("museum.test", "www.museum.test")}, tcp, ())
    assert scan.ok and scan.names == ("museum.test", "www.museum.test")
    assert scan.scanned(445) and not scan.scanned(445, "udp") and not scan.scanned(8080)
    assert {p.port for p in scan.open} == {21, 22, 23, 502, 1723, 3389, 5000, 5900, 6379}
    ssh = scan.find(22)
    assert ssh is not None and ssh.auth_methods == ("publickey", "password") and ssh.confident
    pptp = scan.find(1723)
    assert pptp is not None and not pptp.confident
    assert scan.find(139) is None


def test_recorded_timeout_and_missing_host_are_errors_not_closed_ports() -> None:
    xml = (FIXTURES / "host-timeout.xml").read_text()
    timed_out, missing = facts_from_xml(xml, {"127.0.40.1": ("a.test",), "127.0.40.2": ("b.test",)}, (22,), ())
    assert timed_out.error is ErrorReason.TIMEOUT and not timed_out.scanned(22)
    assert missing.error is ErrorReason.UNREACHABLE and not missing.scanned(22)


def test_ports_not_asked_for_are_ignored() -> None:
    xml = (FIXTURES / "open-services.xml").read_text()
    (scan,) = facts_from_xml(xml, {"127.0.40.1": ("a.test",)}, (22,), ())
    assert [p.port for p in scan.open] == [22]


# ----------------------------------------------------------------------------- banners


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
         BannerInfo("ssh", "OpenSSH", "9.2p1", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "Debian", "2+deb12u3")),
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n",
         BannerInfo("ssh", "OpenSSH", "9.2p1", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10", "Debian", "2+deb12u10")),
        (b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n",
         BannerInfo("ssh", "OpenSSH", "8.9p1", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10", "Ubuntu", "3ubuntu0.10")),
        (b"SSH-2.0-OpenSSH_7.4p1 Raspbian-10+deb9u7\r\n",
         BannerInfo("ssh", "OpenSSH", "7.4p1", "SSH-2.0-OpenSSH_7.4p1 Raspbian-10+deb9u7", "Raspbian", "10+deb9u7")),
        # Red Hat's builds (RHEL 9: OpenSSH 8.7p1) announce neither the patch level nor the distribution
        (b"SSH-2.0-OpenSSH_8.7\r\n", BannerInfo("ssh", "OpenSSH", "8.7", "SSH-2.0-OpenSSH_8.7")),
        (b"SSH-2.0-OpenSSH_9.9\r\n", BannerInfo("ssh", "OpenSSH", "9.9", "SSH-2.0-OpenSSH_9.9")),
        (b"SSH-2.0-OpenSSH_for_Windows_8.1\r\n",
         BannerInfo("ssh", "OpenSSH", "8.1", "SSH-2.0-OpenSSH_for_Windows_8.1", "Windows")),
        (b"SSH-2.0-dropbear_2022.83\r\n", BannerInfo("ssh", "dropbear", "2022.83", "SSH-2.0-dropbear_2022.83")),
        (b"220 (vsFTPd 3.0.3)\r\n", BannerInfo("ftp", "vsftpd", "3.0.3", "220 (vsFTPd 3.0.3)")),
        (b"220 ProFTPD 1.3.5e Server (Debian) [::ffff:10.0.0.1]\r\n",
         BannerInfo("ftp", "ProFTPD", "1.3.5e", "220 ProFTPD 1.3.5e Server (Debian) [::ffff:10.0.0.1]", "Debian")),
        (b"220 mail.museum.test ESMTP Postfix (Debian/GNU)\r\n", BannerInfo("smtp", "Postfix", "", "220 mail.museum.test ESMTP Postfix (Debian/GNU)")),
        (b"RFB 003.008\n", BannerInfo("vnc", "VNC (RFB)", "3.8", "RFB 003.008")),
        (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n", BannerInfo("http", "nginx", "1.22.1", "nginx/1.22.1")),
        (b"HTTP/1.1 200 OK\r\nServer: nginx/1.18.0 (Ubuntu)\r\n\r\n",
         BannerInfo("http", "nginx", "1.18.0", "nginx/1.18.0 (Ubuntu)", "Ubuntu")),
        (b"HTTP/1.1 301 Moved\r\nServer: nginx\r\n\r\n", BannerInfo("http", "nginx", "", "nginx")),
        # product names as nmap gives them, so one products table maps both to checks/data/eol.yaml
        (b"HTTP/1.1 200 OK\r\nDate: x\r\nServer: Apache/2.4.57 (Debian)\r\n\r\n",
         BannerInfo("http", "Apache httpd", "2.4.57", "Apache/2.4.57 (Debian)", "Debian")),
        (b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.37 (Red Hat Enterprise Linux) OpenSSL/1.1.1k\r\n\r\n",
         BannerInfo("http", "Apache httpd", "2.4.37", "Apache/2.4.37 (Red Hat Enterprise Linux) OpenSSL/1.1.1k", "Red Hat")),
        (b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/10.0\r\n\r\n",
         BannerInfo("http", "Microsoft IIS httpd", "10.0", "Microsoft-IIS/10.0")),
        (b"HTTP/1.0 400 Bad Request\r\n\r\n", BannerInfo("http", "", "", "HTTP/1.0 400 Bad Request")),
        (b"-ERR unknown command 'HEAD', with args beginning with: '/' 'HTTP/1.0'\r\n", BannerInfo("redis", "Redis", "", "-ERR unknown command 'HEAD', with args beginning with: '/' 'HTTP/1.0'")),
        (b"\xff\xfd\x18\xff\xfd\x20", BannerInfo("telnet", "", "", "")),
        (b"J\x00\x00\x00\n8.0.36\x00\x08\x00\x00\x00", BannerInfo("mysql", "MySQL", "8.0.36", "J 8.0.36")),
        (b"n\x00\x00\x00\n10.11.6-MariaDB-0+deb12u1\x00",
         BannerInfo("mysql", "MariaDB", "10.11.6", "n 10.11.6-MariaDB-0+deb12u1", "Debian", "0+deb12u1")),
        # MariaDB puts 5.5.5- in front for clients that only know MySQL: it is not its version
        (b"n\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1\x00",
         BannerInfo("mysql", "MariaDB", "10.11.19", "n 5.5.5-10.11.19-MariaDB-0+deb12u1", "Debian", "0+deb12u1")),
        (b"n\x00\x00\x00\n8.0.36-0ubuntu0.22.04.1\x00",
         BannerInfo("mysql", "MySQL", "8.0.36", "n 8.0.36-0ubuntu0.22.04.1", "Ubuntu", "0ubuntu0.22.04.1")),
        (b"", BannerInfo()),
        (b"\x03\x00\x00\x13\x0e\xd0", BannerInfo("", "", "", "")),
    ],
)
def test_banners(data: bytes, expected: BannerInfo) -> None:
    assert parse_banner(data) == expected


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_banner_parser_never_raises(data: bytes) -> None:
    assert isinstance(parse_banner(data), BannerInfo)


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        # what nmap 7.93 reports (tests/fixtures/nmap/banners.xml) -> upstream product and version, distribution
        (("MySQL", "5.5.5-10.11.19-MariaDB-0+deb12u1"), Software("MariaDB", "10.11.19", "Debian", "0+deb12u1")),
        (("MySQL", "5.5.5-10.3.39-MariaDB-0ubuntu0.20.04.2"), Software("MariaDB", "10.3.39", "Ubuntu", "0ubuntu0.20.04.2")),
        (("MySQL", "5.5.5-10.11.6-MariaDB"), Software("MariaDB", "10.11.6")),
        (("MariaDB", "10.11.6+maria~ubu2204"), Software("MariaDB", "10.11.6")),  # MariaDB's own package: upstream
        (("MySQL", "8.0.36-0ubuntu0.22.04.1"), Software("MySQL", "8.0.36", "Ubuntu", "0ubuntu0.22.04.1")),
        (("OpenSSH", "9.2p1 Debian 2+deb12u10", "protocol 2.0"), Software("OpenSSH", "9.2p1", "Debian", "2+deb12u10")),
        (("OpenSSH", "8.9p1 Ubuntu 3ubuntu0.10", "Ubuntu Linux; protocol 2.0"), Software("OpenSSH", "8.9p1", "Ubuntu", "3ubuntu0.10")),
        (("OpenSSH", "7.2p2 Debian 4ubuntu2.10", "Ubuntu Linux; protocol 2.0"), Software("OpenSSH", "7.2p2", "Ubuntu", "4ubuntu2.10")),
        (("OpenSSH", "6.6.1p1 Debian 4~bpo70+1"), Software("OpenSSH", "6.6.1p1", "Debian", "4~bpo70+1")),
        (("OpenSSH", "8.7", "protocol 2.0"), Software("OpenSSH", "8.7")),
        (("OpenSSH", "9.3", "FreeBSD 20230316; protocol 2.0"), Software("OpenSSH", "9.3", "FreeBSD")),
        (("OpenSSH", "for_Windows_8.1"), Software("OpenSSH", "8.1", "Windows")),
        (("Apache httpd", "2.4.57", "(Debian)"), Software("Apache httpd", "2.4.57", "Debian")),
        (("Apache httpd", "2.4.6", "(CentOS) OpenSSL/1.0.2k-fips"), Software("Apache httpd", "2.4.6", "CentOS")),
        (("nginx", "1.22.1"), Software("nginx", "1.22.1")),
        (("Microsoft IIS httpd", "10.0"), Software("Microsoft IIS httpd", "10.0")),
        # no distribution: the version stays whole (a vendor's build number is part of it)
        (("Citrix NetScaler httpd", "13.1-51.15"), Software("Citrix NetScaler httpd", "13.1-51.15")),
        (("Ivanti Connect Secure", "22.7R2.4"), Software("Ivanti Connect Secure", "22.7R2.4")),
        (("Redis key-value store", "7.0.15"), Software("Redis key-value store", "7.0.15")),
        (("Postfix smtpd", ""), Software("Postfix smtpd", "")),
        (("", ""), Software()),
    ],
)
def test_software_names_are_cleaned(named: tuple[str, ...], expected: Software) -> None:
    assert software(*named) == expected
    again = software(expected.product, expected.version)  # idempotent: a clean name stays as it is
    assert (again.product, again.version) == (expected.product, expected.version)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=60), st.text(max_size=40))
def test_software_never_raises(product: str, version: str, extrainfo: str) -> None:
    assert isinstance(software(product, version, extrainfo), Software)


@pytest.mark.parametrize(("version", "cycle"), [("9.2p1", "9.2"), ("10.11.19", "10.11"), ("22.7R2.4", "22.7"),
                                                ("13.1-51.15", "13.1"), ("7", "7"), ("", ""), ("Debian", "")])
def test_cycle_of_a_clean_version(version: str, cycle: str) -> None:
    assert cycle_of(version) == cycle


def test_recorded_banners_become_clean_facts() -> None:
    xml = (FIXTURES / "banners.xml").read_text()
    (scan,) = facts_from_xml(xml, {"127.0.41.20": ("museum.test",)}, (80, 2200, 2201, 2202, 3306, 8080, 8081), ())
    seen = {p.port: (p.product, p.version, p.distribution, p.build) for p in scan.open}
    assert seen == {
        80: ("Apache httpd", "2.4.57", "Debian", ""),
        2200: ("OpenSSH", "9.2p1", "Debian", "2+deb12u10"),
        2201: ("OpenSSH", "8.9p1", "Ubuntu", "3ubuntu0.10"),
        2202: ("OpenSSH", "8.7", "", ""),
        3306: ("MariaDB", "10.11.19", "Debian", "0+deb12u1"),  # nmap says "MySQL 5.5.5-10.11.19-MariaDB-0+deb12u1"
        8080: ("Microsoft IIS httpd", "10.0", "", ""),
        8081: ("nginx", "1.22.1", "", ""),
    }


def test_the_connect_scan_cleans_banners_like_nmap() -> None:
    ports = {3306: MARIADB, 2200: SSH_DEBIAN, 2201: SSH_UBUNTU, 2202: SSH_RHEL, 8080: APACHE_DEBIAN, 8081: IIS}
    with Listeners(ADDR[5], ports):
        results = connect_scan({ADDR[5]: tuple(sorted(ports))}, connect_timeout=2, banner_timeout=0.5)
    seen = {p.port: (p.product, p.version, p.distribution, p.build) for p in results[ADDR[5]].open}
    assert seen == {
        2200: ("OpenSSH", "9.2p1", "Debian", "2+deb12u10"),
        2201: ("OpenSSH", "8.9p1", "Ubuntu", "3ubuntu0.10"),
        2202: ("OpenSSH", "8.7", "", ""),
        3306: ("MariaDB", "10.11.19", "Debian", "0+deb12u1"),
        8080: ("Apache httpd", "2.4.57", "Debian", ""),
        8081: ("Microsoft IIS httpd", "10.0", "", ""),
    }


# ----------------------------------------------------------------------------- connect scan


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection attempt the process makes, recorded below the asyncio layer."""
    seen: list[tuple[str, int]] = []
    real = socket.socket.connect  # the conftest's loopback-only guard

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen.append((address[0], address[1]))
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def test_connect_scan_finds_open_ports_reads_banners_and_contacts_nothing_else(recorder: list[tuple[str, int]]) -> None:
    ports = {3389: RDP, 5900: VNC, 23: TELNET, 5000: NAS, 2121: Behaviour(greeting=b"220 (vsFTPd 3.0.3)\r\n")}
    with Listeners(ADDR[1], ports), Listeners(ADDR[2], {5900: VNC}):
        results = connect_scan(
            {ADDR[1]: (23, 2121, 3389, 5000, 5900, 5901), ADDR[2]: (5900, 3389)},
            connect_timeout=2,
            banner_timeout=0.5,
        )
    first, second = results[ADDR[1]], results[ADDR[2]]
    assert first.error is None and first.scanned == (23, 2121, 3389, 5000, 5900, 5901)
    found = {p.port: p for p in first.open}
    assert set(found) == {23, 2121, 3389, 5000, 5900}
    assert (found[5900].service, found[5900].version) == ("vnc", "3.8")
    assert (found[2121].service, found[2121].product, found[2121].version) == ("ftp", "vsftpd", "3.0.3")
    assert found[23].service == "telnet"
    assert found[5000].service == "http" and found[5000].product == "nginx"
    assert found[3389].service == "" and not found[3389].confident  # RDP does not speak first
    assert {p.port for p in second.open} == {5900}
    # every connection went to an address and port that was asked for, and each port was tried once
    asked = {(ADDR[1], p) for p in (23, 2121, 3389, 5000, 5900, 5901)} | {(ADDR[2], 5900), (ADDR[2], 3389)}
    assert sorted(recorder) == sorted(asked)


def test_connect_scan_respects_its_budget() -> None:
    # a listener that accepts but never speaks keeps the banner reader waiting
    with Listeners(ADDR[3], {4000 + i: Behaviour() for i in range(4)}):
        results = connect_scan(
            {ADDR[3]: (4000, 4001, 4002, 4003)}, connect_timeout=1, banner_timeout=5, per_address=1, budget=0.5
        )
    assert (results[ADDR[3]].error, results[ADDR[3]].detail) == (ErrorReason.TIMEOUT, BUDGET)
    assert results[ADDR[3]].open == ()


def test_a_cancelled_connect_scan_stops_at_once() -> None:
    cancel = threading.Event()
    with Listeners(ADDR[4], {4100 + i: Behaviour() for i in range(4)}):  # accept, never speak
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        results = connect_scan({ADDR[4]: (4100, 4101, 4102, 4103)}, connect_timeout=1, banner_timeout=20,
                               per_address=1, budget=60, cancel=cancel)
    assert time.monotonic() - started < 10  # the banner reader alone would wait 4 x 40 s
    assert (results[ADDR[4]].error, results[ADDR[4]].open) == (ErrorReason.INTERRUPTED, ())


def test_nmap_is_not_started_when_the_budget_is_spent(tmp_path: Path) -> None:
    never = tmp_path / "nmap-that-must-not-run"  # does not exist: starting it would fail differently
    result = scan_address(
        str(never), "192.0.2.10", ("museum.test",), (3389,), (), settings=ScanSettings(), deadline=time.monotonic() - 1, privileged=False
    )
    assert (result.error, result.detail, result.scanned(3389)) == (ErrorReason.TIMEOUT, BUDGET, False)
    missing = scan_address(
        str(never), "192.0.2.10", ("museum.test",), (3389,), (), settings=ScanSettings(), deadline=time.monotonic() + 60, privileged=False
    )
    assert missing.error is ErrorReason.UNREACHABLE and missing.detail.startswith("nmap: cannot start")
    assert "PATH" not in missing.detail


# ----------------------------------------------------------------------------- stopping nmap

HANGING = """#!{python}
import os, signal, sys, time
with open({pidfile!r}, "w") as fh:
    fh.write(str(os.getpid()))
if {stubborn}:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL ends it
sys.stdout.write("<?xml version=\\"1.0\\"?><nmaprun>")
sys.stdout.flush()
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def _hanging_nmap(tmp_path: Path, *, stubborn: bool) -> tuple[Path, Path]:
    pidfile = tmp_path / "pid"
    script = tmp_path / "nmap"
    script.write_text(HANGING.format(python=sys.executable, pidfile=str(pidfile), stubborn=stubborn))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, pidfile


def _wait_for_file(path: Path, seconds: float = 10) -> None:
    end = time.monotonic() + seconds
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


@pytest.mark.parametrize("stubborn", [False, True])
def test_a_cancelled_nmap_is_ended_and_reaped(tmp_path: Path, stubborn: bool) -> None:
    script, pidfile = _hanging_nmap(tmp_path, stubborn=stubborn)
    cancel = threading.Event()
    timer = threading.Thread(target=lambda: (_wait_for_file(pidfile), cancel.set()))
    timer.start()
    started = time.monotonic()
    done = run_nmap([str(script)], limit=60, cancel=cancel)
    timer.join()
    assert done.stopped == "cancelled"
    assert time.monotonic() - started < 10  # far below the 60 s limit and nmap's own 120 s sleep
    assert not _alive(int(pidfile.read_text()))
    assert done.stdout.startswith(b"<?xml")  # what it wrote before it was stopped is kept, not judged


def test_nmap_past_its_time_limit_is_ended(tmp_path: Path) -> None:
    script, pidfile = _hanging_nmap(tmp_path, stubborn=False)
    done = run_nmap([str(script)], limit=0.5)
    assert done.stopped == "time-limit"
    assert not _alive(int(pidfile.read_text()))


def test_nmap_is_not_started_once_the_scan_is_cancelled(tmp_path: Path) -> None:
    script, pidfile = _hanging_nmap(tmp_path, stubborn=False)
    cancel = threading.Event()
    cancel.set()
    before = scan_address(str(script), "127.0.41.9", ("a.test",), (22,), (), settings=ScanSettings(),
                          deadline=time.monotonic() + 60, privileged=False, cancel=cancel)
    assert (before.error, before.scanned(22)) == (ErrorReason.INTERRUPTED, False)
    assert not pidfile.exists()  # already cancelled: nmap is not even started
