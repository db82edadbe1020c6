"""SMTP STARTTLS facts per MX address, and TLSA records for DANE.

``smtp.starttls``: for every MX host and each address, on port 25 (``ctx.settings["smtp_port"]``):
banner, EHLO, whether STARTTLS is offered, then the TLS facts as for websites (protocol versions via
raw ClientHellos after STARTTLS, certificate, chain trust), all within one ``smtp`` deadline per address
(``BUDGETS["smtp"]``). Suites are not enumerated: one session per
protocol version keeps the load on mail servers small. ``dns.tlsa``: ``_25._tcp.<mx>`` TLSA records
with their DNSSEC status.

How it is made short (issue 13):

- the first session (banner, EHLO) goes on with STARTTLS and the verifying handshake, instead of a
  QUIT and a new connection for the handshake;
- the five protocol-version sessions (each: connect, banner, EHLO, STARTTLS, one ClientHello) start at
  the same time as the first session, within the address's connection limit. When the server turns
  out not to offer STARTTLS they end after EHLO (with a QUIT) and are not used;
- the whole result for one MX host name on one address and port is computed once for every domain of
  a batch that uses it (``ProbeContext.once``; key: address, port, MX name, CA bundle): a mail
  provider's MX hosts are examined once, not once per customer. Nothing in it depends on the domain
  that led there (the certificate is asked for with the MX name, the name every sender uses).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass

from ..errors import Interrupted, OutOfScope, ProbeError
from ..facts.dns import HostInventory, MxFact
from ..facts.smtp import MailEndpoint, StarttlsFact, TlsaFact, TlsaSet
from ..models import ErrorReason
from ..plugin import probe
from ..runtime import Endpoint, ProbeContext
from . import fanout
from .dnssec import fetch_signed
from .tls import (
    Handshake,
    HandshakeOutcome,
    assemble,
    bundle_key,
    classify_oserror,
    permissive_handshake,
    tls_on,
    try_walk,
    verifying_context,
)

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


def starttls(sock: socket.socket) -> None:
    """STARTTLS after EHLO: leaves the socket ready for a ClientHello. Raises SmtpError/OSError."""
    sock.sendall(b"STARTTLS\r\n")
    code, _ = read_reply(sock)
    if code != 220:
        raise SmtpError(f"STARTTLS {code}")


def starttls_preamble(sock: socket.socket) -> None:
    """Banner, EHLO, STARTTLS: leaves the socket ready for a ClientHello."""
    _, keywords = smtp_hello(sock)
    if "STARTTLS" not in keywords:
        with contextlib.suppress(OSError):
            sock.sendall(b"QUIT\r\n")
        raise SmtpError("no STARTTLS")
    starttls(sock)


def _preamble(sock: socket.socket) -> None:
    try:
        starttls_preamble(sock)
    except SmtpError as exc:
        raise ConnectionAbortedError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class _Session:
    """The first session: its failure before TLS, or banner and keywords and the handshake outcome."""

    error: ErrorReason | None = None
    detail: str = ""
    banner: str = ""
    starttls: bool = False
    handshake: HandshakeOutcome | None = None


def _first_session(ep: Endpoint, name: str, port: int, ca_bundle: str | None) -> _Session:
    """Banner and EHLO; with STARTTLS offered, STARTTLS and the verifying handshake on the same
    connection (then a permissive one on a new connection when the chain does not verify)."""
    greeted: tuple[str, tuple[str, ...]] | None = None
    outcome: HandshakeOutcome | None = None
    failed: ssl.SSLCertVerificationError | None = None
    try:
        with ep.connect(port) as sock:
            greeted = smtp_hello(sock)
            if "STARTTLS" not in greeted[1]:
                with contextlib.suppress(OSError):
                    sock.sendall(b"QUIT\r\n")
            else:
                try:
                    try:
                        starttls(sock)
                    except SmtpError as exc:
                        raise ConnectionAbortedError(str(exc)) from exc
                    version, suite, der = tls_on(sock, verifying_context(ca_bundle), name)
                    outcome = Handshake(version, suite, der, trusted=True)
                except ssl.SSLCertVerificationError as exc:
                    failed = exc
                except (OSError, ValueError) as exc:
                    outcome = exc
    except Interrupted:
        raise
    except ProbeError as exc:  # cut at the deadline: before EHLO the server is the problem, after it TLS
        if greeted is None:
            return _Session(exc.reason, exc.detail)
        outcome = exc
    except SmtpError as exc:
        return _Session(ErrorReason.PROTOCOL, str(exc))
    except OSError as exc:
        return _Session(classify_oserror(exc), f"{type(exc).__name__}: {exc}"[:300])
    assert greeted is not None
    banner, keywords = greeted
    if "STARTTLS" not in keywords:
        return _Session(None, "", banner, False)
    if failed is not None:
        try:
            outcome = permissive_handshake(ep, port, name, failed, preamble=_preamble)
        except Interrupted:
            raise
        except (OSError, ValueError, ProbeError) as exc:
            outcome = exc
    return _Session(None, "", banner, True, outcome)


def examine(ctx: ProbeContext, ep: Endpoint, name: str, address: str, port: int) -> MailEndpoint:
    """One MX host on one address: the first session and the five version sessions side by side."""
    ca_bundle = ctx.options.ca_bundle
    cancel = ctx.cancel_event
    session, walked = fanout.pair(
        lambda: _first_session(ep, name, port, ca_bundle),
        lambda: try_walk(ep, port, name, enumerate_suites=False, preamble=_preamble, cancel=cancel),
        cancel=cancel)
    if session.error is not None:
        return MailEndpoint(name, address, port, session.error, session.detail)
    if not session.starttls:
        return MailEndpoint(name, address, port, None, banner=session.banner, starttls=False)
    assert session.handshake is not None
    tls = assemble(name, address, port, "smtp", session.handshake, walked)
    return MailEndpoint(name, address, port, None, banner=session.banner, starttls=True, tls=tls)


def probe_mail_endpoint(ctx: ProbeContext, name: str, address: str, port: int) -> MailEndpoint:
    try:
        ep = ctx.endpoint(address, name, "smtp")
    except OutOfScope as exc:
        return MailEndpoint(name, address, port, ErrorReason.OUT_OF_SCOPE, exc.detail)
    key = ("smtp.endpoint", address, port, name.lower(), bundle_key(ctx.options.ca_bundle) or ctx.options.ca_bundle)
    for _ in range(3):
        try:
            return ctx.once(key, lambda: examine(ctx, ep, name, address, port))
        except Interrupted:  # another scan's cancellation, not ours: examine it here
            if ctx.cancelled:
                raise
    return examine(ctx, ep, name, address, port)


@probe("smtp.starttls", fact=StarttlsFact)
def probe_starttls(ctx: ProbeContext, domain: str) -> StarttlsFact:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("smtp_port", 25))
    mx_hosts = inventory.with_role("mx")
    pairs = [(h.name, a) for h in mx_hosts for a in h.addresses]
    unresolved = tuple(h.name for h in mx_hosts if not h.addresses and h.error is None)
    failed = tuple((h.name, h.error) for h in mx_hosts if h.error is not None)
    endpoints = fanout.run(lambda pair: probe_mail_endpoint(ctx, pair[0], pair[1], port), pairs,
                           cancel=ctx.cancel_event)
    mx = ctx.outcome("dns.mx").fact
    null_mx = isinstance(mx, MxFact) and mx.null_mx
    return StarttlsFact(domain, tuple(endpoints), tuple(h.name for h in mx_hosts), unresolved, null_mx,
                        inventory.mx_error, failed)


# ----------------------------------------------------------------------------- TLSA


@probe("dns.tlsa", fact=TlsaFact)
def probe_tlsa(ctx: ProbeContext, domain: str) -> TlsaFact:
    """``_<port>._tcp.<mx>`` TLSA of every MX host, asked side by side."""
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("smtp_port", 25))

    def one(mx: str) -> TlsaSet:
        owner = f"_{port}._tcp.{mx}"
        try:
            answer = fetch_signed(ctx.resolver, owner, "TLSA", probe="dns.tlsa")
        except Interrupted:
            raise
        except ProbeError as exc:
            return TlsaSet(mx, owner, "ERROR", (), False, False, exc.reason, exc.detail)
        return TlsaSet(mx, owner, answer.rcode, answer.records, bool(answer.rrsigs), answer.authenticated)

    sets = fanout.run(one, [host.name for host in inventory.with_role("mx")], cancel=ctx.cancel_event)
    return TlsaFact(domain, tuple(sets), inventory.mx_error)
