"""Small in-process servers on loopback for the demo: HTTP(S) with name-based sites, SMTP with STARTTLS.

Every server binds port 0 on 127.0.0.1 (no root needed), runs in daemon threads and is stopped with
:meth:`stop` (or a ``with`` block). Connections time out, so a stalled client never holds the demo up.
"""

from __future__ import annotations

import socketserver
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Page:
    status: int = 200
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "text/html; charset=utf-8"


Router = Callable[[str, str, bool], Page]  # (host, path, tls) -> page


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def sni_context(default: ssl.SSLContext, by_name: Mapping[str, ssl.SSLContext]) -> ssl.SSLContext:
    """``default``, switching to the context of the name the client asks for (SNI)."""

    def pick(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        chosen = by_name.get((name or "").lower())
        if chosen is not None:
            sock.context = chosen

    default.sni_callback = pick
    return default


class _Handler(BaseHTTPRequestHandler):
    server: _WebServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return self.server.banner

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, with_body: bool) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower() if self.headers.get("Host") else ""
        page = self.server.router(host, self.path, self.server.context is not None)
        body = page.body.encode("utf-8")
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in page.headers:
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)
        self.close_connection = True

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)


class _WebServer(ThreadingHTTPServer):
    daemon_threads = True
    router: Router
    banner: str
    context: ssl.SSLContext | None

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(TIMEOUT)
        conn = request
        if self.context is not None:
            try:
                conn = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # e.g. a client that only probes which TLS versions we speak
        try:
            super().finish_request(conn, client_address)
        finally:
            if conn is not request:
                conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hangs up early is no news in a demo


class WebServer:
    """HTTP (``context=None``) or HTTPS on 127.0.0.1; ``router`` picks the page by host and path."""

    def __init__(self, router: Router, *, context: ssl.SSLContext | None, banner: str) -> None:
        self._server = _WebServer(("127.0.0.1", 0), _Handler)
        self._server.router = router
        self._server.banner = banner
        self._server.context = context
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self) -> WebServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ------------------------------------------------------------------------------------ SMTP


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: _SmtpServer
    timeout = TIMEOUT

    def _send(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        name = self.server.hostname
        self._send(f"220 {name} ESMTP {self.server.banner}")
        secure = False
        while True:
            try:
                raw = self.rfile.readline(1024)
            except (OSError, ValueError):
                return
            if not raw:
                return
            verb = raw.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                features = ["PIPELINING", "SIZE 10240000", "8BITMIME"] + ([] if secure else ["STARTTLS"])
                if verb == "HELO":
                    self._send(f"250 {name}")
                    continue
                self._send(f"250-{name}")
                for i, feature in enumerate(features):
                    self._send(f"250{' ' if i == len(features) - 1 else '-'}{feature}")
            elif verb == "STARTTLS" and not secure:
                self._send("220 2.0.0 Ready to start TLS")
                try:
                    tls = self.server.context.wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                self.connection = tls
                self.rfile = tls.makefile("rb")
                self.wfile = tls.makefile("wb")
                secure = True
            elif verb == "QUIT":
                self._send("221 2.0.0 Bye")
                return
            elif verb in ("NOOP", "RSET"):
                self._send("250 2.0.0 Ok")
            else:
                self._send("502 5.5.2 Error: command not recognized")


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    hostname: str
    banner: str
    context: ssl.SSLContext

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


@dataclass
class SmtpServer:
    """A mail server that greets, offers STARTTLS and hangs up politely: enough for the STARTTLS checks."""

    hostname: str
    context: ssl.SSLContext
    banner: str = "Postfix"
    port: int = field(init=False)

    def __post_init__(self) -> None:
        self._server = _SmtpServer(("127.0.0.1", 0), _SmtpHandler)
        self._server.hostname = self.hostname
        self._server.banner = self.banner
        self._server.context = self.context
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self) -> SmtpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

