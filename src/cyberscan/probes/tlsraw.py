"""Raw TLS ClientHello / ServerHello, as testssl.sh does: see what a server accepts beyond local OpenSSL.

Python's ``ssl`` (OpenSSL 3) refuses SSL 3.0 and most weak suites even at ``@SECLEVEL=0``. To learn
which protocol versions and cipher suites a server *accepts*, we write the ClientHello ourselves and
read the server's first flight in plaintext: ServerHello (version, suite), and for TLS <= 1.2 the
Certificate and ServerKeyExchange messages (certificate chain, key exchange group or DH size). No
handshake is ever completed; no application data is sent.

Functions here do socket I/O through an :class:`~cyberscan.runtime.Endpoint` (its per-read timeout and
overall deadline); the parsing helpers are pure and total.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import socket
import struct
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from ..errors import ProbeError
from ..parsers.tlsrating import CIPHER_SUITES, rate_suite, suite_name
from ..runtime import Endpoint
from . import fanout

SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304
VERSION_NAMES = {SSL3: "SSLv3", TLS10: "TLSv1.0", TLS11: "TLSv1.1", TLS12: "TLSv1.2", TLS13: "TLSv1.3"}
VERSION_CODES = {name: code for code, name in VERSION_NAMES.items()}
TLS13_SUITES = (0x1301, 0x1302, 0x1303, 0x1304, 0x1305)

GROUP_NAMES = {
    0x0017: "secp256r1",
    0x0018: "secp384r1",
    0x0019: "secp521r1",
    0x001D: "x25519",
    0x001E: "x448",
    0x0100: "ffdhe2048",
    0x0101: "ffdhe3072",
    0x0102: "ffdhe4096",
    0x0103: "ffdhe6144",
    0x0104: "ffdhe8192",
    0x0015: "secp224r1",
    0x0016: "secp256k1",
    0x0013: "secp192r1",
    0x001A: "brainpoolP256r1",
    0x001B: "brainpoolP384r1",
    0x001C: "brainpoolP512r1",
}
# offered in this order; curves first so ECDHE servers pick a modern one
OFFERED_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x001A, 0x001B, 0x001C, 0x0016, 0x0015, 0x0013,
                  0x0100, 0x0101, 0x0102, 0x0103, 0x0104)
SIGNATURE_ALGORITHMS = (0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B,
                        0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0203, 0x0201, 0x0402, 0x0202)

@dataclass(frozen=True, slots=True)
class ServerFlight:
    """What the server answered to one ClientHello."""

    outcome: str  # "accepted" | "alert" | "closed" | "garbage" | "timeout"
    version: int = 0  # negotiated (from supported_versions for TLS 1.3)
    suite: int = 0
    group: str = ""  # key exchange group (ECDHE curve, ffdhe group, or "dh<bits>")
    dh_bits: int = 0
    certificates: tuple[bytes, ...] = ()  # DER, leaf first (TLS <= 1.2 only)
    alert: int = 0
    retry_request: bool = False  # TLS 1.3 HelloRetryRequest
    detail: str = ""


_HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")


def _ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(body)) + body


def _vec16(items: Iterable[int]) -> bytes:
    data = b"".join(struct.pack("!H", i) for i in items)
    return struct.pack("!H", len(data)) + data


def client_hello(version: int, suites: Iterable[int], server_name: str | None) -> bytes:
    """A TLS record holding a ClientHello offering ``version`` (TLS 1.3 via supported_versions)."""
    suites = list(suites)
    legacy = min(version, TLS12)
    exts = b""
    if version >= TLS10:
        if server_name and not _is_ip(server_name):
            host = server_name.encode("idna") if not server_name.isascii() else server_name.encode("ascii")
            entry = b"\x00" + struct.pack("!H", len(host)) + host
            exts += _ext(0x0000, struct.pack("!H", len(entry)) + entry)
        exts += _ext(0x000A, _vec16(OFFERED_GROUPS))  # supported_groups
        exts += _ext(0x000B, b"\x01\x00")  # ec_point_formats: uncompressed
        exts += _ext(0x000D, _vec16(SIGNATURE_ALGORITHMS))
        exts += _ext(0xFF01, b"\x00")  # renegotiation_info
        exts += _ext(0x0017, b"")  # extended_master_secret
    if version >= TLS13:
        exts += _ext(0x002B, b"\x02" + struct.pack("!H", TLS13))  # supported_versions
        key = os.urandom(32)
        share = struct.pack("!HH", 0x001D, 32) + key
        exts += _ext(0x0033, struct.pack("!H", len(share)) + share)  # key_share x25519
        exts += _ext(0x002D, b"\x01\x01")  # psk_key_exchange_modes: psk_dhe_ke
    body = struct.pack("!H", legacy) + os.urandom(32)
    session_id = os.urandom(32) if version >= TLS13 else b""
    body += bytes([len(session_id)]) + session_id
    body += _vec16(suites)
    body += b"\x01\x00"  # compression: null
    if exts:
        body += struct.pack("!H", len(exts)) + exts
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    record_version = TLS10 if version >= TLS10 else SSL3
    return struct.pack("!BHH", 0x16, record_version, len(handshake)) + handshake


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class _Reader:
    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock = sock
        self.buf = b""
        self.limit = limit
        self.total = 0

    def read(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if self.total > self.limit:
                return None
            chunk = self.sock.recv(16384)
            if not chunk:
                return None
            self.total += len(chunk)
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def read_flight(sock: socket.socket, *, limit: int = 256 * 1024) -> ServerFlight:
    """Read the server's answer to a ClientHello (until ServerHelloDone, an alert or TLS 1.3 ServerHello)."""
    reader = _Reader(sock, limit)
    hs = b""
    flight = ServerFlight("garbage")
    try:
        while True:
            header = reader.read(5)
            if header is None:
                return flight if flight.outcome == "accepted" else ServerFlight("closed", detail="connection closed")
            ctype, _rversion, length = struct.unpack("!BHH", header)
            if ctype not in (0x14, 0x15, 0x16, 0x17) or length > 18432:
                return flight if flight.outcome == "accepted" else ServerFlight("garbage", detail=f"record {ctype}")
            payload = reader.read(length)
            if payload is None:
                return flight if flight.outcome == "accepted" else ServerFlight("closed", detail="truncated record")
            if ctype == 0x15:
                if flight.outcome == "accepted":
                    return flight
                return ServerFlight("alert", alert=payload[1] if len(payload) > 1 else 0)
            if ctype != 0x16:
                return flight if flight.outcome == "accepted" else ServerFlight("garbage", detail="unexpected record")
            hs += payload
            while len(hs) >= 4:
                mtype = hs[0]
                mlen = int.from_bytes(hs[1:4], "big")
                if len(hs) < 4 + mlen:
                    break
                msg, hs = hs[4 : 4 + mlen], hs[4 + mlen :]
                flight = _apply(flight, mtype, msg)
                if flight.outcome != "accepted":
                    return flight
                if mtype == 14 or (mtype == 2 and flight.version >= TLS13):
                    return flight
    except TimeoutError:
        return flight if flight.outcome == "accepted" else ServerFlight("timeout", detail="timeout")
    except OSError as exc:
        return flight if flight.outcome == "accepted" else ServerFlight("closed", detail=str(exc))


