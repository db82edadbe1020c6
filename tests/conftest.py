"""Test-wide guards: never the internet."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _is_local(address: Any) -> bool:
    if isinstance(address, tuple):
        host = address[0]
    else:
        return True  # unix sockets
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host in {"localhost"}


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse, inside the test process, any connection or datagram to a non-loopback address."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise ConnectionRefusedError(f"test tried to reach {address}: tests talk to loopback only")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise ConnectionRefusedError(f"test tried to reach {address}: tests talk to loopback only")
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> Any:
        address = args[-1]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise ConnectionRefusedError(f"test tried to send to {address}: tests talk to loopback only")
        return real_sendto(self, data, *args)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    yield


@pytest.fixture(autouse=True, scope="session")
def _history_outside_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`cyberscan scan` saves every assessment in a history; in tests that is a throwaway file, never
    the user's own (tests that need their own store pass --db or set CYBERSCAN_DB themselves)."""
    previous = os.environ.get("CYBERSCAN_DB")
    os.environ["CYBERSCAN_DB"] = str(tmp_path_factory.mktemp("history") / "history.sqlite")
    yield
    if previous is None:
        os.environ.pop("CYBERSCAN_DB", None)
    else:
        os.environ["CYBERSCAN_DB"] = previous


def require_binary(name: str, *candidates: str) -> str:
    """Path of a server binary. Missing: skip on a developer machine, fail in CI (CI installs it)."""
    for cand in (name, *candidates):
        found = shutil.which(cand) or next((p for p in (f"/usr/sbin/{cand}", f"/usr/bin/{cand}") if os.path.exists(p)), None)
        if found:
            return found
    message = f"{name} is not installed (.ci/run installs it from Debian)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL server for the whole test session (tests/fixtures/postgres.py).

    Missing PostgreSQL: skipped on a developer machine, a failure in CI (.ci/run installs it)."""
    from tests.fixtures.postgres import PostgresServer, find_bin

    if find_bin() is None:
        require_binary("initdb")  # skips here, fails in CI
    # not under pytest's own tmp folder: that is private to root, and PostgreSQL runs as "postgres"
    folder = Path(tempfile.mkdtemp(prefix="cyberscan-pg-"))
    try:
        with PostgresServer(folder) as server:
            yield server.dsn
    finally:
        shutil.rmtree(folder, ignore_errors=True)
