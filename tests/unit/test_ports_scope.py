"""The port scan contacts exactly the domain's own admitted addresses, and only when asked and allowed.

A stand-in nmap program (a small script) records every command line it is given and answers with
nmap-style XML, so the real probe code decides what to scan. The built-in
connect scan is checked with a recorder under asyncio's socket calls.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.engine import rejudge, scan
from cyberscan.models import ErrorReason, Scan, Status
from cyberscan.options import Nameserver, ScanOptions
from cyberscan.probes.ports import wanted_ports
from cyberscan.serialize import scan_from_dict, scan_to_dict

ZONE = """
$TTL 300
@        SOA  ns.museum.test. hostmaster.museum.test. 1 3600 600 86400 300
@        NS   ns
ns       A    127.0.42.1
@        A    127.0.42.1
www      A    127.0.42.2
@        MX   10 mail
@        MX   20 mx1.mailprovider.test.
mail     A    127.0.42.3
shop     A    127.0.42.4
intranet A    127.0.42.8
"""
NEIGHBOUR = """
$TTL 300
@   SOA ns.neighbour.test. hostmaster.neighbour.test. 1 3600 600 86400 300
@   NS  ns.museum.test.
@   A   127.0.42.9
www A   127.0.42.9
"""

FAKE_NMAP = """#!{python}
import json, sys
args = sys.argv[1:]
if args == ["-V"]:
    print("Nmap version 7.93 ( https://nmap.org )")
    sys.exit(0)
with open({log!r}, "a") as fh:
    fh.write(json.dumps(args) + "\\n")
host = args[args.index("-") + 1]
ports = args[args.index("-p") + 1]
open_port = '<port protocol="tcp" portid="3389"><state state="open" reason="syn-ack"/><service name="ms-wbt-server" product="Microsoft Terminal Services" method="probed" conf="10"/></port>' if host == "127.0.42.2" else ""
print('<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap" version="7.93"><host><status state="up"/>'
      '<address addr="%s" addrtype="ipv4"/><ports><extraports state="closed" count="%d"/>%s</ports></host>'
      '<runstats><finished exit="success"/></runstats></nmaprun>' % (host, ports.count(","), open_port))
"""


# nmap that never finishes (a slow target): records its process id, then waits
HANGING_NMAP = """#!{python}
import os, sys, time
if sys.argv[1:] == ["-V"]:
    print("Nmap version 7.93 ( https://nmap.org )")
    sys.exit(0)
with open(os.path.join({piddir!r}, str(os.getpid())), "w") as fh:
    fh.write(" ".join(sys.argv[1:]))