def _apply(flight: ServerFlight, mtype: int, msg: bytes) -> ServerFlight:
    try:
        if mtype == 2:
            return parse_server_hello(msg)
        if flight.outcome != "accepted":
            return ServerFlight("garbage", detail="before ServerHello")
        if mtype == 11:
            return _replace(flight, certificates=parse_certificate_list(msg))
        if mtype == 12:
            group, bits = parse_server_key_exchange(msg, flight.suite)
            return _replace(flight, group=group or flight.group, dh_bits=bits)
    except (IndexError, struct.error, ValueError) as exc:
        return ServerFlight("garbage", detail=f"malformed handshake: {exc}")
    return flight


def _replace(flight: ServerFlight, **changes: object) -> ServerFlight:
    return replace(flight, **changes)  # type: ignore[arg-type]


def parse_server_hello(msg: bytes) -> ServerFlight:
    """Parse a ServerHello body; raises IndexError/struct.error/ValueError on malformed input."""
    if len(msg) < 38:
        raise ValueError("short ServerHello")
    version = struct.unpack("!H", msg[0:2])[0]
    random = msg[2:34]
    sid_len = msg[34]
    pos = 35 + sid_len
    suite = struct.unpack("!H", msg[pos : pos + 2])[0]
    pos += 3  # suite + compression
    group = ""
    if pos + 2 <= len(msg):
        ext_total = struct.unpack("!H", msg[pos : pos + 2])[0]
        pos += 2
        end = min(len(msg), pos + ext_total)
        while pos + 4 <= end:
            etype, elen = struct.unpack("!HH", msg[pos : pos + 4])
            data = msg[pos + 4 : pos + 4 + elen]
            pos += 4 + elen
            if etype == 0x002B and len(data) >= 2:
                version = struct.unpack("!H", data[:2])[0]
            elif etype == 0x0033 and len(data) >= 2:
                code = struct.unpack("!H", data[:2])[0]
                group = GROUP_NAMES.get(code, f"0x{code:04X}")
    if version not in VERSION_NAMES:
        raise ValueError(f"unknown version 0x{version:04X}")
    return ServerFlight("accepted", version=version, suite=suite, group=group, retry_request=random == _HRR_RANDOM)


