"""A small authoritative DNS server on loopback, for the demo and for tests.

It answers from dnspython zones over UDP and TCP on one port: NXDOMAIN and NODATA with the SOA,
CNAME chains inside its zones, RRSIGs when the query sets the DO bit (for zones signed beforehand),
and AXFR when a zone allows it. It also acts as a tiny "resolver" for names in its zones (it sets RA),
which is all cyberscan needs when pointed at it with ``--nameserver``.
"""

from __future__ import annotations

import errno
import os
import socket
import socketserver
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.node
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone


@dataclass
class ServedZone:
    zone: dns.zone.Zone
    allow_axfr: bool = False

    @property
    def origin(self) -> dns.name.Name:
        origin = self.zone.origin
        assert origin is not None  # zones are always read with an origin
        return origin


@dataclass
class ZoneSet:
    zones: dict[dns.name.Name, ServedZone] = field(default_factory=dict)
    # names (lowercase, no dot) whose queries are never answered / answered SERVFAIL; an entry
    # "name TYPE" (e.g. "museum.test MX") does so only for that type
    hang: set[str] = field(default_factory=set)
    servfail: set[str] = field(default_factory=set)
    bogus: set[str] = field(default_factory=set)  # SERVFAIL unless the query sets CD, as a validating resolver does
    # empty names with names below them answered NXDOMAIN, as some servers do against RFC 8020
    nxdomain_when_empty: set[str] = field(default_factory=set)

    def add_text(self, origin: str, text: str, *, allow_axfr: bool = False) -> None:
        self.add_zone(dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True), allow_axfr=allow_axfr)

    def add_zone(self, zone: dns.zone.Zone, *, allow_axfr: bool = False) -> None:
        """Serve a zone built in code (e.g. signed with ``dns.dnssec.sign_zone``; not relativized)."""
        served = ServedZone(zone, allow_axfr)
        self.zones[served.origin] = served

    def find(self, qname: dns.name.Name, *, parent_side: bool = False) -> ServedZone | None:
        """The most specific zone holding ``qname``; with ``parent_side`` never the zone whose apex it
        is (DS records live in the parent zone, RFC 4035 3.1.4.1)."""
        best = None
        for origin, served in self.zones.items():
            if parent_side and origin == qname:
                continue
            if qname.is_subdomain(origin) and (best is None or len(origin) > len(best.origin)):
                best = served
        return best

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        key = qname.to_text().rstrip(".").lower()
        typed = f"{key} {dns.rdatatype.to_text(qtype)}"
        if key in self.hang or typed in self.hang:
            return None
        if key in self.servfail or typed in self.servfail or (key in self.bogus and not query.flags & dns.flags.CD):
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        want_dnssec = bool(query.ednsflags & dns.flags.DO)
        served = self.find(qname, parent_side=qtype == dns.rdatatype.DS)
        if served is None and qtype == dns.rdatatype.DS:
            served = self.find(qname)
        if served is None:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        response.flags |= dns.flags.AA
        zone = served.zone
        name = qname
        for _ in range(8):  # follow CNAMEs inside our zones
            node = zone.get_node(name)
            if node is None:
                # below a delegation? (NS at an intermediate name)
                if key in self.nxdomain_when_empty or not self._has_descendants(zone, name):
                    response.set_rcode(dns.rcode.NXDOMAIN)
                self._add_soa(response, zone, want_dnssec)
                return response
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is not None and qtype != dns.rdatatype.CNAME:
                self._add(response.answer, name, cname, node, want_dnssec)
                name = cname[0].target
                nxt = self.find(name)
                if nxt is None:
                    return response
                zone = nxt.zone
                continue
            rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
            if rdataset is None:
                self._add_soa(response, zone, want_dnssec)
            else:
                self._add(response.answer, name, rdataset, node, want_dnssec)
            return response
        response.set_rcode(dns.rcode.SERVFAIL)
        return response

    @staticmethod
    def _has_descendants(zone: dns.zone.Zone, name: dns.name.Name) -> bool:
        return any(n != name and n.is_subdomain(name) for n in zone.nodes)

    @staticmethod
    def _add(
        section: list[dns.rrset.RRset], name: dns.name.Name, rdataset: dns.rdataset.Rdataset, node: dns.node.Node, dnssec: bool
    ) -> None:
        rrset = dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))
        section.append(rrset)
        if dnssec:
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdataset.rdtype)
            if sigs is not None:
                section.append(dns.rrset.from_rdata_list(name, sigs.ttl, list(sigs)))

    def _add_soa(self, response: dns.message.Message, zone: dns.zone.Zone, dnssec: bool) -> None:
        origin = zone.origin
        node = zone.get_node(origin) if origin is not None else None
        soa = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.SOA) if node is not None else None
        if origin is not None and node is not None and soa is not None:
            self._add(response.authority, origin, soa, node, dnssec)

    def axfr(self, query: dns.message.Message) -> list[dns.message.Message]:
        qname = query.question[0].name
        served = self.zones.get(qname)
        response = dns.message.make_response(query)
        if served is None or not served.allow_axfr:
            response.set_rcode(dns.rcode.REFUSED)
            return [response]
        zone = served.zone
        soa = zone.find_rrset(served.origin, dns.rdatatype.SOA)
        response.answer.append(soa)
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                if rdataset.rdtype == dns.rdatatype.SOA and name == zone.origin:
                    continue
                response.answer.append(dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset)))
        response.answer.append(soa)
        return [response]


