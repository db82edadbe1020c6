"""Renderers: structure of the HTML report (parsed), escaping of hostile evidence, Markdown and terminal."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.catalogue import Catalogue, Check, text
from cyberscan.models import ErrorReason, Notice, Result, Scan, Severity, Status, Subject
from cyberscan.render import Report, render
from cyberscan.render import view as view_mod
from cyberscan.render.html import md_escape
from cyberscan.render.view import Section, build_view, evidence_rows, first_sentence

from .reports import report_of

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
DOMAIN = "museum.test"


def _check(check_id: str, maps_to: dict[str, str], severity: str = "high") -> Check:
    return Check(
        id=check_id,
        version=1,
        severity=Severity(severity),
        evaluator="dns.ipv6",
        needs=("hosts.inventory",),
        title={"nl": f"Titel {check_id} in orde", "en": f"Title {check_id} in order"},
        risk={"nl": f"Risico voor het museum ({check_id}).", "en": f"Risk to the museum ({check_id})."},
        remediation={
            "nl": f"Vraag de hoster om {check_id} aan te passen. Daarna opnieuw scannen.",
            "en": f"Ask the host to change {check_id}. Then scan again.",
        },
        messages={
            "bad": {"nl": "Gezien: {value}.", "en": "Seen: {value}."},
            "good": {"nl": "Alles goed.", "en": "All good."},
        },
        maps_to=maps_to,
        continuity=("cont.public",),
        references=("https://www.rfc-editor.org/rfc/rfc9116", "javascript:alert(1)"),
        who="supplier",
        effort="medium",
    )


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    base = catalogue_mod.builtin()
    extra = {
        "test.settings": _check("test.settings", {"den.check.4": "direct", "ir.prepare.comms": "partial"}),
        "test.updates": _check("test.updates", {"den.check.5": "direct"}, severity="medium"),
        "test.reports": _check("test.reports", {"den.check.4": "indicator"}, severity="low"),
        "test.unmapped": _check("test.unmapped", {}, severity="info"),
    }
    return replace(base, checks={**base.checks, **extra})


def _result(check_id: str, status: Status, message: str, **kw: Any) -> Result:
    maps = {
        "test.settings": ("den.check.4", "ir.prepare.comms"),
        "test.updates": ("den.check.5",),
        "test.reports": ("den.check.4",),
        "test.unmapped": (),
    }[check_id]
    severity = {"test.settings": Severity.HIGH, "test.updates": Severity.MEDIUM}.get(check_id, Severity.LOW)
    return Result(check_id, 1, DOMAIN, status, severity, message, maps_to=maps, **kw)


@pytest.fixture(scope="module")
def scan() -> Scan:
    results = [
        _result("test.updates", Status.PASS, "good"),
        _result(
            "test.settings",
            Status.FAIL,
            "bad",
            params={"value": HOSTILE},
            evidence={"header": HOSTILE, "nested": {"list": [1, HOSTILE]}},
            subject=Subject(DOMAIN, host="www.museum.test"),
        ),
        _result("test.settings", Status.WARN, "bad", params={"value": "oud"}, subject=Subject(DOMAIN, host="shop.museum.test")),
        _result("test.reports", Status.ERROR, "error.timeout", params={"detail": "5 s"}, error_reason=ErrorReason.TIMEOUT),
        _result("test.unmapped", Status.INFO, "good"),
    ]
    return Scan(
        tool_version="9.9",
        catalogue_version="2026.1",
        profile="default",
        started="2026-11-28T10:00:00+00:00",
        finished="2026-11-28T10:00:02+00:00",
        targets=[DOMAIN],
        results=results,
        outcomes=[],
        notices=[Notice("scope.private-address", {"address": "10.0.0.5", "names": ["intranet.museum.test", HOSTILE]})],
        addresses_probed={"192.0.2.10": ["museum.test", "www.museum.test"]},
    )


@pytest.fixture(scope="module")
def registry() -> registry_mod.Registry:
    return registry_mod.load()


# ------------------------------------------------------------------------------- HTML structure


class Tree(HTMLParser):
    """Records elements (tag, attrs, enclosing section ids) and the text of the document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], tuple[str, ...]]] = []
        self.text: list[str] = []
        self._stack: list[tuple[str, str | None]] = []
        self.section_text: dict[str, list[str]] = {}
        self.headings: list[tuple[str, str]] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        sections = tuple(i for t, i in self._stack if t in ("section", "article") and i)
        self.elements.append((tag, a, sections))
        if tag not in ("meta", "br", "img", "link", "input"):
            self._stack.append((tag, a.get("id")))
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            top, _ = self._stack.pop()
            if top == tag:
                break
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append((tag, " ".join("".join(self._heading).split())))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)
        for _, ident in self._stack:
            if ident:
                self.section_text.setdefault(ident, []).append(data)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [a for t, a, _ in self.elements if t == name]

    def within(self, ident: str) -> str:
        return " ".join(" ".join(self.section_text.get(ident, [])).split())

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def _parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    return tree


