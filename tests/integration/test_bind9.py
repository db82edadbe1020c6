"""DNS and e-mail checks against a real BIND9 serving signed and misconfigured zones, through the CLI.

BIND listens on NS1 and NS2 (the two NS of every zone; addresses of this test process's own loopback
block), port 53; the parent zone ``test.`` holds the delegations and DS records. mta-sts.good.test is an
HTTPS server on WEB:443 with a certificate from a test CA (trusted with ``--ca-bundle``);
mta-sts.badsts.test is one on WEB_UNTRUSTED:443 whose CA is not trusted. The fixture adds NS1 and NS2 to
``lo`` (root needed) and removes them afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.bind9 import NS1, NS2, WEB_UNTRUSTED, Bind9

pytestmark = pytest.mark.integration

MY_CHECKS = {
    "mail.mx", "mail.spf", "mail.dmarc.policy", "mail.dmarc.rua", "mail.dkim", "mail.nonsending",
    "mail.mta_sts", "mail.tlsrpt", "dns.dnssec", "dns.caa", "dns.axfr", "dns.ns", "dns.dangling", "dns.ipv6",
}  # fmt: skip
CLI = str(Path(sys.executable).with_name("cyberscan"))
TIMINGS: dict[str, float] = {}


class Scan:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.results = [r for r in data["results"] if r["check_id"] in MY_CHECKS]

    def of(self, check_id: str) -> list[dict[str, Any]]:
        found = [r for r in self.results if r["check_id"] == check_id]
        assert found, f"no result for {check_id}"
        return found

    def verdicts(self, check_id: str) -> list[dict[str, Any]]:
        """Each finding and the verdicts the engine merged into it (same subject, ``evidence.also``)."""
        out = []
        for r in self.of(check_id):
            out.append(r)
            out.extend(r["evidence"].get("also", ()))
        return out

    def statuses(self, check_id: str) -> set[str]:
        return {r["status"] for r in self.verdicts(check_id)}

    def messages(self, check_id: str) -> set[str]:
        return {r["message"] for r in self.verdicts(check_id)}


_cache: dict[tuple[str, ...], Scan] = {}


def scan(bind9: tuple[Bind9, Path], domain: str, *extra: str) -> Scan:
    key = (domain, *extra)
    if key not in _cache:
        _, ca_file = bind9
        args = [CLI, "scan", domain, "--nameserver", NS1, "--allow-private", "--format", "json", "--no-progress",
                "--timeout", "3", "--ca-bundle", str(ca_file), "--lang", "en", *extra]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        TIMINGS[domain] = time.perf_counter() - started
        assert done.returncode in (0, 1), done.stderr
        _cache[key] = Scan(json.loads(done.stdout))
    return _cache[key]


def test_well_configured_zone_has_no_failures(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "good.test")
    bad = [(r["check_id"], r["status"], r["message"], r["params"]) for r in result.results if r["status"] in ("fail", "error")]
    assert not bad
    for check_id in ("dns.dnssec", "dns.ns", "dns.axfr", "dns.caa", "dns.dangling", "mail.mx", "mail.spf",
                     "mail.dmarc.policy", "mail.dmarc.rua", "mail.dkim", "mail.mta_sts", "mail.tlsrpt"):  # fmt: skip
        assert result.statuses(check_id) == {"pass"}, (check_id, result.of(check_id))
    assert result.statuses("mail.nonsending") == {"info"}
    axfr = result.of("dns.axfr")
    assert {r["params"]["address"] for r in axfr} == {NS1, NS2}
    dkim = result.of("mail.dkim")[0]
    assert dkim["params"]["bits"] == 2048 and dkim["params"]["selector"] == "selector1"
    spf = result.of("mail.spf")[0]
    assert spf["evidence"]["lookups"] == 2
    mta_sts = result.of("mail.mta_sts")[0]
    assert mta_sts["params"]["mode"] == "enforce"
    caa = result.of("dns.caa")[0]
    assert caa["params"]["issuers"] == "letsencrypt.org" and "mailto:security@good.test" in caa["params"]["iodef"]


def test_one_domain_scan_is_quick(bind9: tuple[Bind9, Path]) -> None:
    """Not a timed assertion: reports the figures (the CLI run includes start-up and loading the catalogue)."""
    from cyberscan import catalogue as catalogue_mod
    from cyberscan import registry as registry_mod
    from cyberscan.engine import scan as engine_scan
    from cyberscan.options import Nameserver, ScanOptions

    scan(bind9, "good.test")
    cat = catalogue_mod.builtin()
    registry = registry_mod.load()
    profile = catalogue_mod.profile(cat, "default")
    options = ScanOptions(timeout=3, nameservers=(Nameserver(NS1),), allow_private=True, ca_bundle=str(bind9[1]))
    started = time.perf_counter()
    result = engine_scan(["good.test"], catalogue=cat, profile=profile, registry=registry, options=options)
    elapsed = time.perf_counter() - started
    assert {r.check_id for r in result.results} >= MY_CHECKS
    print(f"\ngood.test against BIND9: CLI run {TIMINGS.get('good.test', 0):.2f} s, scan itself {elapsed:.2f} s")


def test_signed_zone_without_ds_is_signed_not_delegated(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "nods.test")
    assert result.statuses("dns.dnssec") == {"warn"}
    assert result.messages("dns.dnssec") == {"signed-not-delegated"}


def test_expired_signatures_fail(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "expired.test")
    assert result.statuses("dns.dnssec") == {"fail"}
    assert "expired" in result.messages("dns.dnssec")
    assert result.of("dns.dnssec")[0]["params"]["expired"].startswith("2020-02-01")


def test_ds_without_dnskey_fails(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "badds.test")
    assert result.messages("dns.dnssec") == {"ds-without-dnskey"}
    assert result.statuses("dns.dnssec") == {"fail"}


def test_spf_over_the_lookup_limit(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "spflimit.test")
    assert result.statuses("mail.spf") == {"fail"}
    assert result.messages("mail.spf") == {"too-many-lookups"}
    verdict = result.of("mail.spf")[0]
    assert verdict["params"]["count"] == "13"
    assert verdict["evidence"]["void_lookups"] == 0
    assert len(verdict["evidence"]["tree"]) == 5


def test_spf_include_loop(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "spfloop.test")
    assert result.statuses("mail.spf") == {"fail"}
    assert "loop" in result.messages("mail.spf")
    loop = next(r for r in result.of("mail.spf") if r["message"] == "loop")
    assert loop["params"] == {"domain": "loop1.spfloop.test", "parent": "loop2.spfloop.test"}


def test_malformed_dmarc_and_two_spf_records(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "baddmarc.test")
    assert result.messages("mail.dmarc.policy") == {"invalid"}
    assert result.statuses("mail.dmarc.policy") == {"fail"}
    assert result.messages("mail.dmarc.rua") == {"no-dmarc"}
    assert result.messages("mail.spf") == {"multiple"}


def test_open_zone_transfer_is_reported_per_nameserver(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "openxfr.test")
    axfr = result.of("dns.axfr")
    assert {(r["status"], r["message"], r["subject"]["host"]) for r in axfr} == {
        ("fail", "open", "ns1.openxfr.test"),
        ("fail", "open", "ns2.openxfr.test"),
    }
    assert all(r["params"]["records"] >= 8 for r in axfr)
    # the names the transfer revealed are examined too: the alias in it dangles
    dangling = [r for r in result.of("dns.dangling") if r["status"] == "fail"]
    assert [(r["message"], r["subject"]["host"]) for r in dangling] == [("dangling", "oudeexpo.openxfr.test")]
    assert dangling[0]["evidence"]["sources"] == ["axfr"]


def test_dangling_cname(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "dangling.test", "--host", "shop.dangling.test")
    verdicts = result.of("dns.dangling")
    assert [(r["status"], r["message"], r["subject"]["host"]) for r in verdicts] == [("fail", "dangling", "www.dangling.test")]
    assert verdicts[0]["params"]["target"] == "museum-expo.gone.dangling.test"
    assert "shop.dangling.test" in verdicts[0]["evidence"]["aliases"]  # looked at, and fine


def test_non_sending_domain_done_right(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "nomail-good.test")
    assert result.statuses("mail.nonsending") == {"pass"}
    assert result.messages("mail.mx") == {"null-mx"} and result.statuses("mail.mx") == {"pass"}
    assert result.statuses("mail.dkim") == {"info"}
    assert result.statuses("mail.mta_sts") == {"info"}
    assert result.statuses("mail.tlsrpt") == {"info"}


def test_non_sending_domain_done_wrong(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "nomail-bad.test")
    verdict = result.of("mail.nonsending")[0]
    assert verdict["status"] == "fail"
    assert verdict["params"]["missing"] == "MX 0 ., v=spf1 -all, DMARC p=reject"
    assert result.messages("mail.mx") == {"no-mx"}
    assert result.messages("mail.spf") == {"missing"}
    assert result.messages("mail.dmarc.policy") == {"policy-too-weak"}


def test_mx_to_alias_ip_literal_and_missing_host(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "mxbad.test")
    got = {(r["status"], r["message"], r["subject"]["host"]) for r in result.of("mail.mx")}
    assert got == {
        ("fail", "cname", "alias.mxbad.test"),
        ("fail", "nonexistent", "nothere.mxbad.test"),
        ("fail", "ip-literal", "192.0.2.25"),
    }


def test_null_mx_beside_ordinary_mx(bind9: tuple[Bind9, Path]) -> None:
    result = scan(bind9, "nullmix.test")
    assert result.messages("mail.mx") == {"null-mx-mixed"}


def test_dkim_found_only_with_the_given_selector(bind9: tuple[Bind9, Path]) -> None:
    without = scan(bind9, "dkimsel.test")
    assert without.messages("mail.dkim") == {"revoked", "not-found"}
    assert "fail" not in without.statuses("mail.dkim")  # not finding a key proves nothing
    given = scan(bind9, "dkimsel.test", "--dkim-selector", "museum2026")
    by_message = {r["message"]: r for r in given.of("mail.dkim")}
    assert set(by_message) == {"revoked", "short-key"}
    assert by_message["short-key"]["status"] == "warn" and by_message["short-key"]["params"]["bits"] == 1024


def test_mta_sts_policy_behind_an_untrusted_certificate_fails(bind9: tuple[Bind9, Path]) -> None:
    """RFC 8461 3.3: senders fetch the policy over verified HTTPS only; an untrusted certificate means
    no policy. The trusted server next to it (good.test) passes in the same run."""
    result = scan(bind9, "badsts.test")
    verdict = result.of("mail.mta_sts")[0]
    assert (verdict["status"], verdict["message"]) == ("fail", "policy-tls")
    assert "CERTIFICATE_VERIFY_FAILED" in verdict["params"]["detail"]
    assert verdict["evidence"]["address"] == WEB_UNTRUSTED
    assert scan(bind9, "good.test").messages("mail.mta_sts") == {"ok"}
