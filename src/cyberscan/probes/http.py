"""HTTP(S) facts per web host address: plain-HTTP first hop, HTTPS home page, security.txt.

One ``http.site`` fact per domain. Each request goes to one specific address while keeping the host
name for SNI and the ``Host`` header (``ssl`` + ``http.client`` on our own socket), so every address
behind a name is tested. Certificates are not verified here (``tls.scan`` judges them); responses are
bounded by construction:

- one overall deadline per web host address (``BUDGETS["web"]`` x ``--timeout``) for everything asked
  of it: the HTTPS home page with its redirects, security.txt, then the plain-HTTP first hop (the
  HTTPS part leaves it ``PLAIN_SHARE`` timeouts); the reaper cuts a server that drips, and a cut
  exchange is an error, never content;
- status line and header lines as ``http.client`` bounds them (64 KiB a line, 100 header lines);
- a size cap per body (a body cut there is marked ``truncated``), and no body read at all where no
  check reads it (redirects, the plain-HTTP hop) or where it is not plain bytes: we ask for
  ``Accept-Encoding: identity`` and never decompress, so a ``Content-Encoding: gzip`` answer keeps
  its headers and no body;
- at most ``MAX_REDIRECTS`` redirects, only to the same scheme, host and port: a chain that is
  still redirecting at the cap is an error (a loop), not a page.
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
from . import fanout
from .hosts import web_targets
from .tls import classify_oserror, permissive_context

MAX_BODY = 1024 * 1024  # the home page: enough for its <head>; a longer page is cut (and marked so)
MAX_SECURITYTXT = 64 * 1024  # RFC 9116 files are small; a longer one is not judged
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
PLAIN_SHARE = 2  # timeouts of the web deadline kept for the plain-HTTP hop (connect + answer)


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

    Reads at most ``max_bytes`` of the body (more is marked ``truncated``); ``max_bytes=0`` reads the
    headers only. The body of a redirect, and a body in a ``Content-Encoding`` we did not ask for, is
    never read.

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
    redirect = response.status in REDIRECTS and response.getheader("Location") is not None
    encoded = (response.getheader("Content-Encoding") or "identity").strip().lower() not in ("", "identity")
    while max_bytes > 0 and not redirect and not encoded:  # a body no check reads is never read
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
    except (LookupError, UnicodeError):  # no such codec, or one that fails even with "replace" (idna)
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
        explicit = target.port  # may be 0, which is no port and must not read as "the default"
        target_port = explicit if explicit is not None else (443 if target.scheme == "https" else 80)
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
    """A bounded request chain to one address, within its own ``web`` endpoint deadline; redirects are
    followed only on the same host, scheme and port. Never raises for network trouble."""
    try:
        ep = ctx.endpoint(address, name, "web")
    except OutOfScope as exc:
        return Fetch(ErrorReason.OUT_OF_SCOPE, exc.detail)
    return fetch_chain(ep, port, name, path, tls=tls, follow=follow, max_bytes=max_bytes, keep_body=keep_body)


def fetch_chain(
    ep: Endpoint,
    port: int,
    name: str,
    path: str,
    *,
    tls: bool,
    follow: bool,
    max_bytes: int,
    keep_body: bool,
) -> Fetch:
    """:func:`fetch` on an endpoint the caller holds (so several chains share one deadline)."""
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
            return Fetch(None, "", tuple(hops))
        nxt = same_origin(urljoin(exchange.url, exchange.location or ""), name=name, tls=tls, port=port)
        if nxt is None:  # elsewhere: the chain ends here (another host is judged on its own, if ours)
            return Fetch(None, "", tuple(hops))
        current = nxt
    return Fetch(ErrorReason.PROTOCOL, f"more than {MAX_REDIRECTS} redirects: {hops[-1].url}"[:300], tuple(hops))


def _without_body(exchange: Exchange) -> Exchange:
    return Exchange(exchange.url, exchange.status, exchange.headers, "", exchange.truncated, exchange.content_type)


def probe_endpoint(ctx: ProbeContext, name: str, address: str, roles: tuple[str, ...], http_port: int,
                   https_port: int) -> WebEndpoint:
    """Everything web about one address, within one ``web`` deadline: the HTTPS home page (most checks
    read it), security.txt, then the plain-HTTP first hop (headers only). The HTTPS part leaves
    ``PLAIN_SHARE`` timeouts of the deadline to the plain hop, so a dripping HTTPS server cannot take the
    redirect check down with it, and a dripping plain-HTTP server is cut at the endpoint's deadline."""
    try:
        ep = ctx.endpoint(address, name, "web")
    except OutOfScope as exc:
        out = Fetch(ErrorReason.OUT_OF_SCOPE, exc.detail)
        return WebEndpoint(name, address, out, out, out, (), https_port, roles)
    reserve = min(PLAIN_SHARE * ctx.timeout, ep.deadline.remaining / 3)
    secure = fetch_chain(ep.within(ep.deadline.remaining - reserve), https_port, name, "/", tls=True, follow=True,
                         max_bytes=MAX_BODY, keep_body=True)
    found: tuple[str, ...] = ()
    if secure.ok and secure.final is not None:
        found = generators(secure.final.body)
        secure = Fetch(secure.error, secure.detail, tuple(_without_body(h) for h in secure.hops))
    if secure.error in (ErrorReason.TIMEOUT, ErrorReason.REFUSED, ErrorReason.UNREACHABLE,
                        ErrorReason.OUT_OF_SCOPE, ErrorReason.INTERRUPTED) and not secure.hops:
        sectxt = Fetch(secure.error, "https: " + secure.detail)
    else:
        sectxt = fetch_chain(ep.within(ep.deadline.remaining - reserve), https_port, name, "/.well-known/security.txt",
                             tls=True, follow=True, max_bytes=MAX_SECURITYTXT, keep_body=True)
    plain = fetch_chain(ep, http_port, name, "/", tls=False, follow=False, max_bytes=0, keep_body=False)
    return WebEndpoint(name, address, plain, secure, sectxt, found, https_port, roles)


@probe("http.site", fact=HttpSite)
def probe_site(ctx: ProbeContext, domain: str) -> HttpSite:
    inventory: HostInventory = ctx.fact("hosts.inventory")
    http_port = int(ctx.settings.get("http_port", 80))
    https_port = int(ctx.settings.get("https_port", 443))
    pairs, unresolved, failed = web_targets(inventory)
    endpoints = fanout.run(lambda t: probe_endpoint(ctx, t[0], t[1], t[2], http_port, https_port), pairs,
                           cancel=ctx.cancel_event)
    return HttpSite(domain, tuple(endpoints), tuple(unresolved), tuple(failed))
