"""Runs nmap against one admitted address and reads its XML output.

The command is built here and nowhere else: ``-n`` (nmap never resolves names itself, so it never
asks the system's resolver about anything), ``-Pn`` (the address is known to exist; do not ping
around), ``-sV`` (service and version), polite timing, ``--host-timeout``, exactly one address and
exactly the catalogue's ports. SSH ports get the ``ssh-auth-methods`` script, which asks the
server which login methods it offers without trying any password; TLS ports get ``ssl-cert``,
which reads the certificate (its names show whether the server is shared by many domains); VPN
portal ports get ``http-title``, which reads the title of the home page (one more GET /).

nmap runs as a child process that this module watches (python-nmap's ``PortScanner.scan`` blocks
until nmap ends, so a cancelled scan could not stop it): every tenth of a second it checks the
scan's cancel event and the hard time limit, and ends nmap (SIGTERM, then SIGKILL half a second
later) when either fires. Its XML is read by :mod:`cyberscan.parsers.nmap`.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..facts.ports import BUDGET, AddressScan, OpenPort
from ..models import ErrorReason
from ..parsers.banner import software
from ..parsers.nmap import NmapHost, parse_nmap_xml
from .portscan_settings import ScanSettings

log = logging.getLogger(__name__)

SSH_PORTS = frozenset({22, 2222})
# TLS ports whose certificate is read (ssl-cert): many unrelated names on it mean a shared server
TLS_PORTS = frozenset({443, 8443, 465, 993, 995})
# VPN portal ports whose home page title is read (http-title, one GET /): some portals (Ivanti Connect
# Secure) have no service fingerprint and say what they are only there. With -n nmap follows a
# redirect only to the same address and port
TITLE_PORTS = frozenset({443, 8443, 4433, 10443})
POLL = 0.1  # seconds between looks at the cancel event while nmap runs
GRACE = 0.5  # seconds nmap gets to end after SIGTERM before it is killed
KILL_AFTER = 30  # seconds past --host-timeout before a hung nmap is killed


def nmap_arguments(
    address: str,
    tcp: tuple[int, ...],
    udp: tuple[int, ...],
    *,
    settings: ScanSettings,
    host_timeout: float,
    privileged: bool,
) -> tuple[str, str]:
    """(port list, other arguments): see :func:`nmap_command` for the whole command line."""
    ports = ",".join([*(f"T:{p}" for p in tcp), *(f"U:{p}" for p in udp)])
    args = ["-n", "-Pn", "-sV", f"-T{settings.timing}", "--host-timeout", f"{max(1, int(host_timeout))}s"]
    args += ["--max-parallelism", str(settings.max_parallelism), "--max-retries", "2"]
    if settings.version_intensity != 7:  # 7 is nmap's own default
        args += ["--version-intensity", str(settings.version_intensity)]
    if tcp:
        args.append("-sS" if privileged else "-sT")
    if udp:
        args.append("-sU")
    scripts = []
    if SSH_PORTS & set(tcp):
        scripts.append("ssh-auth-methods")
    if TLS_PORTS & set(tcp):
        scripts.append("ssl-cert")
    if TITLE_PORTS & set(tcp):
        scripts.append("http-title")
    if scripts:
        args += ["--script", ",".join(scripts)]
    if ":" in address:
        args.append("-6")
    return ports, " ".join(args)


def nmap_command(binary: str, address: str, ports: str, arguments: str) -> list[str]:
    """``nmap -oX - ADDRESS -p PORTS ARGS``: XML on standard output, exactly one address."""
    return [binary, "-oX", "-", address, "-p", ports, *arguments.split()]


_VERSION = re.compile(r"Nmap version (\d+\.\d+)")


@functools.cache
def nmap_version(binary: str) -> str:
    """``7.93``, or "" when ``binary`` is not a working nmap."""
    try:
        # the binary is the profile's nmap_binary setting (the user's own choice), the argument fixed
        done = subprocess.run(  # noqa: S603
            [binary, "-V"], capture_output=True, timeout=10, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    match = _VERSION.search(done.stdout.decode("utf-8", errors="replace"))
    return match.group(1) if match else ""


@dataclass(frozen=True, slots=True)
class NmapOutput:
    stdout: bytes
    stderr: bytes
    returncode: int | None
    stopped: str = ""  # "" (nmap ended by itself) | "cancelled" | "time-limit"


def run_nmap(command: Sequence[str], *, limit: float, cancel: threading.Event | None = None) -> NmapOutput:
    """Run nmap, ending it within about ``POLL + GRACE`` seconds of a cancel or of ``limit`` seconds.

    Raises OSError when the program cannot be started."""
    # no shell; the command is built by nmap_command from an admitted address and catalogue ports
    proc = subprocess.Popen(  # noqa: S603
        list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    end = time.monotonic() + limit
    try:
        while True:
            try:
                # communicate() may be called again after a timeout; no output is lost
                out, err = proc.communicate(timeout=POLL)
                return NmapOutput(out, err, proc.returncode)
            except subprocess.TimeoutExpired:
                pass
            if cancel is not None and cancel.is_set():
                return _stop(proc, "cancelled")
            if time.monotonic() >= end:
                return _stop(proc, "time-limit")
    finally:
        if proc.poll() is None:  # an exception above (KeyboardInterrupt ...): never leave nmap behind
            proc.kill()
            proc.wait()


def _stop(proc: subprocess.Popen[bytes], why: str) -> NmapOutput:
    proc.terminate()
    try:
        out, err = proc.communicate(timeout=GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    log.debug("nmap stopped (%s)", why)
    return NmapOutput(out, err, proc.returncode, why)


def scan_address(
    binary: str,
    address: str,
    names: tuple[str, ...],
    tcp: tuple[int, ...],
    udp: tuple[int, ...],
    *,
    settings: ScanSettings,
    deadline: float,
    privileged: bool,
    ptr: tuple[str, ...] = (),
    cancel: threading.Event | None = None,
) -> AddressScan:
    """Scan one address within what is left of the domain's time budget; stop at once on ``cancel``."""

    def failed(reason: ErrorReason, detail: str) -> AddressScan:
        return AddressScan(address, names, ptr, "nmap", error=reason, detail=detail)

    if cancel is not None and cancel.is_set():
        return failed(ErrorReason.INTERRUPTED, "cancelled")
    remaining = deadline - time.monotonic()
    if remaining < 1:
        return failed(ErrorReason.TIMEOUT, BUDGET)
    if not tcp and not udp:
        return AddressScan(address, names, ptr, "nmap")
    host_timeout = min(settings.host_timeout, remaining)
    ports, arguments = nmap_arguments(
        address, tcp, udp, settings=settings, host_timeout=host_timeout, privileged=privileged
    )
    command = nmap_command(binary, address, ports, arguments)
    log.debug("%s", " ".join(command))
    try:
        # nmap stops itself at --host-timeout; it is killed a little later as a last resort
        done = run_nmap(command, limit=int(host_timeout) + KILL_AFTER, cancel=cancel)
    except OSError as exc:
        return failed(ErrorReason.UNREACHABLE, _short(f"nmap: cannot start {binary}: {exc.strerror or type(exc).__name__}"))
    if done.stopped == "cancelled":
        return failed(ErrorReason.INTERRUPTED, "cancelled")
    if done.stopped:
        return failed(ErrorReason.TIMEOUT, "nmap: killed after --host-timeout")
    run = parse_nmap_xml(done.stdout)
    if run.error and not run.hosts:
        return failed(ErrorReason.UNREACHABLE, _short(_last_line(done.stderr) or run.error))
    if run.exit == "error":
        return failed(ErrorReason.UNREACHABLE, _short(run.errormsg or _last_line(done.stderr) or "nmap: exit error"))
    host = next((h for h in run.hosts if _same(h.address, address)), None)
    return address_from_nmap(host, address, names, tcp, udp, ptr=ptr)


