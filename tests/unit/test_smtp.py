"""STARTTLS probe and evaluator through the engine against an in-process SMTP server; DANE matching."""

from __future__ import annotations

import hashlib
import socket
import socketserver
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization

import cyberscan
from cyberscan import catalogue as catalogue_mod
from cyberscan.catalogue import Profile
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.evaluators.smtp import dane, tlsa_matches
from cyberscan.facts import Facts
from cyberscan.facts.smtp import MailEndpoint, StarttlsFact, TlsaFact, TlsaSet
from cyberscan.facts.tls import TlsEndpoint
from cyberscan.models import ErrorReason, ProbeOutcome, Status
from cyberscan.options import Nameserver, ScanOptions
from tests.fixtures.certs import TestPki
from tests.fixtures.tlsservers import HostileServer

DOMAIN = "post-museum.test"
MX = f"mx.{DOMAIN}"
TEXT = {"nl": "t", "en": "t"}


def smtp_server(context: ssl.SSLContext | None) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            sock.settimeout(5)
            try:
                self.wfile.write(f"220 {MX} ESMTP\r\n".encode())
                while line := self.rfile.readline(1000):
                    cmd = line.strip().upper()
                    if cmd.startswith(b"EHLO"):
                        ext = b"250-STARTTLS\r\n" if context else b""
                        self.wfile.write(b"250-" + MX.encode() + b"\r\n" + ext + b"250 8BITMIME\r\n")
                    elif cmd == b"STARTTLS" and context:
                        self.wfile.write(b"220 ready\r\n")
                        self.wfile.flush()
                        try:
                            tls = context.wrap_socket(sock, server_side=True)
                            tls.recv(100)
                        except (ssl.SSLError, OSError):
                            pass
                        return
                    elif cmd == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"502 no\r\n")
            except OSError:
                pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("smtp-pki"))


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    zones.add_text(DOMAIN, f"""
$TTL 300
@ IN SOA ns.{DOMAIN}. admin.{DOMAIN}. 1 3600 600 86400 300
@ IN NS ns.{DOMAIN}.
@ IN MX 10 {MX}.
mx IN A 127.0.0.1
ns IN A 127.0.0.1
""")
    with LocalDnsServer(zones) as srv:
        yield srv


def run(dns_server: LocalDnsServer, pki: TestPki, port: int) -> dict[str, list[tuple[Status, str]]]:
    cat = catalogue_mod.load()
    profile = Profile("t", TEXT, TEXT, include=("mail.starttls", "mail.dane"), settings={"smtp_port": port})
    options = ScanOptions(timeout=2, nameservers=(Nameserver(dns_server.address, dns_server.port),),
                          ca_bundle=str(pki.ca_path), allow_private=True)
    result = cyberscan.assess([DOMAIN], catalogue=cat, profile=profile, options=options)
    out: dict[str, list[tuple[Status, str]]] = {}
    for r in result.results:
        assert r.message in cat.checks[r.check_id].messages or r.message in cat.extras["messages"], r
        out.setdefault(r.check_id, []).append((r.status, r.message))
    return out


def serve(server: socketserver.ThreadingTCPServer) -> None:
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()


