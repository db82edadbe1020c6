"""Shared by the worker tests: a real Redis, zones on the in-process DNS server, a loopback server that
counts concurrent connections, and real ``cyberscan worker`` processes.

Nothing here talks to anything but loopback. Redis takes a free port on an address of this test
process's own loopback block (tests/fixtures/loopback.py), the DNS server a free port; the counting
server takes a free address of that block (the scan connects to the fixed ports 80, 443 and 25 of the
addresses in the zones, so each server gets an address of its own, which needs root as those ports do).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.history import open_store
from tests.conftest import IN_CI, require_binary
from tests.fixtures import loopback

T = TypeVar("T")
REDIS_HOST = 63  # in this process's loopback block (62 is PostgreSQL's)
COUNTING_HOSTS = range(200, 240)  # the counting servers' addresses in that block
ROOT = Path(__file__).resolve().parents[2]

# The command line, with the guard of tests/conftest.py installed first: no connection and no datagram to
# anything but loopback (some test zones name documentation addresses such as 192.0.2.80 on purpose).
# Prefork pool children inherit it.
GUARD = """
import ipaddress, socket
def _local(address):
    if not isinstance(address, tuple):
        return True
    try:
        return ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
    except ValueError:
        return address[0] == "localhost"
def _guard(real):
    def call(self, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(args[-1]):
            raise ConnectionRefusedError(f"test worker tried to reach {args[-1]}: tests talk to loopback only")
        return real(self, *args)
    return call
for _name in ("connect", "connect_ex", "sendto"):
    setattr(socket.socket, _name, _guard(getattr(socket.socket, _name)))
from cyberscan.cli import run
run()
"""
CYBERSCAN = [sys.executable, "-c", GUARD]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------------- Redis


class RedisServer:
    """``redis-server`` on a free loopback port, no persistence, in its own folder."""

    def __init__(self, folder: Path) -> None:
        self.binary = require_binary("redis-server")
        self.folder = folder
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return loopback.block().address(REDIS_HOST)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, *, same_port: bool = False) -> RedisServer:
        """Start on a free port (or, after :meth:`stop`, on the port it had: a Redis that comes back)."""
        for _ in range(1 if same_port else 10):
            self.port = self.port if same_port else free_port(self.host)
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                 "--dir", str(self.folder), "--protected-mode", "no", "--loglevel", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            end = time.monotonic() + 10
            while time.monotonic() < end and self.proc.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return self
                time.sleep(0.05)
            self.stop()  # the port was taken meanwhile: try another
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


# ----------------------------------------------------------------------------- loopback addresses


def need_root(what: str) -> None:
    if os.geteuid() != 0:
        message = f"{what} needs root (ports 25, 80 and 443 on a loopback address)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


class CountingServer:
    """Accepts on ports 80, 443 and 25 of one loopback address, holds every connection ``hold`` seconds
    (reading and discarding what comes), then closes it; records how many were open at once."""

    PORTS = (80, 443, 25)

    def __init__(self, *, hold: float = 0.3, address: str | None = None) -> None:
        self.hold = hold
        self.open = 0
        self.held: set[socket.socket] = set()
        self.peak = 0
        self.total = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.listeners: list[socket.socket] = []
        candidates = [address] if address else [loopback.block().address(host) for host in COUNTING_HOSTS]
        for candidate in candidates:
            try:
                for port in self.PORTS:
                    self.listeners.append(self._listen(candidate, port))
            except OSError:
                for s in self.listeners:
                    s.close()
                self.listeners = []
                if address:
                    raise
                continue
            self.address = candidate
            break
        else:  # pragma: no cover
            raise RuntimeError("no free address in this process's loopback block")
        self.threads = [threading.Thread(target=self._accept, args=(s,), daemon=True) for s in self.listeners]

    @staticmethod
    def _listen(address: str, port: int) -> socket.socket:
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, port))
            s.listen(256)
            s.settimeout(0.2)
        except OSError:
            s.close()
            raise
        return s

    def _accept(self, listener: socket.socket) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                # connections whose client already closed are no longer open, even when their holding
                # thread (on a loaded machine) has not noticed yet: the kernel knows at once
                self.held.difference_update({c for c in self.held if _peer_closed(c)})
                self.held.add(conn)
                self.open = len(self.held)
                self.total += 1
                self.peak = max(self.peak, self.open)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(0.05)
            end = time.monotonic() + self.hold
            while time.monotonic() < end:
                try:
                    if not conn.recv(4096):
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
        finally:
            with self.lock:
                self.held.discard(conn)
                self.open = len(self.held)
            conn.close()

    def __enter__(self) -> CountingServer:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for s in self.listeners:
            s.close()
        for t in self.threads:
            t.join(2)


def _peer_closed(conn: socket.socket) -> bool:
    """Whether the client closed its end (its FIN or RST is here), looked at without waiting."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


# ----------------------------------------------------------------------------- zones


def zone_text(domain: str, address: str, *, mx: bool = False) -> str:
    """A small zone whose names all point at ``address``."""
    lines = [
        "$TTL 300",
        f"@ SOA ns1.{domain}. hostmaster.{domain}. 1 3600 600 86400 300",
        f"@ NS ns1.{domain}.",
        "ns1 A 127.0.0.1",
        f"@ A {address}",
        f"www A {address}",
        '@ TXT "v=spf1 -all"',
        '_dmarc TXT "v=DMARC1; p=reject"',
    ]
    if mx:
        lines += [f"@ MX 10 mail.{domain}.", f"mail A {address}"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def zones_on(domains: Sequence[str], address: str, *, mx: bool = False,
             hang: Sequence[str] = ()) -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    for domain in domains:
        zones.add_text(f"{domain}.", zone_text(domain, address, mx=mx))
    zones.hang.update(hang)
    with LocalDnsServer(zones) as server:
        yield server


# ----------------------------------------------------------------------------- worker processes


class WorkerProcess:
    """``cyberscan -v worker ...`` in its own session (so a kill takes its pool children too)."""

    def __init__(self, name: str, args: Sequence[str], folder: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        self.handle = self.log.open("wb")
        self.proc = subprocess.Popen([*CYBERSCAN, "-v", "worker", "--name", f"{name}@test", *args], cwd=ROOT,
                                     stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, **(env or {})})

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, seconds: float = 180) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if "ready." in self.text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited {self.proc.returncode}:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"worker {self.name} not ready:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the worker and its pool children at once, as a crash or the OOM killer would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()


@contextlib.contextmanager
def workers(count: int, args: Sequence[str], folder: Path) -> Iterator[list[WorkerProcess]]:
    started = [WorkerProcess(f"w{i + 1}", args, folder) for i in range(count)]
    try:
        for w in started:
            w.wait_ready()
        yield started
    finally:
        for w in started:
            w.stop()


# ----------------------------------------------------------------------------- batches end to end


def targets_file(folder: Path, domains: list[str]) -> Path:
    path = folder / "targets.txt"
    path.write_text("\n".join(domains) + "\n", encoding="utf-8")
    return path


def submit(path: Path, broker: str, db: str, nameserver: str, *extra: str, scan_timeout: float = 4.0,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``cyberscan worker submit`` (in English) of a targets file, loopback addresses allowed. The scan
    timeout leaves the in-process DNS server (answering two workers' lookups at once) room on a
    loaded machine: at 1.5 s two domains' preflights once went unanswered during a full test run."""
    return subprocess.run([*CYBERSCAN, "--lang", "en", "worker", "submit", str(path), "--broker", broker, "--db", db,
                           "--allow-private", "--nameserver", nameserver, "--timeout", str(scan_timeout), *extra],
                          capture_output=True, text=True, timeout=timeout, check=False)


def status(batch: str, db: str, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CYBERSCAN, "--lang", "en", "worker", "status", batch, "--db", db, *extra],
                          capture_output=True, text=True, timeout=timeout, check=False)


def assert_exactly_once(db: str, batch: str, domains: list[str]) -> dict[str, int]:
    """Every domain of the batch done, each with its own stored assessment, and nothing else stored."""
    with open_store(db) as store:
        items = store.batch_items(batch)
        assert sorted(items) == sorted(domains)
        numbers = {d: i.assessment for d, i in items.items()}
        assert all(n is not None for n in numbers.values()), {d: i.failure for d, i in items.items()}
        assert len(set(numbers.values())) == len(domains)
        assert store.count() == len(domains)  # no assessment stored twice, none outside the journal
        for domain, number in numbers.items():
            assert number is not None and store.get(number).summary.targets == (domain,)
        info = store.batch(batch)
        assert info is not None and info.done == info.total == len(domains) and info.finished is not None
        return {d: n for d, n in numbers.items() if n is not None}


def batch_id(said: str) -> str:
    found = re.search(r"batch (worker-[0-9a-f]+)", said)
    assert found, said
    return found.group(1)


def wait_for(probe: Callable[[], T | None], seconds: float) -> T:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")
