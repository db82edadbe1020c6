"""TLS facts per web host address: protocol versions, cipher suites, key exchange and certificate.

One ``tls.scan`` fact per domain holds, for every web host (apex, www, mta-sts, --host) and each of
its addresses, what the server accepted. Versions and suites come from raw ClientHellos
(:mod:`.tlsraw`), so SSL 3.0 and weak suites show up although local OpenSSL refuses them. The
certificate comes from one ordinary handshake, and chain trust from one verifying handshake against
the system store plus ``--ca-bundle``. Validity dates, name match, key and signature are judged later
by evaluators from the stored certificate details.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import OutOfScope, ProbeError
from ..facts.dns import HostInventory
from ..facts.tls import CertNames, CertNamesFact, TlsEndpoint, TlsScan, VersionResult
from ..models import ErrorReason
from ..parsers.tlsrating import suite_name
from ..parsers.x509 import parse_certificate
from ..plugin import probe
from ..runtime import Endpoint, ProbeContext
from . import tlsraw
from .dnsbase import lookup, reason_of
from .hosts import web_targets

PERMISSIVE_CIPHERS = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"


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


def handshake(ep: Endpoint, port: int, name: str, *, ca_bundle: str | None, preamble: Preamble | None = None) -> Handshake:
    """One verifying handshake; if verification fails, one permissive handshake for the certificate.

    Raises OSError (no connection), ssl.SSLError (no TLS agreement), ProbeTimeout/Interrupted (cut).
    """

    def connect(ctx: ssl.SSLContext) -> tuple[str, str, bytes | None]:
        with ep.connect(port) as raw:
            if preamble is not None:
                preamble(raw)
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                cipher = tls.cipher()
                return tls.version() or "", cipher[0] if cipher else "", tls.getpeercert(binary_form=True)

    try:
        version, suite, der = connect(verifying_context(ca_bundle))
        return Handshake(version, suite, der, trusted=True)
    except ssl.SSLCertVerificationError as exc:
        code, message = exc.verify_code, exc.verify_message
    version, suite, der = connect(permissive_context())
    return Handshake(version, suite, der, code, message, trusted=False)


VERSIONS = (tlsraw.SSL3, tlsraw.TLS10, tlsraw.TLS11, tlsraw.TLS12, tlsraw.TLS13)


def scan_versions(
    ep: Endpoint, port: int, name: str, *, enumerate_suites: bool, preamble: Preamble | None = None
) -> tuple[tuple[VersionResult, ...], tuple[bytes, ...]]:
    """Raw ClientHello per protocol version; returns results and the certificate chain seen (if any)."""
    results = []
    chain: tuple[bytes, ...] = ()
    for version in VERSIONS:
        label = tlsraw.VERSION_NAMES[version]
        try:
            scan = tlsraw.scan_version(ep, port, version=version, server_name=name,
                                       enumerate_suites=enumerate_suites, preamble=preamble)
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
                tuple(suite_name(s) for s in scan.suites),
                scan.groups,
                scan.dh_bits,
                scan.complete,
                scan.error,
            )
        )
    return tuple(results), chain


def classify_oserror(exc: BaseException) -> ErrorReason:
    if isinstance(exc, ProbeError):
        return exc.reason
    if isinstance(exc, TimeoutError | socket.timeout):
        return ErrorReason.TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return ErrorReason.REFUSED
    if isinstance(exc, ssl.SSLError | ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return ErrorReason.PROTOCOL
    return ErrorReason.UNREACHABLE


def scan_endpoint(
    ctx: ProbeContext,
    name: str,
    address: str,
    port: int,
    *,
    service: str = "https",
    enumerate_suites: bool = True,
    preamble: Preamble | None = None,
    kind: str = "tls",
    endpoint: Endpoint | None = None,
) -> TlsEndpoint:
    """Everything TLS about one address (reached as ``name``), within one ``kind`` deadline (or that of
    ``endpoint``, when the caller already talks to this address: SMTP); never raises for network trouble."""
    try:
        ep = endpoint if endpoint is not None else ctx.endpoint(address, name, kind)
    except OutOfScope as exc:
        return TlsEndpoint(name, address, port, ErrorReason.OUT_OF_SCOPE, exc.detail, service=service)
    try:
        try:
            hs: Handshake | None = handshake(ep, port, name, ca_bundle=ctx.options.ca_bundle, preamble=preamble)
            hs_error = ""
        except (OSError, ValueError) as exc:
            reason = classify_oserror(exc)
            if reason in (ErrorReason.TIMEOUT, ErrorReason.REFUSED, ErrorReason.UNREACHABLE):
                return TlsEndpoint(name, address, port, reason, f"{type(exc).__name__}: {exc}"[:300], service=service)
            hs = None
            hs_error = f"{type(exc).__name__}: {exc}"[:300]
        versions, chain = scan_versions(ep, port, name, enumerate_suites=enumerate_suites, preamble=preamble)
    except ProbeError as exc:  # the endpoint's deadline ran out, or the scan was stopped
        return TlsEndpoint(name, address, port, exc.reason, exc.detail, service=service)
    if hs is None and not any(v.accepted for v in versions):
        return TlsEndpoint(name, address, port, ErrorReason.PROTOCOL, hs_error or "no handshake", versions,
                           service=service)
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
        None,
        hs_error,
        versions,
        negotiated_version=hs.version if hs else "",
        negotiated_suite=hs.suite if hs else "",
        certificate=cert,
        chain=chain,
        chain_trusted=hs.trusted if hs else None,
        verify_code=hs.verify_code if hs else 0,
        verify_message=hs.verify_message if hs else "",
        service=service,
    )


@probe("tls.scan", fact=TlsScan)
def probe_tls(ctx: ProbeContext, domain: str) -> TlsScan:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("https_port", 443))
    enumerate_suites = bool(ctx.settings.get("tls_enumerate_suites", True))
    pairs, unresolved, failed = web_targets(inventory)
    endpoints = ctx.map(
        lambda t: replace(scan_endpoint(ctx, t[0], t[1], port, enumerate_suites=enumerate_suites), roles=t[2]), pairs
    )
    return TlsScan(domain, tuple(endpoints), tuple(unresolved), tuple(failed))


# ----------------------------------------------------------------------------- certificate names


def _first_address(ctx: ProbeContext, name: str) -> str:
    """The first IPv4 address of ``name``, else its first IPv6 address; "" when it has none."""
    for rdtype in ("A", "AAAA"):
        answer = lookup(ctx, name, rdtype, probe="tls.names")
        if answer.records:
            return answer.records[0]
        if not answer.exists:
            break
    return ""


def cert_names(ctx: ProbeContext, name: str, port: int) -> CertNames:
    """The subjectAltNames of the certificate ``name`` presents: one ordinary handshake (SNI, nothing
    verified: only the names are read) on its first address, within the ``names`` deadline."""
    try:
        address = _first_address(ctx, name)
    except ProbeError as exc:
        return CertNames(name, "", port, error=reason_of(exc), detail=exc.detail)
    if not address:
        return CertNames(name, "", port)
    try:
        ep = ctx.endpoint(address, name, "names")
    except OutOfScope as exc:
        return CertNames(name, address, port, error=ErrorReason.OUT_OF_SCOPE, detail=exc.detail)
    try:
        with ep.connect(port) as raw, permissive_context().wrap_socket(raw, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError, ProbeError) as exc:
        return CertNames(name, address, port, error=classify_oserror(exc), detail=f"{type(exc).__name__}: {exc}"[:300])
    try:
        names = parse_certificate(der).dns_names if der else ()
    except ValueError as exc:
        return CertNames(name, address, port, error=ErrorReason.PROTOCOL, detail=str(exc)[:300])
    return CertNames(name, address, port, tuple(dict.fromkeys(n.rstrip(".").lower() for n in names)))


@probe("tls.names", fact=CertNamesFact)
def probe_cert_names(ctx: ProbeContext, domain: str) -> CertNamesFact:
    """The names in the apex and www certificates, for the host inventory's found names (``tls.scan``
    needs the inventory, so it cannot supply them)."""
    port = int(ctx.settings.get("https_port", 443))
    return CertNamesFact(domain, tuple(ctx.map(lambda n: cert_names(ctx, n, port), [domain, f"www.{domain}"])))
