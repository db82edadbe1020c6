"""SMTP STARTTLS facts per MX address, and TLSA records for DANE.

``smtp.starttls``: for every MX host and each address, on port 25 (``ctx.settings["smtp_port"]``):
banner, EHLO, whether STARTTLS is offered, then the TLS facts as for websites (protocol versions via
raw ClientHellos after STARTTLS, certificate, chain trust). Suites are not enumerated: one session per
protocol version keeps the load on mail servers small. ``dns.tlsa``: ``_25._tcp.<mx>`` TLSA records
with their DNSSEC status.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ..engine import ProbeContext
from ..errors import OutOfScope, ProbeError
from ..plugin import probe
from .dnssec import fetch_signed
from .hosts import HostInventory
from .tls import TlsEndpoint, classify_oserror, scan_endpoint
from .tlsraw import DEADLINE_FACTOR, watchdog

EHLO_NAME = "cyberscan.invalid"
MAX_LINE = 4096
MAX_LINES = 100


class SmtpError(Exception):
    """The server did not speak SMTP as expected."""


def read_reply(sock: socket.socket) -> tuple[int, list[str]]:
    """One (multi-line) SMTP reply: code and text lines. Raises SmtpError/OSError."""
    lines: list[str] = []
    buf = b""
    while len(lines) < MAX_LINES:
        while b"\n" not in buf:
            chunk = sock.recv(1)  # byte-wise: never read past the reply (TLS starts right after)
            if not chunk:
                raise SmtpError("connection closed")
            buf += chunk
            if len(buf) > MAX_LINE:
                raise SmtpError("reply line too long")
        line, _, buf = buf.partition(b"\n")
        text = line.rstrip(b"\r").decode("utf-8", errors="replace")
        if len(text) < 3 or not text[:3].isdigit():
            raise SmtpError(f"not an SMTP reply: {text[:60]!r}")
        lines.append(text[4:])
        if len(text) == 3 or text[3] == " ":
            return int(text[:3]), lines
    raise SmtpError("reply has too many lines")


def smtp_hello(sock: socket.socket) -> tuple[str, tuple[str, ...]]:
    """Banner and EHLO keywords. Raises SmtpError/OSError."""
    code, banner = read_reply(sock)
    if code != 220:
        raise SmtpError(f"banner code {code}")
    sock.sendall(f"EHLO {EHLO_NAME}\r\n".encode())
    code, lines = read_reply(sock)
    if code != 250:
        raise SmtpError(f"EHLO refused with {code}")
    keywords = tuple(line.split(" ", 1)[0].upper() for line in lines[1:])
    return " ".join(banner)[:200], keywords


def starttls_preamble(sock: socket.socket) -> None:
    """Banner, EHLO, STARTTLS: leaves the socket ready for a ClientHello."""
    _, keywords = smtp_hello(sock)
    if "STARTTLS" not in keywords:
        raise SmtpError("STARTTLS not offered")
    sock.sendall(b"STARTTLS\r\n")
    code, _ = read_reply(sock)
    if code != 220:
        raise SmtpError(f"STARTTLS refused with {code}")


def _preamble(sock: socket.socket) -> None:
    try:
        starttls_preamble(sock)
    except SmtpError as exc:
        raise ConnectionAbortedError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class MailEndpoint:
    name: str  # the MX host name
    address: str
    port: int
    status: str  # "ok" | "timeout" | "refused" | "unreachable" | "protocol" | "out-of-scope"
    detail: str = ""
    banner: str = ""
    starttls: bool = False
    tls: TlsEndpoint | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})"


@dataclass(frozen=True, slots=True)
class StarttlsFact:
    domain: str
    endpoints: tuple[MailEndpoint, ...]
    mx_names: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    null_mx: bool = False


def probe_mail_endpoint(ctx: ProbeContext, name: str, address: str, port: int) -> MailEndpoint:
    try:
        ctx.admit(address, name)
    except OutOfScope as exc:
        return MailEndpoint(name, address, port, "out-of-scope", str(exc))
    try:
        with ctx.connection_slot(address), socket.create_connection((address, port), timeout=ctx.timeout) as sock, \
                watchdog(sock, ctx.timeout * DEADLINE_FACTOR) as guard:
            sock.settimeout(ctx.timeout)
            try:
                banner, keywords = smtp_hello(sock)
            except (SmtpError, OSError):
                if guard.fired:
                    raise TimeoutError("the server took too long") from None
                raise
            try:
                sock.sendall(b"QUIT\r\n")
            except OSError:
                pass
    except SmtpError as exc:
        return MailEndpoint(name, address, port, "protocol", str(exc))
    except OSError as exc:
        return MailEndpoint(name, address, port, classify_oserror(exc), f"{type(exc).__name__}: {exc}")
    if "STARTTLS" not in keywords:
        return MailEndpoint(name, address, port, "ok", banner=banner, starttls=False)
    tls = scan_endpoint(ctx, name, address, port, enumerate_suites=False, preamble=_preamble)
    return MailEndpoint(name, address, port, "ok", banner=banner, starttls=True, tls=tls)


@probe("smtp.starttls", fact=StarttlsFact)
def probe_starttls(ctx: ProbeContext, domain: str) -> StarttlsFact:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("smtp_port", 25))
    mx_hosts = inventory.with_role("mx")
    pairs = [(h.name, a) for h in mx_hosts for a in h.addresses]
    unresolved = tuple(h.name for h in mx_hosts if not h.addresses)
    endpoints = ctx.map(lambda pair: probe_mail_endpoint(ctx, pair[0], pair[1], port), pairs)
    null_mx = False
    mx = ctx.outcome("dns.mx").fact
    if mx is not None:
        null_mx = bool(getattr(mx, "null_mx", False))
    return StarttlsFact(domain, tuple(endpoints), tuple(h.name for h in mx_hosts), unresolved, null_mx)


# ----------------------------------------------------------------------------- TLSA


@dataclass(frozen=True, slots=True)
class TlsaSet:
    mx: str
    owner: str  # _25._tcp.<mx>
    rcode: str
    records: tuple[str, ...]  # "usage selector matching data"
    signed: bool  # RRSIGs present
    authenticated: bool  # AD flag from a validating resolver
    error: str = ""


@dataclass(frozen=True, slots=True)
class TlsaFact:
    domain: str
    sets: tuple[TlsaSet, ...]


@probe("dns.tlsa", fact=TlsaFact)
def probe_tlsa(ctx: ProbeContext, domain: str) -> TlsaFact:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("smtp_port", 25))
    sets = []
    for host in inventory.with_role("mx"):
        owner = f"_{port}._tcp.{host.name}"
        try:
            answer = fetch_signed(ctx.resolver, owner, "TLSA", probe="dns.tlsa")
        except ProbeError as exc:
            sets.append(TlsaSet(host.name, owner, "ERROR", (), False, False, str(exc)))
            continue
        sets.append(TlsaSet(host.name, owner, answer.rcode, answer.records, bool(answer.rrsigs), answer.authenticated))
    return TlsaFact(domain, tuple(sets))