@pytest.fixture(scope="module")
def html_nl(scan: Scan, catalogue: Catalogue, registry: registry_mod.Registry) -> str:
    return render("html", report_of(scan, catalogue, "nl"), registry)


def test_html_is_dutch_by_default_and_english_on_request(
    scan: Scan, catalogue: Catalogue, registry: registry_mod.Registry, html_nl: str
) -> None:
    nl = _parse(html_nl)
    assert nl.tags("html")[0]["lang"] == "nl"
    assert "Wat te doen" in nl.all_text and "Waarom dit belangrijk is" in nl.all_text
    en = _parse(render("html", report_of(scan, catalogue, "en"), registry))
    assert en.tags("html")[0]["lang"] == "en"
    assert "What to do" in en.all_text and "Wat te doen" not in en.all_text


def test_html_escapes_hostile_evidence(html_nl: str) -> None:
    assert "<script" not in html_nl.lower()
    assert "<img" not in html_nl.lower()
    tree = _parse(html_nl)
    assert not tree.tags("script") and not tree.tags("img")
    # the text survives, visibly, as text
    assert HOSTILE in tree.all_text


def test_html_is_self_contained(html_nl: str) -> None:
    tree = _parse(html_nl)
    hrefs = [a.get("href") or "" for a in tree.tags("a")]
    assert all(h.startswith(("#", "https://", "http://")) for h in hrefs), hrefs
    assert "javascript:alert(1)" in tree.all_text  # shown, not linked
    for tag in ("script", "link", "img", "iframe", "object", "embed"):
        assert not tree.tags(tag), tag
    assert not any("src" in attrs for _, attrs, _ in tree.elements)
    assert len(tree.tags("style")) == 1
    assert "@media print" in html_nl
    assert "url(" not in html_nl and "@import" not in html_nl


def test_html_is_accessible(html_nl: str) -> None:
    tree = _parse(html_nl)
    assert [h for h in tree.headings if h[0] == "h1"] and len(tree.tags("h1")) == 1
    assert tree.tags("main") and tree.tags("nav")
    for th in tree.tags("th"):
        assert th.get("scope") in ("col", "row"), th
    # status is never shown by colour alone: every badge carries a word
    badge_texts = re.findall(r'<span class="badge[^"]*">(.*?)</span>\s*(?:</|[^<])', html_nl, re.S)
    assert badge_texts and all(re.sub(r"<[^>]+>", "", b).strip() for b in badge_texts)
    ids = [a["id"] for _, a, _ in tree.elements if a.get("id")]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for a in tree.tags("a"):
        href = a.get("href") or ""
        if href.startswith("#"):
            assert href[1:] in ids, href


def test_html_groups_findings_by_den_item_with_scores(html_nl: str, catalogue: Catalogue) -> None:
    tree = _parse(html_nl)
    item4 = tree.within("item-den-check-4")
    item5 = tree.within("item-den-check-5")
    # the fail (direct) makes item 4 a gap with score 0%; the pass makes item 5 ok from outside (50%)
    assert "Titel test.settings in orde" in item4 and "Verbeterpunt" in item4 and "0%" in item4
    assert "Titel test.updates in orde" in item5 and "Van buitenaf in orde" in item5 and "50%" in item5
    assert "Titel test.settings" not in item5
    # item titles come from the framework file
    title4 = text(catalogue.item("den.check.4").title, "nl")  # type: ignore[union-attr]
    assert any(title4 in h for _, h in tree.headings)
    # the unmapped check has its own group
    assert "Titel test.unmapped in orde" in tree.within("other")
    # an item without evidence says so
    assert "Geen enkele controle" in tree.within("item-den-check-6")


