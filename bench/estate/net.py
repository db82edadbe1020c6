"""Two network namespaces joined by a veth pair, with the delay on the way from client to servers.

    csb-cli (10.250.0.2, csb-c) ──veth── (csb-s, 10.250.0.1) csb-srv
    routes 10.80.0.0/16 via csb-s        every service address on its lo; iptables mangle PREROUTING
    no default route: nothing leaves     -i csb-s -j NFQUEUE --queue-num 0  → bench/estate/delay.py

Only packets that arrive from the client are queued, each for the whole round-trip time: every
exchange (SYN/SYN-ACK, query/answer, hello/flight) crosses the link once in that direction, so each
round trip costs the RTT once. Traffic inside the server namespace (Postfix to itself) is not delayed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SERVER_NS = "csb-srv"
CLIENT_NS = "csb-cli"
SERVER_IF = "csb-s"
CLIENT_IF = "csb-c"
SERVER_LINK = "10.250.0.1"
CLIENT_LINK = "10.250.0.2"
PREFIX = "10.80.0.0/16"
QUEUE = 0


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done


def exists() -> bool:
    return SERVER_NS in sh("ip", "netns", "list").stdout.split()


def up(addresses: list[str], resolver: str) -> None:
    """Create both namespaces, the link, the service addresses and the NFQUEUE rule."""
    if exists() or CLIENT_NS in sh("ip", "netns", "list").stdout.split():
        raise RuntimeError(f"namespace {SERVER_NS} or {CLIENT_NS} exists: run `python -m bench.estate down` first")
    sh("ip", "netns", "add", SERVER_NS)
    sh("ip", "netns", "add", CLIENT_NS)
    sh("ip", "link", "add", SERVER_IF, "type", "veth", "peer", "name", CLIENT_IF)
    sh("ip", "link", "set", SERVER_IF, "netns", SERVER_NS)
    sh("ip", "link", "set", CLIENT_IF, "netns", CLIENT_NS)
    for ns, dev, addr in ((SERVER_NS, SERVER_IF, SERVER_LINK), (CLIENT_NS, CLIENT_IF, CLIENT_LINK)):
        sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", CLIENT_NS, "route", "add", PREFIX, "via", SERVER_LINK)
    batch = "".join(f"address add {a}/32 dev lo\n" for a in addresses)
    subprocess.run(["ip", "-n", SERVER_NS, "-batch", "-"], input=batch, text=True, check=True, capture_output=True)
    for ns in (SERVER_NS, CLIENT_NS):
        folder = Path("/etc/netns") / ns
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "resolv.conf").write_text(f"nameserver {resolver}\noptions timeout:2 attempts:1\n")
    sh("ip", "netns", "exec", SERVER_NS, "sysctl", "-q", "-w", "net.core.somaxconn=8192")
    sh("ip", "netns", "exec", SERVER_NS, "sysctl", "-q", "-w", "net.ipv4.tcp_max_syn_backlog=8192")
    for ns in (SERVER_NS, CLIENT_NS):
        sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000")
        sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1")


def queue_rule(action: str = "-A") -> None:
    """Hand packets from the client to the delayer (``-A`` adds the rule, ``-D`` removes it)."""
    sh("ip", "netns", "exec", SERVER_NS, "iptables", "-t", "mangle", action, "PREROUTING", "-i", SERVER_IF,
       "-j", "NFQUEUE", "--queue-num", str(QUEUE))


def down() -> None:
    for ns in (SERVER_NS, CLIENT_NS):
        sh("ip", "netns", "del", ns, check=False)
        folder = Path("/etc/netns") / ns
        (folder / "resolv.conf").unlink(missing_ok=True)
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()
    sh("ip", "link", "del", SERVER_IF, check=False)


def in_client(*args: str) -> list[str]:
    """A command line that runs ``args`` in the client namespace."""
    return ["ip", "netns", "exec", CLIENT_NS, *args]


def in_server(*args: str) -> list[str]:
    return ["ip", "netns", "exec", SERVER_NS, *args]
