"""Names the zone itself reveals become "found" hosts of the inventory, examined by the passive checks.

A zone transfer that was allowed, the subjectAltNames of the apex and www certificates, and the
targets inside the domain of CNAME/MX/NS/SRV records. Every scan runs through the real engine against
the in-process LocalDnsServer (and a local HTTPS server for the certificate names).
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import cyberscan
from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.engine import rejudge, scan
from cyberscan.facts.dns import AxfrFact, HostInventory, SrvFact
from cyberscan.models import Result, Scan, Status
from cyberscan.options import Nameserver, ScanOptions
from cyberscan.probes.hosts import found_limits, host_name
from cyberscan.serialize import scan_from_dict, scan_to_dict
from tests.fixtures.certs import TestPki
from tests.fixtures.tlsservers import HttpsServer, free_port

from .test_dns_errors import DOMAIN as SILENT
from .test_dns_errors import SoaOnlyServer
from .test_dns_probes import assert_messages_complete
from .test_ports_scope import FAKE_NMAP

DOMAIN = "museum.test"
HOSTER = "oude-hoster.test"  # where the museum's old services used to live; the names there are gone

# the nameservers are the DNS host's (outside the domain), so only the names under test are found
ZONE = f"""$TTL 300
@ SOA ns.dns-hoster.test. hostmaster.{DOMAIN}. 1 3600 600 86400 300
@ NS ns.dns-hoster.test.
@ A 127.0.0.1
www A 127.0.0.1
"""
HOSTER_ZONE = f"""$TTL 300
@ SOA ns.dns-hoster.test. hostmaster.{HOSTER}. 1 3600 600 86400 300
@ NS ns.dns-hoster.test.
@ A 127.0.0.1
"""
DNS_HOSTER_ZONE = """$TTL 300
@ SOA ns.dns-hoster.test. hostmaster.dns-hoster.test. 1 3600 600 86400 300
@ NS ns.dns-hoster.test.
ns A 127.0.0.1
"""


def zoneset(body: str = "", *, allow_axfr: bool = False) -> ZoneSet:
    zones = ZoneSet()
    zones.add_text(DOMAIN, ZONE + body, allow_axfr=allow_axfr)
    zones.add_text(HOSTER, HOSTER_ZONE)
    zones.add_text("dns-hoster.test", DNS_HOSTER_ZONE)
    return zones


def run(zones: ZoneSet, checks: tuple[str, ...], *, settings: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None, ca_bundle: str | None = None, allow_private: bool = True) -> Scan:
    cat = catalogue_mod.builtin()
    if data is not None:
        cat = replace(cat, extras={**cat.extras, **data})
    base = catalogue_mod.profile(cat, "default")
    with LocalDnsServer(zones) as srv:
        # dns_port: the zone transfer is asked of the local server; https_port: nothing listens there
        # unless a test starts an HTTPS server (then the certificate names are read from it)
        profile = replace(base, include=checks, include_tags=(),
                          settings={"dns_port": srv.port, "https_port": free_port(), "http_port": free_port(),
                                    **(settings or {})})
        options = ScanOptions(nameservers=(Nameserver(srv.address, srv.port),), timeout=1.0,
                              allow_private=allow_private, ca_bundle=ca_bundle)
        result = scan([DOMAIN], catalogue=cat, profile=profile, registry=registry_mod.load(), options=options)
    assert_messages_complete(result)
    return result


def of(result: Scan, check_id: str) -> list[Result]:
    return [r for r in result.results if r.check_id == check_id]


def inventory(result: Scan) -> HostInventory:
    fact = next(o.fact for o in result.outcomes if o.probe == "hosts.inventory")
    assert isinstance(fact, HostInventory)
    return fact


def found(result: Scan) -> dict[str, tuple[str, ...]]:
    """Found host name -> its sources."""
    return {h.name: h.sources for h in inventory(result).hosts if h.roles == ("found",)}


# ----------------------------------------------------------------------------- zone transfer


OLD_SHOP = f"""webwinkel CNAME winkel.{HOSTER}.
intranet A 127.0.0.9
_dmarc TXT "v=DMARC1; p=reject"
*.cdn A 127.0.0.1
"""


def test_open_zone_transfer_reveals_a_dangling_alias() -> None:
    """The issue's case: dns.axfr fails, and the alias the transfer revealed dangles: dns.dangling fails
    for it too, saying where the name came from."""
    result = run(zoneset(OLD_SHOP, allow_axfr=True), ("dns.axfr", "dns.dangling"))
    assert {r.status for r in of(result, "dns.axfr")} == {Status.FAIL}
    dangling = [r for r in of(result, "dns.dangling") if r.status is Status.FAIL]
    assert [(r.message, r.subject.host) for r in dangling] == [("dangling", f"webwinkel.{DOMAIN}")]
    assert dangling[0].evidence["sources"] == ["axfr"]
    assert dangling[0].params["target"] == f"winkel.{HOSTER}"
    # service labels and wildcards are no host names; the apex and www are listed already
    assert found(result) == {f"webwinkel.{DOMAIN}": ("axfr",), f"intranet.{DOMAIN}": ("axfr",)}
    axfr = next(o.fact for o in result.outcomes if o.probe == "dns.axfr")
    assert isinstance(axfr, AxfrFact)
    assert any(link.rdtype == "CNAME" and link.target == f"winkel.{HOSTER}" for a in axfr.attempts for link in a.links)


def test_without_an_open_transfer_the_alias_stays_unseen() -> None:
    """The same zone with transfers refused: the alias is nowhere to be seen, so nothing is claimed about it."""
    result = run(zoneset(OLD_SHOP), ("dns.axfr", "dns.dangling"))
    assert {r.status for r in of(result, "dns.axfr")} == {Status.PASS}
    assert found(result) == {}
    assert {r.status for r in of(result, "dns.dangling")} == {Status.PASS}


def test_the_transfer_is_not_asked_when_no_selected_check_asks_for_it() -> None:
    """A profile without dns.axfr gets no zone-transfer attempt for the sake of found names."""
    result = run(zoneset(OLD_SHOP, allow_axfr=True), ("dns.dangling",))
    assert "dns.axfr" not in {o.probe for o in result.outcomes}
    assert found(result) == {}


def test_zone_record_targets_inside_the_domain_are_found_with_their_type() -> None:
    body = f"""lijsten MX 10 post.{DOMAIN}.
