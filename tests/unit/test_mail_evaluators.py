"""Mail evaluators on literal facts (no network), and stored facts judged again after a JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.demo.localdns import ZoneSet
from cyberscan.engine import rejudge
from cyberscan.evaluators.mail import dkim, dmarc_policy, dmarc_rua, nonsending, spf
from cyberscan.facts import Facts
from cyberscan.facts.dns import DnsAnswer, MxFact, MxHost
from cyberscan.facts.mail import DkimFact, DkimSelector, DmarcFact, ReportAuthorisation, SpfFact, SpfNode
from cyberscan.models import ErrorReason, ProbeOutcome, Status, Verdict
from cyberscan.serialize import scan_from_dict, scan_to_dict
from tests.integration.bind9 import dkim_txt
from tests.unit.test_dns_probes import scan_zones, zone_text

NOW = datetime(2026, 11, 28, tzinfo=UTC)
POLICY = {"accepted_policies": ["quarantine", "reject"]}


def facts(**by_probe: Any) -> Facts:
    outcomes = {probe.replace("_", "."): ProbeOutcome(probe.replace("_", "."), "museum.test", fact=f) for probe, f in by_probe.items()}
    return Facts("museum.test", outcomes, now=NOW)


def pairs(verdicts: list[Verdict]) -> set[tuple[str, str]]:
    return {(v.status.value, v.message) for v in verdicts}


def mx(*hosts: tuple[int, str]) -> MxFact:
    return MxFact(DnsAnswer("museum.test", "MX", "NOERROR"), tuple(MxHost(p, e) for p, e in hosts))


def spf_fact(record: str | None, *, lookups: int = 0, voids: int = 0, extra: tuple[SpfNode, ...] = (), temp: tuple[str, ...] = ()) -> SpfFact:
    root = SpfNode("museum.test", "root", 0, "", (record,) if record else ())
    return SpfFact("museum.test", root.records, (root, *extra), lookups, voids, temp_errors=temp)


def dmarc_fact(*records: str, inherited: bool = False, auths: tuple[ReportAuthorisation, ...] = ()) -> DmarcFact:
    return DmarcFact("museum.test", "museum.test", "_dmarc.museum.test", records, (), inherited, auths)


# ------------------------------------------------------------------------------------------ SPF


def _short(value: object) -> str | None:
    """Readable test ids that stay the same between runs (the keys in the values are random)."""
    if isinstance(value, str) and len(value) >= 40:
        return value.split("p=", 1)[0] + "p=..."
    return None


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        (spf_fact("v=spf1 -all"), {("pass", "ok")}),
        (spf_fact("v=spf1 mx -all", lookups=11), {("fail", "too-many-lookups")}),
        (spf_fact("v=spf1 mx -all", lookups=10), {("pass", "ok")}),
        (spf_fact("v=spf1 mx -all", voids=3), {("fail", "too-many-void-lookups")}),
        (spf_fact("v=spf1 mx -all", voids=2), {("pass", "ok")}),
        (spf_fact("v=spf1 include:x.test -all", temp=("x.test TXT: timeout",)), {("error", "lookup-failed")}),
        (spf_fact("v=spf1 include:x.test", temp=("x.test TXT: timeout",)), {("error", "lookup-failed")}),
        (spf_fact("v=spf1 +all", temp=("x.test TXT: timeout",)), {("fail", "pass-all")}),
        (spf_fact("v=spf1 include:x.test -all", extra=(SpfNode("x.test", "include", 1, "museum.test", ("v=spf1 a", "v=spf1 mx")),)),
         {("fail", "broken-include-multiple-records")}),
        (spf_fact(None), {("fail", "missing")}),
        (SpfFact("museum.test", (), (SpfNode("museum.test", "root", 0, "", ("v=spf1 -all", "v=spf1 mx -all")),), 0, 0), {("fail", "multiple")}),
        (SpfFact("museum.test", (), (SpfNode("museum.test", "root", 0, "", (), "", "temp-error"),), 0, 0, temp_errors=("t",)),
         {("error", "lookup-failed")}),
    ],
)  # fmt: skip
def test_spf(fact: SpfFact, expected: set[tuple[str, str]]) -> None:
    verdicts = spf(facts(dns_spf=fact), {"lookup_limit": 10, "void_limit": 2})
    assert pairs(verdicts) == expected
    assert all(v.evidence["lookups"] == fact.lookups for v in verdicts)
    assert all(v.reason is not None for v in verdicts if v.status.value == "error")


# ------------------------------------------------------------------------------------------ DMARC


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        (dmarc_fact("v=DMARC1; p=reject"), {("pass", "ok")}),
        (dmarc_fact("v=DMARC1; p=quarantine; pct=20"), {("warn", "partial-pct"), ("pass", "ok")}),
        (dmarc_fact("v=DMARC1; p=reject; sp=none"), {("warn", "subdomains-unprotected"), ("pass", "ok")}),
        (dmarc_fact("v=DMARC1; p=none"), {("fail", "policy-too-weak")}),
        (dmarc_fact("v=DMARC1; p=reject; sp=none", inherited=True), {("fail", "policy-too-weak")}),
        (dmarc_fact("v=DMARC1; p=none; sp=reject", inherited=True), {("pass", "ok-inherited")}),
        (dmarc_fact(), {("fail", "missing")}),
        (dmarc_fact("v=DMARC1; p=reject", "v=DMARC1; p=reject"), {("fail", "multiple")}),
        (dmarc_fact("v=DMARC1; p=reject; pct=x"), {("fail", "invalid")}),
        (dmarc_fact("v=DMARC1; p=reject; rua=not-an-address"), {("pass", "ok")}),  # receivers skip a bad address
        (dmarc_fact("v=DMARC1; p=none; rua=not-an-address"), {("fail", "policy-too-weak")}),
    ],
)
def test_dmarc_policy(fact: DmarcFact, expected: set[tuple[str, str]]) -> None:
    assert pairs(dmarc_policy(facts(dns_dmarc=fact), POLICY)) == expected


def test_dmarc_policy_param_can_demand_reject() -> None:
    verdicts = dmarc_policy(facts(dns_dmarc=dmarc_fact("v=DMARC1; p=quarantine")), {"accepted_policies": ["reject"]})
    assert pairs(verdicts) == {("fail", "policy-too-weak")}


@pytest.mark.parametrize(
    ("fact", "expected"),
    [
        (dmarc_fact("v=DMARC1; p=none; rua=mailto:d@museum.test"), {("pass", "ok")}),
        (dmarc_fact("v=DMARC1; p=reject"), {("fail", "missing")}),
        (dmarc_fact("v=DMARC1; p=reject; rua=d@museum.test"), {("fail", "bad-uri")}),
        (dmarc_fact("v=DMARC1; p=reject; rua=mailto:a@rep.test", auths=(ReportAuthorisation("rep.test", "n", False),)),
         {("warn", "external-not-authorised"), ("pass", "ok")}),
        (dmarc_fact("v=DMARC1; p=reject; rua=mailto:a@rep.test", auths=(ReportAuthorisation("rep.test", "n", False, "timeout"),)),
         {("warn", "external-unchecked"), ("pass", "ok")}),
        (dmarc_fact("v=DMARC1; p=reject; rua=mailto:a@rep.test", auths=(ReportAuthorisation("rep.test", "n", True),)), {("pass", "ok")}),
        (dmarc_fact(), {("fail", "no-dmarc")}),
    ],
)  # fmt: skip
def test_dmarc_rua(fact: DmarcFact, expected: set[tuple[str, str]]) -> None:
    assert pairs(dmarc_rua(facts(dns_dmarc=fact), {})) == expected



@pytest.mark.parametrize(
    ("mx_fact", "spf", "expected"),
    [
        (mx((0, "")), "v=spf1 -all", {("info", "missing-no-mail")}),  # null MX, sends nothing
        (mx((10, "mail.museum.test")), "v=spf1 -all", {("fail", "missing")}),  # receives mail
        (mx((0, "")), "v=spf1 include:_spf.mailer.test -all", {("fail", "missing")}),  # sends mail
    ],
)
def test_dmarc_rua_without_report_address_matters_only_for_mail_domains(mx_fact: MxFact, spf: str, expected: set[tuple[str, str]]) -> None:
    verdicts = dmarc_rua(facts(dns_dmarc=dmarc_fact("v=DMARC1; p=reject"), dns_mx=mx_fact, dns_spf=spf_fact(spf)), {})
    assert pairs(verdicts) == expected


def test_dmarc_rua_is_an_error_when_the_dmarc_lookup_failed() -> None:
    outcome = ProbeOutcome("dns.dmarc", "museum.test", error=ErrorReason.TIMEOUT, detail="no answer")
    verdicts = dmarc_rua(Facts("museum.test", {"dns.dmarc": outcome}, now=NOW), {})
    assert [v.status for v in verdicts] == [Status.ERROR]


# ------------------------------------------------------------------------------------------ DKIM

KEY_2048 = dkim_txt(2048)
KEY_1024 = dkim_txt(1024)


def _record(zone_value: str) -> str:
    return "".join(part.strip('"') for part in zone_value.strip("() ").split('" "'))


@pytest.mark.parametrize(
    ("records", "mail", "expected"),
    [
        ({"s1": [_record(KEY_2048)]}, True, {("pass", "ok")}),
        ({"s1": [_record(KEY_1024)]}, True, {("warn", "short-key")}),
        ({"s1": ["v=DKIM1; p="]}, True, {("info", "revoked"), ("warn", "not-found")}),
        ({"s1": ["v=DKIM1; p=!!"]}, True, {("fail", "invalid"), ("warn", "not-found")}),
        ({}, True, {("warn", "not-found")}),
        ({}, False, {("info", "not-found-no-mail")}),
    ],
    ids=_short,
)
def test_dkim(records: dict[str, list[str]], mail: bool, expected: set[tuple[str, str]]) -> None:
    found = tuple(DkimSelector(sel, f"{sel}._domainkey.museum.test", "NOERROR", tuple(texts)) for sel, texts in records.items())
    fact = DkimFact("museum.test", ("s1", "s2"), found, "NOERROR")
    mx_fact = mx((10, "mail.museum.test")) if mail else mx((0, ""))
    found_facts = facts(dns_dkim=fact, dns_mx=mx_fact, dns_spf=spf_fact("v=spf1 -all"))
    assert pairs(dkim(found_facts, {"fail_below_bits": 1024, "warn_below_bits": 2048})) == expected


@pytest.mark.parametrize(
    ("mx_fact", "spf_record", "expected"),
    [
        (mx((0, "")), "v=spf1 -all", ("info", "not-found-no-mail")),
        (mx(), None, ("info", "not-found-no-mail")),
        (mx((0, "")), "v=spf1 include:mailer.test -all", ("warn", "not-found")),  # sends, does not receive
        (mx((10, "mail.museum.test")), "v=spf1 -all", ("warn", "not-found")),
    ],
)
def test_dkim_not_found_depends_on_whether_the_domain_uses_mail(mx_fact: MxFact, spf_record: str | None, expected: tuple[str, str]) -> None:
    fact = DkimFact("museum.test", ("s1",), (), "NXDOMAIN")
    verdicts = dkim(facts(dns_dkim=fact, dns_mx=mx_fact, dns_spf=spf_fact(spf_record)), {})
    assert [(v.status.value, v.message) for v in verdicts] == [expected]


def test_dkim_not_found_counts_as_mail_when_mx_or_spf_is_unknown() -> None:
    fact = DkimFact("museum.test", ("s1",), (), "NXDOMAIN")
    outcomes = {
        "dns.dkim": ProbeOutcome("dns.dkim", "museum.test", fact=fact),
        "dns.mx": ProbeOutcome("dns.mx", "museum.test", error=ErrorReason.TIMEOUT),
        "dns.spf": ProbeOutcome("dns.spf", "museum.test", fact=spf_fact("v=spf1 -all")),
    }
    assert pairs(dkim(Facts("museum.test", outcomes, now=NOW), {})) == {("warn", "not-found")}
    outcomes["dns.dkim"] = ProbeOutcome("dns.dkim", "museum.test", error=ErrorReason.SERVFAIL, detail="x")
    assert pairs(dkim(Facts("museum.test", outcomes, now=NOW), {})) == {("error", "error.servfail")}


def test_dkim_weak_key_below_the_fail_threshold() -> None:
    # cryptography cannot make keys under 1024 bits, so raise the thresholds instead
    found = (DkimSelector("s1", "s1._domainkey.museum.test", "NOERROR", (_record(KEY_1024),)),)
    fact = DkimFact("museum.test", ("s1",), found, "NOERROR")
    verdicts = dkim(facts(dns_dkim=fact, dns_mx=mx((10, "mail.museum.test")), dns_spf=spf_fact(None)), {"fail_below_bits": 2048, "warn_below_bits": 4096})
    assert pairs(verdicts) == {("fail", "weak-key")}
    assert verdicts[0].params["bits"] == 1024


def test_dkim_lookup_errors_without_keys_is_error() -> None:
    fact = DkimFact("museum.test", ("s1",), (), "NOERROR", ("s1: timeout",))
    verdicts = dkim(facts(dns_dkim=fact, dns_mx=mx((10, "mail.museum.test")), dns_spf=spf_fact(None)), {})
    assert pairs(verdicts) == {("error", "lookup-failed")}


# ------------------------------------------------------------------------------------------ non-sending


@pytest.mark.parametrize(
    ("mx_fact", "spf_record", "dmarc", "expected", "missing"),
    [
        (mx((0, "")), "v=spf1 -all", "v=DMARC1; p=reject", ("pass", "ok"), None),
        (mx(), None, None, ("fail", "incomplete"), "MX 0 ., v=spf1 -all, DMARC p=reject"),
        (mx((0, "")), "v=spf1 ~all", "v=DMARC1; p=reject", ("fail", "incomplete"), "v=spf1 -all"),
        (mx((0, "")), "v=spf1 -all", "v=DMARC1; p=quarantine", ("fail", "incomplete"), "DMARC p=reject"),
        (mx((0, "")), "v=spf1 -all", "v=DMARC1 p=reject", ("fail", "incomplete"), "DMARC p=reject"),
        (mx((10, "mail.museum.test")), None, None, ("info", "uses-mail"), None),
        (mx(), "v=spf1 include:spf.mailer.test -all", None, ("info", "uses-mail"), None),
    ],
)
def test_nonsending(mx_fact: MxFact, spf_record: str | None, dmarc: str | None, expected: tuple[str, str], missing: str | None) -> None:
    verdicts = nonsending(facts(dns_mx=mx_fact, dns_spf=spf_fact(spf_record), dns_dmarc=dmarc_fact(*([dmarc] if dmarc else []))), {})
    assert [(v.status.value, v.message) for v in verdicts] == [expected]
    if missing is not None:
        assert verdicts[0].params["missing"] == missing


# ------------------------------------------------------------------------------------------ stored scans


def test_stored_mail_and_dns_facts_are_judged_the_same_after_a_json_round_trip() -> None:
    zones = ZoneSet()
    zones.add_text("rich.test", zone_text("rich.test",
        '@ MX 10 mail\nmail A 192.0.2.1\n@ TXT "v=spf1 mx include:_s.rich.test -all"\n_s TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
        '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@rich.test"\n'
        f'selector1._domainkey TXT {KEY_2048}\n@ CAA 0 issue "letsencrypt.org"\nwww CNAME gone.rich.test.\n'
        '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:t@rich.test"\n'))  # fmt: skip
    checks = ["mail.mx", "mail.spf", "mail.dmarc.policy", "mail.dmarc.rua", "mail.dkim", "mail.nonsending", "mail.tlsrpt",
              "mail.mta_sts", "dns.caa", "dns.dnssec", "dns.ns", "dns.axfr", "dns.dangling"]  # fmt: skip
    result = scan_zones(zones, "rich.test", checks)
    registry = registry_mod.load()
    stored = scan_from_dict(scan_to_dict(result), registry)
    cat = catalogue_mod.builtin()
    from dataclasses import replace

    profile = replace(catalogue_mod.profile(cat, "default"), include=tuple(checks), include_tags=())
    again = rejudge(stored, catalogue=cat, profile=profile, registry=registry)

    def key(r: Any) -> tuple[str, str, str, str]:
        return (r.check_id, r.status.value, r.message, r.key)

    assert sorted(map(key, again.results)) == sorted(map(key, result.results))
    assert not [r for r in result.results if r.error_reason is ErrorReason.BUG]


def test_every_message_key_in_the_evaluators_has_texts() -> None:
    """Keys are plain strings in the code; a typo would show the raw key in a report."""
    import re
    from pathlib import Path

    import cyberscan.evaluators.dns as dns_mod
    import cyberscan.evaluators.mail as mail_mod

    cat = catalogue_mod.builtin()
    known = {key for check in cat.checks.values() if check.id.startswith(("mail.", "dns.")) for key in check.messages}
    known |= set(cat.extras.get("messages", {}))  # shared messages (no-web-hosts, endpoint.*)
    pattern = re.compile(r'Verdict\(\s*Status\.\w+,\s*"([a-z0-9-]+)"|"(?:no-host|redirect|http-status|too-large|tls|not-utf8)": "([a-z-]+)"')
    used = set()
    for module in (mail_mod, dns_mod):
        for a, b in pattern.findall(Path(module.__file__ or "").read_text(encoding="utf-8")):
            used.add(a or b)
    used |= {f"broken-include-{problem}" for problem in ("no-record", "multiple-records", "syntax")}
    assert len(used) > 60
    assert used - known == set()


# ------------------------------------------------------------------------------------------ unknown mail use


def test_dmarc_rua_without_report_address_is_an_error_while_mail_use_is_unknown() -> None:
    outcomes = {
        "dns.dmarc": ProbeOutcome("dns.dmarc", "museum.test", fact=dmarc_fact("v=DMARC1; p=reject")),
        "dns.mx": ProbeOutcome("dns.mx", "museum.test", error=ErrorReason.SERVFAIL, detail="museum.test. MX"),
        "dns.spf": ProbeOutcome("dns.spf", "museum.test", fact=spf_fact("v=spf1 -all")),
    }
    verdicts = dmarc_rua(Facts("museum.test", outcomes, now=NOW), {})
    assert [(v.status, v.reason) for v in verdicts] == [(Status.ERROR, ErrorReason.SERVFAIL)]
    # SPF that authorises senders proves mail use on its own: the missing address is a failure
    outcomes["dns.spf"] = ProbeOutcome("dns.spf", "museum.test", fact=spf_fact("v=spf1 include:mailer.test -all"))
    assert pairs(dmarc_rua(Facts("museum.test", outcomes, now=NOW), {})) == {("fail", "missing")}


def test_mta_sts_never_says_every_mail_server_is_covered_when_the_mx_is_unknown() -> None:
    from cyberscan.evaluators.mail import mta_sts
    from cyberscan.facts.mail import StsPolicyFetch, TxtFact

    url = "https://mta-sts.museum.test/.well-known/mta-sts.txt"
    body = "version: STSv1\nmode: enforce\nmx: mail.museum.test\nmax_age: 604800\n"
    outcomes = {
        "dns.mta_sts": ProbeOutcome("dns.mta_sts", "museum.test",
                                    fact=TxtFact("_mta-sts.museum.test", "NOERROR", ("v=STSv1; id=1",))),
        "http.mta_sts": ProbeOutcome("http.mta_sts", "museum.test",
                                     fact=StsPolicyFetch(url, True, "192.0.2.1", 200, "text/plain", body)),
        "dns.mx": ProbeOutcome("dns.mx", "museum.test", fact=mx((10, "mail.museum.test"))),
    }
    assert pairs(mta_sts(Facts("museum.test", outcomes, now=NOW), {})) == {("pass", "ok")}
    outcomes["dns.mx"] = ProbeOutcome("dns.mx", "museum.test", error=ErrorReason.TIMEOUT, detail="museum.test. MX")
    verdicts = mta_sts(Facts("museum.test", outcomes, now=NOW), {})
    assert [(v.status, v.reason) for v in verdicts] == [(Status.ERROR, ErrorReason.TIMEOUT)]
