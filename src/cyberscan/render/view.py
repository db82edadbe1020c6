"""The presentation model shared by every report (HTML, Markdown, terminal, the director's summary,
supplier messages) and the figures the JSON report carries.

Renderers hold no business logic: this module turns a finished :class:`Report` into plain, already
translated values (texts, labels, groups, counts), so templates only lay them out. Every count a
report shows comes from :func:`tally` here, so terminal, HTML, Markdown and JSON agree.

A finding is one result: one check about one place (the domain, a server, a port). Counts count
findings; "in N places" is said beside them, never mixed in. A finding's headline says what was
observed (the result's message); the check's title is its name and stays smaller.

History (built elsewhere) reaches the report through ``Report.extra``, duck-typed, each optional:

``extra["since"]``
    the comparison with the previous assessment (:class:`cyberscan.history.context.Since`, or anything
    shaped like it): attributes or keys ``previous`` (ISO date, datetime, or an object with
    ``started``), ``counts`` (a mapping) or ``fixed``, ``new``, ``worse``, ``better`` (counts), and ``markers`` (finding
    key -> ``"new"``/``"fixed"``/``"worse"``/``"better"``; Dutch ``"nieuw"``/``"opgelost"``/
    ``"slechter"``/``"beter"`` are understood too). Keys marked fixed that are no longer among the
    results are listed as fixed.
``extra["trend"]``
    a sequence of points, oldest first: ``(date, overall score, {DEN item id: score})`` tuples or
    objects with ``date``, ``score`` (or ``overall``) and ``items``; scores are 0..1 or None.

Plugins (built-ins too) add tables to the HTML report with :func:`cyberscan.plugin.section`: a
provider reads the report and returns :class:`Section` rows; :func:`cyberscan.render.render` hands the
registry's providers to the report (``Report.extra["sections"]``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any

import yaml

from ..assessment import Assessment
from ..catalogue import Catalogue, Check, FrameworkItem, text
from ..i18n import message, message_for, notice
from ..models import AcceptedRisk, Result, Status, Subject
from ..plugin import section as report_section
from ..questionnaire import questionnaire
from ..readiness import GAP, OK, OK_EXTERNAL, UNKNOWN, FrameworkAssessment, ItemAssessment, Readiness
from . import Report
from .tables import host_table

DEN_CHECKLIST = "den-checklist"
ACCEPTED = "accepted"  # display status of a fail or warning the organisation accepted

# display statuses, in the order every report lists them
STATUSES = ("fail", "warn", "error", ACCEPTED, "skipped", "info", "manual", "pass")
STATUS_ORDER = {s: i for i, s in enumerate(STATUSES)}
STATUS_SYMBOL = {
    "pass": "✓",
    "fail": "✗",
    "warn": "!",
    "info": "i",
    "error": "?",
    "skipped": "–",
    "manual": "…",
    ACCEPTED: "≈",
}
DETAILED = ("fail", "warn", "error")  # get a full card with risk and what to do
READINESS = (GAP, OK_EXTERNAL, OK, UNKNOWN)
LAMP = {GAP: "red", OK_EXTERNAL: "amber", OK: "green", UNKNOWN: "off"}  # traffic light per item status
_RELATION_RANK = {"direct": 0, "partial": 1, "answer": 2, "indicator": 3}
_EVIDENCE_LIMIT = 600  # characters of one value
_EVIDENCE_ROWS = 40  # rows of one finding's details
FIRST_ACTIONS = 5


# ----------------------------------------------------------------------------- strings


@functools.cache
def _strings() -> Mapping[str, Mapping[str, str]]:
    raw = (resources.files("cyberscan.render") / "strings.yaml").read_text(encoding="utf-8")
    data: Mapping[str, Mapping[str, str]] = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    return data


def strings(lang: str) -> dict[str, str]:
    """Every interface text in ``lang`` (Dutch when the language is unknown)."""
    return {key: text(value, lang) for key, value in _strings().items()}


def vocabulary(lang: str) -> dict[str, str]:
    """The one status vocabulary: display status -> word (results) and readiness -> word (items)."""
    t = strings(lang)
    words = {s: t[f"status_{s}"] for s in STATUSES}
    words.update({f"readiness:{r}": t[f"readiness_{r}"] for r in READINESS})
    return words


def language(report: Report) -> str:
    return report.lang if report.lang in ("nl", "en") else "nl"


def fmt(template: str, **params: Any) -> str:
    return template.format(**params)


def percent(value: float | None, t: Mapping[str, str]) -> str:
    return t["no_score"] if value is None else f"{round(value * 100)}%"


# ----------------------------------------------------------------------------- untrusted text

_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def _neutral(ch: str) -> str:
    code = ord(ch)
    if code < 0x20 or code == 0x7F:
        return chr(0x2400 + code) if code < 0x20 else "\u2421"  # the control pictures: ␛ for ESC
    if 0x80 <= code < 0xA0 or code in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
        return f"<U+{code:04X}>"
    return ch


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def neutralise(value: object, *, keep: str = "") -> str:
    """Text that is only text: control characters (ESC[2J, ESC[31m, other C0 and C1 controls), bidi
    overrides and other invisible format characters become visible placeholders; characters in
    ``keep`` (e.g. a newline) stay as they are."""
    s = str(value)
    if not _UNSAFE.search(s):
        return s
    return "".join(ch if ch in keep else _neutral(ch) if _UNSAFE.match(ch) else ch for ch in s)


def clean(value: object) -> str:
    """Untrusted text for one line of a report: neutralised, whitespace runs flattened."""
    return neutralise(" ".join(str(value).split()))


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
class AcceptedView:
    label: str  # "Geaccepteerd tot 2027-03-31"
    by: str  # "Besloten door J. de Vries: reason"
    until: str


@dataclass(frozen=True, slots=True)
class Finding:
    anchor: str
    key: str
    check_id: str
    title: str  # the check's name (its compliant state), or the question
    headline: str  # what was observed: the result's message, or the question for an answer
    status: str  # display status (STATUSES), for CSS classes and tests
    status_label: str
    symbol: str
    severity: str
    severity_label: str
    target: str
    host: str  # the subject's label, "" for the domain itself
    where: str  # host, else the domain: the place this finding is about
    message: str  # what we saw here ("Your answer: no" for an answer)
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
    accepted: AcceptedView | None = None
    marker: str = ""  # new | worse | better (from history), "" when none
    marker_label: str = ""

    @property
    def short_label(self) -> str:  # the terminal uses the same words as every other report
        return self.status_label


@dataclass(frozen=True, slots=True)
class Card:
    """One check's findings that need attention, in all places: what we saw per place, advice once."""

    findings: tuple[Finding, ...]  # worst first

    @property
    def lead(self) -> Finding:
        return self.findings[0]

    @property
    def anchor(self) -> str:
        return self.lead.anchor

    @property
    def headline(self) -> str:
        return self.lead.headline

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(f.host for f in self.findings if f.host)

    @property
    def places(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.where for f in self.findings))

    @property
    def same(self) -> bool:
        """Every place showed the same thing: the headline says it once, then where."""
        return len({(f.status, f.message) for f in self.findings}) == 1


def cards(findings: Iterable[Finding]) -> tuple[Card, ...]:
    """Detailed findings grouped per domain and check, in order of each group's worst finding."""
    by_check: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.detailed:
            by_check.setdefault((f.target, f.check_id), []).append(f)
    return tuple(Card(tuple(fs)) for fs in by_check.values())


@dataclass(frozen=True, slots=True)
class Compact:
    """Results that need no action, shown briefly: passes, notes, accepted risks, skipped checks by reason."""

    ok: tuple[Finding, ...] = ()
    notes: tuple[Finding, ...] = ()  # info and manual
    skipped: tuple[tuple[str, tuple[Finding, ...]], ...] = ()  # (reason, findings)
    accepted: tuple[Finding, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ok or self.notes or self.skipped or self.accepted)


def compact(findings: Iterable[Finding]) -> Compact:
    ok, notes, accepted = [], [], []
    skipped: dict[str, list[Finding]] = {}
    for f in findings:
        if f.detailed:
            continue
        if f.status == "pass":
            ok.append(f)
        elif f.status == "skipped":
            skipped.setdefault(f.message, []).append(f)
        elif f.status == ACCEPTED:
            accepted.append(f)
        else:
            notes.append(f)
    return Compact(tuple(ok), tuple(notes), tuple((r, tuple(fs)) for r, fs in skipped.items()), tuple(accepted))


@dataclass(frozen=True, slots=True)
class Count:
    """How many findings have one display status, in how many checks and places."""

    status: str
    label: str
    count: int
    checks: int = 0
    places: int = 0
    explain: str = ""
    checks_label: str = ""  # "7 checks"
    places_label: str = ""  # "in 4 places"


@dataclass(frozen=True, slots=True)
class Entry:
    """One check in a status list: how many of its findings have that status, and where."""

    title: str
    headline: str
    count: int
    places: tuple[str, ...]
    anchor: str


@dataclass(frozen=True, slots=True)
class StatusList:
    status: str
    label: str
    count: int  # = sum of the entries' counts
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class ItemGroup:
    anchor: str
    id: str
    number: str
    label: str
    description: str
    status: str  # gap | ok-external | ok | unknown
    status_label: str
    lamp: str  # red | amber | green | off
    score: str
    value: float | None
    manual: bool
    confidence: str
    confidence_label: str
    provisional: bool
    note: str
    counts: Mapping[str, int]  # display status -> findings listed under this item
    count_line: str
    findings: tuple[Card, ...]  # detailed, listed here first
    passed: Compact
    elsewhere: tuple[Card, ...]  # detailed elsewhere, mentioned here with a link


@dataclass(frozen=True, slots=True)
class ActionView:
    """One of the few things to do first (from :func:`cyberscan.actions.prioritise`)."""

    anchor: str  # of the finding it comes from, "" when none is shown
    title: str
    headline: str  # what was observed at the riskiest place
    headline_short: str  # its first sentence
    why: str  # why it is this high in the list
    why_short: str
    status: str
    status_label: str
    remediation: str
    remediation_short: str
    who: str
    effort: str
    hosts: tuple[str, ...]
    places_label: str  # "in 3 places" ("" for one)
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
class ConfidenceNote:
    label: str
    framework: str
    confidence: str
    source: str
    note: str = ""
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class SinceView:
    intro: str
    line: str
    counts: tuple[tuple[str, str, int], ...]  # (code, label, number): fixed, new, worse, better
    fixed: tuple[tuple[str, str], ...]  # (check title, where) of findings fixed since


@dataclass(frozen=True, slots=True)
class TrendPoint:
    date: str
    score: str
    x: float
    y: float
    items: tuple[str, ...]  # per DEN item, in the order of ``TrendView.items``


@dataclass(frozen=True, slots=True)
class TrendView:
    width: int
    height: int
    points: tuple[TrendPoint, ...]
    polyline: str
    items: tuple[str, ...]  # DEN item numbers or ids (table columns)
    gridlines: tuple[tuple[float, str], ...]  # (y, "50%")


@dataclass(frozen=True, slots=True)
class LegendRow:
    status: str
    label: str
    explain: str


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
    counts: tuple[Count, ...]  # per display status, only those that occur; they add up to ``total``
    total: int
    overall: str  # DEN checklist score, or "no score"
    overall_value: float | None
    overall_title: str
    score_source: str  # where the score comes from and what it means
    score_short: str  # the same in one line, for the first screen
    frameworks: tuple[FrameworkRow, ...]
    unassessed: str
    unassessed_count: int
    groups: tuple[ItemGroup, ...]
    other: tuple[Card, ...]
    other_passed: Compact
    findings: tuple[Finding, ...]  # every result, worst first
    status_lists: tuple[StatusList, ...]
    addresses: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    confidence_notes: tuple[ConfidenceNote, ...]
    readiness: Readiness = field(repr=False)
    actions: tuple[ActionView, ...] = ()  # the first few
    more_actions: int = 0  # actions beyond the first few
    continuity: tuple[ContinuityRow, ...] = ()
    legend: tuple[LegendRow, ...] = ()
    item_legend: tuple[LegendRow, ...] = ()
    since: SinceView | None = None
    trend: TrendView | None = None
    accepted: tuple[Finding, ...] = ()
    demo: bool = False
    expand: bool = False  # details unfolded (for print and PDF)

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

    @property
    def count_map(self) -> dict[str, int]:
        return {c.status: c.count for c in self.counts}


# ----------------------------------------------------------------------------- the figures


def display_status(result: Result) -> str:
    """The status a report shows: an accepted fail or warning is "accepted", never a gap."""
    return ACCEPTED if result.accepted is not None and result.status in (Status.FAIL, Status.WARN) else result.status.value


def place(result: Result) -> str:
    """Where a finding is, language-neutral: host name, else address (with its port), else the domain."""
    s = result.subject
    where = s.host or s.address or result.target
    if s.port is not None and s.service not in (None, "https", "http", "smtp", "dns") and not s.host:
        where = f"{where}:{s.port}"
    return where


def _sort_key(result: Result) -> tuple[int, int, str, str]:
    return (STATUS_ORDER.get(display_status(result), 9), -result.severity.rank, result.check_id, result.key)


def ordered(assessment: Assessment) -> list[Result]:
    """Every result in report order: worst first, then by severity, check and key."""
    return sorted(assessment.results, key=_sort_key)


def primary_item(catalogue: Catalogue, result: Result, den_ids: Sequence[str]) -> str | None:
    """The one DEN checklist item a result is listed under (direct before partial before indicator)."""
    check = catalogue.checks.get(result.check_id)
    candidates = [i for i in result.maps_to if i in den_ids]
    if not candidates:
        return None
    relations: Mapping[str, str] = check.maps_to if check else {}

    def rank(item_id: str) -> tuple[int, int]:
        relation = relations.get(item_id, "direct" if check else "answer")
        return (_RELATION_RANK.get(relation, 9), den_ids.index(item_id))

    return min(candidates, key=rank)


@dataclass(frozen=True, slots=True)
class Tally:
    """The numbers every report shows, computed once (language-neutral)."""

    total: int
    counts: Mapping[str, int]  # display status -> findings (only statuses that occur, in STATUSES order)
    checks: Mapping[str, int]  # display status -> distinct checks with such a finding
    places: Mapping[str, int]  # display status -> distinct places with such a finding
    items: Mapping[str, Mapping[str, int]]  # DEN item id -> display status -> findings listed under it
    other: Mapping[str, int]  # findings under no DEN item
    per_check: Mapping[str, Mapping[str, tuple[str, ...]]]  # status -> check id -> places (in order)


def tally(assessment: Assessment) -> Tally:
    """Counts per display status that add up to the number of findings, per status the checks and
    places behind them, and per DEN checklist item the findings listed under it."""
    results = ordered(assessment)
    den = assessment.readiness.framework(DEN_CHECKLIST)
    den_ids = [a.item.id for a in den.items] if den else []
    counts: dict[str, int] = {}
    checks: dict[str, set[str]] = {}
    places: dict[str, set[str]] = {}
    per_check: dict[str, dict[str, list[str]]] = {}
    items: dict[str, dict[str, int]] = {i: {} for i in den_ids}
    other: dict[str, int] = {}
    for r in results:
        s = display_status(r)
        counts[s] = counts.get(s, 0) + 1
        checks.setdefault(s, set()).add(r.check_id)
        where = place(r)
        places.setdefault(s, set()).add(f"{r.target}|{where}")
        per_check.setdefault(s, {}).setdefault(f"{r.target}|{r.check_id}", []).append(where)
        primary = primary_item(assessment.catalogue, r, den_ids)
        bucket = items[primary] if primary is not None else other
        bucket[s] = bucket.get(s, 0) + 1
    in_order = [s for s in STATUSES if s in counts]
    return Tally(
        total=len(results),
        counts={s: counts[s] for s in in_order},
        checks={s: len(checks[s]) for s in in_order},
        places={s: len(places[s]) for s in in_order},
        items={i: {s: c[s] for s in STATUSES if s in c} for i, c in items.items()},
        other={s: other[s] for s in STATUSES if s in other},
        per_check={s: {k: tuple(v) for k, v in per_check[s].items()} for s in in_order},
    )


def tally_to_dict(assessment: Assessment) -> dict[str, Any]:
    """The ``summary`` of the JSON report: the same numbers the other reports show."""
    tl = tally(assessment)
    den = assessment.readiness.framework(DEN_CHECKLIST)
    return {
        "findings": tl.total,
        "counts": dict(tl.counts),
        "checks": dict(tl.checks),
        "places": dict(tl.places),
        "score": {
            "framework": DEN_CHECKLIST,
            "value": den.score if den else None,
            "items_assessed": sum(1 for a in den.items if a.status != UNKNOWN) if den else 0,
            "items_total": len(den.items) if den else 0,
            "source": "cyberscan",
        },
        "items": [
            {"id": a.item.id, "status": a.status, "score": a.score, "counts": dict(tl.items.get(a.item.id, {}))}
            for a in (den.items if den else ())
        ],
        "other": dict(tl.other),
        "first_actions": [a.id for a in assessment.actions[:FIRST_ACTIONS]],
    }


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
    return clean(where)


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
        return "–" if value in (None, "", [], ()) else clean(value)

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


# ----------------------------------------------------------------------------- evidence


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple | dict | Mapping) and not value)


