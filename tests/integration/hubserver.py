"""Run the real hub (``cyberscan hub serve`` under gunicorn) on a free loopback port for a test.

The address is one of this test process's own loopback block (tests/fixtures/loopback.py): the port is
picked before gunicorn binds it (and kept over a restart), and on 127.0.0.1 another program's
connection could take it meanwhile as its own port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures import loopback

CLI = [sys.executable, "-m", "cyberscan.cli"]
HOST = loopback.block().address(61)


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def hub_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CYBERSCAN_HUB_DATA=str(folder / "hubdata"), XDG_DATA_HOME=str(folder / "xdg"), CYBERSCAN_LANG="en")
    return env


def create_token(database: str, folder: Path, *, max_organisations: int = 1, label: str = "", count: int = 1) -> str:
    done = subprocess.run([*CLI, "hub", "token", "create", "--database", database, "--max-organisations",
                           str(max_organisations), "--label", label, "--count", str(count)], env=hub_env(folder), capture_output=True,
                          text=True, timeout=120, check=True)
    return done.stdout.strip()


class Hub:
    def __init__(self, database: str, folder: Path, *, k: int | None = None, rate: int = 1_000_000, workers: int = 2,
                 extra: tuple[str, ...] = (), host: str = HOST) -> None:
        self.database, self.folder, self.k, self.rate, self.workers, self.extra = database, folder, k, rate, workers, extra
        self.host = host
        self.port = free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self.scheme = "https" if "--certfile" in extra else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> Hub:
        args = [*CLI, "hub", "serve", "--bind", f"{self.host}:{self.port}", "--database", self.database,
                "--rate", str(self.rate), "--workers", str(self.workers), *self.extra]
        if self.k is not None:
            args += ["--k", str(self.k)]
        log = (self.folder / "hub.log").open("ab")
        self.process = subprocess.Popen(args, env=hub_env(self.folder), stdout=log, stderr=log, start_new_session=True)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError("hub exited: " + (self.folder / "hub.log").read_text(errors="replace")[-3000:])
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.5):
                return self
            time.sleep(0.1)
        raise RuntimeError("hub did not start")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # gunicorn finishes the requests in progress
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
