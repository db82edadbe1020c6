"""Work the probes share per address (issue 13): one TLS walk per hosting address and port for every
name and domain on it, one STARTTLS examination per MX host for every domain that uses it, and the
check that sends a name configured differently (here: another certificate type, so other suites) on
a walk of its own. Real TLS and SMTP servers on loopback; connections are counted by a forwarding
proxy in front of them."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import cyberscan
from cyberscan import catalogue as catalogue_mod
from cyberscan.catalogue import Profile
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.demo.servers import SmtpServer
from cyberscan.facts.smtp import StarttlsFact
from cyberscan.facts.tls import TlsEndpoint, TlsScan
from cyberscan.models import Scan, Status
from cyberscan.options import Nameserver, ScanOptions
from cyberscan.probes import tls as tls_probe
from cyberscan.runtime import Deadline, Endpoint, LocalLimiter, Reaper, Slot
from tests.fixtures import hostile
from tests.fixtures.certs import TestPki
from tests.fixtures.tlsservers import HttpsServer

TEXT = {"nl": "t", "en": "t"}
SHARED = ("gedeeld.test", "buren.test")  # two domains, apex and www of both on one hosting address
SNI = "per-naam.test"  # apex and www on one address, each name with its own certificate type
MAIL = ("post-een.test", "post-twee.test")  # two domains with the same MX host
MX = "mx.provider.test"
TLS_CHECKS = ("web.tls.version", "web.tls.ciphers", "web.tls.cert.valid")


def web_zone(domain: str, address: str) -> str:
    # the hoster's nameserver (outside the domain): a name inside it would be a found name, examined too
    return f"""
$TTL 300
@ IN SOA ns.provider.test. admin.provider.test. 1 3600 600 86400 300
@ IN NS ns.provider.test.
@ IN A {address}
www IN A {address}
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("sharing-pki"))


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    for domain in SHARED:
        zones.add_text(domain, web_zone(domain, "127.0.0.2"))
    zones.add_text(SNI, web_zone(SNI, "127.0.0.3"))
    for domain in MAIL:
        zones.add_text(domain, f"""
$TTL 300
@ IN SOA ns.{domain}. admin.{domain}. 1 3600 600 86400 300
@ IN NS ns.{domain}.
@ IN MX 10 {MX}.
ns IN A 127.0.0.1
""")
    zones.add_text("provider.test", """
$TTL 300
@ IN SOA ns.provider.test. admin.provider.test. 1 3600 600 86400 300
@ IN NS ns.provider.test.
mx IN A 127.0.0.4
ns IN A 127.0.0.1
""")
    with LocalDnsServer(zones) as srv:
        yield srv


def scan(dns_server: LocalDnsServer, pki: TestPki, domains: tuple[str, ...], checks: tuple[str, ...],
         **settings: int) -> Scan:
    profile = Profile("t", TEXT, TEXT, include=checks, settings=settings)
    options = ScanOptions(timeout=2, nameservers=(Nameserver(dns_server.address, dns_server.port),),
                          ca_bundle=str(pki.ca_path), allow_private=True, workers=8)
    return cyberscan.assess(list(domains), catalogue=catalogue_mod.load(), profile=profile, options=options).scan


def tls_endpoints(result: Scan) -> dict[str, TlsEndpoint]:
    out = {}
    for outcome in result.outcomes:
        if outcome.probe == "tls.scan":
            assert isinstance(outcome.fact, TlsScan), outcome
            out.update({e.name: e for e in outcome.fact.endpoints})
    return out


def alone(address: str, port: int, name: str) -> tls_probe.Versions:
    """The walk of one name by itself, straight to the server (no proxy, nothing shared)."""
    ep = Endpoint.standalone(address, timeout=2, budget=20, name=name)
    return tls_probe.walk_versions(ep, port, name, enumerate_suites=True)


def hellos(walk: tls_probe.Versions) -> int:
    """ClientHellos of a complete walk: one per accepted suite and the refusal after them, per version."""
    return sum(len(v.suites) + 1 if v.accepted else 1 for v in walk.results)


def test_every_name_and_domain_on_one_address_shares_one_walk(dns_server: LocalDnsServer, pki: TestPki) -> None:
    names = [n for d in SHARED for n in (d, f"www.{d}")]
    leaf = pki.issue(*names)
    with HttpsServer(leaf.chain_path, leaf.key_path, host="127.0.0.1", minimum=ssl.TLSVersion.TLSv1_2) as server:
        walk = alone("127.0.0.1", server.port, names[0])
        with hostile.SlowProxy(("127.0.0.1", server.port), host="127.0.0.2") as proxy:
            result = scan(dns_server, pki, SHARED, TLS_CHECKS, https_port=proxy.port)
            connections = proxy.connections
    # the names on the shared address (the name servers found in the NS records are scanned too, elsewhere)
    endpoints = {n: e for n, e in tls_endpoints(result).items() if e.address == "127.0.0.2"}
    assert sorted(endpoints) == sorted(names)
    for name in names:  # every name has the facts of the walk, and its own trusted handshake
        assert endpoints[name].error is None, endpoints[name]
        assert endpoints[name].versions == walk.results
        assert endpoints[name].chain_trusted is True and endpoints[name].negotiated_version == "TLSv1.3"
    # one walk and one handshake for the first name; one handshake and four first ClientHellos (TLS 1.0
    # to 1.3) to check each of the three others: instead of four walks. A suite walk opens the
    # connection for its next hello ahead, so each accepted version may leave one connection unused.
    accepted = sum(1 for v in walk.results if v.accepted)
    # tls.names (the names a certificate covers, for the found names) may use a handshake per name of its own
    found = len(names)
    assert hellos(walk) + 1 + 3 * (1 + 4) <= connections <= hellos(walk) + 1 + 3 * (1 + 4) + accepted + found
    assert connections < len(names) * (hellos(walk) + 1) / 1.5
    assert {r.status for r in result.results} == {Status.PASS}


