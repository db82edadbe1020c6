"""The hub's API (django-ninja, OpenAPI at ``/api/docs``): submissions in, aggregates out.

``POST /api/submissions`` takes one summary (``schema/submission.schema.json``) with
``Authorization: Bearer <enrolment token>``. Answers: 201 stored, 200 already stored (the same
submission again), 400 not a valid summary (with ``errors``), 401 no or unknown or revoked token,
403 the token enrolled its maximum of organisations, 409 another summary under the same submission
id, 413 too large, 422 a period that is closed or in the future, 429 too many (``Retry-After``), 503
database unavailable (retry). Nothing is written before the summary is found valid.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.security import HttpBearer

from ..share.summary import quarter_of_week, schema, validate
from ..texts import say
from . import aggregates, store
from .models import EnrolmentToken, token_digest
from .periods import is_closed
from .ratelimit import Buckets

MAX_BATCH = 100
MAX_BATCH_BYTES = 4 * 1024 * 1024
api = NinjaAPI(title="cyberscan hub", version="1", urls_namespace="hub-api", docs_url="/docs")
buckets = Buckets(settings.HUB_RATE)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> EnrolmentToken | None:
        if not token or len(token) > 200:
            return None
        try:
            found = EnrolmentToken.objects.filter(digest=token_digest(token), revoked=False).first()
        except (OperationalError, InterfaceError):
            raise HttpError(503, say("api.database", "en")) from None  # not "unauthorised": try again
        if found is not None:
            request.hub_raw_token = token
        return found  # type: ignore[no-any-return]


def _error(status: int, key: str, *, retry: int = 0, errors: list[str] | None = None, **params: Any) -> JsonResponse:
    body: dict[str, Any] = {"detail": say(f"api.{key}", "en", **params)}
    if errors is not None:
        body["errors"] = errors
    response = JsonResponse(body, status=status)
    if retry:
        response["Retry-After"] = str(retry)
    return response


def _period_problem(week: str, today: date) -> str | None:
    """The key of what is wrong with the week of a summary, or None."""
    year, _, number = week.partition("-W")
    try:
        monday = date.fromisocalendar(int(year), int(number), 1)
    except ValueError:  # week 53 of a year that has 52
        return "week-invalid"
    if is_closed(quarter_of_week(week), today):
        return "period-closed"
    if monday > today + timedelta(days=7):
        return "week-future"
    return None


_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": schema()}}}}


@api.post("/submissions", auth=TokenAuth(), openapi_extra=_BODY, summary=say("hub.api.submit", "en"))
def submit(request: HttpRequest) -> HttpResponse:
    token: EnrolmentToken = request.auth
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.MAX_SUBMISSION_BYTES:
        return _error(413, "too-large", limit=settings.MAX_SUBMISSION_BYTES)
    wait = buckets.take(token.digest)
    if wait:
        return _error(429, "rate-limited", retry=max(1, math.ceil(wait)))
    if len(request.body) > settings.MAX_SUBMISSION_BYTES:  # sent without a Content-Length
        return _error(413, "too-large", limit=settings.MAX_SUBMISSION_BYTES)
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _error(400, "not-json", errors=["(top): not JSON"])
    problems = validate(data)
    if problems:
        return _error(400, "invalid", errors=problems[:20])
    period_problem = _period_problem(data["week"], datetime.now(UTC).date())
    if period_problem:
        return _error(422, period_problem, period=quarter_of_week(data["week"]))
    try:
        stored = store.save(data, token, request.hub_raw_token)
    except store.TokenFull:
        return _error(403, "token-full")
    except store.Conflict:
        return _error(409, "conflict")
    except (OperationalError, InterfaceError, DatabaseError):
        return _error(503, "database", retry=2)
    if stored.created:
        return JsonResponse({"submission_id": data["submission_id"], "stored": True}, status=201)
    return JsonResponse({"submission_id": data["submission_id"], "stored": False}, status=200)


_BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["submissions"],
    "properties": {"submissions": {"type": "array", "maxItems": MAX_BATCH, "items": schema()}}}}}}}
_ITEM_KEYS = {403: "token-full", 409: "conflict"}


@api.post("/submissions/batch", auth=TokenAuth(), openapi_extra=_BATCH_BODY,
          summary=say("hub.api.batch", "en"))
def submit_batch(request: HttpRequest) -> HttpResponse:
    token: EnrolmentToken = request.auth
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BATCH_BYTES:
        return _error(413, "too-large", limit=MAX_BATCH_BYTES)
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _error(400, "not-json", errors=["(top): not JSON"])
    items = data.get("submissions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        return _error(400, "batch-invalid", errors=[f"submissions: 1..{MAX_BATCH}"], limit=MAX_BATCH)
    wait = buckets.take(token.digest, len(items))
    if wait:
        return _error(429, "rate-limited", retry=max(1, math.ceil(wait)))
    today = datetime.now(UTC).date()
    results: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        problems = validate(item)
        if problems:
            results[index] = {"status": 400, "detail": say("api.invalid", "en"), "errors": problems[:20]}
            continue
        period_problem = _period_problem(item["week"], today)
        if period_problem:
            results[index] = {"status": 422, "detail": say(f"api.{period_problem}", "en",
                                                            period=quarter_of_week(item["week"]))}
            continue
        valid.append((index, item))
    if valid:
        try:
            statuses = store.save_many([item for _, item in valid], token, request.hub_raw_token)
        except (OperationalError, InterfaceError, DatabaseError):
            return _error(503, "database", retry=2)
        for (index, item), status in zip(valid, statuses, strict=True):
            entry: dict[str, Any] = {"status": status, "submission_id": item["submission_id"]}
            if status in _ITEM_KEYS:
                entry["detail"] = say(f"api.{_ITEM_KEYS[status]}", "en")
            else:
                entry["stored"] = status == 201
            results[index] = entry
    return JsonResponse({"results": results}, status=200)


@api.get("/aggregates", summary=say("hub.api.aggregates", "en"))
def aggregates_json(request: HttpRequest) -> HttpResponse:
    try:
        return JsonResponse(store.published())
    except (OperationalError, InterfaceError):
        return _error(503, "database", retry=2)


@api.get("/aggregates.csv", summary=say("hub.api.aggregates-csv", "en"))
def aggregates_csv(request: HttpRequest) -> HttpResponse:
    try:
        text = aggregates.to_csv(store.published())
    except (OperationalError, InterfaceError):
        return _error(503, "database", retry=2)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="cyberscan-aggregates.csv"'
    return response
