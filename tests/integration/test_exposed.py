"""Exposed services against real daemons on loopback: OpenSSH, Redis and vsftpd started by the
fixtures, plus small listeners for RDP, VNC, Telnet, Modbus, a NAS page and PPTP, all on their usual
ports (the checks are about those ports) of HOST, an address of this test process's own loopback block
(tests/fixtures/loopback.py). The scanned zone (served in-process) points the apex at HOST and www at
EMPTY, where nothing listens.

Each scan runs through the command line as a user would: with nmap, and with nmap missing from
PATH (the built-in connect scan takes over). A third domain points at listeners that accept and
never answer, so nmap's version detection takes minutes: cancelling that scan must end nmap.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cyberscan
from cyberscan import catalogue as catalogue_mod
from cyberscan.assessment import Assessment
from cyberscan.cli import main
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.models import ErrorReason, Status
from cyberscan.options import Nameserver, ScanOptions
from tests.conftest import require_binary
from tests.fixtures import loopback
from tests.integration.exposed_listeners import MODBUS, NAS, RDP, TELNET, VNC, Behaviour, Listeners

pytestmark = pytest.mark.integration

_BLOCK = loopback.block()
HOST = _BLOCK.address(41)
EMPTY = _BLOCK.address(42)
ZONE = f"""
$TTL 300
@    SOA ns.museum.test. hostmaster.museum.test. 1 3600 600 86400 300
@    NS  ns
ns   A   127.0.0.1
@    A   {HOST}
www  A   {EMPTY}
"""
SLOW = _BLOCK.address(43)
SLOW_ZONE = f"""
$TTL 300
@    SOA ns.slow.test. hostmaster.slow.test. 1 3600 600 86400 300
@    NS  ns
ns   A   127.0.0.1
@    A   {SLOW}
"""
# PPTP: answers nmap's probes with a short, meaningless reply (so version detection ends quickly)
PPTP = Behaviour(reply=b"\x00\x00", close_after_reply=True)


def _wait_for(port: int, proc: subprocess.Popen[bytes] | None = None, *, address: str = HOST, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"daemon for port {port} exited: {out}")
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {address}:{port}")


@pytest.fixture(scope="module")
def daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("the daemons listen on ports below 1024, which needs root (CI runs as root)")
    sshd = require_binary("sshd")
    keygen = require_binary("ssh-keygen")
    redis = require_binary("redis-server")
    vsftpd = require_binary("vsftpd")
    listeners = {3389: RDP, 5900: VNC, 23: TELNET, 502: MODBUS, 5000: NAS, 1723: PPTP}
    loopback.ensure_free(HOST, tcp=(21, 22, 6379, *listeners))
    tmp = tmp_path_factory.mktemp("exposed")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # OpenSSH: its own host key and config; password login allowed, so the check must flag it
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "hostkey")], check=True)
        (tmp / "sshd_config").write_text(
            f"HostKey {tmp / 'hostkey'}\nPidFile {tmp / 'sshd.pid'}\nUsePAM no\n"
            "PasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd insists on its privilege-separation folder
        procs.append(
            subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(tmp / "sshd_config"), "-p", "22", "-o", f"ListenAddress={HOST}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_for(22, procs[-1])
        procs.append(
            subprocess.Popen(
                [redis, "--port", "6379", "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_for(6379, procs[-1])
        ftp_root = tmp / "ftp"
        ftp_root.mkdir()
        ftp_root.chmod(0o555)
        (tmp / "vsftpd.conf").write_text(
            f"listen=YES\nlisten_ipv6=NO\nlisten_address={HOST}\nlisten_port=21\nbackground=NO\n"
            f"anonymous_enable=YES\nanon_root={ftp_root}\nno_anon_password=YES\nlocal_enable=NO\nwrite_enable=NO\n"
            f"secure_chroot_dir={ftp_root}\nrun_as_launching_user=YES\nftp_username=nobody\nseccomp_sandbox=NO\n"
        )
        procs.append(subprocess.Popen([vsftpd, str(tmp / "vsftpd.conf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        _wait_for(21, procs[-1])
        version = subprocess.run([redis, "--version"], capture_output=True, text=True, check=True).stdout
        redis_version = re.search(r"v=(\S+)", version)
        with Listeners(HOST, listeners):
            yield {"redis_version": redis_version.group(1) if redis_version else ""}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    zones.add_text("museum.test.", ZONE)
    zones.add_text("slow.test.", SLOW_ZONE)
    with LocalDnsServer(zones) as server:
        yield server


def _scan(dns_server: LocalDnsServer, out: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        main,
        [
            "scan", "museum.test", "--nameserver", dns_server.nameserver, "--allow-private", "--ports",
            "--i-am-authorised", "--format", "json", "--output", str(out), "--no-progress", "--timeout", "3", *extra,
        ],
    )
    assert result.exit_code in (0, 1), result.output
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _net(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in report["results"]:
        if r["check_id"].startswith("net."):
            out.setdefault(r["check_id"], []).append(r)
    return out


def _one(results: dict[str, list[dict[str, Any]]], check_id: str) -> dict[str, Any]:
    (only,) = [r for r in results[check_id] if r["status"] != "skipped"]
    return only


def _port_fact(report: dict[str, Any]) -> dict[str, Any]:
    (fact,) = [f["fact"] for f in report["facts"] if f["probe"] == "net.ports"]
    return fact  # type: ignore[no-any-return]


def test_with_nmap(daemons: dict[str, str], dns_server: LocalDnsServer, tmp_path: Path) -> None:
    require_binary("nmap")
    report = _scan(dns_server, tmp_path / "report.json", "--lang", "en")
    net = _net(report)
    fact = _port_fact(report)
    assert fact["method"] == "nmap"
    by_address = {a["address"]: a for a in fact["addresses"]}
    assert set(by_address) == {HOST, EMPTY}
    assert by_address[EMPTY]["open"] == [] and by_address[EMPTY]["error"] is None
    assert {p["port"] for p in by_address[HOST]["open"]} == {21, 22, 23, 502, 1723, 3389, 5000, 5900, 6379}
    assert set(report["addresses_probed"]) >= {HOST, EMPTY}

    def check(check_id: str, status: str, key: str) -> dict[str, Any]:
        result = _one(net, check_id)
        assert (result["status"], result["message"]) == (status, key), (check_id, result)
        if status in ("fail", "warn"):
            assert result["subject"]["address"] == HOST and result["subject"]["port"] is not None
            assert result["subject"]["names"] == ["museum.test"]
        return result

    assert "Microsoft Terminal Services" in check("net.exposed.rdp", "fail", "open")["params"]["services"][0]
    check("net.exposed.smb", "pass", "closed")
    assert "vsftpd" in check("net.exposed.ftp", "fail", "open")["params"]["services"][0]
    check("net.exposed.telnet", "fail", "open")
    db = check("net.exposed.db", "fail", "open")
    assert db["params"]["services"] == [f"Redis (6379/tcp: Redis key-value store {daemons['redis_version']})"]
    check("net.exposed.vnc", "fail", "open")
    check("net.exposed.nas", "fail", "open")
    admin = check("net.exposed.admin", "fail", "ssh-password")
    assert admin["evidence"]["open"][0]["auth_methods"] == ["publickey", "password"]
    assert "OpenSSH" in admin["params"]["services"][0]
    ics = check("net.exposed.ics_bms", "fail", "open")
    assert ics["params"]["services"] == ["Modbus (502/tcp)"]
    assert not any(r["status"] == "skipped" for r in net["net.exposed.ics_bms"])  # UDP scanned: we are root
    check("net.exposed.remote_access", "fail", "obsolete")
    check("net.exposed.supplier", "info", "not-hosted")
    outdated = [r for r in net["net.software.outdated"] if r["status"] != "error"]
    assert outdated and all(r["status"] in ("pass", "warn", "fail", "info") for r in outdated)
    # Debian's own OpenSSH build (9.2p1 Debian 2+deb12uN) gets security fixes until Debian 12's support
    # ends: judged by the distribution, it is not outdated although upstream 9.2 is old
    assert not any("OpenSSH" in json.dumps(r["params"]) for r in outdated if r["status"] in ("warn", "fail")), outdated
    # Debian's sshd says "OpenSSH_9.2p1 Debian-2+deb12uN": judged as OpenSSH 9.2p1, built by Debian
    ssh = next(p for p in by_address[HOST]["open"] if p["port"] == 22)
    assert (ssh["product"], ssh["distribution"]) == ("OpenSSH", "Debian") and re.fullmatch(r"\d+\.\d+p\d+", ssh["version"])
    assert ssh["build"].startswith("2+deb12u")
    for result in outdated:
        if result["subject"]["port"] == 22 and "cycle" in result["params"]:
            assert re.fullmatch(r"\d+\.\d+", result["params"]["cycle"]), result["params"]


def test_without_nmap_the_connect_scan_takes_over(
    daemons: dict[str, str], dns_server: LocalDnsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    monkeypatch.setenv("PATH", str(empty_path))
    assert shutil.which("nmap") is None
    report = _scan(dns_server, tmp_path / "report.json")
    net = _net(report)
    fact = _port_fact(report)
    assert fact["method"] == "connect" and fact["udp_skipped"] == "no-nmap"
    by_address = {a["address"]: a for a in fact["addresses"]}
    assert {p["port"] for p in by_address[HOST]["open"]} == {21, 22, 23, 502, 1723, 3389, 5000, 5900, 6379}
    assert by_address[EMPTY]["open"] == []
    ssh = next(p for p in by_address[HOST]["open"] if p["port"] == 22)
    assert (ssh["product"], ssh["distribution"]) == ("OpenSSH", "Debian") and re.fullmatch(r"\d+\.\d+p\d+", ssh["version"])
    assert "ports.reduced-detection" in {n["key"] for n in report["notices"]}
    assert _one(net, "net.exposed.rdp")["status"] == "fail"
    assert _one(net, "net.exposed.smb")["status"] == "pass"
    ftp = _one(net, "net.exposed.ftp")
    assert ftp["status"] == "fail" and ftp["params"]["services"] == ["FTP (21/tcp: vsftpd 3.0.3)"]
    assert _one(net, "net.exposed.db")["params"]["services"] == ["Redis (6379/tcp: Redis)"]
    assert _one(net, "net.exposed.vnc")["params"]["services"] == ["VNC (5900/tcp: VNC (RFB) 3.8)"]
    assert _one(net, "net.exposed.admin")["message"] == "ssh-auth-unknown"  # no nmap script: unknown, not "fine"
    ics = net["net.exposed.ics_bms"]
    assert [(r["status"], r["message"]) for r in ics] == [("fail", "open"), ("skipped", "udp-no-nmap")]


def _nmap_processes(address: str) -> list[int]:
    """Process ids of running nmap programs whose command line names ``address``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if args and os.path.basename(args[0]) == b"nmap" and address.encode() in args:
            found.append(int(entry.name))
    return found


