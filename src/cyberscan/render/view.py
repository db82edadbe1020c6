"""The presentation model shared by the HTML, Markdown and terminal reports.

Renderers hold no business logic: this module turns a finished :class:`Report` into plain, already
translated values (texts, labels, groups), so templates only lay them out. Findings are grouped by
DEN checklist item with the readiness of each item (:func:`cyberscan.readiness.assess`).

Plugins (built-ins too) add tables to the HTML report with :func:`cyberscan.plugin.section`: a
provider reads the report and returns :class:`Section` rows; :func:`cyberscan.render.render` hands the
registry's providers to the report (``Report.extra["sections"]``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from ..catalogue import Catalogue, Check, FrameworkItem, text
from ..i18n import message, notice
from ..models import Result, Status, Subject
from ..plugin import section as report_section
from ..questionnaire import questionnaire
from ..readiness import UNKNOWN, FrameworkAssessment, ItemAssessment, Readiness
from . import Report
from .tables import host_table

DEN_CHECKLIST = "den-checklist"

STATUS_ORDER = {
    Status.FAIL: 0,
    Status.ERROR: 1,
    Status.WARN: 2,
    Status.INFO: 3,
    Status.MANUAL: 4,
    Status.SKIPPED: 5,
    Status.PASS: 6,
}
STATUS_SYMBOL = {
    Status.PASS: "✓",
    Status.FAIL: "✗",
    Status.WARN: "!",
    Status.INFO: "i",
    Status.ERROR: "?",
    Status.SKIPPED: "–",
    Status.MANUAL: "…",
}
DETAILED = (Status.FAIL, Status.WARN, Status.ERROR)  # get a full card with risk and what to do
_RELATION_RANK = {"direct": 0, "partial": 1, "answer": 2, "indicator": 3}
_EVIDENCE_LIMIT = 2000


# ----------------------------------------------------------------------------- strings


@functools.cache
def _strings() -> Mapping[str, Mapping[str, str]]:
    raw = (resources.files("cyberscan.render") / "strings.yaml").read_text(encoding="utf-8")
    data: Mapping[str, Mapping[str, str]] = yaml.safe_load(raw)
    return data


def strings(lang: str) -> dict[str, str]:
    """Every interface text in ``lang`` (Dutch when the language is unknown)."""
    return {key: text(value, lang) for key, value in _strings().items()}


def language(report: Report) -> str:
    return report.lang if report.lang in ("nl", "en") else "nl"


def fmt(template: str, **params: Any) -> str:
    return template.format(**params)


def percent(value: float | None, t: Mapping[str, str]) -> str:
    return t["no_score"] if value is None else f"{round(value * 100)}%"


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class ItemRef:
    id: str
    label: str  # "4. Secure settings ..." or the id when the item is unknown
    framework: str  # title
    framework_id: str
    relation: str
    confidence: str


@dataclass(frozen=True, slots=True)
class Finding:
    anchor: str
    check_id: str
    title: str
    status: str  # Status value, for CSS classes and tests
    status_label: str
    short_label: str
    symbol: str
    severity: str
    severity_label: str
    target: str
    host: str
    message: str
    risk: str
    remediation: str
    remediation_short: str
    evidence: tuple[tuple[str, str], ...]
    items: tuple[ItemRef, ...]
    continuity: tuple[str, ...]
    who: str
    effort: str
    references: tuple[str, ...]
    self_reported: bool
    detailed: bool


@dataclass(frozen=True, slots=True)
class Card:
    """One check's findings that need attention, on all hosts: what we saw per host, advice once."""

    findings: tuple[Finding, ...]  # worst first

    @property
    def lead(self) -> Finding:
        return self.findings[0]

    @property
    def anchor(self) -> str:
        return self.lead.anchor

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(f.host for f in self.findings if f.host)


def cards(findings: Iterable[Finding]) -> tuple[Card, ...]:
    """Detailed findings grouped per domain and check, in order of each group's worst finding."""
    by_check: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.detailed:
            by_check.setdefault((f.target, f.check_id), []).append(f)
    return tuple(Card(tuple(fs)) for fs in by_check.values())


