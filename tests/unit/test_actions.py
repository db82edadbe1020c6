"""The prioritised action list and supplier recognition (MX -> mail provider, NS -> DNS host, CNAME -> web host)."""

from __future__ import annotations

import fnmatch
from dataclasses import replace
from typing import Any

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan.actions import actions_to_dict, prioritise, recognise_suppliers, supplier_roles_for
from cyberscan.catalogue import Catalogue, Check
from cyberscan.facts.dns import DnsAnswer, Host, HostInventory, MxFact, MxHost
from cyberscan.models import ProbeOutcome, Result, Severity, Status, Subject


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    base = catalogue_mod.load()
    extra = {
        cid: Check(
            id=cid,
            version=1,
            severity=sev,
            evaluator="x",
            needs=(),
            title={"nl": cid, "en": cid},
            risk={"nl": "r", "en": "r"},
            remediation={"nl": f"doe {cid}", "en": f"do {cid}"},
            messages={},
            maps_to={"den.check.4": "direct"},
            continuity=("cont.public",),
            who=who,
            effort=effort,
        )
        for cid, sev, who, effort in [
            ("mail.dmarc.policy", Severity.HIGH, "volunteer", "low"),
            ("mail.dkim", Severity.MEDIUM, "supplier", "medium"),
            ("web.hsts", Severity.HIGH, "supplier", "high"),
            ("net.exposed.rdp", Severity.CRITICAL, "supplier", "medium"),
            ("dns.ipv6", Severity.INFO, "supplier", "low"),
        ]
    }
    return catalogue_mod.Catalogue(base.version, {**base.checks, **extra}, base.frameworks, base.profiles, base.extras)


def res(check_id: str, status: Status, severity: Severity, *, source: str = "scan", host: str | None = None) -> Result:
    return Result(check_id, 1, "museum.test", status, severity, "m", subject=Subject("museum.test", host=host), source=source)


MX = ProbeOutcome(
    "dns.mx",
    "museum.test",
    MxFact(DnsAnswer("museum.test", "MX", "NOERROR"), (MxHost(0, "museum-test.mail.protection.outlook.com"),)),
)
NS = ProbeOutcome(
    "dns.ns", "museum.test", {"names": ["ns0.transip.net", "ns1.transip.nl."], "servers": []}
)  # a stored, untyped fact
WEB = ProbeOutcome(
    "hosts.inventory",
    "museum.test",
    HostInventory("museum.test", (
        Host("www.museum.test", ("www",), ("192.0.2.1",), ("museum.wixdns.net",)),
        Host("mx.museum.test", ("mx",), ("192.0.2.2",), ("site.github.io",)),  # not a web host role
    )),
)  # fmt: skip


def test_suppliers_are_recognised_from_mx_ns_and_web_cnames(cat: Catalogue) -> None:
    found = {(s.role, s.id): s.hosts for s in recognise_suppliers(cat, [MX, NS, WEB])}
    assert found == {
        ("mail", "microsoft365"): ("museum-test.mail.protection.outlook.com",),
        ("dns", "transip"): ("ns0.transip.net", "ns1.transip.nl"),
        ("web", "wix"): ("museum.wixdns.net",),
    }
    assert recognise_suppliers(cat, [MX, NS, WEB], target="other.test") == []
    assert recognise_suppliers(cat, [ProbeOutcome("dns.mx", "museum.test", None, None)]) == []


def test_which_supplier_holds_which_setting(cat: Catalogue) -> None:
    assert supplier_roles_for(cat, "mail.dmarc.policy") == ("dns",)
    assert supplier_roles_for(cat, "mail.dkim") == ("mail", "dns")
    assert supplier_roles_for(cat, "mail.starttls") == ("mail",)
    assert supplier_roles_for(cat, "web.hsts") == ("web",)
    assert supplier_roles_for(cat, "net.exposed.rdp") == ()


def test_actions_are_ordered_by_risk_to_the_organisation(cat: Catalogue) -> None:
    results = [
        res("web.hsts", Status.FAIL, Severity.HIGH, host="www.museum.test"),
        res("web.hsts", Status.FAIL, Severity.HIGH, host="museum.test"),
        res("mail.dmarc.policy", Status.FAIL, Severity.HIGH),
        res("mail.dkim", Status.WARN, Severity.MEDIUM),
        res("net.exposed.rdp", Status.FAIL, Severity.CRITICAL),
        res("dns.ipv6", Status.FAIL, Severity.INFO),  # info never becomes an action
        res("mail.spf", Status.ERROR, Severity.HIGH),  # an error is not a finding
        res("q.backup.offline", Status.FAIL, Severity.CRITICAL, source="self-reported"),
        res("q.ir.plan", Status.WARN, Severity.HIGH, source="self-reported"),
        res("q.gov.budget", Status.PASS, Severity.LOW, source="self-reported"),
    ]
    actions = prioritise(cat, results, outcomes=[MX, NS, WEB], limit=None)
    assert [(a.id, a.reason) for a in actions] == [
        ("net.exposed.rdp", "exposed"),  # open to the internet without a login: first
        ("q.backup.offline", "backup"),  # no copy out of reach of ransomware
        ("mail.dmarc.policy", "spoofing"),
        ("mail.dkim", "spoofing"),  # a warning weighs less than a failure of the same kind ...
        ("web.hsts", "encryption"),  # ... but still more than a failed HSTS header
        ("q.ir.plan", "preparedness"),
    ]
    assert actions[0].weight > actions[1].weight > actions[2].weight > actions[3].weight
    assert "internet" in actions[0].reason_text["nl"]
    hsts = actions[4]
    assert hsts.hosts == ("www.museum.test", "museum.test") and len(hsts.keys) == 2
    assert [s.name for s in hsts.suppliers] == ["Wix"]
    dmarc = actions[2]
    assert [s.id for s in dmarc.suppliers] == ["transip"]
    assert "TransIP" in dmarc.supplier_advice("nl")[0] and "DNS" in dmarc.supplier_advice("nl")[0]
    dkim = actions[3]
    assert [s.role for s in dkim.suppliers] == ["mail", "dns"]  # the mail provider first, then the DNS host
    backup = actions[1]
    assert backup.who == "volunteer" and backup.source == "self-reported"
    assert "immutable" in backup.remediation["en"]
    assert "den.check.backup" in backup.items and "cont.collection" in backup.continuity
    assert len(prioritise(cat, results, limit=3)) == 3


