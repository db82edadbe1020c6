"""HTTP(S) facts per web host address: plain-HTTP first hop, HTTPS home page, security.txt.

One ``http.site`` fact per domain. Each request goes to one specific address while keeping the host
name for SNI and the ``Host`` header (``ssl`` + ``http.client`` on our own socket), so every address
behind a name is tested. Certificates are not verified here (``tls.scan`` judges them); responses are
bounded: connect/read timeouts, an overall deadline per response, a size cap, and a redirect cap.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..engine import USER_AGENT, ProbeContext
from ..errors import OutOfScope
from ..parsers.headers import generators
from ..plugin import probe
from .hosts import HostInventory
from .tls import classify_oserror, permissive_context, web_targets
from .tlsraw import DEADLINE_FACTOR, watchdog

MAX_BODY = 256 * 1024
MAX_SECURITYTXT = 64 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response (body only kept where a check reads it)."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]  # in order, repeated names kept (Set-Cookie)
    body: str = ""
    truncated: bool = False
    content_type: str = ""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        lname = name.lower()
        return tuple(v for k, v in self.headers if k.lower() == lname)

    @property
    def location(self) -> str | None:
        return self.header("Location")

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and bool(self.location)


@dataclass(frozen=True, slots=True)
class Fetch:
    """A request chain (following redirects on the same host), or why it failed."""

    status: str  # "ok" | "timeout" | "refused" | "unreachable" | "protocol" | "out-of-scope"
    detail: str = ""
    hops: tuple[Exchange, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.hops)

    @property
    def first(self) -> Exchange | None:
        return self.hops[0] if self.hops else None

    @property
    def final(self) -> Exchange | None:
        return self.hops[-1] if self.hops else None


@dataclass(frozen=True, slots=True)
class WebEndpoint:
    name: str
    address: str
    http: Fetch  # GET http://name/ (first hop only)
    https: Fetch  # GET https://name/ with same-host redirects
    securitytxt: Fetch  # GET https://name/.well-known/security.txt
    generators: tuple[str, ...] = ()  # <meta name="generator"> of the home page

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})"


@dataclass(frozen=True, slots=True)
class HttpSite:
    domain: str
    endpoints: tuple[WebEndpoint, ...]
    unresolved: tuple[str, ...] = ()


def fetch_once(
    address: str,
    port: int,
    name: str,
    path: str,
    *,
    tls: bool,
    timeout: float,
    max_bytes: int,
) -> Exchange:
    """GET ``path`` from ``address`` as ``name``. Raises OSError/ssl.SSLError/http.client.HTTPException."""
    # the body stops at its own deadline (keeping the headers); the watchdog, later, only cuts servers
    # that drip their status line or headers, and then nothing of the answer is used
    with socket.create_connection((address, port), timeout=timeout) as sock, \
            watchdog(sock, timeout * (DEADLINE_FACTOR + 2)) as guard:
        sock.settimeout(timeout)
        try:
            exchange = _get(sock, name, port, path, tls=tls, timeout=timeout, max_bytes=max_bytes)
        except (OSError, ssl.SSLError, http.client.HTTPException):
            if guard.fired:
                raise TimeoutError("the server took too long to answer") from None
            raise
        if guard.fired:
            raise TimeoutError("the server took too long to answer")
        return exchange


def _get(sock: socket.socket, name: str, port: int, path: str, *, tls: bool, timeout: float,
         max_bytes: int) -> Exchange:
    if not tls:
        return _exchange(sock, name, port, path, tls=False, timeout=timeout, max_bytes=max_bytes)
    with permissive_context().wrap_socket(sock, server_hostname=name) as tls_sock:
        return _exchange(tls_sock, name, port, path, tls=True, timeout=timeout, max_bytes=max_bytes)


def _exchange(conn_sock: socket.socket, name: str, port: int, path: str, *, tls: bool, timeout: float,
              max_bytes: int) -> Exchange:
    deadline = time.monotonic() + timeout * DEADLINE_FACTOR
    default = 443 if tls else 80
    conn = http.client.HTTPConnection(name, port, timeout=timeout)
    conn.sock = conn_sock
    host = name if port == default else f"{name}:{port}"
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host)
    conn.putheader("User-Agent", USER_AGENT)
    conn.putheader("Accept", "*/*")
    conn.putheader("Accept-Encoding", "identity")
    conn.putheader("Connection", "close")
    conn.endheaders()
    response = conn.getresponse()
    chunks: list[bytes] = []
    size = 0
    truncated = False
    while True:
        if time.monotonic() > deadline:
            truncated = True
            break
        chunk = response.read1(min(16384, max_bytes - size + 1))  # what has arrived, not a full block
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            truncated = True
            break
    raw = b"".join(chunks)[:max_bytes]
    scheme = "https" if tls else "http"
    content_type = response.getheader("Content-Type", "") or ""
    charset = "utf-8"
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip('"') or "utf-8"
    try:
        body = raw.decode(charset, errors="replace")
    except LookupError:
        body = raw.decode("utf-8", errors="replace")
    return Exchange(
        url=f"{scheme}://{host}{path}",
        status=response.status,
        headers=tuple((k, v) for k, v in response.getheaders()),
        body=body,
        truncated=truncated,
        content_type=content_type,
    )


def fetch(
    ctx: ProbeContext,
    address: str,
    port: int,
    name: str,
    path: str,
    *,
    tls: bool,
    follow: bool,
    max_bytes: int,
    keep_body: bool,
) -> Fetch:
    """A bounded request chain to one address; redirects followed only on the same host and scheme."""
    hops: list[Exchange] = []
    current = path
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with ctx.connection_slot(address):
                exchange = fetch_once(address, port, name, current, tls=tls, timeout=ctx.timeout, max_bytes=max_bytes)
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            status = classify_oserror(exc) if isinstance(exc, OSError) else "protocol"
            if hops:  # a later hop failed: keep what we have
                return Fetch("ok", f"{type(exc).__name__}: {exc}", tuple(hops))
            return Fetch(status, f"{type(exc).__name__}: {exc}")
        hops.append(exchange if keep_body else _without_body(exchange))
        if not (follow and exchange.is_redirect):
            break
        target = urlsplit(urljoin(exchange.url, exchange.location or ""))
        same_scheme = target.scheme == ("https" if tls else "http")
        if not same_scheme or (target.hostname or "").lower() != name.lower():
            break
        current = (target.path or "/") + (f"?{target.query}" if target.query else "")
    return Fetch("ok", "", tuple(hops))


def _without_body(exchange: Exchange) -> Exchange:
    return Exchange(exchange.url, exchange.status, exchange.headers, "", exchange.truncated, exchange.content_type)


def probe_endpoint(ctx: ProbeContext, name: str, address: str, http_port: int, https_port: int) -> WebEndpoint:
    try:
        ctx.admit(address, name)
    except OutOfScope as exc:
        skipped = Fetch("out-of-scope", str(exc))
        return WebEndpoint(name, address, skipped, skipped, skipped)
    plain = fetch(ctx, address, http_port, name, "/", tls=False, follow=False, max_bytes=8192, keep_body=False)
    secure = fetch(ctx, address, https_port, name, "/", tls=True, follow=True, max_bytes=MAX_BODY, keep_body=True)
    found: tuple[str, ...] = ()
    if secure.ok and secure.final is not None:
        found = generators(secure.final.body)
        secure = Fetch(secure.status, secure.detail, tuple(_without_body(h) for h in secure.hops))
    if secure.status in ("timeout", "refused", "unreachable"):
        sectxt = Fetch(secure.status, "HTTPS not available: " + secure.detail)
    else:
        sectxt = fetch(ctx, address, https_port, name, "/.well-known/security.txt", tls=True, follow=True,
                       max_bytes=MAX_SECURITYTXT, keep_body=True)
    return WebEndpoint(name, address, plain, secure, sectxt, found)


@probe("http.site", fact=HttpSite)
def probe_site(ctx: ProbeContext, domain: str) -> HttpSite:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    http_port = int(ctx.settings.get("http_port", 80))
    https_port = int(ctx.settings.get("https_port", 443))
    pairs, unresolved = web_targets(inventory)
    endpoints = ctx.map(lambda pair: probe_endpoint(ctx, pair[0], pair[1], http_port, https_port), pairs)
    return HttpSite(domain, tuple(endpoints), tuple(unresolved))
