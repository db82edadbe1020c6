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
    """``with Listeners("127.0.40.1", {3389: RDP, 5900: VNC}) as ls: ...``"""

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
