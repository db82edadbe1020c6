"""SMTP STARTTLS facts per MX address, and TLSA records for DANE.

``smtp.starttls``: for every MX host and each address, on port 25 (``ctx.settings["smtp_port"]``):
banner, EHLO, whether STARTTLS is offered, then the TLS facts as for websites (protocol versions via
raw ClientHellos after STARTTLS, certificate, chain trust), all within one ``smtp`` deadline per address
(``BUDGETS["smtp"]``). Suites are not enumerated: one session per
protocol version keeps the load on mail servers small. ``dns.tlsa``: ``_25._tcp.<mx>`` TLSA records
with their DNSSEC status.
"""

from __future__ import annotations

import contextlib
import socket

from ..errors import Interrupted, OutOfScope, ProbeError
from ..facts.dns import HostInventory, MxFact
from ..facts.smtp import MailEndpoint, StarttlsFact, TlsaFact, TlsaSet
from ..models import ErrorReason
from ..plugin import probe
from ..runtime import ProbeContext
from .dnssec import fetch_signed
from .tls import classify_oserror, scan_endpoint

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
                raise SmtpError("closed")
            buf += chunk
            if len(buf) > MAX_LINE:
                raise SmtpError(f"line>{MAX_LINE}")
        line, _, buf = buf.partition(b"\n")
        text = line.rstrip(b"\r").decode("utf-8", errors="replace")
        if len(text) < 3 or not text[:3].isdigit():
            raise SmtpError(f"not-smtp: {text[:60]!r}")
        lines.append(text[4:])
        if len(text) == 3 or text[3] == " ":
            return int(text[:3]), lines
    raise SmtpError(f"lines>{MAX_LINES}")


def smtp_hello(sock: socket.socket) -> tuple[str, tuple[str, ...]]:
    """Banner and EHLO keywords. Raises SmtpError/OSError."""
    code, banner = read_reply(sock)
    if code != 220:
        raise SmtpError(f"banner {code}")
    sock.sendall(f"EHLO {EHLO_NAME}\r\n".encode())
    code, lines = read_reply(sock)
    if code != 250:
        raise SmtpError(f"EHLO {code}")
    keywords = tuple(line.split(" ", 1)[0].upper() for line in lines[1:])
    return " ".join(banner)[:200], keywords


def starttls_preamble(sock: socket.socket) -> None:
    """Banner, EHLO, STARTTLS: leaves the socket ready for a ClientHello."""
    _, keywords = smtp_hello(sock)
    if "STARTTLS" not in keywords:
        raise SmtpError("no STARTTLS")
    sock.sendall(b"STARTTLS\r\n")
    code, _ = read_reply(sock)
    if code != 220:
        raise SmtpError(f"STARTTLS {code}")


def _preamble(sock: socket.socket) -> None:
    try:
        starttls_preamble(sock)
    except SmtpError as exc:
        raise ConnectionAbortedError(str(exc)) from exc


def probe_mail_endpoint(ctx: ProbeContext, name: str, address: str, port: int) -> MailEndpoint:
    try:
        ep = ctx.endpoint(address, name, "smtp")
    except OutOfScope as exc:
        return MailEndpoint(name, address, port, ErrorReason.OUT_OF_SCOPE, exc.detail)
    try:
        with ep.connect(port) as sock:
            banner, keywords = smtp_hello(sock)
            with contextlib.suppress(OSError):
                sock.sendall(b"QUIT\r\n")
    except ProbeError as exc:
        return MailEndpoint(name, address, port, exc.reason, exc.detail)
    except SmtpError as exc:
        return MailEndpoint(name, address, port, ErrorReason.PROTOCOL, str(exc))
    except OSError as exc:
        return MailEndpoint(name, address, port, classify_oserror(exc), f"{type(exc).__name__}: {exc}"[:300])
    if "STARTTLS" not in keywords:
        return MailEndpoint(name, address, port, None, banner=banner, starttls=False)
    tls = scan_endpoint(ctx, name, address, port, service="smtp", enumerate_suites=False, preamble=_preamble,
                        kind="smtp", endpoint=ep)
    return MailEndpoint(name, address, port, None, banner=banner, starttls=True, tls=tls)


@probe("smtp.starttls", fact=StarttlsFact)
def probe_starttls(ctx: ProbeContext, domain: str) -> StarttlsFact:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("smtp_port", 25))
    mx_hosts = inventory.with_role("mx")
    pairs = [(h.name, a) for h in mx_hosts for a in h.addresses]
    unresolved = tuple(h.name for h in mx_hosts if not h.addresses and h.error is None)
    failed = tuple((h.name, h.error) for h in mx_hosts if h.error is not None)
    endpoints = ctx.map(lambda pair: probe_mail_endpoint(ctx, pair[0], pair[1], port), pairs)
    mx = ctx.outcome("dns.mx").fact
    null_mx = isinstance(mx, MxFact) and mx.null_mx
    return StarttlsFact(domain, tuple(endpoints), tuple(h.name for h in mx_hosts), unresolved, null_mx,
                        inventory.mx_error, failed)


# ----------------------------------------------------------------------------- TLSA


@probe("dns.tlsa", fact=TlsaFact)
def probe_tlsa(ctx: ProbeContext, domain: str) -> TlsaFact:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("smtp_port", 25))
    sets = []
    for host in inventory.with_role("mx"):
        owner = f"_{port}._tcp.{host.name}"
        try:
            answer = fetch_signed(ctx.resolver, owner, "TLSA", probe="dns.tlsa")
        except Interrupted:
            raise
        except ProbeError as exc:
            sets.append(TlsaSet(host.name, owner, "ERROR", (), False, False, exc.reason, exc.detail))
            continue
        sets.append(TlsaSet(host.name, owner, answer.rcode, answer.records, bool(answer.rrsigs), answer.authenticated))
    return TlsaFact(domain, tuple(sets), inventory.mx_error)