time.sleep(120)
"""


PROVIDER = """
$TTL 300
@   SOA ns.mailprovider.test. hostmaster.mailprovider.test. 1 3600 600 86400 300
@   NS  ns.museum.test.
mx1 A   127.0.42.7
"""


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    zones.add_text("museum.test.", ZONE)
    zones.add_text("neighbour.test.", NEIGHBOUR)
    zones.add_text("mailprovider.test.", PROVIDER)
    with LocalDnsServer(zones) as server:
        yield server


@pytest.fixture
def fake_nmap(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "nmap-calls.jsonl"
    script = tmp_path / "nmap"
    script.write_text(FAKE_NMAP.format(python=sys.executable, log=str(log)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def _run(dns_server: LocalDnsServer, *, settings: dict[str, Any], cancel: threading.Event | None = None, **options: Any) -> Scan:
    cat = catalogue_mod.builtin()
    base = catalogue_mod.profile(cat, "default")
    # the net checks only: other areas' probes would contact these addresses too, for their own checks
    profile = dataclasses.replace(base, include_tags=("net",), include=(), settings={**base.settings, "portscan": settings})
    opts = ScanOptions(
        timeout=2,
        nameservers=(Nameserver(dns_server.address, dns_server.port),),
        extra_hosts=("shop.museum.test",),
        **options,
    )
    return scan(["museum.test"], catalogue=cat, profile=profile, registry=registry_mod.load(), options=opts, cancel=cancel)


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _net(result: Scan) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in result.results:
        if r.check_id.startswith("net."):
            out.setdefault(r.check_id, []).append(r)
    return out


def test_nmap_gets_exactly_the_admitted_addresses_and_the_catalogues_ports(
    dns_server: LocalDnsServer, fake_nmap: tuple[Path, Path]
) -> None:
    script, log = fake_nmap
    result = _run(dns_server, settings={"nmap_binary": str(script)}, ports=True, authorised=True, allow_private=True)
    calls = _calls(log)
    hosts = [c[c.index("-") + 1] for c in calls]
    # apex, www, the MX host and the --host name; never the neighbour, never a name not in the inventory,
    # and not the mail provider's MX host outside the domain (the user cannot authorise that)
    assert sorted(hosts) == ["127.0.42.1", "127.0.42.2", "127.0.42.3", "127.0.42.4"]
    (external,) = [n for n in result.notices if n.key == "ports.external-hosts"]
    assert external.params["names"] == ["mx1.mailprovider.test"]
    cat = catalogue_mod.builtin()
    tcp, udp = wanted_ports(c.params for c in cat.checks.values() if "net.ports" in c.needs)
    for call in calls:
        assert call[:2] == ["-oX", "-"]
        assert sum(1 for a in call if a.startswith("127.")) == 1  # one address per nmap run
        assert {"-n", "-Pn", "-sV", "-T3", "--host-timeout"} <= set(call)
        ports = call[call.index("-p") + 1].split(",")
        assert [int(p[2:]) for p in ports if p.startswith("T:")] == list(tcp)
        assert [int(p[2:]) for p in ports if p.startswith("U:")] == list(udp)  # the tests run as root
    assert set(result.addresses_probed) >= set(hosts)
    assert "127.0.42.9" not in result.addresses_probed and "127.0.42.8" not in result.addresses_probed
    net = _net(result)
    (rdp,) = net["net.exposed.rdp"]
    assert rdp.status is not Status.ERROR, rdp.params
    assert (rdp.status, rdp.message, rdp.subject.address, rdp.subject.port) == (Status.FAIL, "open", "127.0.42.2", 3389)
    assert rdp.subject.names == ("www.museum.test",)
    (smb,) = net["net.exposed.smb"]
    assert smb.status is Status.PASS and sorted(smb.params["addresses"]) == sorted(hosts)


def test_without_allow_private_nothing_is_contacted(dns_server: LocalDnsServer, fake_nmap: tuple[Path, Path]) -> None:
    script, log = fake_nmap
    result = _run(dns_server, settings={"nmap_binary": str(script)}, ports=True, authorised=True, allow_private=False)
    assert _calls(log) == []
    assert result.addresses_probed == {}
    for check_id, results in _net(result).items():
        assert [r.status for r in results] == [Status.SKIPPED], check_id
        assert results[0].error_reason is ErrorReason.OUT_OF_SCOPE


@pytest.mark.parametrize(
    ("ports", "authorised", "key"),
    [(False, False, "skipped.active-not-requested"), (False, True, "skipped.active-not-requested"), (True, False, "skipped.not-authorised")],
)
def test_port_checks_need_both_ports_and_authorisation(
    dns_server: LocalDnsServer, fake_nmap: tuple[Path, Path], ports: bool, authorised: bool, key: str
) -> None:
    script, log = fake_nmap
    result = _run(dns_server, settings={"nmap_binary": str(script)}, ports=ports, authorised=authorised, allow_private=True)
    assert _calls(log) == []
    assert not any(o.probe == "net.ports" for o in result.outcomes)
    net = _net(result)
    assert len(net) >= 11
    assert all([(r.status, r.message) for r in rs] == [(Status.SKIPPED, key)] for rs in net.values())


def test_missing_nmap_falls_back_to_connect_scan_of_admitted_addresses_only(
    dns_server: LocalDnsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    attempts: list[tuple[str, int]] = []
    real = socket.socket.connect  # the conftest's loopback-only guard

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and self.type == socket.SOCK_STREAM:
            attempts.append((address[0], address[1]))
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nmap on this PATH
    result = _run(dns_server, settings={"connect_timeout": 1}, ports=True, authorised=True, allow_private=True)
    scanned = {a for a, port in attempts if port != dns_server.port}
    assert scanned == {"127.0.42.1", "127.0.42.2", "127.0.42.3", "127.0.42.4"}
    assert {k for k in (n.key for n in result.notices)} >= {"ports.reduced-detection", "ports.udp-skipped"}
    net = _net(result)
    assert [r.status for r in net["net.exposed.rdp"]] == [Status.PASS]
    assert [(r.status, r.message) for r in net["net.exposed.ics_bms"]] == [(Status.PASS, "closed"), (Status.SKIPPED, "udp-no-nmap")]
    fact = next(o.fact for o in result.outcomes if o.probe == "net.ports")
    assert fact.method == "connect"


def test_external_mx_hosts_only_when_the_profile_says_so(dns_server: LocalDnsServer, fake_nmap: tuple[Path, Path]) -> None:
    script, log = fake_nmap
    result = _run(
        dns_server, settings={"nmap_binary": str(script), "external_hosts": True}, ports=True, authorised=True, allow_private=True
    )
    hosts = sorted(c[c.index("-") + 1] for c in _calls(log))
    assert hosts == ["127.0.42.1", "127.0.42.2", "127.0.42.3", "127.0.42.4", "127.0.42.7"]
    assert not any(n.key == "ports.external-hosts" for n in result.notices)


def test_a_stored_port_scan_is_judged_again_the_same_way(dns_server: LocalDnsServer, fake_nmap: tuple[Path, Path]) -> None:
    script, _ = fake_nmap
    result = _run(dns_server, settings={"nmap_binary": str(script)}, ports=True, authorised=True, allow_private=True)
    stored = scan_from_dict(json.loads(json.dumps(scan_to_dict(result))), registry_mod.load())
    fact = next(o.fact for o in stored.outcomes if o.probe == "net.ports")
    assert type(fact).__name__ == "PortScan" and fact.addresses[0].scanned_tcp
    cat = catalogue_mod.builtin()
    profile = dataclasses.replace(catalogue_mod.profile(cat, "default"), include_tags=("net",), include=())
    again = rejudge(stored, catalogue=cat, profile=profile, registry=registry_mod.load())

    def key(r: Any) -> tuple[str, str, str]:
        return (r.key, r.status.value, r.message)

    assert sorted(map(key, _net(again)["net.exposed.rdp"])) == sorted(map(key, _net(result)["net.exposed.rdp"]))
    assert sorted(key(r) for rs in _net(again).values() for r in rs) == sorted(key(r) for rs in _net(result).values() for r in rs)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_cancelling_the_scan_ends_nmap_and_leaves_the_net_checks_in_error(dns_server: LocalDnsServer, tmp_path: Path) -> None:
    piddir = tmp_path / "pids"
    piddir.mkdir()
    script = tmp_path / "nmap"
    script.write_text(HANGING_NMAP.format(python=sys.executable, piddir=str(piddir)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    cancel = threading.Event()
    box: dict[str, Scan] = {}
    worker = threading.Thread(
        target=lambda: box.update(
            result=_run(dns_server, settings={"nmap_binary": str(script)}, ports=True, authorised=True, allow_private=True,
                        cancel=cancel)
        ),
        daemon=True,
    )
    worker.start()
    end = time.monotonic() + 20
    while len(list(piddir.iterdir())) < 4:  # one nmap per address, all four running
        assert time.monotonic() < end and worker.is_alive(), "nmap was never started"
        time.sleep(0.05)
    time.sleep(0.5)
    stopped = time.monotonic()
    cancel.set()
    worker.join(10)
    assert not worker.is_alive()
    assert time.monotonic() - stopped < 3  # nmap would have run for two minutes
    result = box["result"]
    assert not result.complete
    net = _net(result)
    assert len(net) >= 11
    for check_id, results in net.items():
        assert [(r.status, r.error_reason) for r in results] == [(Status.ERROR, ErrorReason.INTERRUPTED)], check_id
    pids = [int(p.name) for p in piddir.iterdir()]
    end = time.monotonic() + 2
    while any(_alive(pid) for pid in pids) and time.monotonic() < end:
        time.sleep(0.05)
    assert not [pid for pid in pids if _alive(pid)], "nmap left running after the scan was cancelled"