@dataclass(frozen=True, slots=True)
class Compact:
    """Results that need no action, shown briefly: passes, notes, and skipped checks by reason."""

    ok: tuple[Finding, ...] = ()
    notes: tuple[Finding, ...] = ()  # info and manual
    skipped: tuple[tuple[str, tuple[Finding, ...]], ...] = ()  # (reason, findings)

    def __bool__(self) -> bool:
        return bool(self.ok or self.notes or self.skipped)


def compact(findings: Iterable[Finding]) -> Compact:
    ok, notes = [], []
    skipped: dict[str, list[Finding]] = {}
    for f in findings:
        if f.detailed:
            continue
        if f.status == Status.PASS.value:
            ok.append(f)
        elif f.status == Status.SKIPPED.value:
            skipped.setdefault(f.message, []).append(f)
        else:
            notes.append(f)
    return Compact(tuple(ok), tuple(notes), tuple((reason, tuple(fs)) for reason, fs in skipped.items()))


@dataclass(frozen=True, slots=True)
class ItemGroup:
    anchor: str
    id: str
    label: str
    description: str
    status: str  # gap | ok-external | ok | unknown
    status_label: str
    score: str
    manual: bool
    confidence: str
    confidence_label: str
    provisional: bool
    note: str
    findings: tuple[Card, ...]  # detailed, listed here first
    passed: Compact
    elsewhere: tuple[Card, ...]  # detailed elsewhere, mentioned here with a link


@dataclass(frozen=True, slots=True)
class ActionView:
    """One of the few things to do first (from :func:`cyberscan.actions.prioritise`)."""

    anchor: str  # of the finding it comes from, "" when none is shown
    title: str
    status: str
    status_label: str
    remediation: str
    remediation_short: str
    who: str
    effort: str
    hosts: tuple[str, ...]
    suppliers: tuple[str, ...]  # "Name (role): where the setting lives"
    ask: tuple[tuple[str, str], ...]  # (supplier name, what to ask them)
    self_reported: bool


@dataclass(frozen=True, slots=True)
class FrameworkRow:
    id: str
    title: str
    score: str
    assessed: str
    value: float | None


