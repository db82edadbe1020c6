"""The prioritised action list and supplier recognition (MX -> mail provider, NS -> DNS host, CNAME -> web host)."""

from __future__ import annotations

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


def test_actions_are_ordered_by_risk_then_effort(cat: Catalogue) -> None:
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
    assert [a.id for a in actions] == [
        "q.backup.offline",  # critical, low effort
        "net.exposed.rdp",  # critical, medium effort
        "mail.dmarc.policy",  # high, low effort
        "web.hsts",  # high, high effort
        "q.ir.plan",  # high but only partly: one step lower
        "mail.dkim",  # medium warning
    ]
    hsts = actions[3]
    assert hsts.hosts == ("www.museum.test", "museum.test")
    assert [s.name for s in hsts.suppliers] == ["Wix"]
    dmarc = actions[2]
    assert [s.id for s in dmarc.suppliers] == ["transip"]
    assert "TransIP" in dmarc.supplier_advice("nl")[0] and "DNS" in dmarc.supplier_advice("nl")[0]
    dkim = actions[5]
    assert [s.role for s in dkim.suppliers] == ["mail", "dns"]  # the mail provider first, then the DNS host
    backup = actions[0]
    assert backup.who == "volunteer" and backup.source == "self-reported"
    assert "immutable" in backup.remediation["en"]
    assert "den.check.backup" in backup.items and "cont.collection" in backup.continuity
    assert len(prioritise(cat, results, limit=3)) == 3


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