def parse_certificate_list(msg: bytes) -> tuple[bytes, ...]:
    total = int.from_bytes(msg[0:3], "big")
    pos, end = 3, min(len(msg), 3 + total)
    certs = []
    while pos + 3 <= end:
        clen = int.from_bytes(msg[pos : pos + 3], "big")
        certs.append(bytes(msg[pos + 3 : pos + 3 + clen]))
        pos += 3 + clen
    return tuple(certs)


def parse_server_key_exchange(msg: bytes, suite: int) -> tuple[str, int]:
    """(group name, DH prime bits) from a ServerKeyExchange; ("", 0) when unknown."""
    name = suite_name(suite)
    if "_ECDHE_" in name or "_ECDH_anon_" in name:
        if msg and msg[0] == 3 and len(msg) >= 3:
            code = struct.unpack("!H", msg[1:3])[0]
            return GROUP_NAMES.get(code, f"0x{code:04X}"), 0
        return "", 0
    if "_DHE_" in name or "_DH_anon_" in name:
        plen = struct.unpack("!H", msg[0:2])[0]
        prime = msg[2 : 2 + plen].lstrip(b"\x00")
        bits = len(prime) * 8 - (8 - prime[0].bit_length()) if prime else 0
        return f"dh{bits}", bits
    return "", 0


Preamble = Callable[[socket.socket], None]


def hello(
    ep: Endpoint,
    port: int,
    *,
    version: int,
    suites: Iterable[int],
    server_name: str | None,
    preamble: Preamble | None = None,
) -> ServerFlight:
    """Connect, optionally run ``preamble`` (e.g. SMTP STARTTLS), send a ClientHello, read the answer.

    Raises OSError when no TCP connection (or preamble) succeeds, ProbeTimeout/Interrupted when the
    endpoint's deadline cut the exchange.
    """
    with ep.connect(port) as sock:
        return exchange(sock, version=version, suites=suites, server_name=server_name, preamble=preamble)


def exchange(sock: socket.socket, *, version: int, suites: Iterable[int], server_name: str | None,
             preamble: Preamble | None = None) -> ServerFlight:
    """On a fresh connection: ``preamble``, one ClientHello, the server's answer."""
    if preamble is not None:
        preamble(sock)
    sock.sendall(client_hello(version, suites, server_name))
    return read_flight(sock)


class Ahead:
    """A connection to the endpoint opened in a pool thread while the previous ClientHello of a suite
    walk is still on its way, so the next one goes out without waiting for a TCP handshake. It counts
    against the address's connection limit and the endpoint's deadline like any other.

    It is only opened when a slot of the address is free at once (:meth:`open`): the walk that asks for
    it still holds the connection of the current hello, and a thread holding one slot must never wait
    for a second (walks side by side on one shared address would wait for each other)."""

    def __init__(self, ep: Endpoint, port: int) -> None:
        """Use :meth:`open`; here the slot of the connection is already taken."""
        self._stack = contextlib.ExitStack()
        stack = self._stack
        self._future: Future[socket.socket] = fanout.start(
            lambda: stack.enter_context(ep.connect(port, slot_taken=True)))

    @classmethod
    def waiting(cls, ep: Endpoint, port: int) -> Ahead:
        """A connection whose slot this thread waits for now (it must hold no other slot of the
        address); raises ProbeTimeout/Interrupted as :meth:`Endpoint.connect` does for its slot."""
        ep.take_slot(port)
        return cls(ep, port)

    @classmethod
    def open(cls, ep: Endpoint, port: int) -> Ahead | None:
        """An ahead connection, or None when no slot of the address is free right now (the next hello
        then opens its own connection, after this one has ended and given its slot back)."""
        if not ep.take_free_slot():
            return None
        return cls(ep, port)

    def use(self, body: Callable[[socket.socket], ServerFlight]) -> ServerFlight:
        """``body(sock)`` on the opened connection, which is closed after it; raises what connecting
        raised (OSError, ProbeTimeout), or what ``body`` or the closing raised (a cut connection)."""
        sock = self._future.result()
        with self._stack:
            return body(sock)

    def discard(self) -> None:
        """Close it unused (after the walk ended). A connection that was never made needs nothing."""
        try:
            self._future.result()
        except (OSError, ProbeError):
            return
        with contextlib.suppress(OSError, ProbeError):
            self._stack.close()