def test_html_finding_explains_what_why_and_what_to_do(html_nl: str) -> None:
    tree = _parse(html_nl)
    card = next(a["id"] for t, a, s in tree.elements if t == "article" and "s-fail" in (a.get("class") or ""))
    body = tree.within(str(card))
    # the headline says what was observed; the check's title (its compliant state) is only its name
    headline = tree.within(f"{card}-title")
    assert headline == "Gezien: " + HOSTILE + "."
    assert "Titel test.settings in orde" not in headline and "Controle: Titel test.settings in orde" in body
    assert "Risico voor het museum (test.settings)." in body
    assert "Vraag de hoster om test.settings aan te passen." in body
    assert "www.museum.test" in body
    # framework items with titles, from two frameworks, and the continuity area
    assert "4." in body and "Checklist incidentrespons" in body
    assert "uw leverancier of hoster" in body


def test_html_one_card_per_check_with_every_host(html_nl: str) -> None:
    tree = _parse(html_nl)
    articles = [a for t, a, _ in tree.elements if t == "article"]
    fails = [a for a in articles if "s-fail" in (a.get("class") or "")]
    assert len(fails) == 1 and not [a for a in articles if "s-warn" in (a.get("class") or "")]
    body = tree.within(str(fails[0]["id"]))
    # each place with its own status word: the warning on shop is not hidden under the failure
    assert "Niet in orde www.museum.test : Gezien: " in body and "Let op shop.museum.test : Gezien: oud." in body
    assert body.count("Risico voor het museum (test.settings).") == 1


def test_html_error_is_shown_as_not_assessed_never_as_fail(html_nl: str) -> None:
    tree = _parse(html_nl)
    errors = [a for t, a, _ in tree.elements if t == "article" and "s-error" in (a.get("class") or "")]
    assert len(errors) == 1
    body = tree.within(str(errors[0]["id"]))
    assert "Niet beoordeeld" in body and "Geen antwoord binnen de tijdslimiet (5 s)" in body
    assert "Risico voor het museum" not in body  # no advice on something we could not judge
    assert "1 van de 5 uitkomsten (20%) konden niet worden beoordeeld" in tree.within("summary")


def test_html_notices_follow_the_first_screen_and_addresses_are_listed(html_nl: str) -> None:
    tree = _parse(html_nl)
    order = [a.get("id") for t, a, _ in tree.elements if t == "section"]
    assert order[0] == "glance" and order[1] is None  # the notices block comes right after the first screen
    text_ = tree.all_text
    assert text_.index("Paraatheidsscore") < text_.index("10.0.0.5 (intranet.museum.test, " + HOSTILE) < text_.index("Samenvatting")
    assert "192.0.2.10" in tree.within("addresses") and "www.museum.test" in tree.within("addresses")


def test_html_notes_items_whose_source_was_not_fully_read(html_nl: str, catalogue: Catalogue) -> None:
    unread = [i for i in catalogue.items() if i.confidence != "read" and i.framework == "den-checklist"]
    if not unread:
        pytest.skip("every DEN checklist item was read")
    assert text(unread[0].title, "nl") in _parse(html_nl).within("sources")


def test_html_marks_provisional_items_and_shows_editor_notes(html_nl: str, catalogue: Catalogue) -> None:
    tree = _parse(html_nl)
    den = catalogue.frameworks["den-checklist"].items
    provisional = [i for i in den if i.provisional]
    noted = [i for i in den if i.note]
    if not provisional and not noted:
        pytest.skip("no provisional or annotated DEN items")
    for item in provisional:
        assert "voorlopig" in tree.within("item-" + item.id.replace(".", "-"))
    for item in noted:
        assert text(item.note, "nl") in tree.within("sources")
    assert "Dit is een demonstratie" not in tree.all_text  # only the demo says so


def test_html_includes_sections_from_helpers(scan: Scan, catalogue: Catalogue, registry: registry_mod.Registry) -> None:
    def provider(report: Report) -> list[Section]:
        return [Section("Gegevens per server", ("Host", "Protocol"), (("www.museum.test", HOSTILE),), "Uitleg")]

    html = render("html", report_of(scan, catalogue, "nl", extra={"sections": (provider,)}), registry)
    tree = _parse(html)
    assert "Gegevens per server" in [h for _, h in tree.headings]
    assert "www.museum.test " + HOSTILE in tree.within("section-1")
    assert "<script" not in html


# ------------------------------------------------------------------------------- Markdown and terminal


def test_markdown_summary(scan: Scan, catalogue: Catalogue, registry: registry_mod.Registry) -> None:
    md = render("markdown", report_of(scan, catalogue, "nl"), registry)
    assert md.startswith("# Cyberscan-rapport: museum.test")
    assert not re.search(r"(?<!\\)<", md) and "\\<script\\>" in md
    assert "Wat te doen: Vraag de hoster om test.settings aan te passen." in md
    assert "Daarna opnieuw scannen" not in md  # compact: only the first sentence
    fail_at, pass_at = md.index("Titel test.settings"), md.index("Titel test.updates")
    assert fail_at < pass_at
    assert "\n\n\n" not in md


