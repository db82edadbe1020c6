"""HTTP(S) facts per web host address: plain-HTTP first hop, HTTPS home page, security.txt.

One ``http.site`` fact per domain. Each request goes to one specific address while keeping the host
name for SNI and the ``Host`` header (``ssl`` + ``http.client`` on our own socket), so every address
behind a name is tested. Certificates are not verified here (``tls.scan`` judges them); responses are
bounded: a per-read timeout, one overall deadline per request chain (``BUDGETS["web"]``), a size cap
and a redirect cap. A body cut at the size cap is marked ``truncated``.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urljoin, urlsplit

from ..errors import OutOfScope, ProbeError
from ..facts.dns import HostInventory
from ..facts.web import Exchange, Fetch, HttpSite, WebEndpoint
from ..models import ErrorReason
from ..parsers.headers import generators
from ..plugin import probe
from ..runtime import Endpoint, ProbeContext
from ..version import USER_AGENT
from .hosts import web_targets
from .tls import classify_oserror, permissive_context

MAX_BODY = 1024 * 1024  # the home page: enough for its <head>; a longer page is cut (and marked so)
MAX_SECURITYTXT = 64 * 1024  # RFC 9116 files are small; a longer one is not judged
MAX_REDIRECTS = 5


def fetch_once(
    ep: Endpoint,
    port: int,
    name: str,
    path: str,
    *,
    tls: bool,
    max_bytes: int,
    context: ssl.SSLContext | None = None,
) -> Exchange:
    """GET ``path`` from the endpoint's address as ``name``.

    Raises OSError/ssl.SSLError/http.client.HTTPException for network and protocol trouble, and
    ProbeTimeout/Interrupted when the endpoint's deadline cut the exchange (headers or body): what was
    read before is then thrown away, never judged.
    """
    with ep.connect(port) as sock:
        if not tls:
            return _exchange(sock, ep, name, port, path, tls=False, max_bytes=max_bytes)
        with (context or permissive_context()).wrap_socket(sock, server_hostname=name) as tls_sock:
            return _exchange(tls_sock, ep, name, port, path, tls=True, max_bytes=max_bytes)


def _exchange(conn_sock: socket.socket, ep: Endpoint, name: str, port: int, path: str, *, tls: bool,
              max_bytes: int) -> Exchange:
    default = 443 if tls else 80
    conn = http.client.HTTPConnection(name, port, timeout=ep.timeout)
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
        conn_sock.settimeout(ep.timeout)  # raises ProbeTimeout once the deadline passed
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


def same_origin(url: str, *, name: str, tls: bool, port: int) -> str | None:
    """The path (and query) of ``url`` when it is on the same scheme, host and port; else None."""
    try:
        target = urlsplit(url)
        target_port = target.port or (443 if target.scheme == "https" else 80)
    except ValueError:
        return None
    if target.scheme != ("https" if tls else "http") or (target.hostname or "").lower() != name.lower():
        return None
    if target_port != port:
        return None
    path = target.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return path + (f"?{target.query}" if target.query else "")


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
    """A bounded request chain to one address (one deadline for the whole chain); redirects are
    followed only on the same host, scheme and port. Never raises for network trouble."""
    try:
        ep = ctx.endpoint(address, name, "web")
    except OutOfScope as exc:
        return Fetch(ErrorReason.OUT_OF_SCOPE, exc.detail)
    hops: list[Exchange] = []
    current = path
    for _ in range(MAX_REDIRECTS + 1):
        try:
            exchange = fetch_once(ep, port, name, current, tls=tls, max_bytes=max_bytes)
        except ProbeError as exc:
            return Fetch(exc.reason, exc.detail, tuple(hops))
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            reason = classify_oserror(exc) if isinstance(exc, OSError) else ErrorReason.PROTOCOL
            return Fetch(reason, f"{type(exc).__name__}: {exc}"[:300], tuple(hops))
        hops.append(exchange if keep_body else _without_body(exchange))
        if not (follow and exchange.is_redirect):
            break
        nxt = same_origin(urljoin(exchange.url, exchange.location or ""), name=name, tls=tls, port=port)
        if nxt is None:
            break
        current = nxt
    return Fetch(None, "", tuple(hops))


def _without_body(exchange: Exchange) -> Exchange:
    return Exchange(exchange.url, exchange.status, exchange.headers, "", exchange.truncated, exchange.content_type)


def probe_endpoint(ctx: ProbeContext, name: str, address: str, roles: tuple[str, ...], http_port: int,
                   https_port: int) -> WebEndpoint:
    plain = fetch(ctx, address, http_port, name, "/", tls=False, follow=False, max_bytes=8192, keep_body=False)
    secure = fetch(ctx, address, https_port, name, "/", tls=True, follow=True, max_bytes=MAX_BODY, keep_body=True)
    found: tuple[str, ...] = ()
    if secure.ok and secure.final is not None:
        found = generators(secure.final.body)
        secure = Fetch(secure.error, secure.detail, tuple(_without_body(h) for h in secure.hops))
    if secure.error in (ErrorReason.TIMEOUT, ErrorReason.REFUSED, ErrorReason.UNREACHABLE,
                        ErrorReason.OUT_OF_SCOPE, ErrorReason.INTERRUPTED) and not secure.hops:
        sectxt = Fetch(secure.error, "https: " + secure.detail)
    else:
        sectxt = fetch(ctx, address, https_port, name, "/.well-known/security.txt", tls=True, follow=True,
                       max_bytes=MAX_SECURITYTXT, keep_body=True)
    return WebEndpoint(name, address, plain, secure, sectxt, found, https_port, roles)


@probe("http.site", fact=HttpSite)
def probe_site(ctx: ProbeContext, domain: str) -> HttpSite:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    http_port = int(ctx.settings.get("http_port", 80))
    https_port = int(ctx.settings.get("https_port", 443))
    pairs, unresolved, failed = web_targets(inventory)
    endpoints = ctx.map(lambda t: probe_endpoint(ctx, t[0], t[1], t[2], http_port, https_port), pairs)
    return HttpSite(domain, tuple(endpoints), tuple(unresolved), tuple(failed))