def _scalar(value: Any, t: Mapping[str, str]) -> str:
    if isinstance(value, bool):
        return t["word_yes"] if value else t["word_no"]
    return clean(value)


def _label(key: str, t: Mapping[str, str]) -> str:
    known = t.get(f"ev_{key}")
    if known:
        return known
    if any(c in key for c in ".:/@"):  # a name (host, address, URL) used as a key: shown as it is
        return clean(key)
    spaced = clean(str(key).replace("_", " "))
    return spaced[:1].upper() + spaced[1:]


def evidence_rows(
    evidence: Mapping[str, Any], t: Mapping[str, str] | None = None, *, also: Callable[[Mapping[str, Any]], str] | None = None
) -> tuple[tuple[str, str], ...]:
    """Evidence as readable (name, text) rows: keys translated, nested values as their own rows
    ("Certificate · Issued by"), lists of plain values joined; no null or empty rows, long values cut short.
    ``also`` turns the engine's merged verdicts (``evidence["also"]``) into sentences."""
    t = t or strings("nl")
    rows: list[tuple[str, str]] = []

    def add(label: str, value: Any, depth: int) -> None:
        if _empty(value):
            return
        if isinstance(value, Mapping):
            for k, v in value.items():
                add(f"{label} · {_label(str(k), t)}" if label else _label(str(k), t), v, depth + 1)
            return
        if isinstance(value, list | tuple):
            if all(not isinstance(v, Mapping | list | tuple) for v in value):
                shown = ", ".join(x for v in value if not _empty(v) and (x := _scalar(v, t)))
                if shown:
                    rows.append((label or "–", shown))
                return
            for i, v in enumerate(value, start=1):
                add(f"{label} {i}" if len(value) > 1 else label, v, depth + 1)
            return
        shown = _scalar(value, t)
        if shown:
            rows.append((label or "–", shown))

    for key, value in evidence.items():
        if key == "also" and also is not None and isinstance(value, list | tuple):
            for other in value:
                if isinstance(other, Mapping):
                    rows.append((t["also_seen"], clean(also(other))))
            continue
        add(_label(str(key), t), value, 0)
    out = []
    for name, shown in rows:
        if len(shown) > _EVIDENCE_LIMIT:
            shown = shown[:_EVIDENCE_LIMIT] + " …"
        out.append((name, shown))
    if len(out) > _EVIDENCE_ROWS:
        rest = len(out) - _EVIDENCE_ROWS
        out = [*out[:_EVIDENCE_ROWS], ("…", fmt(t["ev_more_rows"], count=rest))]
    return tuple(out)


