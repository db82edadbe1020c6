"""Build, start, inspect and stop the estate. State (pids, paths, size) lives in ``<dir>/state.json``."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
from cryptography.hazmat.primitives import serialization

from . import mail, net, pki, plan, web, zones

DEFAULT_DIR = Path("/tmp/cyberscan-bench")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class State:
    folder: Path
    domains: int
    rtt_ms: float
    pids: dict[str, int]
    ca_file: str
    postfix_dir: str
    built: str

    @classmethod
    def load(cls, folder: Path = DEFAULT_DIR) -> State:
        raw = json.loads((folder / "state.json").read_text())
        return cls(folder=Path(raw["folder"]), domains=raw["domains"], rtt_ms=raw["rtt_ms"], pids=raw["pids"],
                   ca_file=raw["ca_file"], postfix_dir=raw["postfix_dir"], built=raw["built"])

    def save(self) -> None:
        data = {"folder": str(self.folder), "domains": self.domains, "rtt_ms": self.rtt_ms, "pids": self.pids,
                "ca_file": self.ca_file, "postfix_dir": self.postfix_dir, "built": self.built}
        (self.folder / "state.json").write_text(json.dumps(data, indent=2))

    @property
    def names(self) -> list[str]:
        return [d.name for d in plan.domains(self.domains)]


def _log(message: str) -> None:
    print(f"[estate] {message}", file=sys.stderr, flush=True)


def _answers(address: str) -> bool:
    query = dns.message.make_query("test.", "SOA")
    try:
        response = dns.query.udp(query, address, timeout=0.5)
    except Exception:  # noqa: BLE001 - not up yet
        return False
    return response.rcode() == dns.rcode.NOERROR


def _wait(what: str, ready: object, proc: subprocess.Popen[bytes] | None, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-2000:]}")
        if callable(ready) and ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start in {seconds:.0f} s: {log.read_text(errors='replace')[-2000:]}")


def _in_ns(*args: str) -> list[str]:
    return net.in_server(*args)


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)


def _tcp_ready(address: str, port: int, banner: bool = False) -> bool:
    """Connect from the client namespace is not possible from here; the server namespace is."""
    done = subprocess.run(_in_ns(sys.executable, "-c", (
        "import socket,sys\n"
        f"s=socket.create_connection(({address!r},{port}),timeout=1)\n"
        + ("sys.exit(0 if s.recv(4).startswith(b'220') else 1)\n" if banner else "")
    )), capture_output=True, check=False)
    return done.returncode == 0


def up(count: int, rtt_ms: float, folder: Path = DEFAULT_DIR) -> State:
    """Build an estate of ``count`` domains in ``folder`` and start it behind ``rtt_ms`` of delay."""
    if (folder / "state.json").exists():
        raise RuntimeError(f"{folder}/state.json exists: run `python -m bench.estate down` first")
    if os.geteuid() != 0:
        raise RuntimeError("the estate needs root (network namespaces, iptables, servers on port 53/25/80/443)")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    now = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    domains = plan.domains(count)
    _log(f"{count} domains: certificates, zones and configuration in {folder}")
    authority = pki.Pki(folder / "pki", now)
    spki = authority.keys["rsa"].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    files, open_axfr = zones.write_all(folder / "zones", domains, now, tlsa=zones.tlsa_record(spki))
    listen = [plan.RESOLVER, *(a for pair in plan.DNS_PROVIDERS.values() for a in pair)]
    named_conf = zones.named_conf(folder / "zones", files, open_axfr, listen)
    nginx_conf = web.write(folder / "nginx", domains, authority, now)
    postfix_dir = mail.write(folder / "postfix", authority)
    _log(f"built in {time.monotonic() - started:.1f} s; starting the network and the servers")
    addresses = [*listen, *plan.HOSTING, *(a for p in plan.MAIL_PROVIDERS for _, a in p.hosts)]
    net.up(addresses, plan.RESOLVER)
    state = State(folder, count, rtt_ms, {}, str(authority.ca_file), str(postfix_dir), now.isoformat())
    state.save()
    try:
        (folder / "rtt_ms").write_text(f"{rtt_ms}\n")
        delayer = _spawn(_in_ns(sys.executable, "-m", "bench.estate.delay", "--queue", str(net.QUEUE),
                                "--delay-file", str(folder / "rtt_ms")), folder / "delay.log")
        state.pids["delay"] = delayer.pid
        state.save()
        _wait("delayer", lambda: "delayer: queue" in (folder / "delay.log").read_text(), delayer, folder / "delay.log",
              15)
        net.queue_rule("-A")
        named = _spawn(_in_ns("/usr/sbin/named", "-g", "-c", str(named_conf)), folder / "named.log")
        state.pids["named"] = named.pid
        state.save()
        _wait("named", lambda: subprocess.run(_in_ns(sys.executable, "-c", (
            "import sys, dns.message, dns.query\n"
            f"r = dns.query.udp(dns.message.make_query('test.', 'SOA'), {plan.RESOLVER!r}, timeout=1)\n"
            f"r2 = dns.query.udp(dns.message.make_query({domains[-1].name!r}, 'SOA'), {plan.RESOLVER!r}, timeout=1)\n"
            "sys.exit(0 if r.rcode() == 0 and r2.rcode() == 0 else 1)\n")), capture_output=True,
            check=False).returncode == 0, named, folder / "named.log", 600)
        nginx = _spawn(_in_ns("/usr/sbin/nginx", "-p", str(nginx_conf.parent), "-c", str(nginx_conf), "-g",
                              "daemon off;"), folder / "nginx.log")
        state.pids["nginx"] = nginx.pid
        state.save()
        _wait("nginx", lambda: _tcp_ready(plan.HOSTING[-1], 443), nginx, folder / "nginx.log", 300)
        done = subprocess.run(_in_ns("/usr/sbin/postfix", "-c", str(postfix_dir), "start"), capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"postfix did not start: {done.stderr}")
        state.pids["postfix"] = -1  # stopped with `postfix -c DIR stop`
        state.save()
        last_mail = plan.MAIL_PROVIDERS[-1].hosts[-1][1]
        _wait("postfix", lambda: _tcp_ready(last_mail, 25, banner=True), None, postfix_dir / "maillog", 60)
    except BaseException:
        down(folder)
        raise
    _log(f"up: {count} domains, RTT {rtt_ms:g} ms, {time.monotonic() - started:.1f} s in all")
    return state


def restart(folder: Path = DEFAULT_DIR) -> State:
    """Start again, from the files already built, every server of the estate that is no longer running
    (something outside the estate stopped it); a running one is left alone. Nothing is rebuilt."""
    state = State.load(folder)
    if not net.exists():
        raise RuntimeError("the namespaces are gone: run `down` and `up`")

    def alive(name: str) -> bool:
        pid = state.pids.get(name, -1)
        if pid < 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    if not alive("delay"):
        log = folder / "delay.log"
        seen = log.read_text().count("delayer: queue") if log.exists() else 0
        delayer = _spawn(_in_ns(sys.executable, "-m", "bench.estate.delay", "--queue", str(net.QUEUE),
                                "--delay-file", str(folder / "rtt_ms")), folder / "delay.log")
        state.pids["delay"] = delayer.pid
        state.save()
        _wait("delayer", lambda: log.read_text().count("delayer: queue") > seen, delayer, log, 15)
        _log(f"delayer started again (pid {delayer.pid})")
    if not alive("named"):
        named = _spawn(_in_ns("/usr/sbin/named", "-g", "-c", str(folder / "zones" / "named.conf")),
                       folder / "named.log")
        state.pids["named"] = named.pid
        state.save()
        last = state.names[-1]
        _wait("named", lambda: subprocess.run(_in_ns(sys.executable, "-c", (
            "import sys, dns.message, dns.query\n"
            f"r = dns.query.udp(dns.message.make_query({last!r}, 'SOA'), {plan.RESOLVER!r}, timeout=1)\n"
            "sys.exit(0 if r.rcode() == 0 else 1)\n")), capture_output=True, check=False).returncode == 0,
            named, folder / "named.log", 600)
        _log(f"named started again (pid {named.pid})")
    if not alive("nginx"):
        conf = folder / "nginx" / "nginx.conf"
        nginx = _spawn(_in_ns("/usr/sbin/nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"),
                       folder / "nginx.log")
        state.pids["nginx"] = nginx.pid
        state.save()
        _wait("nginx", lambda: _tcp_ready(plan.HOSTING[-1], 443), nginx, folder / "nginx.log", 300)
        _log(f"nginx started again (pid {nginx.pid})")
    last_mail = plan.MAIL_PROVIDERS[-1].hosts[-1][1]
    if not _tcp_ready(last_mail, 25, banner=True):
        subprocess.run(_in_ns("/usr/sbin/postfix", "-c", state.postfix_dir, "start"), capture_output=True,
                       text=True, check=False)
        _wait("postfix", lambda: _tcp_ready(last_mail, 25, banner=True), None,
              Path(state.postfix_dir) / "maillog", 60)
        _log("postfix started again")
    return state


def set_rtt(rtt_ms: float, folder: Path = DEFAULT_DIR) -> None:
    """Change the delay without restarting the delayer (no packet is dropped)."""
    state = State.load(folder)
    (folder / "rtt_ms").write_text(f"{rtt_ms}\n")
    os.kill(state.pids["delay"], signal.SIGHUP)
    state.rtt_ms = rtt_ms
    state.save()
    time.sleep(0.2)


def _stop(pid: int, sig: int = signal.SIGTERM, wait: float = 10) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (started by an earlier `up`): poll for it
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        else:
            if finished == pid:
                return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def down(folder: Path = DEFAULT_DIR) -> None:
    """Stop every process the estate started (by pid), remove the namespaces and the state."""
    try:
        state = State.load(folder)
    except FileNotFoundError:
        state = None
    if state is not None:
        if "postfix" in state.pids:
            subprocess.run(_in_ns("/usr/sbin/postfix", "-c", state.postfix_dir, "stop"), capture_output=True,
                           check=False, timeout=60)
        for name in ("nginx", "named"):
            if name in state.pids:
                _stop(state.pids[name], signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        if net.exists():
            with contextlib.suppress(RuntimeError):
                net.queue_rule("-D")
        if "delay" in state.pids:
            _stop(state.pids["delay"])
    net.down()
    if state is not None:
        (folder / "state.json").unlink(missing_ok=True)
    _log("down")


def status(folder: Path = DEFAULT_DIR) -> dict[str, object]:
    state = State.load(folder)
    alive = {}
    for name, pid in state.pids.items():
        if pid < 0:
            continue
        try:
            os.kill(pid, 0)
            alive[name] = True
        except ProcessLookupError:
            alive[name] = False
    return {"domains": state.domains, "rtt_ms": state.rtt_ms, "ca_file": state.ca_file, "alive": alive,
            "namespaces": net.exists()}