class _UDPHandler(socketserver.BaseRequestHandler):
    server: _UDPServer

    def handle(self) -> None:
        data, sock = self.request
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - garbage in, no answer out
            return
        response = self.server.zones.answer(query)
        if response is None:
            return
        limit = query.payload if query.edns >= 0 else 512
        try:
            wire = response.to_wire(max_size=limit)
        except dns.exception.TooBig:  # too large for UDP: say so (TC), the client retries over TCP
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
            wire = response.to_wire(max_size=limit)
        sock.sendto(wire, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        try:
            while True:
                header = _recv_exact(conn, 2)
                if header is None:
                    return
                (length,) = struct.unpack("!H", header)
                data = _recv_exact(conn, length)
                if data is None:
                    return
                query = dns.message.from_wire(data)
                if query.question and query.question[0].rdtype == dns.rdatatype.AXFR:
                    replies: Iterable[dns.message.Message] = self.server.zones.axfr(query)
                else:
                    one = self.server.zones.answer(query)
                    if one is None:
                        return
                    replies = [one]
                for reply in replies:
                    # over TCP the whole answer goes (to_wire() alone would cap it at the query's
                    # EDNS size and fail for a large TXT set: exactly the answers that come over TCP)
                    wire = reply.to_wire(max_size=65535)
                    conn.sendall(struct.pack("!H", len(wire)) + wire)
        except (OSError, dns.exception.DNSException):
            return


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class _UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True
    zones: ZoneSet


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    zones: ZoneSet


class LocalDnsServer:
    """``with LocalDnsServer(zones) as srv: ... srv.address, srv.port``. Port 0 picks a free port."""

    def __init__(self, zones: ZoneSet, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.zones = zones
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        _UDPServer.address_family = family
        _TCPServer.address_family = family
        # bind UDP and TCP to the same port
        for _ in range(20):
            udp = _UDPServer((host, port), _UDPHandler)
            chosen = udp.server_address[1]
            try:
                tcp = _TCPServer((host, chosen), _TCPHandler)
            except OSError:
                udp.server_close()
                if port:
                    raise
                continue
            break
        else:  # pragma: no cover
            raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        udp.zones = tcp.zones = zones
        self._servers: list[socketserver.BaseServer] = [udp, tcp]
        self.address = host
        self.port = chosen
        self._threads: list[threading.Thread] = []

    def start(self) -> LocalDnsServer:
        for srv in self._servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()

    def __enter__(self) -> LocalDnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}" if ":" not in self.address else f"[{self.address}]:{self.port}"
