"""End to end through the real CLI against a real Postfix with STARTTLS, with TLSA records for DANE."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dns.dnssec
import dns.zone
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from tests.conftest import require_binary
from tests.fixtures.certs import Minted, TestPki

from . import postfix as postfix_mod

pytestmark = pytest.mark.integration

MX = "mx.postmuseum.test"
DOMAINS = {
    "dane": "postmuseum.test",  # signed zone holding the MX and a matching TLSA record
    "unsigned": "brieven.test",  # TLSA record in an unsigned zone: DANE unusable
    "wrong": "kaarten.test",  # signed, but the TLSA record does not match the certificate
    "anchor": "prenten.test",  # signed, TLSA 2 0 1 names the issuing CA (DANE-TA), checked against the chain
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("postfix-pki"))


@pytest.fixture(scope="module")
def leaf(pki: TestPki) -> Minted:
    return pki.issue(MX, file_stem="postfix-mx")


@pytest.fixture(scope="module")
def postfix(leaf: Minted) -> Iterator[postfix_mod.Postfix]:
    binary = require_binary("postfix")
    server = postfix_mod.start(binary, leaf.chain_path, leaf.key_path, hostname=MX)
    yield server
    server.stop()


def _signed(origin: str, text: str) -> dns.zone.Zone:
    zone = dns.zone.from_text(text, origin=origin, relativize=False)
    keys = []
    for flags in (257, 256):
        private = ec.generate_private_key(ec.SECP256R1())
        keys.append((private, dns.dnssec.make_dnskey(private.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256,
                                                     flags=flags)))
    now = datetime.now(UTC)
    dns.dnssec.sign_zone(zone, keys=keys, inception=now - timedelta(hours=1), expiration=now + timedelta(days=7))
    return zone


def _zone(domain: str, extra: str) -> str:
    return f"""$TTL 300
@ IN SOA ns.{domain}. admin.{domain}. 1 3600 600 86400 300
@ IN NS ns.{domain}.
ns IN A 127.0.0.1
{extra}
"""


@pytest.fixture(scope="module")
def dns_server(leaf: Minted) -> Iterator[LocalDnsServer]:
    spki = leaf.cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    good = f"3 1 1 {hashlib.sha256(spki).hexdigest()}"
    zones = ZoneSet()
    zones.add_zone(_signed(DOMAINS["dane"], _zone(DOMAINS["dane"], f"""@ IN MX 10 {MX}.
mx IN A {postfix_mod.ADDRESS}
_25._tcp.mx IN TLSA {good}
""")))
    zones.add_text(DOMAINS["unsigned"], _zone(DOMAINS["unsigned"], f"""@ IN MX 10 mx.{DOMAINS["unsigned"]}.
mx IN A {postfix_mod.ADDRESS}
_25._tcp.mx IN TLSA {good}
"""))
    zones.add_zone(_signed(DOMAINS["wrong"], _zone(DOMAINS["wrong"], f"""@ IN MX 10 mx.{DOMAINS["wrong"]}.
mx IN A {postfix_mod.ADDRESS}
_25._tcp.mx IN TLSA 3 1 1 {"ab" * 32}
""")))
    ca_der = pki_ca_der(leaf)
    zones.add_zone(_signed(DOMAINS["anchor"], _zone(DOMAINS["anchor"], f"""@ IN MX 10 mx.{DOMAINS["anchor"]}.
mx IN A {postfix_mod.ADDRESS}
_25._tcp.mx IN TLSA 2 0 1 {hashlib.sha256(ca_der).hexdigest()}
""")))
    with LocalDnsServer(zones) as srv:
        yield srv


def pki_ca_der(leaf: Minted) -> bytes:
    """The CA certificate that issued ``leaf`` (second in its chain file)."""
    from cryptography import x509

    pems = leaf.chain_path.read_bytes().split(b"-----END CERTIFICATE-----")
    ca = x509.load_pem_x509_certificate(pems[1].strip() + b"\n-----END CERTIFICATE-----\n")
    return ca.public_bytes(serialization.Encoding.DER)


def cli_scan(domain: str, dns_server: LocalDnsServer, pki: TestPki, out: Path) -> dict[str, list[dict[str, Any]]]:
    report = out / f"{domain}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cyberscan.cli", "scan", domain, "--nameserver", dns_server.nameserver,
         "--ca-bundle", str(pki.ca_path), "--allow-private", "--timeout", "3", "--format", "json",
         "-o", str(report), "--no-progress", "--lang", "en"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    by_id: dict[str, list[dict[str, Any]]] = {}
    for result in json.loads(report.read_text())["results"]:
        by_id.setdefault(result["check_id"], []).append(result)
    return by_id


def outcome(results: dict[str, list[dict[str, Any]]], check: str) -> set[tuple[str, str]]:
    return {(r["status"], r["message"]) for r in results[check]}


def where(result: dict[str, Any]) -> str:
    """``host (address)`` of a JSON finding's subject, as reports show it."""
    return f"{result['subject']['host']} ({result['subject']['address']})"


def test_starttls_and_dane_valid(postfix: postfix_mod.Postfix, dns_server: LocalDnsServer, pki: TestPki,
                                 tmp_path: Path) -> None:
    results = cli_scan(DOMAINS["dane"], dns_server, pki, tmp_path)
    assert outcome(results, "mail.starttls") == {("pass", "ok")}, results["mail.starttls"]
    (starttls,) = results["mail.starttls"]
    assert where(starttls) == f"{MX} ({postfix_mod.ADDRESS})"
    assert (starttls["subject"]["port"], starttls["subject"]["service"]) == (25, "smtp")
    assert starttls["evidence"]["versions"]["accepted"] == ["TLSv1.2", "TLSv1.3"]
    assert "postmuseum.test" in starttls["evidence"]["banner"]
    # signed zone, local server does not validate: matches, but "not validated by the resolver"
    assert outcome(results, "mail.dane") == {("pass", "valid-unvalidated")}


def test_certificate_name_is_checked_against_the_mx_name(postfix: postfix_mod.Postfix, dns_server: LocalDnsServer,
                                                         pki: TestPki, tmp_path: Path) -> None:
    results = cli_scan(DOMAINS["unsigned"], dns_server, pki, tmp_path)
    # the certificate is for mx.postmuseum.test, this MX is called mx.brieven.test
    assert outcome(results, "mail.starttls") == {("warn", "bad-certificate")}
    assert results["mail.starttls"][0]["params"]["problem"] == "name-mismatch"
    assert outcome(results, "mail.dane") == {("fail", "no-dnssec")}


def test_dane_mismatch(postfix: postfix_mod.Postfix, dns_server: LocalDnsServer, pki: TestPki, tmp_path: Path) -> None:
    results = cli_scan(DOMAINS["wrong"], dns_server, pki, tmp_path)
    assert outcome(results, "mail.dane") == {("fail", "mismatch")}


def test_dane_trust_anchor_is_matched_against_the_chain_sent(postfix: postfix_mod.Postfix, dns_server: LocalDnsServer,
                                                             pki: TestPki, tmp_path: Path) -> None:
    results = cli_scan(DOMAINS["anchor"], dns_server, pki, tmp_path)
    assert outcome(results, "mail.dane") == {("pass", "valid-unvalidated")}
