"""nmap's XML output (``-oX``) turned into plain structure. Pure and total: never raises.

Only what cyberscan judges is kept: per host its address, whether nmap gave up on it
(``timedout="true"`` after ``--host-timeout``), and per port the state and the service nmap
recognised (name, product, version, extra info, TLS tunnel, CPEs) plus script output
(``ssh-auth-methods`` tells whether an SSH server accepts passwords, ``ssl-cert`` the certificate's
names, ``http-title`` the home page's title).

The XML comes from the nmap binary on this computer, not from the network; it is still parsed
defensively: anything unexpected gives an empty or partial result with ``error`` set.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # local nmap output; expat >= 2.4 refuses entity bombs
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NmapPort:
    port: int
    proto: str  # tcp | udp | sctp
    state: str  # open | closed | filtered | open|filtered | closed|filtered | unfiltered
    reason: str = ""
    service: str = ""  # nmap's service name: ssh, ms-wbt-server, mysql ...
    product: str = ""
    version: str = ""
    extrainfo: str = ""
    tunnel: str = ""  # "ssl" when nmap found TLS in front of the service
    method: str = ""  # "probed" (version detection answered) or "table" (guessed from the port number)
    cpe: tuple[str, ...] = ()
    scripts: tuple[tuple[str, str], ...] = ()  # (script id, output)
    auth_methods: tuple[str, ...] = ()  # from the ssh-auth-methods script
    cert_names: tuple[str, ...] = ()  # from the ssl-cert script: the certificate's DNS names
    title: str = ""  # from the http-title script: the home page's title (names VPN portals nmap cannot)

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True, slots=True)
class NmapHost:
    address: str
    addrtype: str = ""  # ipv4 | ipv6
    status: str = ""  # up | down
    timed_out: bool = False
    ports: tuple[NmapPort, ...] = ()
    extraports: tuple[tuple[str, int], ...] = ()  # (state, count) of ports nmap did not list one by one


@dataclass(frozen=True, slots=True)
class NmapRun:
    hosts: tuple[NmapHost, ...] = ()
    args: str = ""
    version: str = ""
    finished: bool = False  # the run reached <runstats> (it was not killed halfway)
    exit: str = ""  # "success" | "error"
    errormsg: str = ""  # nmap's own error message, if it gave one
    error: str = ""  # why the XML could not be read (empty when it could)


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def _port(el: ET.Element) -> NmapPort | None:
    number = _int(el.get("portid"), -1)
    if not 0 <= number <= 65535:
        return None
    state_el = el.find("state")
    service_el = el.find("service")
    svc = service_el.attrib if service_el is not None else {}
    scripts: list[tuple[str, str]] = []
    auth: list[str] = []
    cert_names: list[str] = []
    title = ""
    for script in el.findall("script"):
        sid = script.get("id") or ""
        scripts.append((sid, script.get("output") or ""))
        if sid == "http-title":
            found = next((e.text for e in script.findall("elem") if e.get("key") == "title" and e.text), "")
            title = " ".join((found or "").split())[:200]
        if sid == "ssl-cert":
            cert_names.extend(n for n in _cert_names(script.get("output") or "") if n not in cert_names)
        if sid == "ssh-auth-methods":
            for table in script.findall("table"):
                if (table.get("key") or "").lower().startswith("supported authentication"):
                    auth.extend((e.text or "").strip() for e in table.findall("elem") if (e.text or "").strip())
    cpes = tuple((c.text or "").strip() for c in (service_el.findall("cpe") if service_el is not None else []))
    return NmapPort(
        port=number,
        proto=el.get("protocol") or "tcp",
        state=(state_el.get("state") or "") if state_el is not None else "",
        reason=(state_el.get("reason") or "") if state_el is not None else "",
        service=svc.get("name", ""),
        product=svc.get("product", ""),
        version=svc.get("version", ""),
        extrainfo=svc.get("extrainfo", ""),
        tunnel=svc.get("tunnel", ""),
        method=svc.get("method", ""),
        cpe=tuple(c for c in cpes if c),
        scripts=tuple(scripts),
        auth_methods=tuple(auth),
        cert_names=tuple(cert_names),
        title=title,
    )


def _cert_names(output: str) -> list[str]:
    """DNS names from the ssl-cert script's text (``Subject Alternative Name: DNS:a, DNS:b``)."""
    names: list[str] = []
    for line in output.splitlines():
        line = line.strip()
        if line.lower().startswith("subject alternative name:"):
            for part in line.split(":", 1)[1].split(","):
                kind, _, value = part.strip().partition(":")
                value = value.strip().lower().rstrip(".")
                if kind.strip().upper() == "DNS" and value and value not in names:
                    names.append(value)
    return names


def _host(el: ET.Element) -> NmapHost | None:
    address = ""
    addrtype = ""
    for addr in el.findall("address"):
        if addr.get("addrtype") in ("ipv4", "ipv6"):
            address, addrtype = addr.get("addr") or "", addr.get("addrtype") or ""
            break
    if not address:
        return None
    status_el = el.find("status")
    ports: list[NmapPort] = []
    extra: list[tuple[str, int]] = []
    ports_el = el.find("ports")
    if ports_el is not None:
        for port_el in ports_el.findall("port"):
            parsed = _port(port_el)
            if parsed is not None:
                ports.append(parsed)
        for ex in ports_el.findall("extraports"):
            extra.append((ex.get("state") or "", _int(ex.get("count"))))
    return NmapHost(
        address=address,
        addrtype=addrtype,
        status=(status_el.get("state") or "") if status_el is not None else "",
        timed_out=(el.get("timedout") or "").lower() == "true",
        ports=tuple(ports),
        extraports=tuple(extra),
    )


def parse_nmap_xml(text: str | bytes) -> NmapRun:
    """Parse nmap ``-oX`` output. Never raises; ``error`` says why nothing could be read."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text.strip():
        return NmapRun(error="nmap: no output")
    try:
        root = ET.fromstring(text)  # noqa: S314 - see the module docstring
    except (ET.ParseError, ValueError) as exc:
        # a run killed halfway ends without closing tags; keep what is complete
        return _partial(text, f"nmap XML: {exc}")
    if root.tag != "nmaprun":
        return NmapRun(error=f"nmap XML: root <{root.tag}>")
    hosts = tuple(h for h in (_host(el) for el in root.findall("host")) if h is not None)
    finished_el = root.find("runstats/finished")
    return NmapRun(
        hosts=hosts,
        args=root.get("args") or "",
        version=root.get("version") or "",
        finished=finished_el is not None,
        exit=(finished_el.get("exit") or "") if finished_el is not None else "",
        errormsg=(finished_el.get("errormsg") or "") if finished_el is not None else "",
    )


def _partial(text: str, error: str) -> NmapRun:
    """Hosts that were written out completely before the output stopped."""
    hosts: list[NmapHost] = []
    start = 0
    while True:
        begin = text.find("<host ", start)
        if begin < 0:
            begin = text.find("<host>", start)
        if begin < 0:
            break
        end = text.find("</host>", begin)
        if end < 0:
            break
        chunk = text[begin : end + len("</host>")]
        start = end + len("</host>")
        try:
            el = ET.fromstring(chunk)  # noqa: S314 - see the module docstring
        except (ET.ParseError, ValueError):
            continue
        host = _host(el)
        if host is not None:
            hosts.append(host)
    return NmapRun(hosts=tuple(hosts), error=error)