def test_starttls_with_valid_certificate(dns_server: LocalDnsServer, pki: TestPki) -> None:
    leaf = pki.issue(MX)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(leaf.chain_path), str(leaf.key_path))
    server = smtp_server(ctx)
    serve(server)
    try:
        results = run(dns_server, pki, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
    assert results["mail.starttls"] == [(Status.PASS, "ok")]
    assert results["mail.dane"] == [(Status.WARN, "no-tlsa")]


def test_no_starttls(dns_server: LocalDnsServer, pki: TestPki) -> None:
    server = smtp_server(None)
    serve(server)
    try:
        results = run(dns_server, pki, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
    assert results["mail.starttls"] == [(Status.FAIL, "no-starttls")]


def test_wrong_certificate_name_warns(dns_server: LocalDnsServer, pki: TestPki) -> None:
    leaf = pki.issue("other.test", file_stem="smtp-wrong")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(leaf.chain_path), str(leaf.key_path))
    server = smtp_server(ctx)
    serve(server)
    try:
        results = run(dns_server, pki, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
    assert results["mail.starttls"] == [(Status.WARN, "bad-certificate")]


def test_tlsa_matching(pki: TestPki) -> None:
    leaf = pki.issue(MX, file_stem="tlsa")
    der = leaf.der
    spki = leaf.cert.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    assert tlsa_matches(f"3 1 1 {hashlib.sha256(spki).hexdigest()}", der) is True
    assert tlsa_matches(f"3 0 1 {hashlib.sha256(der).hexdigest()}", der) is True
    assert tlsa_matches(f"3 0 2 {hashlib.sha512(der).hexdigest()}", der) is True
    assert tlsa_matches(f"3 0 0 {der.hex()}", der) is True
    assert tlsa_matches(f"3 1 1 {'00' * 32}", der) is False
    assert tlsa_matches(f"2 0 1 {'00' * 32}", der) is None  # no chain to check a trust anchor against
    assert tlsa_matches("garbage", der) is False


@pytest.mark.parametrize(("mode", "reason"), [("stall", "timeout"), ("babble", "protocol")])
def test_hostile_mail_server_gives_error(dns_server: LocalDnsServer, pki: TestPki, mode: str, reason: str) -> None:
    cat = catalogue_mod.load()
    with HostileServer(mode) as hostile:
        profile = Profile("t", TEXT, TEXT, include=("mail.starttls",), settings={"smtp_port": hostile.port})
        options = ScanOptions(timeout=1, nameservers=(Nameserver(dns_server.address, dns_server.port),),
                              ca_bundle=str(pki.ca_path), allow_private=True)
        result = cyberscan.assess([DOMAIN], catalogue=cat, profile=profile, options=options)
    (r,) = result.results
    assert r.status is Status.ERROR and r.error_reason is not None and r.error_reason.value == reason


# ----------------------------------------------------------------------------- DANE on literal facts


def _dane(endpoint: MailEndpoint) -> list[tuple[Status, str, ErrorReason | None]]:
    tlsa = TlsaSet(MX, f"_25._tcp.{MX}", "NOERROR", (f"3 1 1 {'ab' * 32}",), signed=True, authenticated=False)
    facts = Facts(DOMAIN, {
        "dns.tlsa": ProbeOutcome("dns.tlsa", DOMAIN, fact=TlsaFact(DOMAIN, (tlsa,))),
        "smtp.starttls": ProbeOutcome("smtp.starttls", DOMAIN, fact=StarttlsFact(DOMAIN, (endpoint,), (MX,))),
    }, now=datetime.now(UTC))
    return [(v.status, v.message, v.reason) for v in dane(facts, {})]


def test_dane_record_for_a_server_without_starttls_is_a_failure() -> None:
    plain = MailEndpoint(MX, "192.0.2.25", 25, None, banner="220 mx", starttls=False)
    assert _dane(plain) == [(Status.FAIL, "no-starttls", None)]


@pytest.mark.parametrize(("endpoint", "reason"), [
    (MailEndpoint(MX, "192.0.2.25", 25, ErrorReason.TIMEOUT, "no banner"), ErrorReason.TIMEOUT),
    (MailEndpoint(MX, "192.0.2.25", 25, None, banner="220 mx", starttls=True,
                  tls=TlsEndpoint(MX, "192.0.2.25", 25, ErrorReason.PROTOCOL, "handshake", service="smtp")),
     ErrorReason.PROTOCOL),
])
def test_dane_on_an_unexaminable_server_is_an_error_with_its_reason(endpoint: MailEndpoint, reason: ErrorReason) -> None:
    assert _dane(endpoint) == [(Status.ERROR, f"endpoint.{reason.value}", reason)]
