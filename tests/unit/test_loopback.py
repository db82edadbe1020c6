"""tests/fixtures/loopback.py: every test process gets a loopback block nobody else uses, and the bind
test says when a server's port is taken. Also: the BIND9 zone files use placeholders, never fixed addresses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import loopback
from tests.integration import bind9

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.fixtures import loopback
print(loopback.block().prefix, flush=True)
time.sleep(120)
"""


class _Sequence:
    """Stands in for the random source: the block numbers given, in order."""

    def __init__(self, *prefixes: str) -> None:
        self.numbers = [int(n) for p in prefixes for n in p.split(".")[1:]]

    def randint(self, low: int, high: int) -> int:
        return self.numbers.pop(0)


@pytest.fixture
def holder() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Another process that took its block and keeps it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(ROOT)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    prefix = proc.stdout.readline().strip()
    yield proc, prefix
    proc.kill()
    proc.wait(timeout=10)


def _fresh() -> str:
    """A block prefix that is free now (taken and given back at once)."""
    block = loopback.reserve()
    block.release()
    return block.prefix


def test_a_block_another_process_holds_is_never_taken(holder: tuple[subprocess.Popen[str], str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _, taken = holder
    other = _fresh()
    monkeypatch.setattr(loopback, "_RANDOM", _Sequence(taken, other))
    block = loopback.reserve()
    try:
        assert block.prefix == other != taken
    finally:
        block.release()


def test_a_killed_process_frees_its_block(holder: tuple[subprocess.Popen[str], str], monkeypatch: pytest.MonkeyPatch) -> None:
    proc, taken = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    monkeypatch.setattr(loopback, "_RANDOM", _Sequence(taken))
    block = loopback.reserve(tries=1)
    try:
        assert block.prefix == taken
    finally:
        block.release()


def test_a_block_where_a_socket_is_bound_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    busy, other = _fresh(), _fresh()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((f"{busy}.77", 0))  # someone else's server, with no lock file of ours
        monkeypatch.setattr(loopback, "_RANDOM", _Sequence(busy, other))
        block = loopback.reserve()
    try:
        assert block.prefix == other
    finally:
        block.release()


def test_one_block_per_process_and_its_addresses() -> None:
    block = loopback.block()
    assert loopback.block() is block
    assert block.prefix.startswith("127.") and not block.prefix.startswith("127.0.")
    assert block.address(11) == f"{block.prefix}.11" and block.address(11) in block
    assert "127.0.0.1" not in block
    with pytest.raises(ValueError):
        block.address(255)


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM])
def test_the_bind_test_names_a_taken_port(kind: socket.SocketKind) -> None:
    address = loopback.block().address(200)
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((address, 0))
        if kind == socket.SOCK_STREAM:
            sock.listen()
        port = sock.getsockname()[1]
        tcp, udp = ((port,), ()) if kind == socket.SOCK_STREAM else ((), (port,))
        with pytest.raises(RuntimeError, match=f"{address}:{port}/(tcp|udp) is taken"):
            loopback.ensure_free(address, tcp=tcp, udp=udp)
    loopback.ensure_free(address, tcp=tcp, udp=udp)  # closed again: free


def test_a_closed_tcp_port_in_time_wait_counts_as_free() -> None:
    address = loopback.block().address(201)
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection((address, port))
        conn, _ = server.accept()
        conn.close()  # the server side closes first: its end waits in TIME_WAIT
        time.sleep(0.05)
        client.close()
    loopback.ensure_free(address, tcp=(port,))


# ------------------------------------------------------------------------------------------ zone files


def test_every_bind9_zone_file_fills_in_with_this_run_s_addresses() -> None:
    for path in sorted(bind9.ZONES_DIR.glob("*.zone")):
        text = bind9.zone_text(path.read_text(encoding="utf-8"), serial="2026010101")
        assert "{" not in text, path.name
        assert bind9.NS1 in text, path.name


def test_a_zone_with_a_fixed_address_or_an_unknown_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match=r"fixed address 127\.0\.20\.1"):
        bind9.zone_text("www A 127.0.20.1\n", serial="1")
    with pytest.raises(ValueError, match=r"unknown placeholder \{nginx_gone\}"):
        bind9.zone_text("www A {nginx_gone}\n", serial="1")
    text = bind9.zone_text("www A {nginx_good}\nns A 127.0.0.1\n", serial="1")
    assert bind9.PLACEHOLDERS["nginx_good"] in text and "127.0.0.1" in text