@dataclass(frozen=True, slots=True)
class Section:
    """An extra table in the HTML report, contributed by a helper outside the renderers."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    intro: str = ""


@dataclass(frozen=True, slots=True)
class ContinuityRow:
    title: str
    description: str
    threatened: tuple[str, ...]  # labels of framework items with a gap that threaten this area


@dataclass(frozen=True, slots=True)
class Count:
    status: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class ConfidenceNote:
    label: str
    framework: str
    confidence: str
    source: str
    note: str = ""
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class View:
    lang: str
    t: Mapping[str, str]
    targets: tuple[str, ...]
    started: str
    profile: str
    tool_version: str
    catalogue_version: str
    notices: tuple[str, ...]
    counts: tuple[Count, ...]
    total: int
    overall: str  # DEN checklist score, or "no score"
    overall_value: float | None
    overall_title: str
    frameworks: tuple[FrameworkRow, ...]
    unassessed: str
    unassessed_count: int
    groups: tuple[ItemGroup, ...]
    other: tuple[Card, ...]
    other_passed: Compact
    findings: tuple[Finding, ...]  # every result, worst first
    addresses: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    confidence_notes: tuple[ConfidenceNote, ...]
    readiness: Readiness = field(repr=False)
    actions: tuple[ActionView, ...] = ()
    continuity: tuple[ContinuityRow, ...] = ()
    demo: bool = False

    @property
    def attention(self) -> tuple[Finding, ...]:
        """Fails, errors and warnings, worst first."""
        return tuple(f for f in self.findings if f.detailed)

    @property
    def attention_cards(self) -> tuple[Card, ...]:
        return cards(self.findings)

    @property
    def passed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.detailed)


# ----------------------------------------------------------------------------- sections

SectionProvider = Callable[[Report], Sequence[Section]]


def subject_label(subject: Subject, t: Mapping[str, str]) -> str:
    """How people read a subject: ``www.museum.nl (192.0.2.1)``, ``192.0.2.1 (museum.nl), port 3389``."""
    where = ""
    if subject.host and subject.address:
        where = f"{subject.host} ({subject.address})"
    elif subject.host:
        where = subject.host
    elif subject.address:
        where = subject.address + (f" ({', '.join(subject.names)})" if subject.names else "")
    if subject.port is not None and subject.service not in (None, "https", "http", "smtp", "dns"):
        where = fmt(t["label_port"], where=where, port=subject.port) if where else str(subject.port)
    return where


def _yes_no(value: Any, t: Mapping[str, str]) -> str:
    return t["word_unknown"] if value is None else t["word_yes"] if value else t["word_no"]


@report_section("tls.hosts")
def tls_section(report: Report) -> list[Section]:
    """Protocol and certificate facts per server, from the TLS checks' ``host_table`` helper."""
    rows = host_table(report.assessment.scan)
    if not rows:
        return []
    t = strings(language(report))
    columns = tuple(
        t[k] for k in ("col_server", "address", "col_service", "col_versions", "col_subject", "col_issuer",
                       "col_valid_until", "col_key", "col_signature", "col_trusted")
    )  # fmt: skip

    def cell(value: Any) -> str:
        return "–" if value in (None, "", [], ()) else str(value)

    body = []
    for row in rows:
        status = row.get("status")
        versions = ", ".join(str(v) for v in row.get("versions") or ())
        if status is not None:
            versions = f"{t['status_error']}: {status}" + (f" ({versions})" if versions else "")
        body.append(
            (
                cell(row.get("name")),
                cell(row.get("address")),
                cell(str(row.get("service") or "").upper()),
                cell(versions),
                cell(row.get("subject")),
                cell(row.get("issuer")),
                cell(row.get("not_after")),
                cell(row.get("key")),
                cell(row.get("signature_hash")),
                _yes_no(row.get("trusted"), t),
            )
        )
    return [Section(t["host_facts"], columns, tuple(body), t["host_facts_intro"])]


def _sections(report: Report) -> tuple[Section, ...]:
    out: list[Section] = []
    for provider in report.extra.get("sections") or ():
        for section in provider(report):
            if isinstance(section, Section):
                out.append(section)
            else:  # a helper that does not know our class: anything with the same fields
                out.append(
                    Section(
                        title=str(section.title),
                        columns=tuple(str(c) for c in section.columns),
                        rows=tuple(tuple(str(v) for v in row) for row in section.rows),
                        intro=str(getattr(section, "intro", "")),
                    )
                )
    return tuple(out)


# ----------------------------------------------------------------------------- building


