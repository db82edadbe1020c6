"""Supplier messages: one per recognised supplier, only that supplier's findings, never the answers;
the --supplier option of `cyberscan report`; the pdf format's message without a browser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.cli import main
from cyberscan.demo import scan_demo
from cyberscan.errors import UsageError
from cyberscan.facts.dns import DnsAnswer, Host, HostInventory, MxFact, MxHost
from cyberscan.models import ProbeOutcome, Result, Scan, Status, Subject
from cyberscan.questionnaire import parse_answers
from cyberscan.render import Report, render
from cyberscan.render.pdf import ENV_BROWSER, print_to_pdf
from cyberscan.render.supplier import supplier_messages

from .reports import report_of

DOMAIN = "museum.test"
SECRET = "Johanna van den Berg 06-12345678"


def r(check_id: str, status: Status, message: str, host: str | None = None, **params: object) -> Result:
    check = catalogue_mod.builtin().checks[check_id]
    return Result(check_id, check.version, DOMAIN, status, check.severity, message, params=params,
                  subject=Subject(DOMAIN, host=host), maps_to=tuple(check.maps_to))  # fmt: skip


OUTCOMES = (
    ProbeOutcome("dns.mx", DOMAIN, MxFact(DnsAnswer(DOMAIN, "MX", "NOERROR"),
                                          (MxHost(0, "museum-test.mail.protection.outlook.com"),))),
    ProbeOutcome("dns.ns", DOMAIN, {"names": ["ns0.transip.net", "ns1.transip.nl."], "servers": []}),
    ProbeOutcome("hosts.inventory", DOMAIN, HostInventory(DOMAIN, (
        Host(f"www.{DOMAIN}", ("www",), ("192.0.2.1",), ("museum.wixdns.net",)),
        Host(f"shop.{DOMAIN}", ("extra",), ("192.0.2.9",), ()),
    ))),
)  # fmt: skip


def _scan() -> Scan:
    results = (
        r("mail.dmarc.policy", Status.FAIL, "policy-too-weak", policy="none"),
        r("web.hsts", Status.FAIL, "missing", host=f"www.{DOMAIN}"),
        r("web.hsts", Status.FAIL, "missing", host=f"shop.{DOMAIN}"),  # not behind Wix: not Wix's business
        r("mail.dkim", Status.WARN, "weak-key", selector="selector1", bits=1024),
        r("mail.spf", Status.PASS, "ok", record="v=spf1 -all"),  # fine: not in any message
    )
    return Scan("9.9", "1", "default", "2026-11-28T10:00:00+00:00", "2026-11-28T10:00:05+00:00", (DOMAIN,),
                results, OUTCOMES)  # fmt: skip


ANSWERS = f"""answers:
  q.backup.offline: 'no'
  q.contact.coordinator: {{name: "{SECRET}", phone: "06-12345678"}}
"""


@pytest.fixture(scope="module")
def messages() -> dict[str, str]:
    cat = catalogue_mod.builtin()
    report = report_of(_scan(), cat, "nl", answers=parse_answers(ANSWERS, cat))
    return {m.supplier: m.text for m in supplier_messages(report)}


def test_one_message_per_recognised_supplier(messages: dict[str, str]) -> None:
    assert set(messages) == {"microsoft365", "transip", "wix"}


def test_each_message_holds_only_that_suppliers_findings(messages: dict[str, str]) -> None:
    dns, web, mail = messages["transip"], messages["wix"], messages["microsoft365"]
    assert "DMARC staat op p=none" in dns and "HSTS" not in dns
    assert "Geen HSTS-header" in web and f"www.{DOMAIN}" in web and f"shop.{DOMAIN}" not in web
    assert "DMARC" not in web and "DMARC" not in mail
    assert "DKIM" in mail and "DKIM" in dns  # the key is made at the mail provider, published in DNS
    assert "v=spf1 -all" not in dns  # a pass is nothing to ask about
    for text in messages.values():
        assert text.startswith("Onderwerp: beveiliging van museum.test")
        assert "Ons verzoek:" in text and "Met vriendelijke groet," in text


def test_messages_never_carry_questionnaire_answers(messages: dict[str, str]) -> None:
    for text in messages.values():
        assert SECRET not in text and "06-12345678" not in text
        assert "back-up" not in text.lower() and "Uw antwoord" not in text


def test_english_messages() -> None:
    cat = catalogue_mod.builtin()
    texts = [m.text for m in supplier_messages(report_of(_scan(), cat, "en"))]
    assert texts and all(t.startswith("Subject: security of museum.test") and "Kind regards," in t for t in texts)


def test_report_supplier_option_writes_one_file_per_supplier(tmp_path: Path) -> None:
    """A real (demo) scan, its nameservers renamed to TransIP's: `report` judges the stored facts again."""
    reg = registry_mod.load()
    data = json.loads(render("json", Report(scan_demo(registry=reg), "nl"), reg))  # type: ignore[arg-type]
    ns = next(f for f in data["facts"] if f["probe"] == "dns.ns")
    ns["fact"]["names"] = ["ns0.transip.net", "ns1.transip.nl"]
    stored = tmp_path / "scan.json"
    stored.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "voor-leveranciers"
    result = CliRunner().invoke(main, ["report", str(stored), "--supplier", "-o", str(out), "--lang", "nl"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["cyberscan-museum-demo.test-transip.txt"]
    message = (out / "cyberscan-museum-demo.test-transip.txt").read_text(encoding="utf-8")
    assert "Beste TransIP," in message and "DMARC staat op p=none" in message and "DNSSEC" in message
    assert "HSTS" not in message  # a web setting: not the DNS host's
    assert "bericht voor TransIP" in result.output
    # a scan without recognised suppliers says so and writes nothing
    ns["fact"]["names"] = ["ns1.museum-demo.test"]
    stored.write_text(json.dumps(data), encoding="utf-8")
    empty = tmp_path / "leeg"
    result = CliRunner().invoke(main, ["report", str(stored), "--supplier", "-o", str(empty), "--lang", "en"])
    assert result.exit_code == 0 and "recognised no supplier" in result.output
    assert not empty.exists()


def test_pdf_without_a_browser_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_BROWSER, str(tmp_path / "no-such-chromium"))
    with pytest.raises(UsageError) as caught:
        print_to_pdf("<p>x</p>")
    assert "Chromium" in caught.value.message("nl") and "apt install chromium" in caught.value.message("nl")
    cat, reg = catalogue_mod.builtin(), registry_mod.load()
    stored = tmp_path / "scan.json"
    stored.write_text(render("json", report_of(_scan(), cat), reg), encoding="utf-8")  # type: ignore[arg-type]
    result = CliRunner().invoke(main, ["report", str(stored), "--format", "pdf", "-o", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2 and "Chromium" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.pdf").exists()
    assert isinstance(render("summary", Report(report_of(_scan(), cat).assessment, "nl"), reg), str)
