"""End to end through the real CLI against a real nginx: a good site has no failures, bad sites the expected ones."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from tests.conftest import require_binary
from tests.fixtures.certs import TestPki

from . import nginx as nginx_mod

pytestmark = pytest.mark.integration

DOMAINS = {"good": "goed-museum.test", "bad": "oud-museum.test", "stale": "archief.test"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("nginx-pki"))


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, pki: TestPki) -> Iterator[nginx_mod.Nginx]:
    binary = require_binary("nginx")
    server = nginx_mod.start(binary, tmp_path_factory.mktemp("nginx"), pki, DOMAINS)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dns() -> Iterator[LocalDnsServer]:
    zones = ZoneSet()
    for site, domain in DOMAINS.items():
        address = nginx_mod.ADDRESSES[site]
        zones.add_text(domain, f"""
$TTL 300
@ IN SOA ns.{domain}. admin.{domain}. 1 3600 600 86400 300
@ IN NS ns.{domain}.
@ IN A {address}
www IN A {address}
ns IN A 127.0.0.1
""")
    with LocalDnsServer(zones) as srv:
        yield srv


def cli_scan(domain: str, dns: LocalDnsServer, pki: TestPki, out: Path) -> dict[str, list[dict[str, Any]]]:
    report = out / f"{domain}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "cyberscan.cli", "scan", domain, "--nameserver", dns.nameserver,
         "--ca-bundle", str(pki.ca_path), "--allow-private", "--timeout", "3", "--format", "json",
         "-o", str(report), "--no-progress", "--lang", "en"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(report.read_text())
    by_id: dict[str, list[dict[str, Any]]] = {}
    for result in data["results"]:
        by_id.setdefault(result["check_id"], []).append(result)
    return by_id


def outcome(results: dict[str, list[dict[str, Any]]], check: str) -> set[tuple[str, str]]:
    return {(r["status"], r["message"]) for r in results[check]}


def where(result: dict[str, Any]) -> str:
    """``host (address)`` of a JSON finding's subject, as reports show it."""
    return f"{result['subject']['host']} ({result['subject']['address']})"


def test_good_site_has_zero_failures(nginx: nginx_mod.Nginx, dns: LocalDnsServer, pki: TestPki, tmp_path: Path) -> None:
    results = cli_scan(DOMAINS["good"], dns, pki, tmp_path)
    web = {cid: rs for cid, rs in results.items() if cid.startswith("web.")}
    assert len(web) == 14
    failures = [(cid, where(r), r["message"]) for cid, rs in web.items() for r in rs if r["status"] in ("fail", "error")]
    assert failures == []
    assert outcome(results, "web.tls.version") == {("pass", "good")}
    assert outcome(results, "web.https.redirect") == {("pass", "redirects")}
    assert outcome(results, "web.hsts") == {("pass", "ok-subdomains")}
    assert outcome(results, "web.securitytxt") == {("pass", "valid")}
    assert outcome(results, "web.tls.cert.valid") == {("pass", "valid")}
    hosts = {where(r) for r in results["web.tls.version"]}
    good = nginx_mod.ADDRESSES["good"]
    assert hosts == {f"goed-museum.test ({good})", f"www.goed-museum.test ({good})"}
    versions = results["web.tls.version"][0]["evidence"]["accepted"]
    assert versions == ["TLSv1.2", "TLSv1.3"]


def test_bad_site_findings(nginx: nginx_mod.Nginx, dns: LocalDnsServer, pki: TestPki, tmp_path: Path) -> None:
    results = cli_scan(DOMAINS["bad"], dns, pki, tmp_path)
    (version,) = outcome(results, "web.tls.version")
    assert version == ("warn", "phase-out")
    evidence = results["web.tls.version"][0]["evidence"]["accepted"]
    assert "TLSv1.0" in evidence and "TLSv1.1" in evidence
    assert outcome(results, "web.tls.ciphers") == {("fail", "insufficient")}  # 3DES / anon / NULL with @SECLEVEL=0
    assert outcome(results, "web.hsts") == {("fail", "missing")}
    assert outcome(results, "web.https.redirect") == {("fail", "no-redirect")}
    assert outcome(results, "web.headers.basic") == {("fail", "missing")}
    assert outcome(results, "web.securitytxt") == {("fail", "missing")}
    (banner,) = outcome(results, "web.software.banner")
    assert banner == ("fail", "end-of-life")  # nginx/1.22.1 is past upstream support
    assert "nginx 1.22" in results["web.software.banner"][0]["params"]["software"]
    # certificates are fine on the bad site: no false alarms there
    assert outcome(results, "web.tls.cert.valid") == {("pass", "valid")}


def test_expired_securitytxt(nginx: nginx_mod.Nginx, dns: LocalDnsServer, pki: TestPki, tmp_path: Path) -> None:
    results = cli_scan(DOMAINS["stale"], dns, pki, tmp_path)
    assert outcome(results, "web.securitytxt") == {("fail", "expired")}