# ----------------------------------------------------------------------------- building


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


def _attr(obj: Any, *names: str, default: Any = None) -> Any:
    """A field of a duck-typed history object: attribute, mapping key, or ``default``."""
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


_MARKERS = {"new": "new", "nieuw": "new", "fixed": "fixed", "opgelost": "fixed", "worse": "worse",
            "slechter": "worse", "better": "better", "beter": "better"}  # fmt: skip


def _date_label(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return clean(str(value)[:10]) if value else ""


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _score(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return min(1.0, max(0.0, number)) if number == number else None


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
        since = report.extra.get("since")
        raw_markers = _attr(since, "markers", default={}) if since is not None else {}
        self.markers: dict[str, str] = {}
        if isinstance(raw_markers, Mapping):
            for key, value in raw_markers.items():
                code = _MARKERS.get(str(value).lower())
                if code:
                    self.markers[str(key)] = code

    def item(self, item_id: str) -> FrameworkItem | None:
        return self._items.get(item_id)

    def framework_title(self, framework_id: str) -> str:
        fw = self.cat.frameworks.get(framework_id)
        return text(fw.title, self.lang) if fw else framework_id

    def continuity_label(self, area: str) -> str:
        item = self.item(area)
        return text(item.title, self.lang) if item else area

    def check_title(self, check_id: str) -> str:
        check = self.cat.checks.get(check_id)
        if check is not None:
            return text(check.title, self.lang)
        question = self.question(check_id)
        return text(question.text, self.lang) if question is not None else clean(check_id)

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
        return _About(title=clean(result.check_id), relations=relations)

    def question(self, question_id: str) -> Any:
        if self._questions is None:
            self._questions = questionnaire(self.cat)
        return self._questions.get(question_id)

    def observed(self, result: Result, check: Check | None) -> str:
        """What we saw: the result's message; for an answer only the answer (the question is the headline)."""
        if result.source == "self-reported" and check is None:
            answer = result.params.get(f"answer_{self.lang}") or result.params.get("answer_nl")
            if answer is not None:
                return clean(fmt(self.t["your_answer"], answer=clean(answer)))
        return clean(message(self.cat, check, result, self.lang))

    def accepted_view(self, risk: AcceptedRisk) -> AcceptedView:
        key = "not_applicable_until" if risk.kind == "not-applicable" else "accepted_until"
        return AcceptedView(
            label=fmt(self.t[key], date=clean(risk.expires)),
            by=fmt(self.t["accepted_by"], who=clean(risk.who), reason=clean(risk.reason)),
            until=clean(risk.expires),
        )

    def also(self, check: Check | None) -> Callable[[Mapping[str, Any]], str]:
        def say(other: Mapping[str, Any]) -> str:
            params = other.get("params")
            status = str(other.get("status", ""))
            label = self.t.get(f"status_{status}", status)
            sentence = message_for(self.cat, check, str(other.get("message", "")),
                                   params if isinstance(params, Mapping) else {}, self.lang)
            return f"{label}: {sentence}" if label else sentence

        return say

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
        status = display_status(result)
        self_reported = result.source == "self-reported"
        seen = self.observed(result, check)
        host = subject_label(result.subject, t)
        marker = self.markers.get(result.key, "")
        marker = "" if marker == "fixed" else marker
        evidence = dict(result.evidence)
        if self_reported:
            evidence.pop("answer", None)  # the answer is the message already
        return Finding(
            anchor=f"f{index}",
            key=result.key,
            check_id=result.check_id,
            title=about.title,
            headline=about.title if self_reported and check is None else seen,
            status=status,
            status_label=t[f"status_{status}"],
            symbol=STATUS_SYMBOL[status],
            severity=result.severity.value,
            severity_label=t[f"severity_{result.severity.value}"],
            target=clean(result.target),
            host=host,
            where=host or clean(result.target),
            message=seen,
            risk=about.risk,
            remediation=about.remediation,
            remediation_short=first_sentence(about.remediation),
            evidence=evidence_rows(evidence, t, also=self.also(check)),
            items=tuple(items),
            continuity=tuple(self.continuity_label(c) for c in about.continuity),
            who=t.get(f"who_{about.who}", about.who) if about.who else "",
            effort=t.get(f"effort_{about.effort}", about.effort) if about.effort else "",
            references=about.references,
            self_reported=self_reported,
            detailed=status in DETAILED,
            accepted=self.accepted_view(result.accepted) if status == ACCEPTED and result.accepted else None,
            marker=marker,
            marker_label=t.get(f"marker_{marker}", "") if marker else "",
        )

    def groups(
        self, den: FrameworkAssessment | None, findings: Sequence[tuple[Result, Finding]], tl: Tally
    ) -> tuple[tuple[ItemGroup, ...], list[Finding], list[Finding]]:
        if den is None:
            others = [f for _, f in findings]
            return (), [f for f in others if f.detailed], [f for f in others if not f.detailed]
        den_ids = [a.item.id for a in den.items]
        primary = {id(r): primary_item(self.cat, r, den_ids) for r, _ in findings}
        groups = tuple(self.group(a, findings, primary, tl) for a in den.items)
        unmapped = [f for r, f in findings if primary[id(r)] is None]
        return groups, [f for f in unmapped if f.detailed], [f for f in unmapped if not f.detailed]

    def group(
        self,
        a: ItemAssessment,
        findings: Sequence[tuple[Result, Finding]],
        primary: Mapping[int, str | None],
        tl: Tally,
    ) -> ItemGroup:
        mine = [(r, f) for r, f in findings if a.item.id in r.maps_to]
        here = [f for r, f in mine if primary[id(r)] == a.item.id]
        counts = tl.items.get(a.item.id, {})
        t = self.t
        parts = [f"{n} × {t[f'status_{s}'].lower()}" for s, n in counts.items()]
        return ItemGroup(
            anchor=f"item-{a.item.id}".replace(".", "-"),
            id=a.item.id,
            number=a.item.number or "",
            label=item_label(a.item, a.item.id, self.lang),
            description=text(a.item.description, self.lang) if a.item.description else "",
            status=a.status,
            status_label=t[f"readiness_{a.status}"],
            lamp=LAMP.get(a.status, "off"),
            score=percent(a.score, t),
            value=a.score,
            manual=a.item.manual,
            confidence=a.item.confidence,
            confidence_label=t.get(f"confidence_{a.item.confidence}", a.item.confidence),
            provisional=a.item.provisional,
            note=text(a.item.note, self.lang) if a.item.note else "",
            counts=counts,
            count_line=", ".join(parts),
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

    def places_label(self, count: int) -> str:
        return "" if count <= 1 else fmt(self.t["on_hosts"], count=count)

    def actions(self, by_key: Mapping[str, Finding], limit: int = FIRST_ACTIONS) -> tuple[ActionView, ...]:
        lang, t = self.lang, self.t
        anchors: dict[str, str] = {}
        for f in by_key.values():
            if f.detailed:
                anchors.setdefault(f.check_id, f.anchor)
        out = []
        for a in self.report.assessment.actions[:limit]:
            remediation = text(a.remediation, lang) if a.remediation else ""
            lead = next((by_key[k] for k in a.keys if k in by_key), None)
            places = [by_key[k].where for k in a.keys if k in by_key]
            title = text(a.title, lang)
            out.append(
                ActionView(
                    anchor=lead.anchor if lead is not None and lead.detailed else anchors.get(a.id, ""),
                    title=title,
                    headline=lead.headline if lead is not None else title,
                    headline_short=first_sentence(lead.headline if lead is not None else title),
                    why=text(a.reason_text, lang) if a.reason_text else "",
                    why_short=first_sentence(text(a.reason_text, lang)) if a.reason_text else "",
                    status=a.status.value,
                    status_label=t[f"status_{a.status.value}"],
                    remediation=remediation,
                    remediation_short=first_sentence(remediation),
                    who=t.get(f"who_{a.who}", a.who),
                    effort=t.get(f"effort_{a.effort}", a.effort),
                    hosts=tuple(clean(h) for h in a.hosts),
                    places_label=self.places_label(len(dict.fromkeys(places))),
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

    def status_lists(self, tl: Tally, by_check: Mapping[tuple[str, str], Finding]) -> tuple[StatusList, ...]:
        """Per display status, the checks with such findings and where: the entries add up to the count."""
        out = []
        for status, per_check in tl.per_check.items():
            entries = []
            for key, where in per_check.items():
                check_id = key.partition("|")[2]
                lead = by_check.get((status, key))
                entries.append(
                    Entry(
                        title=self.check_title(check_id),
                        headline=lead.headline if lead is not None else "",
                        count=len(where),
                        places=tuple(clean(w) for w in dict.fromkeys(where)),
                        anchor=lead.anchor if lead is not None else "",
                    )
                )
            out.append(StatusList(status, self.t[f"status_{status}"], tl.counts[status], tuple(entries)))
        return tuple(out)

    def since(self, results: Sequence[Result]) -> SinceView | None:
        since = self.report.extra.get("since")
        if since is None:
            return None
        t = self.t
        counts = _attr(since, "counts", default=None)
        if isinstance(counts, Mapping):  # cyberscan.history's Since: counts per kind, changes as tuples
            numbers = {code: _int(counts.get(code, 0)) for code in ("fixed", "new", "worse", "better")}
        else:
            numbers = {code: _int(_attr(since, code, default=0)) for code in ("fixed", "new", "worse", "better")}
        previous_raw = _attr(since, "previous", "previous_date", "date", default="")
        if not isinstance(previous_raw, str) and _attr(previous_raw, "started", default=None):
            previous_raw = _attr(previous_raw, "started")  # a stored assessment's summary
        previous = _date_label(previous_raw)
        present = {r.key for r in results}
        fixed = []
        for key, code in self.markers.items():
            if code != "fixed" or key in present:
                continue
            parts = key.split("|")
            check_id = parts[0]
            where = next((p for p in (parts[2:3] + parts[3:4] + parts[1:2]) if p), "")
            fixed.append((self.check_title(check_id), clean(where)))
        return SinceView(
            intro=fmt(t["since_intro"], date=previous) if previous else t["since_intro_nodate"],
            line=fmt(t["since_line"], **numbers),
            counts=tuple((code, t[f"since_{code}"], n) for code, n in numbers.items()),
            fixed=tuple(fixed),
        )

    def trend(self, den: FrameworkAssessment | None) -> TrendView | None:
        raw = self.report.extra.get("trend")
        if not raw or isinstance(raw, str | bytes):
            return None
        points_raw = []
        for point in list(raw)[-24:]:
            if isinstance(point, list | tuple):
                when, score, items = [*point, None, None, None][:3]
            else:
                when = _attr(point, "date", "when", "started")
                score = _attr(point, "score", "overall")
                items = _attr(point, "items", default={})
            points_raw.append((_date_label(when), _score(score), items if isinstance(items, Mapping) else {}))
        if not points_raw:
            return None
        item_ids = [a.item.id for a in den.items] if den else []
        width, height, left, right, top, bottom = 640, 200, 44, 16, 12, 28
        n = len(points_raw)
        span = width - left - right
        points = []
        for i, (when, score, items) in enumerate(points_raw):
            x = left + (span * i / (n - 1) if n > 1 else span / 2)
            y = top + (height - top - bottom) * (1 - (score if score is not None else 0.0))
            cells = tuple(percent(_score(items.get(i_id)), self.t) if items.get(i_id) is not None else "–"
                          for i_id in item_ids)
            points.append(TrendPoint(when, percent(score, self.t), round(x, 1), round(y, 1), cells))
        known = [p for p, (_, s, _) in zip(points, points_raw, strict=True) if s is not None]
        polyline = " ".join(f"{p.x},{p.y}" for p in known)
        grid = tuple((round(top + (height - top - bottom) * (1 - g), 1), f"{round(g * 100)}%") for g in (0.0, 0.5, 1.0))
        labels = tuple(str(it.number or it.id) if (it := self.item(i)) is not None else i for i in item_ids)
        return TrendView(width, height, tuple(points), polyline, labels, grid)

    def build(self) -> View:
        assessment, t, lang = self.report.assessment, self.t, self.lang
        scan = assessment.scan
        results = ordered(assessment)
        findings = [(r, self.finding(i, r)) for i, r in enumerate(results, start=1)]
        profile = self.cat.profiles.get(scan.profile)
        readiness = assessment.readiness
        den = readiness.framework(DEN_CHECKLIST)
        tl = tally(assessment)
        groups, other, other_passed = self.groups(den, findings, tl)
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
            Count(
                status=s,
                label=t[f"status_{s}"],
                count=n,
                checks=tl.checks[s],
                places=tl.places[s],
                explain=t[f"status_explain_{s}"],
                checks_label=t["one_check"] if tl.checks[s] == 1 else fmt(t["count_checks"], count=tl.checks[s]),
                places_label=t["on_one_host"] if tl.places[s] == 1 else fmt(t["on_hosts"], count=tl.places[s]),
            )
            for s, n in tl.counts.items()
        )
        by_key = {r.key: f for r, f in findings}
        by_check: dict[tuple[str, str], Finding] = {}
        for r, f in findings:
            by_check.setdefault((f.status, f"{r.target}|{r.check_id}"), f)
        assessed = sum(1 for a in den.items if a.status != UNKNOWN) if den else 0
        score_source = (
            fmt(t["score_source"], assessed=assessed, total=len(den.items),
                answers=t["score_answers"] if any(r.source == "self-reported" for r in results) else "")
            + " " + t["score_meaning"]
            if den is not None and den.score is not None
            else t["score_none_explain"]
        )  # fmt: skip
        score_short = (
            fmt(t["score_short"], assessed=assessed, total=len(den.items))
            if den is not None and den.score is not None
            else t["score_none_explain"]
        )
        return View(
            lang=lang,
            t=t,
            targets=tuple(clean(x) for x in scan.targets),
            started=_when(scan.started),
            profile=text(profile.title, lang) if profile else clean(scan.profile),
            tool_version=clean(scan.tool_version),
            catalogue_version=clean(scan.catalogue_version),
            notices=tuple(clean(notice(self.cat, n, lang)) for n in assessment.notices),
            counts=counts,
            total=tl.total,
            overall=percent(den.score if den else None, t),
            overall_value=den.score if den else None,
            overall_title=self.framework_title(DEN_CHECKLIST),
            score_source=score_source,
            score_short=score_short,
            frameworks=rows,
            unassessed=unassessed,
            unassessed_count=unassessed_n,
            groups=groups,
            other=cards(other),
            other_passed=compact(other_passed),
            findings=tuple(f for _, f in findings),
            status_lists=self.status_lists(tl, by_check),
            addresses=tuple((clean(addr), clean(", ".join(names))) for addr, names in scan.addresses_probed.items()),
            sections=_sections(self.report),
            confidence_notes=self.confidence_notes(readiness, assessment.results),
            readiness=readiness,
            actions=self.actions(by_key),
            more_actions=max(0, len(assessment.actions) - FIRST_ACTIONS),
            continuity=self.continuity(readiness),
            legend=tuple(LegendRow(s, t[f"status_{s}"], t[f"status_explain_{s}"]) for s in STATUSES),
            item_legend=tuple(LegendRow(r, t[f"readiness_{r}"], t[f"readiness_explain_{r}"]) for r in READINESS),
            since=self.since(results),
            trend=self.trend(den),
            accepted=tuple(f for _, f in findings if f.status == ACCEPTED),
            demo=bool(self.report.extra.get("demo", False)),
            expand=bool(self.report.extra.get("expand", False)),
        )


def _when(iso: str) -> str:
    """``2026-11-28T16:30:00+00:00`` as ``2026-11-28 16:30 UTC``."""
    date_, _, rest = iso.partition("T")
    if not rest:
        return clean(iso)
    time = rest[:5]
    return clean(f"{date_} {time} UTC" if rest.endswith(("+00:00", "Z")) else f"{date_} {time}")


def build_view(report: Report) -> View:
    return _Builder(report).build()


def describe(report: Report, results: Sequence[Result]) -> tuple[Mapping[str, str], list[Finding]]:
    """The interface texts and the findings for ``results`` of ``report``, as every report shows them."""
    builder = _Builder(report)
    return builder.t, [builder.finding(i, r) for i, r in enumerate(results, start=1)]