lijsten A 127.0.0.1
sub NS ns.sub.{DOMAIN}.
ns.sub A 127.0.0.1
_sip._tls SRV 0 0 443 sip.{DOMAIN}.
oud CNAME nieuw.{DOMAIN}.
extern CNAME {HOSTER}.
"""
    result = run(zoneset(body, allow_axfr=True), ("dns.axfr", "dns.dangling"))
    names = found(result)
    assert names[f"post.{DOMAIN}"] == ("mx",)  # a target only: not an owner name in the zone
    assert names[f"sip.{DOMAIN}"] == ("srv",)
    assert names[f"nieuw.{DOMAIN}"] == ("cname",)
    assert names[f"ns.sub.{DOMAIN}"] == ("axfr", "ns")
    assert names[f"oud.{DOMAIN}"] == ("axfr",)
    assert not any(n.endswith(HOSTER) for n in names)  # an alias target outside the domain is not ours
    # oud -> nieuw, which does not exist: a dangling alias inside the domain
    dangling = {r.subject.host for r in of(result, "dns.dangling") if r.status is Status.FAIL}
    assert dangling == {f"oud.{DOMAIN}"}


# ----------------------------------------------------------------------------- the cap


def test_a_huge_zone_is_capped_with_a_notice_and_aliases_come_first() -> None:
    """40 names in an open zone: 20 are examined (the alias among them, though it sorts last), with a notice."""
    body = "".join(f"host{n:02d} A 127.0.0.1\n" for n in range(40)) + f"zz-oud CNAME weg.{HOSTER}.\n"
    result = run(zoneset(body, allow_axfr=True), ("dns.axfr", "dns.dangling"))
    names = found(result)
    limit, _ = found_limits(catalogue_mod.builtin().extras)
    assert limit == 20 and len(names) == limit
    assert f"zz-oud.{DOMAIN}" in names
    assert inventory(result).found_capped == 41 - limit
    notice = next(n for n in result.notices if n.key == "limits.found-capped")
    assert notice.params == {"count": 41, "kept": limit}
    assert {r.subject.host for r in of(result, "dns.dangling") if r.status is Status.FAIL} == {f"zz-oud.{DOMAIN}"}


def test_the_cap_is_data() -> None:
    body = "".join(f"host{n:02d} A 127.0.0.1\n" for n in range(5))
    result = run(zoneset(body, allow_axfr=True), ("dns.axfr", "dns.dangling"), data={"found": {"max_names": 2}})
    assert len(found(result)) == 2
    assert next(n for n in result.notices if n.key == "limits.found-capped").params == {"count": 5, "kept": 2}


# ----------------------------------------------------------------------------- SRV


def test_srv_targets_inside_the_domain_are_found() -> None:
    body = f"""_autodiscover._tcp SRV 0 0 443 autodiscover.{DOMAIN}.
