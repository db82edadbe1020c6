"""Ctrl-C stops a real scan process within about a second, and the report says it is incomplete."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest


class SoaOnlyServer:
    """A UDP nameserver that answers SOA queries for ``zone`` and silently drops every other query."""

    def __init__(self, zone: str) -> None:
        self.zone = zone.rstrip(".") + "."
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.dropped = threading.Event()  # set once a query was dropped: the scan itself is running
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            question = query.question[0] if query.question else None
            if question is None or question.rdtype != dns.rdatatype.SOA:
                self.dropped.set()
                continue  # dropped: the client waits until its timeout
            reply = dns.message.make_response(query)
            reply.answer.append(dns.rrset.from_text(self.zone, 300, "IN", "SOA",
                                                    f"ns1.{self.zone} hostmaster.{self.zone} 1 3600 600 86400 300"))
            self.sock.sendto(reply.to_wire(), peer)

    def __enter__(self) -> SoaOnlyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def dropping_dns() -> Iterator[SoaOnlyServer]:
    with SoaOnlyServer("museum.test") as server:
        yield server


def test_sigint_ends_a_real_scan_within_two_seconds_with_an_incomplete_report(
    dropping_dns: SoaOnlyServer, tmp_path: Path
) -> None:
    out = tmp_path / "scan.json"
    env = {**os.environ, "CYBERSCAN_LANG": "en"}
    cmd = [sys.executable, "-c", "from cyberscan.cli import run; run()", "scan", "museum.test",
           "--nameserver", f"127.0.0.1:{dropping_dns.port}", "--timeout", "30", "--format", "json", "-o", str(out),
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        # past start-up and preflight: the scan now waits on dropped DNS queries
        assert dropping_dns.dropped.wait(30), "the scan never started"
        time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert took < 2.0, took
    assert "Traceback" not in err.decode()
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["complete"] is False
    assert any(n["key"] == "scan.interrupted" for n in data["notices"])
    statuses = {r["status"] for r in data["results"]}
    assert "error" in statuses  # what was not collected is "not judged", never a pass or a fail
    interrupted = [r for r in data["results"] if r["error_reason"] == "interrupted"]
    assert interrupted and all(r["status"] == "error" for r in interrupted)
