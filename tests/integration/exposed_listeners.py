"""Small TCP listeners that behave like the first moments of RDP, VNC, Telnet, Modbus and friends.

Enough for nmap's version detection and for the built-in banner reader to recognise them; they
never implement the protocols further. Used by tests/integration/test_exposed.py and to record the
XML fixtures in tests/fixtures/nmap/.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    greeting: bytes = b""  # sent as soon as a client connects
    reply: bytes = b""  # sent once after the client's first data
    close_after_reply: bool = False  # hang up after the first data (keeps nmap's version scan short)


# RDP: X.224 Connection Confirm, the answer nmap's TerminalServer probe looks for
RDP = Behaviour(reply=b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00")
# VNC: the RFB protocol version greeting
VNC = Behaviour(greeting=b"RFB 003.008\n")
# Telnet: option negotiation (IAC DO terminal-type, IAC DO window-size ...) then a login prompt
TELNET = Behaviour(greeting=b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27")
# Modbus/TCP: a device that answers any request with an exception (illegal function)
MODBUS = Behaviour(reply=b"\x00\x00\x00\x00\x00\x03\x01\x81\x01", close_after_reply=True)
# A Synology-like NAS admin page
NAS = Behaviour(reply=b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
# PPTP and other services nmap cannot name: accept, then hang up on the first request
SILENT = Behaviour(close_after_reply=True)



def _mysql_greeting(version: bytes) -> bytes:
    """A MySQL/MariaDB protocol-10 handshake packet, as the server sends it on connect."""
    payload = (
        b"\x0a" + version + b"\x00"
        + b"\x1f\x00\x00\x00"  # connection id
        + b"Q9k!x#2a\x00"  # first part of the scramble, filler
        + b"\xfe\xf7\x2d\x02\x00\xff\x81\x15"  # capabilities, character set, status, more capabilities, auth length
        + b"\x00" * 6 + b"\x1d\x00\x00\x00"  # reserved, MariaDB's extended capabilities
        + b"Zp4;r8Lk0w=e\x00mysql_native_password\x00"
    )  # fmt: skip
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


def _http(head: str, body: str = "") -> bytes:
    text = head.replace("{length}", str(len(body.encode()))) + "\r\n\r\n" + body
    return text.encode()


# Databases and logins whose greeting names a distribution build (recorded into tests/fixtures/nmap/banners.xml)
MARIADB = Behaviour(greeting=_mysql_greeting(b"5.5.5-10.11.19-MariaDB-0+deb12u1"))
SSH_DEBIAN = Behaviour(greeting=b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n")
SSH_UBUNTU = Behaviour(greeting=b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n")
SSH_RHEL = Behaviour(greeting=b"SSH-2.0-OpenSSH_8.7\r\n")  # Red Hat's builds do not say so
APACHE_DEBIAN = Behaviour(reply=_http("HTTP/1.1 200 OK\r\nDate: Sat, 28 Nov 2026 12:00:00 GMT\r\nServer: Apache/2.4.57 (Debian)"
                                      "\r\nContent-Length: 0\r\nConnection: close"), close_after_reply=True)
IIS = Behaviour(reply=_http("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: Microsoft-IIS/10.0\r\n"
                            "Date: Sat, 28 Nov 2026 12:00:00 GMT\r\nConnection: close"), close_after_reply=True)
NGINX = Behaviour(reply=_http("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 28 Nov 2026 12:00:00 GMT\r\n"
                              "Content-Length: 0\r\nConnection: close"), close_after_reply=True)

# VPN gateways as nmap 7.93's service fingerprints know them (recorded into tests/fixtures/nmap/edge-devices.xml)
_FORTI_BODY = ('<html><script type="text/javascript">\nif (window!=top) top.location=window.location;'
               'top.location="/remote/login";\n</script></html>\n')
FORTIGATE = Behaviour(reply=_http(
    "HTTP/1.0 200 OK\r\nDate: Sat, 28 Nov 2026 12:00:00 GMT\r\nLast-Modified: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
    'ETag: "83_5f4e2a10"\r\nAccept-Ranges: bytes\r\nContent-Length: {length}\r\nConnection: close\r\n'
    "Content-Type: text/html\r\nX-Frame-Options: SAMEORIGIN", _FORTI_BODY), close_after_reply=True)
NETSCALER_GATEWAY = Behaviour(reply=_http(
    "HTTP/1.1 302 Object Moved\r\nLocation: /vpn/index.html\r\nSet-Cookie: NSC_TEMP=xyz;Path=/;expires=Wednesday, "
    "09-Nov-1999 23:12:40 GMT;Secure\r\nSet-Cookie: NSC_AAAC=xyz;Path=/;expires=Wednesday, 09-Nov-1999 23:12:40 GMT;"
    "Secure\r\nConnection: close\r\nContent-Length: 0"), close_after_reply=True)
NETSCALER_13 = Behaviour(reply=_http("HTTP/1.1 503 Service Unavailable\r\nServer: NS13.0\r\nContent-Length:{length}\r\n"
                                     "Connection: close", "<html><body>Service Unavailable</body></html>"),
                         close_after_reply=True)
PULSE = Behaviour(reply=_http(
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\nPragma: no-cache\r\n"
    "Cache-Control: no-store\r\nExpires: -1\r\nContent-Length: {length}",
    "<html><head><title>Bad Request</title></head><body>Copyright 2001-2020 by Pulse Secure, LLC. All rights reserved."
    '<script src="/dana-na/css/ds_a1b2c3d4e5f6.js"></script></body></html>'), close_after_reply=True)
SONICWALL = Behaviour(reply=_http("HTTP/1.1 200 OK\r\nServer: SonicWALL SSL-VPN Web Server\r\nContent-Type: text/html\r\n"
                                  "Content-Length: 0\r\nConnection: close"), close_after_reply=True)
# Ivanti Connect Secure: no service fingerprint; nmap's http-title script reads its login page's title
IVANTI = Behaviour(reply=_http(
    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: close\r\nPragma: no-cache\r\n"
    "Cache-Control: no-store\r\nContent-Length: {length}",
    "<html><head><title>Ivanti Connect Secure</title></head><body>"
    '<form action="/dana-na/auth/url_default/login.cgi" method="POST"></form></body></html>'), close_after_reply=True)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        behaviour = self.server.behaviour
        try:
            if behaviour.greeting:
                conn.sendall(behaviour.greeting)
            data = conn.recv(4096)
            if data and behaviour.reply:
                conn.sendall(behaviour.reply)
            if data and behaviour.close_after_reply:
                return  # like a device that hangs up on requests it does not understand
            while conn.recv(4096):
                pass
        except OSError:
            return


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    behaviour: Behaviour


class Listeners:
    """``with Listeners(address, {3389: RDP, 5900: VNC}) as ls: ...`` (fixed ports: give an address of the
    test process's own loopback block, tests/fixtures/loopback.py)"""

    def __init__(self, address: str, ports: dict[int, Behaviour]) -> None:
        self.address = address
        self.servers: list[_Server] = []
        for port, behaviour in ports.items():
            server = _Server((address, port), _Handler)
            server.behaviour = behaviour
            self.servers.append(server)

    def __enter__(self) -> Listeners:
        for server in self.servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
