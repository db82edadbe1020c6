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
    200 already stored, 403 token full, 409 conflict). Reads and writes in bulk."""
    out: list[int] = []
    with transaction.atomic():
        locked = EnrolmentToken.objects.select_for_update().get(pk=token.pk)
        digests = {str(s["organisation"]): enrolment_digest(raw_token, str(s["organisation"])) for s in summaries}
        known = set(Enrolment.objects.filter(token=locked, digest__in=list(digests.values()))
                    .values_list("digest", flat=True))
        room = locked.max_organisations - Enrolment.objects.filter(token=locked).count()
        fresh = []
        for digest in dict.fromkeys(digests.values()):
            if digest not in known and room > 0:
                fresh.append(Enrolment(token=locked, digest=digest))
                known.add(digest)
                room -= 1
        Enrolment.objects.bulk_create(fresh)
        ids = [str(s["submission_id"]) for s in summaries]
        stored = {sid: canonical(payload) for sid, payload in
                  Submission.objects.filter(submission_id__in=ids).values_list("submission_id", "payload")}
        new: dict[str, Mapping[str, Any]] = {}
        for summary in summaries:
            sid = str(summary["submission_id"])
            if digests[str(summary["organisation"])] not in known:
                out.append(403)
            elif sid in stored or sid in new:
                previous = stored.get(sid) or canonical(dict(new[sid]))
                out.append(200 if previous == canonical(dict(summary)) else 409)
            else:
                new[sid] = summary
                out.append(201)
        if new:
            try:
                with transaction.atomic():
                    Submission.objects.bulk_create([_row(s) for s in new.values()])
            except IntegrityError:  # another connection stored some of them at this moment: one by one
                for index, summary in enumerate(summaries):
                    if out[index] == 201 and str(summary["submission_id"]) in new:
                        try:
                            out[index] = 201 if _store_one(summary).created else 200
                        except Conflict:
                            out[index] = 409
    return out


def _row(summary: Mapping[str, Any]) -> Submission:
    return Submission(
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


def _store_one(summary: Mapping[str, Any]) -> Stored:
    """Insert one summary unless its id is stored (inside the caller's transaction)."""
    existing = Submission.objects.filter(submission_id=summary["submission_id"]).first()
    if existing is not None:
        if canonical(existing.payload) != canonical(dict(summary)):
            raise Conflict
        return Stored(False)
    try:
        with transaction.atomic():
            _row(summary).save(force_insert=True)
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