def evidence_rows(evidence: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Evidence as (name, text) pairs; nested values as compact JSON, long values cut short."""
    rows = []
    for key, value in evidence.items():
        if isinstance(value, str):
            shown = value
        elif isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        if len(shown) > _EVIDENCE_LIMIT:
            shown = shown[:_EVIDENCE_LIMIT] + " …"
        rows.append((str(key), shown))
    return tuple(rows)


def first_sentence(value: str) -> str:
    """The first sentence of a text: the one-line 'what to do' for compact reports."""
    value = " ".join(value.split())
    for end in (". ", "! ", "? "):
        cut = value.find(end)
        if cut != -1:
            return value[: cut + 1]
    return value


def item_label(item: FrameworkItem | None, item_id: str, lang: str) -> str:
    if item is None:
        return item_id
    title = text(item.title, lang)
    return f"{item.number}. {title}" if item.number else title


def _sort_key(result: Result) -> tuple[int, int, str, str]:
    return (STATUS_ORDER.get(result.status, 9), -result.severity.rank, result.check_id, result.key)


@dataclass(frozen=True, slots=True)
class _About:
    title: str
    risk: str = ""
    remediation: str = ""
    relations: Mapping[str, str] = field(default_factory=dict)
    continuity: tuple[str, ...] = ()
    who: str = ""
    effort: str = ""
    references: tuple[str, ...] = ()


class _Builder:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.cat: Catalogue = report.catalogue
        self.lang = language(report)
        self.t = strings(self.lang)
        self._questions: Any = None  # the questionnaire, loaded when a self-reported result needs it
        self._items = {item.id: item for item in self.cat.items()}

    def item(self, item_id: str) -> FrameworkItem | None:
        return self._items.get(item_id)

    def framework_title(self, framework_id: str) -> str:
        fw = self.cat.frameworks.get(framework_id)
        return text(fw.title, self.lang) if fw else framework_id

    def continuity_label(self, area: str) -> str:
        item = self.item(area)
        return text(item.title, self.lang) if item else area

    def about(self, result: Result) -> _About:
        """Titles and advice for a result: from its check, or from its question when self-reported."""
        lang = self.lang
        check: Check | None = self.cat.checks.get(result.check_id)
        if check is not None:
            return _About(
                title=text(check.title, lang),
                risk=text(check.risk, lang),
                remediation=text(check.remediation, lang),
                relations=dict(check.maps_to),
                continuity=tuple(check.continuity),
                who=check.who,
                effort=check.effort,
                references=tuple(check.references),
            )
        question = self.question(result.check_id) if result.source == "self-reported" else None
        relations = {i: "answer" for i in result.maps_to}
        if question is not None:
            return _About(
                title=text(question.text, lang),
                risk=text(question.why, lang) if question.why else "",
                remediation=text(question.advice, lang) if question.advice else "",
                relations=relations,
                continuity=tuple(question.continuity),
                who=question.who,
                effort=question.effort,
            )
        return _About(title=result.check_id, relations=relations)

    def question(self, question_id: str) -> Any:
        if self._questions is None:
            self._questions = questionnaire(self.cat)
        return self._questions.get(question_id)

    def finding(self, index: int, result: Result) -> Finding:
        check: Check | None = self.cat.checks.get(result.check_id)
        lang, t = self.lang, self.t
        about = self.about(result)
        items = []
        for item_id in result.maps_to:
            item = self.item(item_id)
            relation = about.relations.get(item_id, "direct")
            items.append(
                ItemRef(
                    id=item_id,
                    label=item_label(item, item_id, lang),
                    framework=self.framework_title(item.framework) if item else "",
                    framework_id=item.framework if item else "",
                    relation=t.get(f"relation_{relation}", relation),
                    confidence=item.confidence if item else "",
                )
            )
        return Finding(
            anchor=f"f{index}",
            check_id=result.check_id,
            title=about.title,
            status=result.status.value,
            status_label=t[f"status_{result.status.value}"],
            short_label=t[f"short_{result.status.value}"],
            symbol=STATUS_SYMBOL[result.status],
            severity=result.severity.value,
            severity_label=t[f"severity_{result.severity.value}"],
            target=result.target,
            host=subject_label(result.subject, t),
            message=message(self.cat, check, result, lang),
            risk=about.risk,
            remediation=about.remediation,
            remediation_short=first_sentence(about.remediation),
            evidence=evidence_rows(result.evidence),
            items=tuple(items),
            continuity=tuple(self.continuity_label(c) for c in about.continuity),
            who=t.get(f"who_{about.who}", about.who) if about.who else "",
            effort=t.get(f"effort_{about.effort}", about.effort) if about.effort else "",
            references=about.references,
            self_reported=result.source == "self-reported",
            detailed=result.status in DETAILED,
        )

    def primary_den_item(self, result: Result, den_ids: Sequence[str]) -> str | None:
        check = self.cat.checks.get(result.check_id)
        candidates = [i for i in result.maps_to if i in den_ids]
        if not candidates:
            return None
        relations: Mapping[str, str] = check.maps_to if check else {}

        def rank(item_id: str) -> tuple[int, int]:
            relation = relations.get(item_id, "direct" if check else "answer")
            return (_RELATION_RANK.get(relation, 9), den_ids.index(item_id))

        return min(candidates, key=rank)

    def groups(
        self, den: FrameworkAssessment | None, findings: Sequence[tuple[Result, Finding]]
    ) -> tuple[tuple[ItemGroup, ...], list[Finding], list[Finding]]:
        if den is None:
            others = [f for _, f in findings]
            return (), [f for f in others if f.detailed], [f for f in others if not f.detailed]
        den_ids = [a.item.id for a in den.items]
        primary = {id(r): self.primary_den_item(r, den_ids) for r, _ in findings}
        groups = []
        for assessment in den.items:
            groups.append(self.group(assessment, findings, primary))
        unmapped = [f for r, f in findings if primary[id(r)] is None]
        return tuple(groups), [f for f in unmapped if f.detailed], [f for f in unmapped if not f.detailed]

    def group(
        self, a: ItemAssessment, findings: Sequence[tuple[Result, Finding]], primary: Mapping[int, str | None]
    ) -> ItemGroup:
        mine = [(r, f) for r, f in findings if a.item.id in r.maps_to]
        here = [f for r, f in mine if primary[id(r)] == a.item.id]
        return ItemGroup(
            anchor=f"item-{a.item.id}".replace(".", "-"),
            id=a.item.id,
            label=item_label(a.item, a.item.id, self.lang),
            description=text(a.item.description, self.lang) if a.item.description else "",
            status=a.status,
            status_label=self.t[f"readiness_{a.status}"],
            score=percent(a.score, self.t),
            manual=a.item.manual,
            confidence=a.item.confidence,
            confidence_label=self.t.get(f"confidence_{a.item.confidence}", a.item.confidence),
            provisional=a.item.provisional,
            note=text(a.item.note, self.lang) if a.item.note else "",
            findings=cards(here),
            passed=compact(here),
            elsewhere=cards(f for r, f in mine if primary[id(r)] != a.item.id),
        )

    def confidence_notes(self, readiness: Readiness, results: Iterable[Result]) -> tuple[ConfidenceNote, ...]:
        """Items shown in this report (DEN checklist items, items findings concern) not read at the source."""
        wanted: list[str] = []
        den = readiness.framework(DEN_CHECKLIST)
        if den is not None:
            wanted.extend(a.item.id for a in den.items)
        for r in results:
            wanted.extend(r.maps_to)
        notes = []
        seen = set()
        for item_id in wanted:
            if item_id in seen:
                continue
            seen.add(item_id)
            item = self.item(item_id)
            if item is None or (item.confidence == "read" and not item.provisional and not item.note):
                continue
            notes.append(
                ConfidenceNote(
                    label=item_label(item, item_id, self.lang),
                    framework=self.framework_title(item.framework),
                    confidence=self.t.get(f"confidence_{item.confidence}", item.confidence),
                    source=item.source,
                    note=text(item.note, self.lang) if item.note else "",
                    provisional=item.provisional,
                )
            )
        return tuple(notes)

    def actions(self, findings: Sequence[Finding], limit: int = 5) -> tuple[ActionView, ...]:
        lang, t = self.lang, self.t
        anchors: dict[str, str] = {}
        for f in findings:
            if f.detailed:
                anchors.setdefault(f.check_id, f.anchor)
        out = []
        for a in self.report.assessment.actions[:limit]:
            remediation = text(a.remediation, lang) if a.remediation else ""
            out.append(
                ActionView(
                    anchor=anchors.get(a.id, ""),
                    title=text(a.title, lang),
                    status=a.status.value,
                    status_label=t[f"status_{a.status.value}"],
                    remediation=remediation,
                    remediation_short=first_sentence(remediation),
                    who=t.get(f"who_{a.who}", a.who),
                    effort=t.get(f"effort_{a.effort}", a.effort),
                    hosts=tuple(a.hosts),
                    suppliers=tuple(a.supplier_advice(lang)),
                    ask=tuple((sup.name, text(sup.ask, lang)) for sup in a.suppliers if sup.ask),
                    self_reported=a.source == "self-reported",
                )
            )
        return tuple(out)

    def continuity(self, readiness: Readiness) -> tuple[ContinuityRow, ...]:
        fw = self.cat.frameworks.get("continuity")
        areas = list(fw.items) if fw else [i for i in (self.item(a) for a in readiness.continuity) if i]
        rows = []
        for area in areas:
            ids = readiness.continuity.get(area.id, ())
            den = [i for i in ids if (it := self.item(i)) is not None and it.framework == DEN_CHECKLIST]
            chosen = den or list(ids)
            rows.append(
                ContinuityRow(
                    title=text(area.title, self.lang),
                    description=text(area.description, self.lang) if area.description else "",
                    threatened=tuple(dict.fromkeys(item_label(self.item(i), i, self.lang) for i in chosen)),
                )
            )
        return tuple(rows)

    def build(self) -> View:
        assessment, t, lang = self.report.assessment, self.t, self.lang
        scan = assessment.scan
        results = sorted(assessment.results, key=_sort_key)
        findings = [(r, self.finding(i, r)) for i, r in enumerate(results, start=1)]
        profile = self.cat.profiles.get(scan.profile)
        readiness = assessment.readiness
        den = readiness.framework(DEN_CHECKLIST)
        groups, other, other_passed = self.groups(den, findings)
        rows = tuple(
            FrameworkRow(
                id=fa.framework_id,
                title=self.framework_title(fa.framework_id),
                score=percent(fa.score, t),
                assessed=fmt(
                    t["items_assessed"],
                    assessed=sum(1 for a in fa.items if a.status != UNKNOWN),
                    total=len(fa.items),
                ),
                value=fa.score,
            )
            for fa in readiness.frameworks
        )
        total = readiness.checks_total
        unassessed_n = readiness.checks_unassessed
        unassessed = (
            fmt(
                t["unassessed_text"],
                count=unassessed_n,
                total=total,
                percent=percent(unassessed_n / total if total else 0.0, t),
            )
            if unassessed_n
            else t["unassessed_none"]
        )
        counts = tuple(
            Count(s.value, t[f"status_{s.value}"], n)
            for s in sorted(Status, key=lambda s: STATUS_ORDER.get(s, 9))
            if (n := sum(1 for r in assessment.results if r.status is s))
        )
        return View(
            lang=lang,
            t=t,
            targets=tuple(scan.targets),
            started=_when(scan.started),
            profile=text(profile.title, lang) if profile else scan.profile,
            tool_version=scan.tool_version,
            catalogue_version=scan.catalogue_version,
            notices=tuple(notice(self.cat, n, lang) for n in assessment.notices),
            counts=counts,
            total=len(assessment.results),
            overall=percent(den.score if den else None, t),
            overall_value=den.score if den else None,
            overall_title=self.framework_title(DEN_CHECKLIST),
            frameworks=rows,
            unassessed=unassessed,
            unassessed_count=unassessed_n,
            groups=groups,
            other=cards(other),
            other_passed=compact(other_passed),
            findings=tuple(f for _, f in findings),
            addresses=tuple((addr, ", ".join(names)) for addr, names in scan.addresses_probed.items()),
            sections=_sections(self.report),
            confidence_notes=self.confidence_notes(readiness, assessment.results),
            readiness=readiness,
            actions=self.actions([f for _, f in findings]),
            continuity=self.continuity(readiness),
            demo=bool(self.report.extra.get("demo", False)),
        )


def _when(iso: str) -> str:
    """``2026-11-28T16:30:00+00:00`` as ``2026-11-28 16:30 UTC``."""
    date, _, rest = iso.partition("T")
    if not rest:
        return iso
    time = rest[:5]
    return f"{date} {time} UTC" if rest.endswith(("+00:00", "Z")) else f"{date} {time}"


def build_view(report: Report) -> View:
    return _Builder(report).build()
