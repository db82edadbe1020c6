"""TLS facts per web host address: protocol versions, cipher suites, key exchange and certificate.

One ``tls.scan`` fact per domain holds, for every web host (apex, www, mta-sts, --host) and each of
its addresses, what the server accepted. Versions and suites come from raw ClientHellos
(:mod:`.tlsraw`), so SSL 3.0 and weak suites show up although local OpenSSL refuses them. The
certificate comes from one ordinary handshake, and chain trust from one verifying handshake against
the system store plus ``--ca-bundle``. Validity dates, name match, key and signature are judged later
by evaluators from the stored certificate details.

How the work is shared (issue 13: a hoster's address serves hundreds of names):

- the protocol versions are walked at the same time (one chain of ClientHellos per version, side by
  side within the address's connection limit), and the verifying handshake alongside them;
- the walk of versions and suites is made once per address and port for every name and every domain
  of a batch (``ProbeContext.once``, key: address, port, suite enumeration, CA bundle), with the SNI
  name of whoever asked first. Only the certificate is known to depend on the name, so every other
  name gets its own verifying handshake (certificate, trust) and is *checked* against the shared walk:
  its handshake must agree the same version and suite as the first name's, and the first ClientHello
  of each of TLS 1.0 to 1.3 (each with that name's SNI; SSL 3.0 carries no name) must be answered
  exactly as for the first name (same version, suite, key exchange group, or the same refusal). Any
  difference (a server that configures protocols, suites or curves per name, such as Apache's
  per-virtual-host ``SSLCipherSuite``) and that name is walked on its own. What the check cannot see:
  a per-name difference only in suites that are neither the server's first pick nor (for a server
  that follows the client's order) the weakest one it accepts at a version; docs/scale.md says so.
- TLS contexts are made once per process (the system store and the CA bundle are read once; a bundle
  that changes on disk gets a new context).
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace

from ..errors import Interrupted, OutOfScope, ProbeError
from ..facts.dns import HostInventory
from ..facts.tls import CertNames, CertNamesFact, TlsEndpoint, TlsScan, VersionResult
from ..models import ErrorReason
from ..parsers.tlsrating import suite_name
from ..parsers.x509 import parse_certificate
from ..plugin import probe
from ..runtime import Endpoint, ProbeContext
from . import fanout, tlsraw
from .dnsbase import lookup, reason_of
from .hosts import web_targets

PERMISSIVE_CIPHERS = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"


# ----------------------------------------------------------------------------- handshakes

Preamble = Callable[[socket.socket], None]


@functools.cache
def permissive_context() -> ssl.SSLContext:
    """A client context that completes a handshake with nearly anything (for reading certificates).

    One per process: an ``SSLContext`` may serve many connections and threads at once, and nobody
    changes it after it is made (client sessions are never resumed: ``wrap_socket`` is not given one)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(PERMISSIVE_CIPHERS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    return ctx


_VERIFYING: dict[tuple[str | None, int, int], ssl.SSLContext] = {}
_VERIFYING_LOCK = threading.Lock()


def bundle_key(ca_bundle: str | None) -> tuple[str | None, int, int] | None:
    """(path, modification time, size) of a CA bundle, so a context is reused only while the file is
    unchanged; None when the file cannot be read (no context is kept for it: loading it fails as before)."""
    if not ca_bundle:
        return (None, 0, 0)
    try:
        info = os.stat(ca_bundle)
    except OSError:
        return None
    return (ca_bundle, info.st_mtime_ns, info.st_size)


def verifying_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The permissive context's ciphers and versions, verifying the chain against the system store plus
    ``ca_bundle`` (the name is judged later, from the certificate). Made once per bundle and process."""
    key = bundle_key(ca_bundle)
    if key is not None:
        with _VERIFYING_LOCK:
            found = _VERIFYING.get(key)
        if found is not None:
            return found
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.set_ciphers(PERMISSIVE_CIPHERS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_default_certs()
    if ca_bundle:
        ctx.load_verify_locations(cafile=ca_bundle)
    if key is not None:
        with _VERIFYING_LOCK:
            ctx = _VERIFYING.setdefault(key, ctx)
    return ctx


@dataclass(frozen=True, slots=True)
class Handshake:
    version: str
    suite: str
    der: bytes | None
    verify_code: int = 0
    verify_message: str = ""
    trusted: bool | None = None


def tls_on(raw: socket.socket, ctx: ssl.SSLContext, name: str) -> tuple[str, str, bytes | None]:
    """A TLS handshake on a connected socket: (version, suite, leaf certificate DER)."""
    with ctx.wrap_socket(raw, server_hostname=name) as tls:
        cipher = tls.cipher()
        return tls.version() or "", cipher[0] if cipher else "", tls.getpeercert(binary_form=True)


def permissive_handshake(ep: Endpoint, port: int, name: str, failed: ssl.SSLCertVerificationError, *,
                         preamble: Preamble | None = None) -> Handshake:
    """After a verifying handshake failed on the chain: one permissive handshake for the certificate."""
    with ep.connect(port) as raw:
        if preamble is not None:
            preamble(raw)
        version, suite, der = tls_on(raw, permissive_context(), name)
    return Handshake(version, suite, der, failed.verify_code, failed.verify_message, trusted=False)


def handshake(ep: Endpoint, port: int, name: str, *, ca_bundle: str | None, preamble: Preamble | None = None) -> Handshake:
    """One verifying handshake; if verification fails, one permissive handshake for the certificate.

    Raises OSError (no connection), ssl.SSLError (no TLS agreement), ProbeTimeout/Interrupted (cut).
    """
    try:
        with ep.connect(port) as raw:
            if preamble is not None:
                preamble(raw)
            version, suite, der = tls_on(raw, verifying_context(ca_bundle), name)
        return Handshake(version, suite, der, trusted=True)
    except ssl.SSLCertVerificationError as exc:
        failed = exc
    return permissive_handshake(ep, port, name, failed, preamble=preamble)


VERSIONS = (tlsraw.SSL3, tlsraw.TLS10, tlsraw.TLS11, tlsraw.TLS12, tlsraw.TLS13)
# the order the version walks start in: the long suite enumerations first, so they hold a connection
# slot from the start and the short refusals fill the others
START_ORDER = (tlsraw.TLS12, tlsraw.TLS13, tlsraw.TLS11, tlsraw.TLS10, tlsraw.SSL3)
NAMED_VERSIONS = VERSIONS[1:]  # the ClientHellos that carry the server name (SSL 3.0 has no extensions)


@dataclass(frozen=True, slots=True)
class Versions:
    """The raw ClientHello walk of one address, as one name saw it."""

    results: tuple[VersionResult, ...]  # in VERSIONS order
    chain: tuple[bytes, ...]  # certificates of the lowest version that sent any (TLS <= 1.2)
    firsts: tuple[tuple[object, ...], ...]  # tlsraw.signature of each version's first answer (VERSIONS order)
    ssl3_chain: tuple[bytes, ...] = ()  # what SSL 3.0 sent (no server name in it: the same for every name)


def _connect_signature(exc: OSError) -> tuple[object, ...]:
    return ("timeout",) if isinstance(exc, TimeoutError) else ("oserror", type(exc).__name__)


def _scan_one(ep: Endpoint, port: int, name: str, version: int, *, enumerate_suites: bool,
              preamble: Preamble | None) -> tuple[VersionResult, tuple[bytes, ...], tuple[object, ...]]:
    label = tlsraw.VERSION_NAMES[version]
    try:
        scan = tlsraw.scan_version(ep, port, version=version, server_name=name,
                                   enumerate_suites=enumerate_suites, preamble=preamble)
    except TimeoutError as exc:
        return VersionResult(label, False, error="timeout"), (), _connect_signature(exc)
    except OSError as exc:
        return VersionResult(label, False, error=f"connection: {exc}"), (), _connect_signature(exc)
    result = VersionResult(label, scan.accepted, tuple(suite_name(s) for s in scan.suites), scan.groups,
                           scan.dh_bits, scan.complete, scan.error)
    return result, scan.certificates, scan.first


def walk_versions(ep: Endpoint, port: int, name: str, *, enumerate_suites: bool,
                  preamble: Preamble | None = None, cancel: threading.Event | None = None) -> Versions:
    """Raw ClientHellos for every protocol version, the versions side by side (each within the
    endpoint's connection slots). Raises ProbeTimeout/Interrupted when the endpoint's deadline cut it."""
    found = fanout.run(lambda v: _scan_one(ep, port, name, v, enumerate_suites=enumerate_suites, preamble=preamble),
                       START_ORDER, workers=len(START_ORDER), cancel=cancel)
    by_version = dict(zip(START_ORDER, found, strict=True))
    ordered = [by_version[v] for v in VERSIONS]
    chain = next((certs for _, certs, _ in ordered if certs), ())
    return Versions(tuple(r for r, _, _ in ordered), chain, tuple(f for _, _, f in ordered), by_version[tlsraw.SSL3][1])


def scan_versions(
    ep: Endpoint, port: int, name: str, *, enumerate_suites: bool, preamble: Preamble | None = None
) -> tuple[tuple[VersionResult, ...], tuple[bytes, ...]]:
    """Raw ClientHello per protocol version; returns results and the certificate chain seen (if any)."""
    walked = walk_versions(ep, port, name, enumerate_suites=enumerate_suites, preamble=preamble)
    return walked.results, walked.chain


def first_answers(ep: Endpoint, port: int, name: str, *, enumerate_suites: bool, preamble: Preamble | None = None,
                  cancel: threading.Event | None = None) -> tuple[tuple[tuple[object, ...], ...], tuple[bytes, ...]]:
    """The first ClientHello of every version that carries the server name (TLS 1.0 to 1.3) as ``name``,
    side by side: their signatures (in that order) and the certificates of the lowest that sent any."""

    def one(version: int) -> tuple[tuple[object, ...], tuple[bytes, ...]]:
        try:
            flight = tlsraw.first_hello(ep, port, version=version, server_name=name, enumerate_suites=enumerate_suites,
                                        preamble=preamble)
        except OSError as exc:
            return _connect_signature(exc), ()
        return tlsraw.signature(flight), flight.certificates if flight.outcome == "accepted" else ()

    found = fanout.run(one, NAMED_VERSIONS, workers=len(NAMED_VERSIONS), cancel=cancel)
    return tuple(sig for sig, _ in found), next((certs for _, certs in found if certs), ())


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


# ----------------------------------------------------------------------------- one endpoint

HandshakeOutcome = Handshake | OSError | ValueError | ProbeError
VersionsOutcome = Versions | ProbeError


def try_handshake(ep: Endpoint, port: int, name: str, *, ca_bundle: str | None,
                  preamble: Preamble | None = None) -> HandshakeOutcome:
    """:func:`handshake`, its failure kept as data (Interrupted still raises)."""
    outcome = fanout.settle(lambda: handshake(ep, port, name, ca_bundle=ca_bundle, preamble=preamble),
                            OSError, ValueError, ProbeError)
    if isinstance(outcome, Interrupted):
        raise outcome
    assert isinstance(outcome, Handshake | OSError | ValueError | ProbeError)
    return outcome


def try_walk(ep: Endpoint, port: int, name: str, *, enumerate_suites: bool, preamble: Preamble | None = None,
             cancel: threading.Event | None = None) -> VersionsOutcome:
    """:func:`walk_versions`, a cut-off walk kept as data (Interrupted still raises)."""
    outcome = fanout.settle(lambda: walk_versions(ep, port, name, enumerate_suites=enumerate_suites,
                                                  preamble=preamble, cancel=cancel), ProbeError)
    if isinstance(outcome, Interrupted):
        raise outcome
    assert isinstance(outcome, Versions | ProbeError)
    return outcome


def assemble(name: str, address: str, port: int, service: str, hs: HandshakeOutcome,
             walked: VersionsOutcome | None, chain: tuple[bytes, ...] | None = None) -> TlsEndpoint:
    """The TlsEndpoint of one name from its handshake and a version walk (``chain``: the name's own
    certificates when the walk was another name's). A handshake that found no server (timeout, refused,
    unreachable) decides first, then a walk the deadline cut, as when they ran one after the other."""
    hs_error = ""
    handshake_done: Handshake | None = None
    if isinstance(hs, ProbeError):
        return TlsEndpoint(name, address, port, hs.reason, hs.detail, service=service)
    if isinstance(hs, Exception):
        reason = classify_oserror(hs)
        if reason in (ErrorReason.TIMEOUT, ErrorReason.REFUSED, ErrorReason.UNREACHABLE):
            return TlsEndpoint(name, address, port, reason, f"{type(hs).__name__}: {hs}"[:300], service=service)
        hs_error = f"{type(hs).__name__}: {hs}"[:300]
    else:
        handshake_done = hs
    if walked is None or isinstance(walked, ProbeError):
        error = walked if isinstance(walked, ProbeError) else ProbeError("no walk")
        return TlsEndpoint(name, address, port, error.reason, error.detail, service=service)
    versions = walked.results
    seen = walked.chain if chain is None else chain
    if handshake_done is None and not any(v.accepted for v in versions):
        return TlsEndpoint(name, address, port, ErrorReason.PROTOCOL, hs_error or "no handshake", versions,
                           service=service)
    cert = None
    der = handshake_done.der if handshake_done is not None else (seen[0] if seen else None)
    if der:
        try:
            cert = parse_certificate(der)
        except ValueError:
            cert = None
    hs_ = handshake_done
    return TlsEndpoint(
        name,
        address,
        port,
        None,
        hs_error,
        versions,
        negotiated_version=hs_.version if hs_ else "",
        negotiated_suite=hs_.suite if hs_ else "",
        certificate=cert,
        chain=seen,
        chain_trusted=hs_.trusted if hs_ else None,
        verify_code=hs_.verify_code if hs_ else 0,
        verify_message=hs_.verify_message if hs_ else "",
        service=service,
    )


@dataclass(frozen=True, slots=True)
class Walk:
    """The shared part of one address: the walk made as ``name``, and that name's handshake."""

    name: str
    handshake: HandshakeOutcome
    versions: VersionsOutcome


def handshake_signature(hs: HandshakeOutcome) -> tuple[object, ...]:
    """What a handshake agreed (version, suite), or why it failed; never the certificate."""
    if isinstance(hs, Handshake):
        return ("agreed", hs.version, hs.suite)
    return ("failed", classify_oserror(hs))


def _walk_as(ctx: ProbeContext, ep: Endpoint, port: int, name: str, enumerate_suites: bool) -> Walk:
    """The handshake of ``name`` and the version walk with its SNI, side by side."""
    ca_bundle = ctx.options.ca_bundle
    hs, walked = fanout.pair(lambda: try_handshake(ep, port, name, ca_bundle=ca_bundle),
                             lambda: try_walk(ep, port, name, enumerate_suites=enumerate_suites,
                                              cancel=ctx.cancel_event),
                             cancel=ctx.cancel_event)
    return Walk(name, hs, walked)


class _Claim:
    """The walk of one address for everyone who shares it: the first name to ask makes it (the owner),
    the others wait for it and meanwhile check themselves. Kept in :class:`~cyberscan.runtime.Shared`
    through ``ctx.once`` (one object per key); an owner that was interrupted gives the walk up, and the
    next name to ask makes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._future: Future[Walk] | None = None

    def take(self) -> tuple[bool, Future[Walk]]:
        """(True, an empty future to fill) for the owner; (False, the owner's future) for the others."""
        with self._lock:
            if self._future is None:
                self._future = Future()
                return True, self._future
            return False, self._future

    def give_up(self, future: Future[Walk]) -> None:
        with self._lock:
            if self._future is future:
                self._future = None


def _shared_walk(ctx: ProbeContext, claim: _Claim, compute: Callable[[], Walk]) -> Walk:
    """The address's walk: made here when nobody made it yet, else the owner's (made here after all
    when the owner's scan was stopped and ours was not)."""
    while True:
        owner, future = claim.take()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter too
                if isinstance(exc, Interrupted):
                    claim.give_up(future)
                future.set_exception(exc)
        try:
            return future.result()
        except Interrupted:
            if ctx.cancelled:
                raise


def shared_endpoint(ctx: ProbeContext, ep: Endpoint, name: str, address: str, port: int, *, service: str,
                    enumerate_suites: bool) -> TlsEndpoint:
    """The TLS facts of ``name`` on ``address``, sharing the version walk of the address (see the module
    docstring: checked against the first name, walked on its own when it differs)."""
    key: tuple[object, ...] = ("tls.walk", address, port, enumerate_suites, bundle_key(ctx.options.ca_bundle)
                               or ctx.options.ca_bundle)
    claim = ctx.once(key, _Claim)
    cancel = ctx.cancel_event

    def walk_here() -> Walk:
        return _walk_as(ctx, ep, port, name, enumerate_suites)

    def check_here() -> tuple[tuple[tuple[object, ...], ...], tuple[bytes, ...]] | BaseException:
        return fanout.settle(lambda: first_answers(ep, port, name, enumerate_suites=enumerate_suites, cancel=cancel),
                             ProbeError)

    owner, future = claim.take()
    if owner:  # the first name on this address: walk as it
        try:
            walk = _walk_as(ctx, ep, port, name, enumerate_suites)
        except BaseException as exc:
            if isinstance(exc, Interrupted):
                claim.give_up(future)
            future.set_exception(exc)
            raise
        future.set_result(walk)
        return assemble(name, address, port, service, walk.handshake, walk.versions)
    own_hs, (check, walk) = fanout.pair(
        lambda: try_handshake(ep, port, name, ca_bundle=ctx.options.ca_bundle),
        lambda: fanout.pair(check_here, lambda: _shared_walk(ctx, claim, walk_here), cancel=cancel),
        cancel=cancel)
    if walk.name == name:  # the owner was stopped and this name made the walk after all
        return assemble(name, address, port, service, walk.handshake, walk.versions)
    if isinstance(check, Interrupted):
        raise check
    if isinstance(walk.versions, ProbeError):  # the address's walk was cut at its deadline: not retried
        return assemble(name, address, port, service, own_hs, walk.versions)
    if isinstance(check, ProbeError):  # our own check was cut
        return assemble(name, address, port, service, own_hs, check)
    assert not isinstance(check, BaseException)
    signatures, own_chain = check
    same = (handshake_signature(own_hs) == handshake_signature(walk.handshake)
            and signatures == walk.versions.firsts[1:])
    if same:
        return assemble(name, address, port, service, own_hs, walk.versions,
                        chain=walk.versions.ssl3_chain or own_chain)
    own = ctx.once((*key, name), lambda: try_walk(ep, port, name, enumerate_suites=enumerate_suites, cancel=cancel))
    return assemble(name, address, port, service, own_hs, own)


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
    ``endpoint``, when the caller already talks to this address); never raises for network trouble.

    Without a ``preamble`` the walk of the address is shared with the other names and domains that
    reach it (see the module docstring); with one (a protocol before TLS) it is made for this call."""
    try:
        ep = endpoint if endpoint is not None else ctx.endpoint(address, name, kind)
    except OutOfScope as exc:
        return TlsEndpoint(name, address, port, ErrorReason.OUT_OF_SCOPE, exc.detail, service=service)
    if preamble is None:
        return shared_endpoint(ctx, ep, name, address, port, service=service, enumerate_suites=enumerate_suites)
    ca_bundle = ctx.options.ca_bundle
    hs, walked = fanout.pair(lambda: try_handshake(ep, port, name, ca_bundle=ca_bundle, preamble=preamble),
                             lambda: try_walk(ep, port, name, enumerate_suites=enumerate_suites, preamble=preamble,
                                              cancel=ctx.cancel_event),
                             cancel=ctx.cancel_event)
    return assemble(name, address, port, service, hs, walked)


@probe("tls.scan", fact=TlsScan)
def probe_tls(ctx: ProbeContext, domain: str) -> TlsScan:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    port = int(ctx.settings.get("https_port", 443))
    enumerate_suites = bool(ctx.settings.get("tls_enumerate_suites", True))
    pairs, unresolved, failed = web_targets(inventory)
    endpoints = fanout.run(
        lambda t: replace(scan_endpoint(ctx, t[0], t[1], port, enumerate_suites=enumerate_suites), roles=t[2]), pairs,
        cancel=ctx.cancel_event,
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
