"""One assessment, four reports, the same numbers and words: counts that add up and agree in terminal,
HTML, Markdown and JSON; accepted risks; history markers; answers that do not repeat their question;
untrusted text that stays text; the same days left on a certificate when a scan is reported again."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.assessment import assess, reassess
from cyberscan.catalogue import Catalogue, text
from cyberscan.demo import demo_museum
from cyberscan.models import AcceptedRisk, ErrorReason, Result, Scan, Status, Subject
from cyberscan.questionnaire import parse_answers, questionnaire
from cyberscan.render import render
from cyberscan.render.view import build_view, neutralise, vocabulary
from cyberscan.serialize import scan_from_dict

from .reports import report_of
from .test_render import _parse

DOMAIN = "museum.test"
ESC = "\x1b[2J\x1b[31mrood\x1b[0m\x9b1m\u202etxt.exe\u2066"


def r(check_id: str, status: Status, message: str, host: str | None = None, **kw: Any) -> Result:
    cat = catalogue_mod.builtin()
    check = cat.checks[check_id]
    return Result(check_id, check.version, DOMAIN, status, check.severity, message,
                  subject=Subject(DOMAIN, host=host), maps_to=tuple(check.maps_to), **kw)  # fmt: skip


def _scan(results: list[Result]) -> Scan:
    return Scan("9.9", "1", "default", "2026-11-28T10:00:00+00:00", "2026-11-28T10:00:05+00:00", (DOMAIN,),
                tuple(results), ())  # fmt: skip


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return catalogue_mod.builtin()


@pytest.fixture(scope="module")
def registry() -> registry_mod.Registry:
    return registry_mod.load()


HSTS_KEY = f"web.hsts|{DOMAIN}|shop.{DOMAIN}|||"


@pytest.fixture(scope="module")
def mixed() -> Scan:
    """Several places per check, a check that both fails and passes, an error, a skip, an accepted finding."""
    return _scan([
        r("web.hsts", Status.FAIL, "missing", host=f"www.{DOMAIN}"),
        r("web.hsts", Status.FAIL, "missing", host=DOMAIN),
        r("web.hsts", Status.FAIL, "missing", host=f"shop.{DOMAIN}"),  # accepted below
        r("web.tls.cert.expiry", Status.WARN, "expires-soon", host=f"www.{DOMAIN}",
          params={"days": 20, "not_after": "2026-12-18"}),
        r("web.tls.cert.expiry", Status.PASS, "ok", host=f"mta-sts.{DOMAIN}", params={"days": 60, "not_after": "2027-01-27"}),
        r("dns.dnssec", Status.FAIL, "not-signed"),
        r("mail.dmarc.policy", Status.FAIL, "policy-too-weak", params={"policy": "none"}),
        r("mail.spf", Status.PASS, "ok", params={"record": "v=spf1 mx -all"}),
        r("dns.caa", Status.ERROR, "error.timeout", params={"detail": "5 s"}, error_reason=ErrorReason.TIMEOUT),
        r("net.exposed.rdp", Status.SKIPPED, "skipped.no-consent"),
        r("dns.ipv6", Status.INFO, "none", host=f"www.{DOMAIN}"),
    ])  # fmt: skip


ACCEPTED = (AcceptedRisk(HSTS_KEY, "accepted", "De webshop gaat in maart offline.", "J. de Vries (directeur)", "2027-03-31"),)


def _numbers(registry: registry_mod.Registry, scan: Scan, cat: Catalogue, lang: str) -> dict[str, dict[str, int]]:
    report = report_of(scan, cat, lang, accepted=ACCEPTED)
    words = vocabulary(lang)
    by_word = {w: s for s, w in words.items() if ":" not in s}
    out: dict[str, dict[str, int]] = {}

    terminal = render("terminal", report, registry)
    line = next(x for x in terminal.splitlines() if x.startswith(("Bevindingen:", "Findings:")))
    out["terminal"] = {by_word[m.group(1).strip()]: int(m.group(2)) for m in re.finditer(r"([^:·=]+?) (\d+)(?= ·| =)", line.split(":", 1)[1])}
    out["terminal-total"] = {"total": int(re.search(r"= (\d+)", line).group(1))}  # type: ignore[union-attr]
    listed = {}
    for x in terminal.split("\n\n"):
        head = re.match(r"(.+?)\s{2,}(\d+)$", x.splitlines()[0]) if x.strip() else None
        if head and head.group(1).strip() in by_word:
            listed[by_word[head.group(1).strip()]] = int(head.group(2))
    out["terminal-lists"] = listed

    markdown = render("markdown", report, registry)
    line = next(x for x in markdown.splitlines() if x.startswith(("**Bevindingen**", "**Findings**")))
    out["markdown"] = {by_word[m.group(1).strip()]: int(m.group(2)) for m in re.finditer(r"([^:·=*]+?) (\d+)(?= ·| =)", line.split(":", 1)[1])}
    out["markdown-lists"] = {by_word[m.group(1)]: int(m.group(2)) for m in re.finditer(r"^### (.+?) \((\d+)\)$", markdown, re.M)}

    html = render("html", report, registry)
    out["html-glance"] = {s: int(n) for s, n in re.findall(r'<li class="s-[a-z]+" data-status="([a-z]+)" data-count="(\d+)">', html)}
    out["html-table"] = {s: int(n) for s, n in re.findall(
        r'<tr data-status="([a-z]+)"><th scope="row" class="s-[a-z]+">.*?</th><td class="num">(\d+)</td>', html)}  # fmt: skip
    out["html-lists"] = {s: int(n) for s, n in re.findall(r'class="status-list" id="list-[a-z]+" aria-labelledby="[^"]+" data-status="([a-z]+)" data-count="(\d+)"', html)}
    data = json.loads(render("json", report, registry))
    out["json"] = data["summary"]["counts"]
    out["json-total"] = {"total": data["summary"]["findings"]}
    per_item: dict[str, int] = {}
    for item in data["summary"]["items"]:
        for s, n in item["counts"].items():
            per_item[s] = per_item.get(s, 0) + n
    for s, n in data["summary"]["other"].items():
        per_item[s] = per_item.get(s, 0) + n
    out["json-items"] = per_item
    return out


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_counts_agree_in_terminal_html_markdown_and_json(
    registry: registry_mod.Registry, mixed: Scan, cat: Catalogue, lang: str
) -> None:
    numbers = _numbers(registry, mixed, cat, lang)
    expected = {"fail": 4, "warn": 1, "error": 1, "accepted": 1, "skipped": 1, "info": 1, "pass": 2}
    for name in ("terminal", "terminal-lists", "markdown", "markdown-lists", "html-glance", "html-table",
                 "html-lists", "json", "json-items"):  # fmt: skip
        assert numbers[name] == expected, name
    assert numbers["terminal-total"]["total"] == numbers["json-total"]["total"] == sum(expected.values()) == 11


def test_a_check_in_several_places_says_where_and_counts_findings_not_hosts(
    registry: registry_mod.Registry, mixed: Scan, cat: Catalogue
) -> None:
    report = report_of(mixed, cat, "nl", accepted=ACCEPTED)
    view = build_view(report)
    fail = next(c for c in view.counts if c.status == "fail")
    assert (fail.count, fail.checks, fail.places) == (4, 3, 2)  # 4 findings of 3 checks in 2 places
    assert fail.checks_label == "3 controles" and fail.places_label == "op 2 plekken"
    # the certificate check both warns and passes: each list says for which host
    tree = _parse(render("html", report, registry))
    warn, ok = tree.within("list-warn"), tree.within("list-pass")
    assert f"www.{DOMAIN}" in warn and f"mta-sts.{DOMAIN}" not in warn
    assert f"mta-sts.{DOMAIN}" in ok and f"www.{DOMAIN}" not in ok.split("Certificaat")[1].split("SPF")[0]
    md = render("markdown", report, registry)
    assert f"1× Certificaat van de website is niet bijna verlopen — mta-sts.{DOMAIN}" in md
    assert f"2× Website dwingt HTTPS af in de browser (HSTS) — {DOMAIN}, www.{DOMAIN}" in md


def test_accepted_risk_is_shown_with_date_reason_and_who_and_is_not_a_gap(
    registry: registry_mod.Registry, mixed: Scan, cat: Catalogue
) -> None:
    report = report_of(mixed, cat, "nl", accepted=ACCEPTED)
    tree = _parse(render("html", report, registry))
    shown = tree.within("accepted")
    assert "Geaccepteerd tot 2027-03-31" in shown and "J. de Vries (directeur)" in shown
    assert "De webshop gaat in maart offline." in shown and f"shop.{DOMAIN}" in shown
    assert all(f"shop.{DOMAIN}" not in k for a in report.assessment.actions for k in a.keys)
    english = render("terminal", report_of(mixed, cat, "en", accepted=ACCEPTED), registry)
    assert "Accepted until 2027-03-31" in english
    # without the acceptance the same finding is a failure again
    plain = build_view(report_of(mixed, cat, "nl"))
    assert plain.count_map["fail"] == 5 and "accepted" not in plain.count_map


def test_every_status_word_comes_from_one_vocabulary(registry: registry_mod.Registry, mixed: Scan, cat: Catalogue) -> None:
    words = set(vocabulary("nl").values())
    html = render("html", report_of(mixed, cat, "nl", accepted=ACCEPTED), registry)
    badges = [b.strip() for b in re.findall(
        r'<span class="badge [sr]-[a-z-]+">(?:<span aria-hidden="true">[^<]*</span>)?([^<]*)</span>', html)]  # fmt: skip
    badges = [b for b in badges if not b.startswith(("Geaccepteerd tot", "Niet van toepassing tot"))]
    assert badges and set(badges) <= words, set(badges) - words
    terminal = render("terminal", report_of(mixed, cat, "nl", accepted=ACCEPTED), registry)
    heads = [x.split("  ")[0] for x in terminal.split("Alle bevindingen per uitkomst")[1].splitlines() if x and not x[0].isspace()]
    assert heads and set(heads) <= words


def test_the_readme_uses_the_same_status_words() -> None:
    readme = (catalogue_mod.data_root() / "README.md")
    if not readme.is_file():
        pytest.skip("no README next to the data (installed wheel)")
    content = readme.read_text(encoding="utf-8")
    for lang in ("nl", "en"):
        for word in vocabulary(lang).values():
            assert word in content, f"README does not use the status word {word!r}"


# ------------------------------------------------------------------------------- history


@dataclass
class Since:
    previous: str
    fixed: int
    new: int
    worse: int
    better: int
    markers: dict[str, str] = field(default_factory=dict)


def test_since_the_last_scan_and_the_trend_from_history_objects(
    registry: registry_mod.Registry, mixed: Scan, cat: Catalogue
) -> None:
    dmarc = next(x for x in mixed.results if x.check_id == "mail.dmarc.policy").key
    gone = f"web.headers.basic|{DOMAIN}|www.{DOMAIN}|||"
    since = Since("2026-08-28", fixed=1, new=1, worse=0, better=2, markers={dmarc: "nieuw", gone: "opgelost"})
    trend = [("2026-02-27", 0.1, {"den.check.4": 0.2}), ("2026-05-29", None, {}),
             {"date": "2026-08-28", "score": 0.3, "items": {"den.check.4": 0.5}}]  # fmt: skip
    report = report_of(mixed, cat, "nl", extra={"since": since, "trend": trend})
    html = render("html", report, registry)
    tree = _parse(html)
    glance = tree.within("glance")
    assert "Sinds de vorige scan: 1 opgelost · 1 nieuw · 0 slechter · 2 beter" in glance
    section = tree.within("since")
    assert "Vergeleken met de scan van 2026-08-28." in section
    assert "opgelost Website stuurt de basis-beveiligingsheaders mee" in section and f"www.{DOMAIN}" in section
    card = next(a["id"] for t, a, _ in tree.elements if t == "article" and "DMARC" in tree.within(str(a["id"])))
    assert "nieuw" in tree.within(str(card))
    # the trend chart: inline SVG, a line through the known scores, the unknown one left out
    svg = html.split('<svg class="trend-chart"', 1)[1].split("</svg>", 1)[0]
    assert svg.count("<circle") == 3 and len(re.search(r'points="([^"]+)"', svg).group(1).split()) == 2  # type: ignore[union-attr]
    assert "2026-02-27" in svg and "2026-08-28" in svg
    assert "Sinds de vorige scan: 1 opgelost" in render("terminal", report, registry)
    assert "Sinds de vorige scan" in render("markdown", report, registry)
    # without history: no such section
    plain = _parse(render("html", report_of(mixed, cat, "nl"), registry))
    assert "Sinds de vorige scan" not in plain.all_text and not plain.tags("svg")[-1].get("class", "").startswith("trend")


# ------------------------------------------------------------------------------- answers


def test_an_answer_does_not_repeat_its_question(registry: registry_mod.Registry, cat: Catalogue) -> None:
    question = questionnaire(cat).get("q.backup.offline")
    assert question is not None
    answers = parse_answers("answers:\n  q.backup.offline: 'no'\n", cat)
    report = report_of(_scan([]), cat, "nl", answers=answers)
    view = build_view(report)
    finding = next(f for f in view.findings if f.check_id == "q.backup.offline")
    asked = text(question.text, "nl")
    assert finding.headline == asked and asked not in finding.message
    assert finding.message.startswith("Uw antwoord: ")
    html = render("html", report, registry)
    assert html.count(asked) <= 3  # headline, first action, listing: never inside "what we saw" too


# ------------------------------------------------------------------------------- untrusted text


def test_control_characters_are_neutralised_in_terminal_markdown_and_html(
    registry: registry_mod.Registry, cat: Catalogue
) -> None:
    hostile = _scan([
        r("mail.spf", Status.FAIL, "invalid", params={"errors": ESC, "record": ESC}, evidence={"record": ESC, ESC: "x"}),
        r("web.hsts", Status.FAIL, "missing", host="www.museum.test", evidence={"header": "a\x07b\x00c\x7f\x85"}),
    ])  # fmt: skip
    report = report_of(hostile, cat, "nl", extra={"color": True})
    for fmt in ("terminal", "markdown", "html"):
        out = render(fmt, report, registry)
        control = [c for c in out if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 or c in "\u202e\u2066"]
        if fmt == "terminal":  # only our own colour codes: ESC followed by a style, never [2J
            assert "\x1b[2J" not in out and "\x9b" not in out
            out = re.sub(r"\x1b\[[0-9;]*m", "", out)
            control = [c for c in out if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 or c in "\u202e\u2066"]
        assert not control, (fmt, control[:5])
        assert ("␛[2J" in out or "␛\\[2J" in out) and "<U+202E>" in out.replace("\\<", "<").replace("\\>", ">").replace("&lt;", "<").replace("&gt;", ">")
    assert neutralise("ok\n", keep="\n") == "ok\n" and neutralise("a\tb") == "a␉b"


# ------------------------------------------------------------------------------- certificate days


def test_days_left_are_the_same_when_the_scan_is_reported_again(registry: registry_mod.Registry, cat: Catalogue) -> None:
    # a scan that starts late in a second: judged at that instant, a stored scan (seconds) gave one day more
    now = datetime.now(UTC).replace(microsecond=999_999)
    base = catalogue_mod.profile(cat, "default")
    with demo_museum(now=now) as setup:
        first = assess([setup.domain], profile=setup.profile(base), options=setup.options, catalogue=cat,
                       registry=registry, now=now)  # fmt: skip
    stored = scan_from_dict(json.loads(render("json", report_of(first.scan, cat), registry)), registry)
    again = reassess(stored, profile=setup.profile(base), catalogue=cat, registry=registry)

    def days(results: tuple[Result, ...]) -> dict[str, Any]:
        return {x.key: x.params.get("days") for x in results if x.check_id == "web.tls.cert.expiry"}

    assert days(first.results) and days(first.results) == days(again.results)
    html_first = render("html", report_of(first.scan, cat), registry)
    html_again = render("html", report_of(again.scan, cat), registry)
    pattern = re.compile(r"verloopt over (\d+) dagen")
    assert pattern.findall(html_first) == pattern.findall(html_again) != []
