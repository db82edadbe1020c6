"""What history keeps of one assessment, and how an in-memory assessment becomes that record.

A :class:`Record` is one *judgement* of one *observation*: the facts a scan collected are stored once,
and every time they are judged (the scan itself, or ``cyberscan rescore`` under a newer catalogue)
a record is added with its own id, catalogue version, check versions, scores and one
:class:`Finding` per finding key. Records are plain data: diffs, trends and the hub read them
without loading the catalogue or the facts.

History sits beside the engine: it cannot import :mod:`cyberscan.assessment`, so it reads an
assessment through the :class:`AssessmentLike` protocol (a :class:`cyberscan.assessment.Assessment`
fits it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..catalogue import Catalogue, FrameworkItem
from ..models import AcceptedRisk, Result, Scan, Severity, Status
from ..questionnaire import AnswerError, Answers, normalize, questionnaire
from ..serialize import to_jsonable
from ..texts import text

DEN_CHECKLIST = "den-checklist"

# statuses that say nothing about the organisation: never "fixed", never "new"
UNJUDGED = frozenset({Status.ERROR, Status.SKIPPED, Status.MANUAL})


# ----------------------------------------------------------------------------- what history reads


class ItemLike(Protocol):
    @property
    def item(self) -> FrameworkItem: ...

    @property
    def score(self) -> float | None: ...


class FrameworkLike(Protocol):
    @property
    def framework_id(self) -> str: ...

    @property
    def score(self) -> float | None: ...

    @property
    def items(self) -> Sequence[ItemLike]: ...


class ReadinessLike(Protocol):
    @property
    def frameworks(self) -> Sequence[FrameworkLike]: ...


class AnswersLike(Protocol):
    lang: str
    profile: str | None
    skipped: list[str]
    updated: str | None

    def public(self) -> dict[str, Any]: ...


class AssessmentLike(Protocol):
    """The parts of :class:`cyberscan.assessment.Assessment` that history stores."""

    @property
    def scan(self) -> Scan: ...

    @property
    def results(self) -> Sequence[Result]: ...

    @property
    def readiness(self) -> ReadinessLike: ...

    @property
    def answers(self) -> AnswersLike | None: ...

    @property
    def accepted(self) -> Sequence[AcceptedRisk]: ...

    @property
    def catalogue(self) -> Catalogue: ...


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Finding:
    """One stored finding: what diffs compare, by ``key`` (``check|domain|host|address|port|service``)."""

    key: str
    domain: str
    check_id: str
    check_version: int
    status: Status
    severity: Severity
    source: str = "scan"  # "scan" or "self-reported"
    accepted: bool = False
    reason: str | None = None  # the error reason of an ERROR or SKIPPED finding

    @property
    def parts(self) -> tuple[str, str, str, str, str]:
        """``(domain, host, address, port, service)`` from the key ("" where not set)."""
        fields = self.key.split("|")[1:]
        fields += [""] * (5 - len(fields))
        return fields[0], fields[1], fields[2], fields[3], fields[4]

    @property
    def judged(self) -> bool:
        return self.status not in UNJUDGED


def subject_label(key: str) -> str:
    """A short display label for the subject of a finding key: ``host (address:port) service``, or the domain."""
    fields = key.split("|")[1:] + [""] * 5
    domain, host, address, port, service = fields[:5]
    spot = (f"[{address}]" if ":" in address else address) if address else ""
    if spot and port:
        spot = f"{spot}:{port}"
    if host and spot:
        where = f"{host} ({spot})"
    else:
        where = host or spot or domain
        if port and not spot:
            where = f"{where}:{port}"
    return f"{where} {service}" if service else where


@dataclass(frozen=True, slots=True)
class Summary:
    """One judgement as ``cyberscan history`` lists it: no findings, no facts."""

    id: int | None
    uid: str
    targets: tuple[str, ...]
    started: str  # when the facts were observed (ISO 8601, UTC)
    finished: str
    saved: str  # when this judgement was stored
    tool_version: str
    catalogue_version: str
    profile: str
    complete: bool
    kind: str  # "scan" | "rescore"
    rescored_from: int | None
    score: float | None  # overall DEN checklist score, 0..1
    counts: Mapping[str, int]  # results by status, plus "accepted"
    items: Mapping[str, float | None] = field(default_factory=dict)  # DEN checklist item id -> score
    facts_id: int | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One judgement with its findings (by key), check versions and what it was told."""

    summary: Summary
    findings: Mapping[str, Finding]
    check_versions: Mapping[str, int]
    answers: Mapping[str, Any] | None = None  # public answers (no contact details) and their metadata
    accepted: tuple[AcceptedRisk, ...] = ()

    @property
    def id(self) -> int | None:
        return self.summary.id

    def for_domain(self, domain: str | None) -> Record:
        """The same record with only the findings about ``domain`` (all when None)."""
        if domain is None:
            return self
        return Record(self.summary, {k: f for k, f in self.findings.items() if f.domain == domain},
                      self.check_versions, self.answers, self.accepted)