def test_cancelling_a_slow_scan_ends_nmap(dns_server: LocalDnsServer) -> None:
    require_binary("nmap")
    cat = catalogue_mod.builtin()
    base = catalogue_mod.profile(cat, "default")
    # every version probe, each waiting for an answer that never comes: minutes of work for nmap
    profile = dataclasses.replace(base, include_tags=("net",), include=(),
                                  settings={**base.settings, "portscan": {"version_intensity": 9}})
    options = ScanOptions(timeout=3, nameservers=(Nameserver(dns_server.address, dns_server.port),), allow_private=True,
                          ports=True, authorised=True)
    cancel = threading.Event()
    box: dict[str, Assessment] = {}
    silent = {port: Behaviour() for port in (21, 22, 23, 3389, 5900, 6379, 8080)}  # accept, never speak
    with Listeners(SLOW, silent):
        worker = threading.Thread(
            target=lambda: box.update(result=cyberscan.assess(["slow.test"], profile=profile, options=options,
                                                              catalogue=cat, cancel=cancel)),
            daemon=True,
        )
        worker.start()
        end = time.monotonic() + 30
        while not _nmap_processes(SLOW):
            assert time.monotonic() < end and worker.is_alive(), "nmap was never started"
            time.sleep(0.05)
        time.sleep(1)  # nmap is busy with the silent services
        stopped = time.monotonic()
        cancel.set()
        worker.join(10)
        took = time.monotonic() - stopped
        assert not worker.is_alive() and took < 3, took
        end = time.monotonic() + 1
        while _nmap_processes(SLOW) and time.monotonic() < end:
            time.sleep(0.05)
        assert _nmap_processes(SLOW) == [], "nmap still runs after the scan was cancelled"
    result = box["result"]
    assert not result.complete
    net = [r for r in result.results if r.check_id.startswith("net.")]
    assert len(net) >= 11
    assert {(r.status, r.error_reason) for r in net} == {(Status.ERROR, ErrorReason.INTERRUPTED)}