autodiscover CNAME autodiscover.{HOSTER}.
_xmpp-client._tcp SRV 5 0 5222 chat.{HOSTER}.
_caldavs._tcp SRV 0 0 0 .
"""
    result = run(zoneset(body), ("dns.dangling",))
    assert found(result) == {f"autodiscover.{DOMAIN}": ("srv",)}  # chat.<hoster> is someone else's
    dangling = [r for r in of(result, "dns.dangling") if r.status is Status.FAIL]
    assert [(r.subject.host, r.evidence["sources"]) for r in dangling] == [(f"autodiscover.{DOMAIN}", ["srv"])]


def srv_fact(result: Scan) -> SrvFact:
    fact = next(o.fact for o in result.outcomes if o.probe == "dns.srv")
    assert isinstance(fact, SrvFact)
    return fact


def test_no_service_is_asked_below_a_protocol_label_that_does_not_exist() -> None:
    # _tls exists (a SIP record), _tcp does not: a question below _tcp would never be answered
    zones = zoneset(f"_sip._tls SRV 0 0 443 sip.{DOMAIN}.\nsip A 192.0.2.5\n")
    zones.hang.add(f"_autodiscover._tcp.{DOMAIN}")
    fact = srv_fact(run(zones, ("dns.dangling",)))
    answers = {a.service: a for a in fact.services}
    assert answers["_autodiscover._tcp"].rcode == "NXDOMAIN" and answers["_autodiscover._tcp"].error is None
    assert answers["_sip._tls"].targets == (f"sip.{DOMAIN}",)
    assert answers["_sipfederationtls._tcp"].rcode == "NXDOMAIN"


def test_services_are_asked_when_their_protocol_label_cannot_be_asked() -> None:
    zones = zoneset(f"_autodiscover._tcp SRV 0 0 443 autodiscover.{DOMAIN}.\nautodiscover A 192.0.2.6\n")
    zones.servfail.add(f"_tcp.{DOMAIN}")
    result = run(zones, ("dns.dangling",))
    assert {a.service: a.targets for a in srv_fact(result).services}["_autodiscover._tcp"] == (f"autodiscover.{DOMAIN}",)
    assert found(result) == {f"autodiscover.{DOMAIN}": ("srv",)}


# ----------------------------------------------------------------------------- certificate names


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture()
def apex_site(pki: TestPki) -> Iterator[HttpsServer]:
    """The museum's site, with a certificate that also names its old shop, a wildcard, an external name
    and a forgotten collection site; that site runs on another address (127.0.0.2), the same port."""
    leaf = pki.issue(DOMAIN, f"www.{DOMAIN}", f"shop.{DOMAIN}", f"*.{DOMAIN}", f"collectie.{DOMAIN}",
                     f"mirror.{DOMAIN}", "museum.elders.test", f"{DOMAIN}.evil.test", file_stem="found")
    routes = {"*": (200, {"Server": "nginx"}, b"<html>museum</html>")}
    with HttpsServer(leaf.chain_path, leaf.key_path, routes) as server, \
            HttpsServer(leaf.chain_path, leaf.key_path, routes, host="127.0.0.2", port=server.port):
        yield server


SAN_ZONE = f"""shop CNAME shop.{HOSTER}.
collectie A 127.0.0.2
mirror A 127.0.0.1
"""


def test_certificate_names_are_found_and_examined(apex_site: HttpsServer, pki: TestPki) -> None:
    checks = ("dns.dangling", "web.tls.version", "web.tls.cert.valid", "web.https.available")
    result = run(zoneset(SAN_ZONE), checks, settings={"https_port": apex_site.port}, ca_bundle=str(pki.ca_path))
    # names outside the domain (also one that merely ends in the domain's text) are never added
    assert found(result) == {f"shop.{DOMAIN}": ("san",), f"collectie.{DOMAIN}": ("san",), f"mirror.{DOMAIN}": ("san",)}
    names = next(o.fact for o in result.outcomes if o.probe == "tls.names")
    assert {c.name for c in names.certificates} == {DOMAIN, f"www.{DOMAIN}"}
    dangling = [r for r in of(result, "dns.dangling") if r.status is Status.FAIL]
    assert [(r.subject.host, r.evidence["sources"]) for r in dangling] == [(f"shop.{DOMAIN}", ["san"])]
    # the found name on an address of its own is judged on TLS, not on being a website visitors are sent
    # to; the one on the apex's address is the same server, judged already
    assert {(r.subject.host, r.subject.address) for r in of(result, "web.tls.version")} == {
        (DOMAIN, "127.0.0.1"), (f"www.{DOMAIN}", "127.0.0.1"), (f"collectie.{DOMAIN}", "127.0.0.2")}
    for check in ("web.tls.cert.valid", "web.https.available"):
        assert {r.subject.host for r in of(result, check)} == {DOMAIN, f"www.{DOMAIN}"}, check


def test_certificate_names_respect_the_scope(apex_site: HttpsServer) -> None:
    """Without --allow-private the loopback site is not contacted for its certificate either."""
    result = run(zoneset(SAN_ZONE), ("dns.dangling",), settings={"https_port": apex_site.port}, allow_private=False)
    names = next(o.fact for o in result.outcomes if o.probe == "tls.names")
    assert {c.error.value if c.error else None for c in names.certificates} == {"out-of-scope"}
    assert found(result) == {}


def test_found_names_without_a_service_give_no_verdicts() -> None:
    """A found name that answers on no web port is not a website: no TLS or software verdict for it,
    neither a failure nor "could not be judged"."""
    body = "".join(f"host{n} A 127.0.0.{n + 3}\n" for n in range(3))  # addresses of their own; nothing listens
    checks = ("dns.axfr", "web.tls.version", "web.software.banner", "web.https.available")
    result = run(zoneset(body, allow_axfr=True), checks)
    assert len(found(result)) == 3
    tls = next(o.fact for o in result.outcomes if o.probe == "tls.scan")
    assert {e.address for e in tls.endpoints if e.roles == ("found",)} == {"127.0.0.3", "127.0.0.4", "127.0.0.5"}
    for check in checks[1:]:
        assert {r.subject.host for r in of(result, check)} <= {DOMAIN, f"www.{DOMAIN}"}, check


def test_a_stored_scan_with_found_names_is_judged_the_same_again() -> None:
    result = run(zoneset(OLD_SHOP, allow_axfr=True), ("dns.axfr", "dns.dangling"))
    cat = catalogue_mod.builtin()
    again = scan_from_dict(scan_to_dict(result), registry_mod.load())
    stored = inventory(again)
    assert {h.name: h.sources for h in stored.hosts if h.sources} == found(result)
    rejudged = rejudge(again, catalogue=cat, profile=replace(catalogue_mod.profile(cat, "default"),
                       include=("dns.axfr", "dns.dangling"), include_tags=()), registry=registry_mod.load())
    assert {(r.check_id, r.key, r.status) for r in rejudged.results} == {(r.check_id, r.key, r.status) for r in result.results}


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Shop.Museum.Test.", "shop.museum.test"),
        ("a.b.museum.test", "a.b.museum.test"),
        ("museum.test", None),  # the apex is listed already
        ("*.museum.test", None),
        ("_sip._tls.museum.test", None),
        ("evilmuseum.test", None),
        ("museum.test.evil.test", None),
        ("other.test", None),
        ("127.0.0.1", None),
        ("-bad.museum.test", None),
        ("", None),
    ],
)
def test_host_name(name: str, expected: str | None) -> None:
    assert host_name(name, DOMAIN) == expected


def test_found_data_file_is_complete() -> None:
    data = catalogue_mod.builtin().extras["found"]
    limit, order = found_limits(catalogue_mod.builtin().extras)
    assert limit == data["max_names"] and set(order) == {"axfr", "san", "cname", "mx", "ns", "srv"}
    assert {"_autodiscover._tcp", "_sip._tls", "_sipfederationtls._tcp", "_xmpp-client._tcp", "_caldavs._tcp",
            "_imaps._tcp", "_submission._tcp"} <= set(data["srv"])


def test_port_scan_leaves_found_names_out(tmp_path: Path) -> None:
    """The port scan is for the hosts the user's consent covers: found names are examined passively only."""
    log = tmp_path / "nmap-calls.jsonl"
    script = tmp_path / "nmap"
    script.write_text(FAKE_NMAP.format(python=sys.executable, log=str(log)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    zones = zoneset("oud A 127.0.42.8\n", allow_axfr=True)
    cat = catalogue_mod.builtin()
    base = catalogue_mod.profile(cat, "default")
    with LocalDnsServer(zones) as srv:
        profile = replace(base, include_tags=("net",), include=("dns.axfr", "dns.dangling"),
                          settings={"dns_port": srv.port, "portscan": {"nmap_binary": str(script)}})
        options = ScanOptions(nameservers=(Nameserver(srv.address, srv.port),), timeout=1.0, allow_private=True,
                              ports=True, authorised=True)
        result = scan([DOMAIN], catalogue=cat, profile=profile, registry=registry_mod.load(), options=options)
    assert found(result) == {f"oud.{DOMAIN}": ("axfr",)}
    scanned = {c[c.index("-") + 1] for c in (json.loads(line) for line in log.read_text().splitlines())}
    assert scanned == {"127.0.0.1"}  # the apex and www; never the found name's 127.0.42.8


def test_facts_stored_before_found_names_are_migrated() -> None:
    """A scan stored by the version before: inventory v3, zone transfer v2, TLS scan v2 read without notice."""
    result = run(zoneset(OLD_SHOP, allow_axfr=True), ("dns.axfr", "dns.dangling", "web.tls.version"))
    data = scan_to_dict(result)
    for entry in data["facts"]:
        fact = entry["fact"]
        if entry["probe"] == "hosts.inventory":
            del fact["found_capped"]
            fact["hosts"] = [h for h in fact["hosts"] if "found" not in h["roles"]]
        elif entry["probe"] == "dns.axfr":
            for attempt in fact["attempts"]:
                del attempt["links"]
        elif entry["probe"] == "tls.scan":
            fact["endpoints"] = [e for e in fact["endpoints"] if "found" not in e["roles"]]
            for endpoint in fact["endpoints"]:
                del endpoint["roles"]
    data["fact_versions"].update({"hosts.inventory": 3, "dns.axfr": 2, "tls.scan": 2})
    stored = scan_from_dict(data, registry_mod.load())
    assert not stored.notices
    assert inventory(stored).found_capped == 0 and found(stored) == {}
    axfr = next(o.fact for o in stored.outcomes if o.probe == "dns.axfr")
    assert all(a.links == () for a in axfr.attempts)
    tls = next(o.fact for o in stored.outcomes if o.probe == "tls.scan")
    assert tls.endpoints and all(e.roles == () for e in tls.endpoints)


def test_no_found_names_are_looked_for_when_the_apex_lookup_fails() -> None:
    """A dead DNS: the apex is unknown, so no certificate, SRV or extra NS lookups add their timeouts."""
    with SoaOnlyServer("drop") as server:
        options = ScanOptions(timeout=0.5, nameservers=(Nameserver("127.0.0.1", server.port),), allow_private=True)
        assessment = cyberscan.assess([SILENT], options=options)
        asked = {name for name, _ in server.queries}
    probes = {o.probe for o in assessment.scan.outcomes}
    assert "hosts.inventory" in probes and not {"tls.names", "dns.srv"} & probes
    services = catalogue_mod.builtin().extras["found"]["srv"]
    assert not any(name.startswith(f"{service}.") for name in asked for service in services)