# ----------------------------------------------------------------------------- from an assessment


def counts_of(results: Sequence[Result]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for result in results:
        counts[result.status.value] += 1
    counts["accepted"] = sum(1 for r in results if r.accepted is not None)
    return counts


def findings_of(results: Sequence[Result]) -> dict[str, Finding]:
    """One finding per key (the engine keeps keys unique; should two results share one, the first stays)."""
    out: dict[str, Finding] = {}
    for r in results:
        if r.key in out:
            continue
        out[r.key] = Finding(
            key=r.key,
            domain=r.subject.domain or r.target,
            check_id=r.check_id,
            check_version=r.check_version,
            status=r.status,
            severity=r.severity,
            source=r.source,
            accepted=r.accepted is not None,
            reason=r.error_reason.value if r.error_reason else None,
        )
    return out


def check_versions_of(results: Sequence[Result]) -> dict[str, int]:
    return {r.check_id: r.check_version for r in sorted(results, key=lambda r: r.check_id)}


def den_scores(readiness: ReadinessLike) -> tuple[float | None, dict[str, float | None]]:
    """The overall DEN checklist score and each item's score (None when the profile does not score it)."""
    for fw in readiness.frameworks:
        if fw.framework_id == DEN_CHECKLIST:
            return fw.score, {ia.item.id: ia.score for ia in fw.items}
    return None, {}


def answers_of(assessment: AssessmentLike) -> dict[str, Any] | None:
    answers = assessment.answers
    if answers is None:
        return None
    return {"answers": to_jsonable(answers.public()), "lang": answers.lang, "profile": answers.profile,
            "skipped": list(answers.skipped), "updated": answers.updated}


def record_of(assessment: AssessmentLike, *, uid: str = "", saved: str = "", kind: str = "scan",
              rescored_from: int | None = None) -> Record:
    """The record of an in-memory assessment (``id`` None until it is saved)."""
    scan = assessment.scan
    score, items = den_scores(assessment.readiness)
    summary = Summary(
        id=None, uid=uid, targets=tuple(scan.targets), started=scan.started, finished=scan.finished, saved=saved,
        tool_version=scan.tool_version, catalogue_version=scan.catalogue_version, profile=scan.profile,
        complete=scan.complete, kind=kind, rescored_from=rescored_from, score=score,
        counts=counts_of(assessment.results), items=items,
    )
    return Record(summary, findings_of(assessment.results), check_versions_of(assessment.results),
                  answers_of(assessment), tuple(assessment.accepted))


def titles_of(catalogue: Catalogue, results: Sequence[Result]) -> dict[tuple[str, int], tuple[str, str]]:
    """``(check id, version) -> (Dutch title, English title)`` of every check and question in ``results``,
    stored beside the findings so ``history`` and ``diff`` need not load the catalogue."""
    out: dict[tuple[str, int], tuple[str, str]] = {}
    qn = None
    for r in results:
        key = (r.check_id, r.check_version)
        if key in out:
            continue
        check = catalogue.checks.get(r.check_id)
        if check is not None:
            out[key] = (text(check.title, "nl"), text(check.title, "en"))
            continue
        qn = qn or questionnaire(catalogue)
        question = qn.get(r.check_id)
        if question is not None:
            out[key] = (text(question.text, "nl"), text(question.text, "en"))
    return out


def answers_from(stored: Mapping[str, Any] | None, catalogue: Catalogue) -> Answers | None:
    """Stored public answers as :class:`~cyberscan.questionnaire.Answers` again, each value read as the
    installed questionnaire reads it (a question that no longer exists, or an answer that no longer
    fits, is left out), so a rescore uses the same answers as the scan did."""
    if stored is None:
        return None
    qn = questionnaire(catalogue)
    values: dict[str, Any] = {}
    for qid, raw in dict(stored.get("answers") or {}).items():
        question = qn.get(str(qid))
        if question is None:
            continue
        try:
            value = normalize(question, raw)
        except AnswerError:
            continue
        if value is not None:
            values[str(qid)] = value
    return Answers(data=values, lang=str(stored.get("lang") or "nl"),
                   profile=str(stored["profile"]) if stored.get("profile") else None,
                   skipped=[str(s) for s in stored.get("skipped") or []],
                   updated=str(stored["updated"]) if stored.get("updated") else None)
