"""The hub's database side: storing a validated submission once, and reading what the aggregates need."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min

from .. import catalogue as catalogue_mod
from ..share.summary import canonical, quarter_of_week
from . import aggregates
from .models import Enrolment, EnrolmentToken, Submission, enrolment_digest
from .periods import closed_quarters


@dataclass(frozen=True, slots=True)
class Stored:
    created: bool  # False: the same submission was already stored


class Conflict(Exception):
    """A different summary arrived under a submission id that is already stored."""


class TokenFull(Exception):
    """The token already enrolled as many organisations as it may."""


def _enrol(locked: EnrolmentToken, raw_token: str, organisation: str) -> None:
    digest = enrolment_digest(raw_token, organisation)
    if not Enrolment.objects.filter(token=locked, digest=digest).exists():
        if Enrolment.objects.filter(token=locked).count() >= locked.max_organisations:
            raise TokenFull
        Enrolment.objects.create(token=locked, digest=digest)


def save(summary: Mapping[str, Any], token: EnrolmentToken, raw_token: str) -> Stored:
    """Store a validated ``summary`` exactly once. Raises Conflict or TokenFull."""
    with transaction.atomic():
        locked = EnrolmentToken.objects.select_for_update().get(pk=token.pk)
        _enrol(locked, raw_token, str(summary["organisation"]))
        return _store_one(summary)


def save_many(summaries: list[Mapping[str, Any]], token: EnrolmentToken, raw_token: str) -> list[int]:
    """Store validated summaries in one transaction; an HTTP-like status per summary (201 stored,
    200 already stored, 403 token full, 409 conflict)."""
    out: list[int] = []
    with transaction.atomic():
        locked = EnrolmentToken.objects.select_for_update().get(pk=token.pk)
        for summary in summaries:
            try:
                _enrol(locked, raw_token, str(summary["organisation"]))
                out.append(201 if _store_one(summary).created else 200)
            except TokenFull:
                out.append(403)
            except Conflict:
                out.append(409)
    return out


def _store_one(summary: Mapping[str, Any]) -> Stored:
    """Insert one summary unless its id is stored (inside the caller's transaction)."""
    existing = Submission.objects.filter(submission_id=summary["submission_id"]).first()
    if existing is not None:
        if canonical(existing.payload) != canonical(dict(summary)):
            raise Conflict
        return Stored(False)
    try:
        with transaction.atomic():
            Submission.objects.create(
                submission_id=summary["submission_id"],
                organisation=summary["organisation"],
                period=quarter_of_week(str(summary["week"])),
                week=summary["week"],
                sector=summary["sector"],
                size=summary["size"],
                province=summary["province"] or "",
                tool_version=summary["tool_version"],
                catalogue_version=summary["catalogue_version"],
                payload=dict(summary),
            )
    except IntegrityError:  # the same id arrived at the same moment from another connection
        existing = Submission.objects.filter(submission_id=summary["submission_id"]).first()
        if existing is None or canonical(existing.payload) != canonical(dict(summary)):
            raise Conflict from None
        return Stored(False)
    return Stored(True)


def framework_items() -> dict[str, list[str]]:
    cat = catalogue_mod.builtin()
    return {fw: [item.id for item in cat.frameworks[fw].items] for fw in aggregates.FRAMEWORKS if fw in cat.frameworks}


_cache_lock = threading.Lock()
_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def published(today: datetime | None = None) -> dict[str, Any]:
    """The published aggregates of every closed quarter (computed once per change of the data)."""
    day = (today or datetime.now(UTC)).date()
    first = Submission.objects.aggregate(first=Min("period"))["first"]
    closed = closed_quarters(first, day)
    last = closed[-1] if closed else ""
    summary = Submission.objects.filter(period__lte=last).aggregate(n=Count("id"), top=Max("id"))
    key = (tuple(closed), summary["n"], summary["top"], settings.HUB_K)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    latest: dict[str, dict[str, Any]] = {}
    rows = (Submission.objects.filter(period__lte=last).order_by("period", "week", "id")
            .values_list("period", "organisation", "payload").iterator(chunk_size=2000))
    for period, org, payload in rows:
        latest.setdefault(period, {})[org] = payload  # later rows (newer weeks) win
    result = aggregates.build(latest, closed, items=framework_items(), k=settings.HUB_K,
                              catalogue_version=catalogue_mod.builtin().version)
    with _cache_lock:
        _cache.clear()
        _cache[key] = result
    return result
