"""Raw TLS ClientHello / ServerHello, as testssl.sh does: see what a server accepts beyond local OpenSSL.

Python's ``ssl`` (OpenSSL 3) refuses SSL 3.0 and most weak suites even at ``@SECLEVEL=0``. To learn
which protocol versions and cipher suites a server *accepts*, we write the ClientHello ourselves and
read the server's first flight in plaintext: ServerHello (version, suite), and for TLS <= 1.2 the
Certificate and ServerKeyExchange messages (certificate chain, key exchange group or DH size). No
handshake is ever completed; no application data is sent.

Functions here do socket I/O with the caller's timeout; the parsing helpers are pure and total.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

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

CIPHER_SUITES: dict[int, str] = {
    0x0001: "TLS_RSA_WITH_NULL_MD5",
    0x0002: "TLS_RSA_WITH_NULL_SHA",
    0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
    0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0011: "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
    0x0012: "TLS_DHE_DSS_WITH_DES_CBC_SHA",
    0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0017: "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
    0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
    0x0019: "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
    0x001A: "TLS_DH_anon_WITH_DES_CBC_SHA",
    0x001B: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
    0x002C: "TLS_PSK_WITH_NULL_SHA",
    0x002D: "TLS_DHE_PSK_WITH_NULL_SHA",
    0x002E: "TLS_RSA_PSK_WITH_NULL_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003A: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    0x003B: "TLS_RSA_WITH_NULL_SHA256",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0044: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
    0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
    0x0062: "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA",
    0x0064: "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x006A: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x006C: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
    0x006D: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
    0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0087: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA",
    0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
    0x008C: "TLS_PSK_WITH_AES_128_CBC_SHA",
    0x008D: "TLS_PSK_WITH_AES_256_CBC_SHA",
    0x0090: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA",
    0x0091: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA",
    0x0094: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA",
    0x0095: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00A2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    0x00A3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    0x00A6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
    0x00A7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
    0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
    0x00A9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
    0x00AA: "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
    0x00AB: "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
    0x00AC: "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256",
    0x00AD: "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384",
    0x00AE: "TLS_PSK_WITH_AES_128_CBC_SHA256",
    0x00AF: "TLS_PSK_WITH_AES_256_CBC_SHA384",
    0x00B0: "TLS_PSK_WITH_NULL_SHA256",
    0x00B1: "TLS_PSK_WITH_NULL_SHA384",
    0x00B2: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256",
    0x00B3: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
    0x00B4: "TLS_DHE_PSK_WITH_NULL_SHA256",
    0x00B5: "TLS_DHE_PSK_WITH_NULL_SHA384",
    0x00B6: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256",
    0x00B7: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384",
    0x00B8: "TLS_RSA_PSK_WITH_NULL_SHA256",
    0x00B9: "TLS_RSA_PSK_WITH_NULL_SHA384",
    0x00BA: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BD: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BE: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00BF: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
    0x00C0: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C3: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C4: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00C5: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
    0xC006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC015: "TLS_ECDH_anon_WITH_NULL_SHA",
    0xC016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
    0xC017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
    0xC018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
    0xC019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
    0xC01D: "TLS_SRP_SHA_WITH_AES_128_CBC_SHA",
    0xC01E: "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA",
    0xC01F: "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA",
    0xC020: "TLS_SRP_SHA_WITH_AES_256_CBC_SHA",
    0xC021: "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA",
    0xC022: "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC035: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
    0xC036: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
    0xC037: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
    0xC038: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
    0xC039: "TLS_ECDHE_PSK_WITH_NULL_SHA",
    0xC03A: "TLS_ECDHE_PSK_WITH_NULL_SHA256",
    0xC03B: "TLS_ECDHE_PSK_WITH_NULL_SHA384",
    0xC050: "TLS_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC051: "TLS_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC052: "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC053: "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC056: "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256",
    0xC057: "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384",
    0xC05C: "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256",
    0xC05D: "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
    0xC060: "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
    0xC061: "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xC06A: "TLS_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06B: "TLS_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC06C: "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06D: "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC06E: "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256",
    0xC06F: "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384",
    0xC072: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC073: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC076: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xC077: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xC094: "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC095: "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC096: "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC097: "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC098: "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC099: "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC09A: "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xC09B: "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xC09C: "TLS_RSA_WITH_AES_128_CCM",
    0xC09D: "TLS_RSA_WITH_AES_256_CCM",
    0xC09E: "TLS_DHE_RSA_WITH_AES_128_CCM",
    0xC09F: "TLS_DHE_RSA_WITH_AES_256_CCM",
    0xC0A0: "TLS_RSA_WITH_AES_128_CCM_8",
    0xC0A1: "TLS_RSA_WITH_AES_256_CCM_8",
    0xC0A2: "TLS_DHE_RSA_WITH_AES_128_CCM_8",
    0xC0A3: "TLS_DHE_RSA_WITH_AES_256_CCM_8",
    0xC0A4: "TLS_PSK_WITH_AES_128_CCM",
    0xC0A5: "TLS_PSK_WITH_AES_256_CCM",
    0xC0A6: "TLS_DHE_PSK_WITH_AES_128_CCM",
    0xC0A7: "TLS_DHE_PSK_WITH_AES_256_CCM",
    0xC0A8: "TLS_PSK_WITH_AES_128_CCM_8",
    0xC0A9: "TLS_PSK_WITH_AES_256_CCM_8",
    0xC0AA: "TLS_PSK_DHE_WITH_AES_128_CCM_8",
    0xC0AB: "TLS_PSK_DHE_WITH_AES_256_CCM_8",
    0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    0xC0AF: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAB: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAC: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAD: "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAE: "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
}


def suite_name(code: int) -> str:
    return CIPHER_SUITES.get(code, f"0x{code:04X}")


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
    import ipaddress

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
                return flight if flight.outcome == "accepted" else ServerFlight("garbage", detail=f"record type {ctype}")
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
        return flight if flight.outcome == "accepted" else ServerFlight("timeout", detail="no answer in time")
    except OSError as exc:
        return flight if flight.outcome == "accepted" else ServerFlight("closed", detail=str(exc))


def _apply(flight: ServerFlight, mtype: int, msg: bytes) -> ServerFlight:
    try:
        if mtype == 2:
            return parse_server_hello(msg)
        if flight.outcome != "accepted":
            return ServerFlight("garbage", detail="handshake message before ServerHello")
        if mtype == 11:
            return _replace(flight, certificates=parse_certificate_list(msg))
        if mtype == 12:
            group, bits = parse_server_key_exchange(msg, flight.suite)
            return _replace(flight, group=group or flight.group, dh_bits=bits)
    except (IndexError, struct.error, ValueError) as exc:
        return ServerFlight("garbage", detail=f"malformed handshake: {exc}")
    return flight


def _replace(flight: ServerFlight, **changes: object) -> ServerFlight:
    from dataclasses import replace

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
    address: str,
    port: int,
    *,
    version: int,
    suites: Iterable[int],
    server_name: str | None,
    timeout: float,
    preamble: Preamble | None = None,
) -> ServerFlight:
    """Connect, optionally run ``preamble`` (e.g. SMTP STARTTLS), send a ClientHello, read the answer.

    Raises OSError/TimeoutError when no TCP connection (or preamble) succeeds.
    """
    with socket.create_connection((address, port), timeout=timeout) as sock, \
            watchdog(sock, timeout * DEADLINE_FACTOR) as guard:
        sock.settimeout(timeout)
        try:
            if preamble is not None:
                preamble(sock)
            sock.sendall(client_hello(version, suites, server_name))
            flight = read_flight(sock)
        except OSError:
            if guard.fired:
                raise TimeoutError("the server took too long") from None
            raise
        if guard.fired and flight.outcome != "accepted":
            return ServerFlight("timeout", detail="the server took too long")
        return flight


DEADLINE_FACTOR = 3  # a whole exchange may take at most this many times the per-read timeout


class Watchdog:
    """Set by :func:`watchdog`: ``fired`` tells whether the deadline cut the connection."""

    def __init__(self) -> None:
        self.fired = False


@contextlib.contextmanager
def watchdog(sock: socket.socket, seconds: float) -> Iterator[Watchdog]:
    """Cut the connection after ``seconds`` in total, so a server that drips bytes cannot hold us.

    Per-read timeouts alone do not bound a server sending one byte just before each timeout; shutting
    the socket down from a timer makes the blocked read return at once. The timer works on its own
    duplicate of the descriptor, so it still reaches the connection after ``ssl`` took the socket over
    and never touches a descriptor number that was closed and reused meanwhile.
    """
    state = Watchdog()
    lock = threading.Lock()
    own = socket.socket(fileno=os.dup(sock.fileno()))
    done = False

    def expire() -> None:
        with lock:
            if done:
                return
            state.fired = True
            try:
                own.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    finally:
        timer.cancel()
        with lock:
            done = True
            own.close()


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


# ----------------------------------------------------------------------------- NCSC ratings
# NCSC "ICT-beveiligingsrichtlijnen voor Transport Layer Security (TLS)": good / sufficient /
# phase-out / insufficient. Our reading (see docs): TLS 1.3 good, 1.2 sufficient, 1.0/1.1 phase out,
# SSL insufficient; ECDHE with AEAD good; DHE with AEAD and (EC)DHE with CBC sufficient; static RSA
# key exchange phase out; NULL, EXPORT, anonymous, RC4, DES, 3DES, RC2, IDEA and MD5 insufficient.

RATINGS = ("good", "sufficient", "phase-out", "insufficient")


def rate_version(version: str) -> str:
    return {"TLSv1.3": "good", "TLSv1.2": "sufficient", "TLSv1.1": "phase-out", "TLSv1.0": "phase-out"}.get(
        version, "insufficient"
    )


_INSUFFICIENT_PARTS = ("NULL", "EXPORT", "_anon_", "RC4", "_DES_", "DES40", "3DES", "RC2", "IDEA", "_MD5")


def rate_suite(name: str) -> str:
    """NCSC rating of a cipher suite by its IANA name (unknown codes are insufficient)."""
    if not name.startswith("TLS_"):
        return "insufficient"
    if any(part in name for part in _INSUFFICIENT_PARTS) or name.endswith("_MD5"):
        return "insufficient"
    if "_WITH_" not in name:  # TLS 1.3 suites
        if "GCM" in name or "CHACHA20" in name:
            return "good"
        return "sufficient" if name == "TLS_AES_128_CCM_SHA256" else "phase-out"
    kex, cipher = name[4:].split("_WITH_", 1)
    if kex.startswith("ECDHE_") and kex != "ECDHE_PSK":
        ephemeral = "ecdhe"
    elif kex.startswith("DHE_") and kex != "DHE_PSK":
        ephemeral = "dhe"
    else:
        return "phase-out"  # static RSA/DH/ECDH key exchange or PSK: no forward secrecy
    if not cipher.startswith(("AES_", "CHACHA20")):
        return "phase-out"  # Camellia, ARIA, SEED
    if cipher.endswith("CCM_8"):
        return "phase-out"
    aead = "GCM" in cipher or "CHACHA20" in cipher
    if aead and ephemeral == "ecdhe":
        return "good"
    return "sufficient"


def rate_group(group: str, dh_bits: int = 0) -> str:
    if group in ("x25519", "x448", "secp256r1", "secp384r1", "secp521r1", "ffdhe3072", "ffdhe4096",
                 "ffdhe6144", "ffdhe8192"):
        return "good" if not group.startswith("ffdhe") else "sufficient"
    if group == "ffdhe2048":
        return "phase-out"
    if group.startswith("dh") or dh_bits:
        bits = dh_bits or int(group[2:] or 0)
        if bits >= 3072:
            return "sufficient"
        return "phase-out" if bits >= 2048 else "insufficient"
    return "phase-out" if group else "good"


def worst(ratings: Iterable[str]) -> str:
    found = [r for r in ratings if r in RATINGS]
    return max(found, key=RATINGS.index) if found else "good"


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


def scan_version(
    address: str,
    port: int,
    *,
    version: int,
    server_name: str | None,
    timeout: float,
    enumerate_suites: bool = True,
    max_attempts: int = 48,
    preamble: Preamble | None = None,
) -> VersionScan:
    """Does the server accept ``version``, and with which suites (removing each chosen suite in turn)?

    Raises OSError/TimeoutError only when the first connection fails outright.
    """
    remaining = candidate_suites(version, weakest_first=enumerate_suites)
    chosen: list[int] = []
    groups: list[str] = []
    dh_bits = 0
    certs: tuple[bytes, ...] = ()
    attempts = 0
    first = True
    while remaining and attempts < max_attempts:
        attempts += 1
        try:
            flight = hello(address, port, version=version, suites=remaining, server_name=server_name,
                           timeout=timeout, preamble=preamble)
        except OSError:
            if first:
                raise
            break
        if flight.outcome == "timeout" and first:
            return VersionScan(version, False, error="timeout", attempts=attempts)
        if flight.outcome == "garbage" and first:
            return VersionScan(version, False, error=f"garbage: {flight.detail}", attempts=attempts)
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
    complete = not remaining or attempts < max_attempts or not enumerate_suites
    return VersionScan(version, bool(chosen), tuple(chosen), tuple(groups), dh_bits, certs,
                       complete=complete, attempts=attempts)
