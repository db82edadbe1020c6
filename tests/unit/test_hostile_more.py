"""More hostile servers: DNS answers with the wrong id, the wrong name or plain junk; a TLS server with a
chain of hundreds of certificates; certificates with absurd fields. Each case ends in bounded time
with an error or a sound verdict, never a crash (``bug``), and the rest of the scan intact."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import cyberscan
from cyberscan import catalogue as catalogue_mod
from cyberscan.catalogue import Profile
from cyberscan.models import ErrorReason, Status
from cyberscan.options import Nameserver, ScanOptions
from tests.fixtures.certs import TestPki
from tests.fixtures.tlsservers import HttpsServer

BOUND = 60.0
TEXT = {"nl": "t", "en": "t"}


# ------------------------------------------------------------------------------------------ DNS


class LyingDns:
    """Answers SOA for ``zone`` honestly; every other query gets three wrong answers and no right one:
    one with another id, one for another name, one that is not DNS at all."""

    def __init__(self, zone: str) -> None:
        self.zone = zone.rstrip(".") + "."
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lies = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
                query = dns.message.from_wire(data)
            except Exception:
                continue
            question = query.question[0]
            reply = dns.message.make_response(query)
            if question.rdtype == dns.rdatatype.SOA and question.name.to_text() == self.zone:
                reply.answer.append(dns.rrset.from_text(self.zone, 300, "IN", "SOA",
                                                        f"ns.{self.zone} h.{self.zone} 1 3600 600 86400 300"))
                self.sock.sendto(reply.to_wire(), peer)
                continue
            wrong_id = dns.message.make_response(query)
            wrong_id.id = (query.id + 1) % 65536
            other = dns.message.make_query("elsewhere.invalid.", question.rdtype)
            other.id = query.id
            wrong_name = dns.message.make_response(other)
            wrong_name.answer.append(dns.rrset.from_text("elsewhere.invalid.", 300, "IN", "A", "192.0.2.66"))
            for packet in (wrong_id.to_wire(), wrong_name.to_wire(), b"\x00\x01garbage" + bytes(range(40))):
                self.sock.sendto(packet, peer)
            self.lies += 1

    def __enter__(self) -> LyingDns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def test_answers_with_the_wrong_id_name_or_junk_are_never_believed() -> None:
    with LyingDns("liar.test") as liar:
        started = time.monotonic()
        assessment = cyberscan.assess(["liar.test"], options=ScanOptions(
            timeout=0.5, nameservers=(Nameserver("127.0.0.1", liar.port),), allow_private=True))
        took = time.monotonic() - started
    assert took < BOUND
    assert liar.lies > 0
    assert not assessment.failures  # the SOA was honest: the domain is scanned
    judged = [r for r in assessment.scan.results if r.status in (Status.PASS, Status.FAIL, Status.WARN)]
    assert not judged, [(r.check_id, r.status, r.message) for r in judged]
    assert not any(r.error_reason is ErrorReason.BUG for r in assessment.scan.results)
    assert "192.0.2.66" not in assessment.scan.addresses_probed  # the lie was not followed


# ------------------------------------------------------------------------------------------ TLS

DOMAIN = "certs.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def dns_zone() -> Iterator[tuple[str, int]]:
    from cyberscan.demo.localdns import LocalDnsServer, ZoneSet

    zones = ZoneSet()
    zones.add_text(DOMAIN, f"""
$TTL 300
@ SOA ns.{DOMAIN}. h.{DOMAIN}. 1 3600 600 86400 300
@ NS ns.{DOMAIN}.
@ A 127.0.0.1
ns A 127.0.0.1
""")
    with LocalDnsServer(zones) as srv:
        yield srv.address, srv.port


def _scan(dns_zone: tuple[str, int], pki: TestPki, port: int) -> cyberscan.Assessment:
    profile = Profile("t", TEXT, TEXT, include_tags=("web",), settings={"https_port": port, "http_port": 9})
    return cyberscan.assess([DOMAIN], profile=profile, catalogue=catalogue_mod.builtin(), options=ScanOptions(
        timeout=1.0, nameservers=(Nameserver(*dns_zone),), ca_bundle=str(pki.ca_path), allow_private=True))


def test_a_chain_of_three_hundred_certificates_is_bounded_and_judged(dns_zone: tuple[str, int], pki: TestPki,
                                                                      tmp_path: Path) -> None:
    leaf = pki.issue(DOMAIN, f"www.{DOMAIN}", file_stem="long-chain")
    extra = b""
    for i in range(300):  # junk intermediates after the real chain: large, and useless
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"junk {i}")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(i + 1).not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
                .not_valid_after(dt.datetime(2027, 1, 1, tzinfo=dt.UTC)).sign(key, hashes.SHA256()))
        extra += cert.public_bytes(serialization.Encoding.PEM)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(leaf.chain_path.read_bytes() + extra)
    with HttpsServer(chain, leaf.key_path) as server:
        started = time.monotonic()
        assessment = _scan(dns_zone, pki, server.port)
        took = time.monotonic() - started
    assert took < BOUND
    results = [r for r in assessment.scan.results if r.check_id.startswith("web.tls")]
    assert results and not any(r.error_reason is ErrorReason.BUG for r in results)
    valid = [r for r in results if r.check_id == "web.tls.cert.valid" and r.subject.host == DOMAIN]
    assert valid and valid[0].status in (Status.PASS, Status.FAIL, Status.ERROR)


def test_a_certificate_with_absurd_fields_is_read_and_judged_as_data(dns_zone: tuple[str, int], pki: TestPki,
                                                                      tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    hostile_cn = "\x1b[2J<script>alert(1)</script>" + "x" * 50
    names = [x509.DNSName(DOMAIN), x509.DNSName(f"www.{DOMAIN}")]
    names += [x509.DNSName(f"n{i}.elsewhere.test") for i in range(2000)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostile_cn[:64])]))
        .issuer_name(pki.ca_cert.subject)
        .public_key(key.public_key())
        .serial_number((1 << 159) - 1)
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(pki.ca_key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "absurd.pem", tmp_path / "absurd.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + pki.ca_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    with HttpsServer(cert_path, key_path) as server:
        assessment = _scan(dns_zone, pki, server.port)
    by = {(r.check_id, r.subject.host): r for r in assessment.scan.results}
    expiry = by[("web.tls.cert.expiry", DOMAIN)]
    assert expiry.status is Status.PASS and expiry.params["not_after"].startswith("9999-12-31")
    assert by[("web.tls.cert.valid", DOMAIN)].status is Status.PASS
    assert not any(r.error_reason is ErrorReason.BUG for r in assessment.scan.results)
    from cyberscan import registry
    from cyberscan.render import Report, render

    for fmt in ("terminal", "markdown", "html"):
        out = render(fmt, Report(assessment, "nl"), registry.load())
        assert "\x1b" not in out and "<script>alert" not in out
