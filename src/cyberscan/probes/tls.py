"""TLS facts per web host address: protocol versions, cipher suites, key exchange and certificate.

One ``tls.scan`` fact per domain holds, for every web host (apex, www, mta-sts, --host) and each of
its addresses, what the server accepted. Versions and suites come from raw ClientHellos
(:mod:`.tlsraw`), so SSL 3.0 and weak suites show up although local OpenSSL refuses them. The
certificate comes from one ordinary handshake, and chain trust from one verifying handshake against
the system store plus ``--ca-bundle``. Validity dates, name match, key and signature are judged later
by evaluators from the stored certificate details.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from ..engine import ProbeContext
from ..errors import OutOfScope
from ..plugin import probe
from . import tlsraw
from .hosts import HostInventory

WEB_ROLES = ("apex", "www", "mta-sts", "extra")
PERMISSIVE_CIPHERS = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"


@dataclass(frozen=True, slots=True)
class CertInfo:
    """The parts of an X.509 certificate the checks judge (the DER is kept for DANE)."""

    subject: str
    issuer: str
    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]  # subjectAltName dNSName entries
    not_before: datetime
    not_after: datetime
    key_type: str  # "RSA" | "EC" | "Ed25519" | "Ed448" | "DSA" | "unknown"
    key_bits: int
    signature_hash: str  # "sha256", "sha1", "md5", "" (e.g. Ed25519)
    sha256: str  # fingerprint, hex
    der: bytes = b""
    self_signed: bool = False


@dataclass(frozen=True, slots=True)
class VersionResult:
    version: str  # "SSLv3" | "TLSv1.0" | ... | "TLSv1.3"
    accepted: bool
    suites: tuple[str, ...] = ()  # IANA names, server's order of choice
    groups: tuple[str, ...] = ()
    dh_bits: int = 0
    complete: bool = True
    error: str = ""


@dataclass(frozen=True, slots=True)
class TlsEndpoint:
    name: str
    address: str
    port: int
    status: str  # "ok" | "timeout" | "refused" | "unreachable" | "protocol" | "out-of-scope"
    detail: str = ""
    versions: tuple[VersionResult, ...] = ()
    negotiated_version: str = ""
    negotiated_suite: str = ""
    certificate: CertInfo | None = None
    chain: tuple[bytes, ...] = ()  # DER as sent by the server (TLS <= 1.2 only), leaf first
    chain_trusted: bool | None = None  # None when no verifying handshake completed
    verify_code: int = 0
    verify_message: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def accepted_versions(self) -> tuple[str, ...]:
        return tuple(v.version for v in self.versions if v.accepted)


@dataclass(frozen=True, slots=True)
class TlsScan:
    domain: str
    endpoints: tuple[TlsEndpoint, ...]
    unresolved: tuple[str, ...] = ()  # web host names without any address


# ----------------------------------------------------------------------------- certificates


def _name_text(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return repr(name)


def parse_certificate(der: bytes) -> CertInfo:
    """Certificate details from DER. Raises ValueError when the bytes are not a certificate."""
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(str(n) for n in sans.get_values_for_type(x509.DNSName))
    except (x509.ExtensionNotFound, ValueError):
        dns_names = ()
    cns = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    key = cert.public_key()
    key_type, key_bits = "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        key_type, key_bits = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, key_bits = "EC", key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, key_bits = "Ed25519", 256
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type, key_bits = "Ed448", 456
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, key_bits = "DSA", key.key_size
    try:
        algo = cert.signature_hash_algorithm
        sig_hash = algo.name if algo is not None else ""
    except Exception:  # noqa: BLE001 - unsupported algorithms raise UnsupportedAlgorithm
        sig_hash = "unknown"
    return CertInfo(
        subject=_name_text(cert.subject),
        issuer=_name_text(cert.issuer),
        common_names=cns,
        dns_names=dns_names,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=key_bits,
        signature_hash=sig_hash,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        der=der,
        self_signed=cert.subject == cert.issuer,
    )


def spki_der(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a certificate (for DANE selector 1)."""
    cert = x509.load_der_x509_certificate(der)
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- handshakes

Preamble = Callable[[socket.socket], None]