def test_terminal_worst_first_and_plain_unless_colour_asked(
    scan: Scan, catalogue: Catalogue, registry: registry_mod.Registry
) -> None:
    plain = render("terminal", report_of(scan, catalogue, "nl"), registry)
    assert "\x1b[" not in plain
    lines = plain.splitlines()
    assert lines[0] == "Cyberscan-rapport: museum.test"
    assert any(line.startswith("Paraatheidsscore: ") for line in lines[:4])
    listing = plain.split("Alle bevindingen per uitkomst", 1)[1]
    assert listing.index("Niet in orde") < listing.index("Let op") < listing.index("Niet beoordeeld") < listing.index("In orde")
    assert "→ Vraag de hoster om test.settings aan te passen." in plain
    assert plain.index("! 10.0.0.5") < plain.index("Eerst aanpakken")
    # the same status words as the HTML report: no second vocabulary
    for word in ("FOUT", "ONBEKEND", "OK "):
        assert word not in plain
    coloured = render("terminal", report_of(scan, catalogue, "nl", extra={"color": True}), registry)
    assert "\x1b[" in coloured
    english = render("terminal", report_of(scan, catalogue, "en"), registry)
    assert "Not in order" in english and "Niet in orde" not in english


def test_view_counts_and_overall_score(scan: Scan, catalogue: Catalogue) -> None:
    view = build_view(report_of(scan, catalogue, "en"))
    assert {c.status: c.count for c in view.counts} == {"fail": 1, "warn": 1, "error": 1, "info": 1, "pass": 1}
    assert sum(c.count for c in view.counts) == view.total == 5
    assert [f.status for f in view.findings][:3] == ["fail", "warn", "error"]
    den = view.readiness.framework("den-checklist")
    assert den is not None and view.overall == f"{round(den.score * 100)}%"  # type: ignore[operator]
    assert view.unassessed_count == 1
    # the status lists add up to the counts, entry by entry
    for sl in view.status_lists:
        assert sum(e.count for e in sl.entries) == sl.count == view.count_map[sl.status]
    # where the score comes from: cyberscan, not DEN
    assert "not by DEN" in view.score_source and "not by DEN" in view.score_short


# ------------------------------------------------------------------------------- helpers


def test_every_interface_string_has_both_languages() -> None:
    raw = view_mod._strings()
    for key, value in raw.items():
        assert set(value) >= {"nl", "en"} and all(value[lang].strip() for lang in ("nl", "en")), key


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Doe dit. Dan dat.", "Doe dit."),
        ("Geen punt", "Geen punt"),
        ("Vraag het!  Nu.", "Vraag het!"),
        ("versie 1.2 is oud. Meer", "versie 1.2 is oud."),
    ],
)
def test_first_sentence(value: str, expected: str) -> None:
    assert first_sentence(value) == expected


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=10), JSONISH, max_size=6))
def test_evidence_rows_never_raise(evidence: dict[str, Any]) -> None:
    rows = evidence_rows(evidence)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in rows)
    assert len(rows) <= 41


def test_evidence_is_a_readable_table_without_empty_rows_or_raw_json() -> None:
    t = view_mod.strings("nl")
    rows = dict(evidence_rows({
        "not_after": "2026-12-23", "found_at": None, "records": [], "errors": {}, "verify_message": "",
        "certificate": {"issuer": "CN=Demo CA", "subject": None, "key": "EC 256"},
        "attempts": [{"ns": "ns1.museum.test", "transferred": False, "error": None},
                     {"ns": "ns2.museum.test", "transferred": True}],
        "names": ["a.test", "b.test"], "weird_key": 3,
    }, t))  # fmt: skip
    assert rows["Geldig tot"] == "2026-12-23"  # translated key
    assert rows["Certificaat · Uitgegeven door"] == "CN=Demo CA" and rows["Certificaat · Sleutel"] == "EC 256"
    assert rows["Pogingen 1 · Naamserver"] == "ns1.museum.test" and rows["Pogingen 1 · Overgedragen"] == "nee"
    assert rows["Pogingen 2 · Overgedragen"] == "ja"
    assert rows["Namen"] == "a.test, b.test" and rows["Weird key"] == "3"
    assert not any(v in ("None", "null", "", "[]", "{}") for v in rows.values())
    assert not any(k.startswith(("Gevonden bij", "Records", "Fouten", "Verificatiemelding")) for k in rows)
    assert not any("{" in v for v in rows.values())