def _last_line(stderr: bytes) -> str:
    """nmap's last complaint on standard error (its fatal errors end with a "QUITTING!" line)."""
    lines = [x.strip() for x in stderr.decode("utf-8", errors="replace").splitlines() if x.strip()]
    lines = [x for x in lines if x != "QUITTING!"]
    return lines[-1] if lines else ""


def _same(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _short(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:200]


def address_from_nmap(
    host: NmapHost | None,
    address: str,
    names: tuple[str, ...],
    tcp: tuple[int, ...],
    udp: tuple[int, ...],
    *,
    ptr: tuple[str, ...] = (),
) -> AddressScan:
    """The fact for one address from nmap's parsed output (pure, so recorded XML can be replayed)."""
    if host is None:
        return AddressScan(address, names, ptr, "nmap", error=ErrorReason.UNREACHABLE, detail="nmap: no host")
    if host.timed_out:
        return AddressScan(address, names, ptr, "nmap", error=ErrorReason.TIMEOUT, detail="nmap: --host-timeout")
    found = []
    for p in host.ports:
        wanted = udp if p.proto == "udp" else tcp
        if p.port not in wanted:
            continue
        if p.state == "open":  # UDP "open|filtered" means no answer at all: not evidence of a service
            soft = software(p.product, p.version, p.extrainfo)
            found.append(
                OpenPort(
                    port=p.port,
                    proto=p.proto,
                    state=p.state,
                    service=p.service,
                    product=soft.product,
                    version=soft.version,
                    distribution=soft.distribution,
                    build=soft.build,
                    extrainfo=p.extrainfo,
                    tunnel=p.tunnel,
                    cpe=p.cpe,
                    auth_methods=p.auth_methods,
                    cert_names=p.cert_names,
                    title=p.title,
                    confident=p.method == "probed",
                )
            )
    return AddressScan(address, names, ptr, "nmap", scanned_tcp=tcp, scanned_udp=udp, open=tuple(found))


def facts_from_xml(xml: str, targets: Mapping[str, tuple[str, ...]], tcp: tuple[int, ...], udp: tuple[int, ...]) -> list[AddressScan]:
    """Replay recorded nmap XML into address facts (used by tests and for re-reading raw output)."""
    run = parse_nmap_xml(xml)
    return [
        address_from_nmap(next((h for h in run.hosts if _same(h.address, a)), None), a, names, tcp, udp)
        for a, names in targets.items()
    ]
