"""`cyberscan demo`: a complete scan of the fictional museum on loopback, with no internet and no root."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cyberscan import catalogue as catalogue_mod
from cyberscan.cli import main
from cyberscan.demo import DOMAIN

# What the demo museum is built to show, per check id, once the check exists in the catalogue.
# "bad": at least one result must be a fail or warning; "good": no result may be a fail.
BAD = {
    "mail.dmarc.policy",  # p=none
    "dns.dnssec",  # not signed
    "dns.caa",  # missing
    "dns.dangling",  # expo2019 points at a name that is gone
    "mail.mta_sts",  # mode: testing
    "web.hsts",  # no HSTS header
    "web.software.banner",  # nginx/1.18.0, PHP/7.4.33
    "web.tls.cert.expiry",  # website certificate expires in three weeks
    "web.securitytxt",  # expired
}
GOOD = {
    "mail.mx",
    "mail.spf",  # ~all is fine
    "mail.dmarc.rua",
    "mail.dkim",
    "mail.tlsrpt",
    "dns.axfr",
    "dns.ns",
    "web.https.available",
    "web.https.redirect",
    "web.tls.version",
    "web.tls.cert.valid",
    "mail.starttls",
}


class _Lang(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], dict[str, Any], str]:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--output", str(out)])
    assert result.exit_code == 0, result.output
    paths = [Path(line.split(": ", 1)[1]) for line in result.output.splitlines() if line.startswith("rapport: ")]
    data = json.loads(next(p for p in paths if p.suffix == ".json").read_text(encoding="utf-8"))
    html = next(p for p in paths if p.suffix == ".html").read_text(encoding="utf-8")
    return paths, data, html


def test_demo_prints_the_reports_it_wrote(demo: tuple[list[Path], dict[str, Any], str]) -> None:
    paths, _, _ = demo
    assert sorted(p.suffix for p in paths) == [".html", ".json", ".md"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)


def test_demo_json_has_a_result_for_every_selected_check(demo: tuple[list[Path], dict[str, Any], str]) -> None:
    _, data, _ = demo
    cat = catalogue_mod.builtin()
    selected = cat.select(catalogue_mod.profile(cat, "default"))
    by_id: dict[str, list[dict[str, Any]]] = {}
    for r in data["results"]:
        by_id.setdefault(r["check_id"], []).append(r)
    assert data["targets"] == [DOMAIN]
    for check in selected:
        assert check.id in by_id, f"no result for {check.id}"
        for r in by_id[check.id]:
            assert r["maps_to"] == list(check.maps_to), check.id
            assert r["target"] == DOMAIN


def test_demo_is_complete_without_errors(demo: tuple[list[Path], dict[str, Any], str]) -> None:
    """Every server the demo needs runs on loopback, so nothing may be left unjudged."""
    _, data, _ = demo
    errors = [(r["check_id"], r.get("host"), r["message"], r["params"]) for r in data["results"] if r["status"] == "error"]
    assert not errors, f"the demo museum lacks something these checks need (or a probe ignores its port setting): {errors}"


def test_demo_shows_its_mix_of_good_and_bad_settings(demo: tuple[list[Path], dict[str, Any], str]) -> None:
    _, data, _ = demo
    statuses: dict[str, set[str]] = {}
    for r in data["results"]:
        statuses.setdefault(r["check_id"], set()).add(r["status"])
    for check_id in BAD & set(statuses):
        assert statuses[check_id] & {"fail", "warn"}, f"{check_id} should find a problem: {statuses[check_id]}"
    for check_id in GOOD & set(statuses):
        assert "fail" not in statuses[check_id], f"{check_id} should not fail: {statuses[check_id]}"


def test_demo_probes_only_loopback(demo: tuple[list[Path], dict[str, Any], str]) -> None:
    _, data, _ = demo
    assert all(addr.startswith("127.") for addr in data["addresses_probed"])


def test_demo_html_is_dutch(demo: tuple[list[Path], dict[str, Any], str]) -> None:
    _, _, html = demo
    parser = _Lang()
    parser.feed(html)
    text = " ".join(parser.text)
    assert parser.lang == "nl"
    assert f"Cyberscan-rapport: {DOMAIN}" in text
    assert "Bevindingen per punt van de DEN-checklist" in text and "Samenvatting" in text
    assert "Dit is een demonstratie." in text


def test_demo_in_english(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--lang", "en", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    html = (tmp_path / f"cyberscan-{DOMAIN}.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "Findings by DEN checklist item" in html


def test_demo_html_has_the_per_server_encryption_table(demo: tuple[list[Path], dict[str, Any], str]) -> None:
    _, _, html = demo  # render/tables.host_table
    assert "Versleuteling per server" in html
    rows = re.findall(r'<th scope="row"[^>]*>(?:<span[^>]*>)?([^<]+)', html)
    assert "mail.museum-demo.test" in rows and "www.museum-demo.test" in rows