def test_a_name_configured_otherwise_on_the_same_address_is_walked_on_its_own(dns_server: LocalDnsServer,
                                                                              pki: TestPki) -> None:
    """Apex with an ECDSA certificate, www with an RSA one (chosen per SNI name): the same address
    accepts other TLS 1.2 suites per name, although the handshakes of both agree the same TLS 1.3 suite."""
    apex, www = SNI, f"www.{SNI}"
    ec_leaf, rsa_leaf = pki.issue(apex, ec_curve=ec.SECP256R1()), pki.issue(www)
    with HttpsServer(ec_leaf.chain_path, ec_leaf.key_path, host="127.0.0.1", minimum=ssl.TLSVersion.TLSv1_2) as server:
        per_name = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        per_name.minimum_version = ssl.TLSVersion.TLSv1_2
        per_name.load_cert_chain(str(rsa_leaf.chain_path), str(rsa_leaf.key_path))

        def choose(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            if name == www:
                sock.context = per_name

        server.server.context.sni_callback = choose  # type: ignore[assignment]
        by_name = {name: alone("127.0.0.1", server.port, name) for name in (apex, www)}
        with hostile.SlowProxy(("127.0.0.1", server.port), host="127.0.0.3") as proxy:
            result = scan(dns_server, pki, (SNI,), TLS_CHECKS, https_port=proxy.port)
    endpoints = tls_endpoints(result)
    tls12 = {name: next(v for v in walk.results if v.version == "TLSv1.2") for name, walk in by_name.items()}
    assert all("_ECDSA_" in s for s in tls12[apex].suites) and all("_RSA_" in s for s in tls12[www].suites)
    for name in (apex, www):  # each name judged on what it accepts itself
        assert endpoints[name].versions == by_name[name].results, name
        assert endpoints[name].negotiated_suite == "TLS_AES_256_GCM_SHA384"
        assert endpoints[name].certificate is not None and endpoints[name].certificate.dns_names == (name,)


def test_one_mx_host_is_examined_once_for_every_domain_that_uses_it(dns_server: LocalDnsServer,
                                                                   pki: TestPki) -> None:
    leaf = pki.issue(MX)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(leaf.chain_path), str(leaf.key_path))
    smtp = SmtpServer(MX, context).start()
    try:
        with hostile.SlowProxy(("127.0.0.1", smtp.port), host="127.0.0.4") as proxy:
            result = scan(dns_server, pki, MAIL, ("mail.starttls",), smtp_port=proxy.port)
            connections = proxy.connections
    finally:
        smtp.stop()
    facts = {o.subject: o.fact for o in result.outcomes if o.probe == "smtp.starttls"}
    assert sorted(facts) == sorted(MAIL)
    first, second = (facts[d] for d in MAIL)
    assert isinstance(first, StarttlsFact) and isinstance(second, StarttlsFact)
    assert first.endpoints == second.endpoints and len(first.endpoints) == 1
    (endpoint,) = first.endpoints
    assert endpoint.starttls and endpoint.tls is not None and endpoint.tls.chain_trusted is True
    assert endpoint.tls.accepted_versions() == ("TLSv1.2", "TLSv1.3")
    # the first session (banner, EHLO, STARTTLS, handshake) and one session per protocol version: once
    assert connections == 1 + 5
    assert {r.status for r in result.results} == {Status.PASS}


def test_tls_contexts_are_made_once_per_ca_bundle_while_it_is_unchanged(tmp_path: Path, pki: TestPki) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(pki.ca_path.read_bytes())
    first = tls_probe.verifying_context(str(bundle))
    assert tls_probe.verifying_context(str(bundle)) is first
    assert tls_probe.permissive_context() is tls_probe.permissive_context()
    bundle.write_bytes(pki.ca_path.read_bytes() + pki.ca_path.read_bytes())  # changed: another size
    assert tls_probe.verifying_context(str(bundle)) is not first
    missing = str(tmp_path / "gone.pem")
    with pytest.raises(FileNotFoundError):  # a bundle that cannot be read fails as before, every time
        tls_probe.verifying_context(missing)


def test_walks_side_by_side_never_wait_for_each_other_at_an_address_with_one_slot(pki: TestPki) -> None:
    """A suite walk holds the connection of its current hello while it opens the next one ahead: with
    the batch's patient slots, two walks that each held one slot and waited for a second would wait for
    each other until the queue limit (600 s). The connection ahead is only taken when a slot is free
    at once; here the address has a single slot, so every hello waits its turn and none is ahead."""
    leaf = pki.issue(SNI)
    with HttpsServer(leaf.chain_path, leaf.key_path, host="127.0.0.1", minimum=ssl.TLSVersion.TLSv1_2) as server:
        reference = alone("127.0.0.1", server.port, SNI)
        cancel = threading.Event()
        slot = Slot(LocalLimiter(1), "127.0.0.1", patient=True)
        results: list[tls_probe.Versions] = []

        def walk() -> None:
            ep = Endpoint("127.0.0.1", SNI, Deadline(60, cancel=cancel), per_read=2, reaper=Reaper(cancel), slot=slot)
            results.append(tls_probe.walk_versions(ep, server.port, SNI, enumerate_suites=True))

        threads = [threading.Thread(target=walk) for _ in range(2)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        elapsed = time.monotonic() - started
        cancel.set()
    assert elapsed < 60, elapsed  # far above the seconds it takes; a deadlock lasts until the queue limit
    assert len(results) == 2
    for result in results:
        assert result.results == reference.results