def permissive_context() -> ssl.SSLContext:
    """A client context that completes a handshake with nearly anything (for reading certificates)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(PERMISSIVE_CIPHERS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    return ctx


def verifying_context(ca_bundle: str | None) -> ssl.SSLContext:
    ctx = permissive_context()
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_default_certs()
    if ca_bundle:
        ctx.load_verify_locations(cafile=ca_bundle)
    return ctx


@dataclass(frozen=True, slots=True)
class Handshake:
    version: str
    suite: str
    der: bytes | None
    verify_code: int = 0
    verify_message: str = ""
    trusted: bool | None = None


def handshake(
    address: str,
    port: int,
    name: str,
    *,
    timeout: float,
    ca_bundle: str | None,
    preamble: Preamble | None = None,
) -> Handshake:
    """One verifying handshake; if verification fails, one permissive handshake for the certificate.

    Raises TimeoutError / OSError (no connection) or ssl.SSLError (no TLS agreement).
    """

    def connect(ctx: ssl.SSLContext) -> tuple[str, str, bytes | None]:
        with socket.create_connection((address, port), timeout=timeout) as raw, \
                tlsraw.watchdog(raw, timeout * tlsraw.DEADLINE_FACTOR) as guard:
            raw.settimeout(timeout)
            try:
                if preamble is not None:
                    preamble(raw)
                with ctx.wrap_socket(raw, server_hostname=name) as tls:
                    cipher = tls.cipher()
                    return tls.version() or "", cipher[0] if cipher else "", tls.getpeercert(binary_form=True)
            except (OSError, ssl.SSLError):
                if guard.fired:
                    raise TimeoutError("the server took too long") from None
                raise

    try:
        version, suite, der = connect(verifying_context(ca_bundle))
        return Handshake(version, suite, der, trusted=True)
    except ssl.SSLCertVerificationError as exc:
        code, message = exc.verify_code, exc.verify_message
    version, suite, der = connect(permissive_context())
    return Handshake(version, suite, der, code, message, trusted=False)


VERSIONS = (tlsraw.SSL3, tlsraw.TLS10, tlsraw.TLS11, tlsraw.TLS12, tlsraw.TLS13)


def scan_versions(
    address: str,
    port: int,
    name: str,
    *,
    timeout: float,
    enumerate_suites: bool,
    preamble: Preamble | None = None,
) -> tuple[tuple[VersionResult, ...], tuple[bytes, ...]]:
    """Raw ClientHello per protocol version; returns results and the certificate chain seen (if any)."""
    results = []
    chain: tuple[bytes, ...] = ()
    for version in VERSIONS:
        label = tlsraw.VERSION_NAMES[version]
        try:
            scan = tlsraw.scan_version(
                address, port, version=version, server_name=name, timeout=timeout,
                enumerate_suites=enumerate_suites, preamble=preamble,
            )
        except TimeoutError:
            results.append(VersionResult(label, False, error="timeout"))
            continue
        except OSError as exc:
            results.append(VersionResult(label, False, error=f"connection: {exc}"))
            continue
        if scan.certificates and not chain:
            chain = scan.certificates
        results.append(
            VersionResult(
                label,
                scan.accepted,
                tuple(tlsraw.suite_name(s) for s in scan.suites),
                scan.groups,
                scan.dh_bits,
                scan.complete,
                scan.error,
            )
        )
    return tuple(results), chain


def classify_oserror(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLError | ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return "protocol"
    return "unreachable"


def scan_endpoint(
    ctx: ProbeContext,
    name: str,
    address: str,
    port: int,
    *,
    enumerate_suites: bool = True,
    preamble: Preamble | None = None,
) -> TlsEndpoint:
    """Everything TLS about one address (reached as ``name``); never raises for network trouble."""
    try:
        ctx.admit(address, name)
    except OutOfScope as exc:
        return TlsEndpoint(name, address, port, "out-of-scope", str(exc))
    with ctx.connection_slot(address):
        try:
            hs = handshake(address, port, name, timeout=ctx.timeout, ca_bundle=ctx.options.ca_bundle, preamble=preamble)
        except (OSError, ssl.SSLError, ValueError) as exc:
            status = classify_oserror(exc)
            if status in ("timeout", "refused", "unreachable"):
                return TlsEndpoint(name, address, port, status, f"{type(exc).__name__}: {exc}")
            hs = None
            hs_error = f"{type(exc).__name__}: {exc}"
        else:
            hs_error = ""
        versions, chain = scan_versions(address, port, name, timeout=ctx.timeout,
                                        enumerate_suites=enumerate_suites, preamble=preamble)
    if hs is None and not any(v.accepted for v in versions):
        return TlsEndpoint(name, address, port, "protocol", hs_error or "no TLS handshake succeeded", versions)
    cert = None
    der = hs.der if hs is not None else (chain[0] if chain else None)
    if der:
        try:
            cert = parse_certificate(der)
        except ValueError:
            cert = None
    return TlsEndpoint(
        name,
        address,
        port,
        "ok",
        hs_error,
        versions,
        negotiated_version=hs.version if hs else "",
        negotiated_suite=hs.suite if hs else "",
        certificate=cert,
        chain=chain,
        chain_trusted=hs.trusted if hs else None,
        verify_code=hs.verify_code if hs else 0,
        verify_message=hs.verify_message if hs else "",
    )


def web_targets(inventory: HostInventory) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, address) pairs of the web hosts, and names that have no address."""
    pairs: list[tuple[str, str]] = []
    unresolved: list[str] = []
    for host in inventory.hosts:
        if not set(host.roles) & set(WEB_ROLES):
            continue
        if not host.addresses:
            unresolved.append(host.name)
        pairs.extend((host.name, a) for a in host.addresses)
    return pairs, unresolved


@probe("tls.scan", fact=TlsScan)
def probe_tls(ctx: ProbeContext, domain: str) -> TlsScan:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("https_port", 443))
    enumerate_suites = bool(ctx.settings.get("tls_enumerate_suites", True))
    pairs, unresolved = web_targets(inventory)
    endpoints = ctx.map(
        lambda pair: scan_endpoint(ctx, pair[0], pair[1], port, enumerate_suites=enumerate_suites), pairs
    )
    return TlsScan(domain, tuple(endpoints), tuple(unresolved))
