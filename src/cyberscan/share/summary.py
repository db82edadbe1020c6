"""The anonymous summary of one assessment: what an organisation may share with DEN's hub.

Pure: an :class:`Assessment` plus the organisation's self-description in, a plain dictionary out,
valid against ``schema/submission.schema.json``. What goes in:

- sector (museum, archive, library, other), size class, optionally the province;
- the ISO week of the scan (never the exact time), tool, catalogue and summary format versions;
- per check of the published catalogue the status (the worst over its subjects);
- per answered question of the published questionnaire the status (never the answer itself);
- per framework item of the published frameworks its status and score.

What never goes in, by construction (no field can hold it): the domain, host names, addresses, ports,
certificate fields, banners, message parameters or evidence, free-text answers, contact data,
accepted-risk reasons, exact timestamps. Checks, questions and frameworks an organisation added
itself (``--catalogue``) stay out: their ids could name it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jsonschema

from ..assessment import Assessment
from ..catalogue import Catalogue, data_root
from ..models import Status
from ..version import __version__

FORMAT = "cyberscan-submission"
FORMAT_VERSION = 1
SCHEMA_FILE = "submission.schema.json"

SECTORS = ("museum", "archive", "library", "other")
# Staff headcount classes of the EU SME definition (Recommendation 2003/361/EC): micro < 10,
# small < 50, medium < 250, large 250 or more.
SIZES = ("micro", "small", "medium", "large")
PROVINCES = (
    "drenthe", "flevoland", "fryslan", "gelderland", "groningen", "limburg", "noord-brabant",
    "noord-holland", "overijssel", "utrecht", "zeeland", "zuid-holland",
)  # fmt: skip
# Question types whose results carry nothing but a status; text and contact answers never leave.
SHARED_QUESTION_TYPES = ("yesno", "choice", "multi", "number", "date")

# The worst status of a check over its subjects leads: a failure anywhere is a failure, an error
# anywhere (with no failure) means the check is not fully known.
_WORST = (Status.FAIL, Status.WARN, Status.ERROR, Status.PASS, Status.INFO, Status.MANUAL, Status.SKIPPED)
_RANK = {status: rank for rank, status in enumerate(_WORST)}


@dataclass(frozen=True, slots=True)
class Organisation:
    """How an organisation describes itself to the hub: coarse classes only."""

    sector: str
    size: str
    province: str | None = None

    def problems(self) -> list[tuple[str, str]]:
        """(field, value) pairs that are not in the vocabulary."""
        wrong = []
        if self.sector not in SECTORS:
            wrong.append(("sector", self.sector))
        if self.size not in SIZES:
            wrong.append(("size", self.size))
        if self.province is not None and self.province not in PROVINCES:
            wrong.append(("province", self.province))
        return wrong


def iso_week(moment: datetime | date) -> str:
    """``2025-W07``: the ISO 8601 week of ``moment`` (its ISO year may differ from the calendar year)."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def quarter_of_week(week: str) -> str:
    """``2025-Q1``: the quarter of the Thursday of an ISO week (the day that decides its ISO year)."""
    year_s, _, week_s = week.partition("-W")
    thursday = date.fromisocalendar(int(year_s), int(week_s), 4)
    return f"{thursday.year}-Q{(thursday.month - 1) // 3 + 1}"


def _check_statuses(assessment: Assessment, published: Catalogue) -> dict[str, str]:
    worst: dict[str, Status] = {}
    for result in assessment.results:
        if result.source != "scan" or result.check_id not in published.checks:
            continue
        current = worst.get(result.check_id)
        if current is None or _RANK[result.status] < _RANK[current]:
            worst[result.check_id] = result.status
    return {check_id: worst[check_id].value for check_id in sorted(worst)}


def _shared_questions(published: Catalogue) -> set[str]:
    raw = published.extras.get("questions")
    questions = (raw.get("questions") or []) if isinstance(raw, Mapping) else []
    return {str(q["id"]) for q in questions
            if isinstance(q, Mapping) and "id" in q and q.get("type", "yesno") in SHARED_QUESTION_TYPES}


def _answer_statuses(assessment: Assessment, published: Catalogue) -> dict[str, str]:
    shared = _shared_questions(published)
    out: dict[str, Status] = {}
    for result in assessment.results:
        if result.source == "self-reported" and result.check_id in shared:
            current = out.get(result.check_id)
            if current is None or _RANK[result.status] < _RANK[current]:
                out[result.check_id] = result.status
    return {qid: out[qid].value for qid in sorted(out)}


def _score(value: float | None) -> float | None:
    return None if value is None else round(min(max(value, 0.0), 1.0), 4)


def _frameworks(assessment: Assessment, published: Catalogue) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fa in assessment.readiness.frameworks:
        framework = published.frameworks.get(fa.framework_id)
        if framework is None:
            continue
        known = {item.id for item in framework.items}
        items = {ia.item.id: {"status": ia.status, "score": _score(ia.score)} for ia in fa.items if ia.item.id in known}
        out[fa.framework_id] = {"score": _score(fa.score), "items": dict(sorted(items.items()))}
    return dict(sorted(out.items()))


def summarise(assessment: Assessment, organisation: Organisation, *, published: Catalogue,
              organisation_id: str, secret: bytes) -> dict[str, Any]:
    """The anonymous summary of ``assessment`` (see the module docstring for what is in and out).

    ``published`` is the catalogue the hub knows (the built-in one): only its checks, questions and
    frameworks are summarised. ``organisation_id`` is the pseudonymous id, ``secret`` the local key
    that makes the submission id (:func:`submission_id`)."""
    scan = assessment.scan
    body: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "organisation": organisation_id,
        "sector": organisation.sector,
        "size": organisation.size,
        "province": organisation.province,
        "week": iso_week(datetime.fromisoformat(scan.started)),
        "tool_version": __version__,
        "catalogue_version": published.version,
        "profile": scan.profile if scan.profile in published.profiles else "custom",
        "complete": bool(scan.complete),
        "checks": _check_statuses(assessment, published),
        "answers": _answer_statuses(assessment, published),
        "frameworks": _frameworks(assessment, published),
    }
    return {"submission_id": submission_id(secret, assessment, body), **body}


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value that ids and comparisons use."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def submission_id(secret: bytes, assessment: Assessment, body: Mapping[str, Any]) -> str:
    """The identity of one shared assessment: the same scan summarised the same way gives the same id
    (so a resubmission is recognised), a different scan or other answers a different one.

    A keyed hash (HMAC-SHA256) under the organisation's local secret, which never leaves the computer:
    the hub cannot test guesses of domain names or scan times against it."""
    scan = assessment.scan
    message = b"\n".join([scan.started.encode(), ",".join(scan.targets).encode(), canonical(dict(body))])
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def schema() -> dict[str, Any]:
    """The published JSON Schema of a submission (``schema/submission.schema.json``, in the wheel too)."""
    data: dict[str, Any] = json.loads((data_root() / "schema" / SCHEMA_FILE).read_text(encoding="utf-8"))
    return data


def validate(summary: Any) -> list[str]:
    """Every way ``summary`` breaks the published schema, as ``path: message`` lines (empty: valid)."""
    validator = _validator()
    if validator.is_valid(summary):
        return []
    problems = []
    for error in sorted(validator.iter_errors(summary), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        problems.append(f"{where}: {error.message[:200]}")
    return problems