def _real(check_id: str, status: Status, message: str, host: str | None = None) -> Result:
    cat = catalogue_mod.builtin()
    return Result(check_id, 1, "museum.test", status, cat.checks[check_id].severity, message,
                  subject=Subject("museum.test", host=host))  # fmt: skip


def test_end_of_life_software_comes_before_dns_hygiene() -> None:
    """The demo's problem: five DNS items filled the list while the end-of-life CMS and PHP were left out."""
    cat = catalogue_mod.builtin()
    results = [
        _real("dns.dnssec", Status.FAIL, "not-signed"),
        _real("dns.caa", Status.FAIL, "missing"),
        _real("mail.dmarc.policy", Status.FAIL, "policy-too-weak"),
        _real("web.hsts", Status.FAIL, "missing", host="www.museum.test"),
        _real("web.headers.basic", Status.FAIL, "missing", host="www.museum.test"),
        _real("web.securitytxt", Status.FAIL, "expired", host="www.museum.test"),
        _real("web.cms.version", Status.FAIL, "end-of-life", host="www.museum.test"),
        _real("web.software.banner", Status.FAIL, "end-of-life", host="www.museum.test"),
        _real("web.software.banner", Status.WARN, "version-disclosed", host="shop.museum.test"),
    ]
    first = prioritise(cat, results, limit=5)
    assert [a.id for a in first[:2]] == ["web.cms.version", "web.software.banner"]
    assert first[0].reason == first[1].reason == "end-of-life"
    assert first[2].id == "mail.dmarc.policy"
    # the riskiest place leads: the end-of-life host before the one that only shows a version
    assert first[1].keys[0].endswith("|www.museum.test|||") and first[1].hosts[0] == "www.museum.test"
    # a visible version number alone is not urgent
    only_version = prioritise(cat, [_real("web.software.banner", Status.WARN, "version-disclosed", host="a.test"),
                                    _real("dns.dnssec", Status.FAIL, "not-signed")], limit=None)  # fmt: skip
    assert [a.id for a in only_version] == ["dns.dnssec", "web.software.banner"]


def test_the_order_comes_from_the_data_file() -> None:
    base = catalogue_mod.builtin()
    results = [_real("dns.dnssec", Status.FAIL, "not-signed"), _real("mail.dmarc.policy", Status.FAIL, "missing")]
    assert [a.id for a in prioritise(base, results)] == ["mail.dmarc.policy", "dns.dnssec"]
    data = dict(base.extras["priorities"])
    data["rules"] = [{"reason": "hygiene", "weight": 99, "match": ["dns.*"]}, *data["rules"]]
    changed = catalogue_mod.Catalogue(base.version, base.checks, base.frameworks, base.profiles,
                                      {**base.extras, "priorities": data})  # fmt: skip
    assert [a.id for a in prioritise(changed, results)] == ["dns.dnssec", "mail.dmarc.policy"]


def test_accepted_findings_are_not_actions(cat: Catalogue) -> None:
    from cyberscan.models import AcceptedRisk

    accepted = AcceptedRisk("web.hsts", "accepted", "old site", "director", "2099-01-01")
    results = [replace(res("web.hsts", Status.FAIL, Severity.HIGH, host="www.museum.test"), accepted=accepted),
               res("mail.dmarc.policy", Status.FAIL, Severity.HIGH)]  # fmt: skip
    assert [a.id for a in prioritise(cat, results)] == ["mail.dmarc.policy"]


def test_priorities_data_is_consistent() -> None:
    cat = catalogue_mod.builtin()
    data = cat.extras["priorities"]
    reasons = set(data["reasons"])
    assert data["default"]["reason"] in reasons
    for reason, texts in data["reasons"].items():
        assert texts["nl"].strip() and texts["en"].strip(), reason
    known = set(cat.checks) | {q["id"] for q in cat.extras["questions"]["questions"]}
    for rule in data["rules"]:
        assert rule["reason"] in reasons and 0 <= rule["weight"] <= 100
        for pattern in rule["match"]:
            assert any(fnmatch.fnmatchcase(i, pattern) for i in known), f"{pattern} matches no check or question"


def test_no_findings_no_actions(cat: Catalogue) -> None:
    assert prioritise(cat, [res("mail.dmarc.policy", Status.PASS, Severity.HIGH)]) == []


def test_actions_to_dict(cat: Catalogue) -> None:
    actions = prioritise(cat, [res("mail.dmarc.policy", Status.FAIL, Severity.HIGH)], outcomes=[NS])
    data: list[dict[str, Any]] = actions_to_dict(actions, "en")
    assert data[0]["id"] == "mail.dmarc.policy"
    assert data[0]["remediation"] == "do mail.dmarc.policy"
    assert data[0]["suppliers"][0]["name"] == "TransIP"
    both = actions_to_dict(actions)
    assert set(both[0]["title"]) == {"nl", "en"}