def candidate_suites(version: int, *, weakest_first: bool = True) -> list[int]:
    """Suites to offer. Weakest first when enumerating: a server that follows the client's order then
    reveals its weak suites first. Strongest first for a single hello: the answer then shows what an
    ordinary client gets (with a certificate, where anonymous suites would hide it)."""
    if version >= TLS13:
        return list(TLS13_SUITES)
    order = {"insufficient": 0, "phase-out": 1, "sufficient": 2, "good": 3}
    codes = [c for c in CIPHER_SUITES if c not in TLS13_SUITES and c < 0xFF00]
    ranked = sorted(codes, key=lambda c: (order[rate_suite(suite_name(c))], c))
    return ranked if weakest_first else ranked[::-1]


@dataclass(frozen=True, slots=True)
class VersionScan:
    version: int
    accepted: bool
    suites: tuple[int, ...] = ()  # in the server's order of preference (first = its first pick)
    groups: tuple[str, ...] = ()
    dh_bits: int = 0
    certificates: tuple[bytes, ...] = ()
    error: str = ""  # set when the answer was neither an acceptance nor a clean refusal
    complete: bool = True  # False when enumeration stopped at the cap
    attempts: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    first: tuple[object, ...] = ()  # signature() of the answer to the first ClientHello


def signature(flight: ServerFlight) -> tuple[object, ...]:
    """What one answer says about the server's TLS configuration (not about its certificate): two names
    on one address whose answers to the same ClientHello have equal signatures were configured alike."""
    if flight.outcome == "accepted":
        return ("accepted", flight.version, flight.suite, flight.group, flight.dh_bits, flight.retry_request)
    if flight.outcome == "alert":
        return ("alert", flight.alert)
    return (flight.outcome,)


def first_hello(
    ep: Endpoint,
    port: int,
    *,
    version: int,
    server_name: str | None,
    enumerate_suites: bool = True,
    preamble: Preamble | None = None,
) -> ServerFlight:
    """The ClientHello that :func:`scan_version` sends first for ``version`` (every candidate suite, in
    the same order), and the answer. Raises as :func:`hello`."""
    suites = candidate_suites(version, weakest_first=enumerate_suites)
    return hello(ep, port, version=version, suites=suites, server_name=server_name, preamble=preamble)


def scan_version(
    ep: Endpoint,
    port: int,
    *,
    version: int,
    server_name: str | None,
    enumerate_suites: bool = True,
    max_attempts: int = 48,
    preamble: Preamble | None = None,
) -> VersionScan:
    """Does the server accept ``version``, and with which suites (removing each chosen suite in turn)?

    Raises OSError only when the first connection fails outright; ProbeTimeout/Interrupted when the
    endpoint's deadline ran out (the whole walk is then not judged).
    """
    remaining = candidate_suites(version, weakest_first=enumerate_suites)
    chosen: list[int] = []
    groups: list[str] = []
    dh_bits = 0
    certs: tuple[bytes, ...] = ()
    attempts = 0
    first = True
    answer: tuple[object, ...] = ()
    ahead: Ahead | None = None  # the connection for the next hello, opened while this one is answered
    try:
        while remaining and attempts < max_attempts:
            attempts += 1
            offer = list(remaining)
            conn, ahead = ahead, None
            # from the second hello on the version is known to be accepted, so another hello follows
            # unless this one is refused: open its connection now (at most one is ever opened for nothing)
            if not first and enumerate_suites and len(remaining) >= 2 and attempts < max_attempts:
                if conn is None:  # this hello's own slot first (waiting while holding none), then the next's
                    conn = Ahead.waiting(ep, port)
                ahead = Ahead.open(ep, port)
            try:
                if conn is None:
                    flight = hello(ep, port, version=version, suites=offer, server_name=server_name, preamble=preamble)
                else:
                    flight = conn.use(functools.partial(exchange, version=version, suites=offer,
                                                        server_name=server_name, preamble=preamble))
            except OSError:
                if first:
                    raise
                break
            if first:
                answer = signature(flight)
            if flight.outcome == "timeout" and first:
                return VersionScan(version, False, error="timeout", attempts=attempts, first=answer)
            if flight.outcome == "garbage" and first:
                return VersionScan(version, False, error=f"garbage: {flight.detail}", attempts=attempts, first=answer)
            first = False
            if flight.outcome != "accepted" or flight.version != version or flight.suite not in remaining:
                break
            chosen.append(flight.suite)
            remaining.remove(flight.suite)
            if flight.group and flight.group not in groups:
                groups.append(flight.group)
            if flight.dh_bits:
                dh_bits = min(dh_bits, flight.dh_bits) if dh_bits else flight.dh_bits
            if not certs and flight.certificates:
                certs = flight.certificates
            if not enumerate_suites:
                break
    finally:
        if ahead is not None:
            ahead.discard()
    complete = not remaining or attempts < max_attempts or not enumerate_suites
    return VersionScan(version, bool(chosen), tuple(chosen), tuple(groups), dh_bits, certs,
                       complete=complete, attempts=attempts, first=answer)