@given(st.text())
def test_md_escape_leaves_no_markup(value: str) -> None:
    out = md_escape(value)
    assert "\n" not in out
    assert not re.search(r"(?<!\\)[<>\[\]`]", out.replace("\\\\", ""))


def test_json_report_is_valid_json_with_results(scan: Scan, catalogue: Catalogue, registry: registry_mod.Registry) -> None:
    data = json.loads(render("json", report_of(scan, catalogue, "nl"), registry))
    assert data["lang"] == "nl" and len(data["results"]) == 5
    assert data["results"][1]["evidence"]["header"] == HOSTILE


def test_html_starts_with_prioritised_actions_linked_to_their_findings(html_nl: str) -> None:
    tree = _parse(html_nl)
    first = tree.within("glance").split("Eerst aanpakken", 1)[1]
    assert "Gezien: " + HOSTILE in first  # what was observed
    assert "Controle: Titel test.settings in orde" in first  # and which check
    assert "Vraag de hoster om test.settings aan te passen." in first
    card = next(a["id"] for t, a, _ in tree.elements if t == "article" and "s-fail" in (a.get("class") or ""))
    assert {"href": f"#{card}"} in tree.tags("a")


def test_self_reported_answers_show_the_question_and_its_advice(
    scan: Scan, catalogue: Catalogue, registry: registry_mod.Registry
) -> None:
    from cyberscan.questionnaire import questionnaire

    question = questionnaire(catalogue).get("q.gov.owner")
    if question is None:
        pytest.skip("questionnaire without q.gov.owner")
    answer = Result(
        "q.gov.owner", 1, DOMAIN, Status.FAIL, Severity.MEDIUM, "answer.given",
        params={"question_nl": text(question.text, "nl"), "question_en": text(question.text, "en"),
                "answer_nl": "niemand", "answer_en": "nobody"},
        maps_to=tuple(question.maps_to), source="self-reported",
    )  # fmt: skip
    with_answer = replace(scan, results=[*scan.results, answer])
    tree = _parse(render("html", report_of(with_answer, catalogue, "nl"), registry))
    group = tree.within("item-den-check-1")
    assert text(question.text, "nl") in group and "niemand" in group
    assert first_sentence(text(question.advice, "nl")) in group
    assert "door u ingevuld" in group


def test_html_says_which_continuity_area_a_gap_threatens(html_nl: str, catalogue: Catalogue) -> None:
    public = catalogue.item("cont.public")
    if public is None:
        pytest.skip("no continuity framework")
    view = build_view(report_of(_scan_for_view(), catalogue, "nl"))
    row = next(c for c in view.continuity if c.title == text(public.title, "nl"))
    title4 = text(catalogue.item("den.check.4").title, "nl")  # type: ignore[union-attr]
    assert any(title4 in label for label in row.threatened)
    assert title4 in _parse(html_nl).within("summary")


def _scan_for_view() -> Scan:
    return Scan(
        "9.9", "1", "default", "2026-11-28T10:00:00+00:00", "2026-11-28T10:00:01+00:00", [DOMAIN],
        [_result("test.settings", Status.FAIL, "bad", params={"value": "x"})], [],
    )  # fmt: skip


def test_findings_of_several_domains_stay_apart(catalogue: Catalogue, registry: registry_mod.Registry) -> None:
    results = [
        replace(_result("test.settings", Status.FAIL, "bad", params={"value": "a"}), target="a.test",
                subject=Subject("a.test")),
        replace(_result("test.settings", Status.FAIL, "bad", params={"value": "b"}), target="b.test",
                subject=Subject("b.test")),
    ]
    two = Scan("9.9", "1", "default", "2026-11-28T10:00:00+00:00", "2026-11-28T10:00:01+00:00",
                     ["a.test", "b.test"], results, [])  # fmt: skip
    view = build_view(report_of(two, catalogue, "nl"))
    assert [c.lead.target for c in view.attention_cards] == ["a.test", "b.test"]
    plain = render("terminal", report_of(two, catalogue, "nl"), registry)
    assert "[a.test]" in plain and "[b.test]" in plain
    tree = _parse(render("html", report_of(two, catalogue, "nl"), registry))
    assert len([a for t, a, _ in tree.elements if t == "article"]) == 2
