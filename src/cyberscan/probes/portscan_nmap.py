"""Runs nmap (through python-nmap) against one admitted address and reads its XML output.

The command is built here and nowhere else: ``-n`` (nmap never resolves names itself, so it never
asks the system's resolver about anything), ``-Pn`` (the address is known to exist; do not ping
around), ``-sV`` (service and version), polite timing, ``--host-timeout``, exactly one address and
exactly the catalogue's ports. SSH ports get the ``ssh-auth-methods`` script, which asks the
server which login methods it offers without trying any password; TLS ports get ``ssl-cert``,
which reads the certificate (its names show whether the server is shared by many domains).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import time
from collections.abc import Mapping

import nmap

from ..facts.ports import AddressScan, OpenPort
from ..models import ErrorReason
from ..parsers.nmap import NmapHost, parse_nmap_xml
from .portscan_settings import ScanSettings

log = logging.getLogger(__name__)

SSH_PORTS = frozenset({22, 2222})
# TLS ports whose certificate is read (ssl-cert): many unrelated names on it mean a shared server
TLS_PORTS = frozenset({443, 8443, 465, 993, 995})


def nmap_arguments(
    address: str,
    tcp: tuple[int, ...],
    udp: tuple[int, ...],
    *,
    settings: ScanSettings,
    host_timeout: float,
    privileged: bool,
) -> tuple[str, str]:
    """(port list, other arguments) for python-nmap's ``scan`` (it adds ``-oX -`` and the host)."""
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
    if scripts:
        args += ["--script", ",".join(scripts)]
    if ":" in address:
        args.append("-6")
    return ports, " ".join(args)


@functools.cache
def nmap_version(binary: str) -> str:
    try:
        scanner = nmap.PortScanner(nmap_search_path=(binary,))
        major, minor = scanner.nmap_version()
    except (nmap.PortScannerError, OSError, ValueError, TypeError):
        return ""
    return f"{major}.{minor}"


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
) -> AddressScan:
    """Scan one address within what is left of the domain's time budget."""
    remaining = deadline - time.monotonic()
    if remaining < 1:
        return AddressScan(address, names, ptr, "nmap", error=ErrorReason.TIMEOUT, detail="budget")
    if not tcp and not udp:
        return AddressScan(address, names, ptr, "nmap")
    host_timeout = min(settings.host_timeout, remaining)
    ports, arguments = nmap_arguments(
        address, tcp, udp, settings=settings, host_timeout=host_timeout, privileged=privileged
    )
    log.debug("nmap %s -p %s %s", arguments, ports, address)
    try:
        scanner = nmap.PortScanner(nmap_search_path=(binary,))
    except nmap.PortScannerError as exc:
        return AddressScan(address, names, ptr, "nmap", error=ErrorReason.UNREACHABLE, detail=f"nmap: {exc}")
    try:
        # nmap stops itself at --host-timeout; the process is killed a little later as a last resort
        scanner.scan(hosts=address, ports=ports, arguments=arguments, timeout=int(host_timeout) + 30)
    except nmap.PortScannerTimeout:
        return AddressScan(address, names, ptr, "nmap", error=ErrorReason.TIMEOUT, detail="nmap: killed after --host-timeout")
    except (nmap.PortScannerError, AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        # python-nmap's own reading of the output stumbled; cyberscan reads the XML itself below
        log.debug("python-nmap could not analyse nmap's output: %s", exc)
    except OSError as exc:
        return AddressScan(address, names, ptr, "nmap", error=ErrorReason.UNREACHABLE, detail=f"nmap: {exc}")
    raw = scanner.get_nmap_last_output()
    run = parse_nmap_xml(raw if isinstance(raw, (str, bytes)) else "")
    if run.error and not run.hosts:
        return AddressScan(address, names, ptr, "nmap", error=ErrorReason.UNREACHABLE, detail=_short(run.error))
    if run.exit == "error":
        return AddressScan(address, names, ptr, "nmap", error=ErrorReason.UNREACHABLE, detail=_short(run.errormsg or "nmap: exit error"))
    host = next((h for h in run.hosts if _same(h.address, address)), None)
    return address_from_nmap(host, address, names, tcp, udp, ptr=ptr)


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
            found.append(
                OpenPort(
                    port=p.port,
                    proto=p.proto,
                    state=p.state,
                    service=p.service,
                    product=p.product,
                    version=p.version,
                    extrainfo=p.extrainfo,
                    tunnel=p.tunnel,
                    cpe=p.cpe,
                    auth_methods=p.auth_methods,
                    cert_names=p.cert_names,
                    confident=p.method == "probed",
                )
            )
    return AddressScan(address, names, ptr, "nmap", scanned_tcp=tcp, scanned_udp=udp, open=tuple(found))


def facts_from_xml(xml: str, targets: Mapping[str, tuple[str, ...]], tcp: tuple[int, ...], udp: tuple[int, ...]) -> list[AddressScan]:
    """Replay recorded nmap XML into address facts (used by tests and for re-reading raw output)."""
    run = parse_nmap_xml(xml)
    by_address = {h.address: h for h in run.hosts}
    return [address_from_nmap(by_address.get(a), a, names, tcp, udp) for a, names in targets.items()]
