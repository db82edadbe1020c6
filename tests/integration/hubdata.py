"""Synthetic but valid anonymous summaries (schema/submission.schema.json) for hub tests and the bench."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date, datetime
from typing import Any

from cyberscan import catalogue
from cyberscan.share.summary import PROVINCES, SECTORS, SIZES, iso_week

ITEMS = {fw: [i.id for i in catalogue.builtin().frameworks[fw].items] for fw in ("den-checklist", "den-stappenplan")}
CHECKS = sorted(catalogue.builtin().checks)[:12]
STATUSES = ("gap", "ok-external", "ok", "unknown")


def org_id(n: int) -> str:
    return hashlib.sha256(f"org-{n}".encode()).hexdigest()[:32]


def summary(org: int, serial: int, *, week: str | None = None, rnd: random.Random | None = None,
            sector: str | None = None, size: str | None = None, province: str | bool | None = False,
            level: float | None = None) -> dict[str, Any]:
    rnd = rnd or random.Random(org * 1_000_003 + serial)
    frameworks: dict[str, Any] = {}
    for fw, ids in ITEMS.items():
        items = {}
        for item in ids:
            if level is not None:
                status = "ok" if rnd.random() < level else "gap"
            else:
                status = rnd.choice(STATUSES)
            score = None if status == "unknown" else {"gap": 0.0, "ok-external": 0.5, "ok": 1.0}[status]
            items[item] = {"status": status, "score": score}
        scores = [v["score"] for v in items.values() if v["score"] is not None]
        frameworks[fw] = {"score": round(sum(scores) / len(scores), 4) if scores else None, "items": items}
    return {
        "submission_id": hashlib.sha256(f"{org}-{serial}".encode()).hexdigest(),
        "format": "cyberscan-submission",
        "version": 1,
        "organisation": org_id(org),
        "sector": sector or SECTORS[org % len(SECTORS)],
        "size": size or SIZES[(org // 4) % len(SIZES)],
        "province": (PROVINCES[org % len(PROVINCES)] if org % 3 else None) if province is False else (province or None),
        "week": week or iso_week(datetime.now(UTC)),
        "tool_version": "0.1.0",
        "catalogue_version": catalogue.builtin().version,
        "profile": "default",
        "complete": True,
        "checks": {c: rnd.choice(("pass", "fail", "warn", "error")) for c in CHECKS},
        "answers": {},
        "frameworks": frameworks,
    }


def week_of(day: date) -> str:
    return iso_week(day)
