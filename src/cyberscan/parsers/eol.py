"""End-of-life judgement of software versions, shared by web (banners, CMS) and port-scan checks.

Pure: data in (``checks/data/eol.yaml``, available as ``catalogue.extras["eol"]`` and to evaluators
via the check's ``params``), verdict out. Usage::

    verdict = judge_version(eol_data, "php", "7.4.33", today=facts.now.date())
    verdict.status  # "end-of-life"

Data shape (per product under ``products``)::

    php:
      title: PHP
      cycles:                       # release branches, matched by version prefix
        - {cycle: "8.3", eol: 2027-12-31, latest: "8.3.14"}
      eol_before: "8.1"             # optional: versions below this are end-of-life (without it:
                                    # versions older than every listed branch are)
      min_recommended: "9.8"        # optional: versions below this are "outdated" (update advised)

Statuses: ``end-of-life`` (no more security updates upstream), ``outdated`` (branch supported, but a
newer release exists or known-exploited flaws were fixed later), ``supported``, ``unknown`` (product
or version not in the data, or no version given). Distributions (Debian, Red Hat) backport fixes
into old version numbers; verdicts are about upstream support, and the messages say so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .numbers import small_int

STATUSES = ("supported", "outdated", "end-of-life", "unknown")


@dataclass(frozen=True, slots=True)
class EolVerdict:
    product: str
    version: str
    status: str  # one of STATUSES
    cycle: str = ""
    eol: date | None = None
    latest: str = ""
    reason: str = ""  # "cycle-ended" | "older-than-supported" | "newer-release" | "below-recommended" | ...
    title: str = ""


def version_tuple(version: str) -> tuple[int, ...]:
    """Leading numeric parts: ``"9.2p1"`` -> (9, 2); ``"2.4.41"`` -> (2, 4, 41); ``"abc"`` -> ()."""
    match = re.match(r"^\s*v?(\d+(?:\.\d+)*)", version or "")
    if not match:
        return ()
    parts: list[int] = []
    for part in match.group(1).split(".")[:6]:
        number = small_int(part)
        if number is None:
            break
        parts.append(number)
    return tuple(parts)


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def product_data(eol_data: Mapping[str, Any] | None, product: str) -> Mapping[str, Any] | None:
    products = (eol_data or {}).get("products") or {}
    if not isinstance(products, Mapping):
        return None
    key = product.lower()
    found = products.get(key)
    if isinstance(found, Mapping):
        return found
    for entry in products.values():
        if isinstance(entry, Mapping) and key in [str(a).lower() for a in entry.get("aliases") or ()]:
            return entry
    return None


def judge_version(eol_data: Mapping[str, Any] | None, product: str, version: str, today: date) -> EolVerdict:
    """Judge ``product`` at ``version`` on ``today`` against the end-of-life data. Never raises."""
    entry = product_data(eol_data, product)
    title = str(entry.get("title", product)) if entry else product
    ver = version_tuple(version)
    if entry is None or not ver:
        return EolVerdict(product, version, "unknown", reason="no-data" if entry is None else "no-version", title=title)
    cycles = []
    for raw in entry.get("cycles") or ():
        if not isinstance(raw, Mapping):
            continue
        cyc = version_tuple(str(raw.get("cycle", "")))
        if cyc:
            cycles.append((cyc, raw))
    match = None
    for cyc, raw in cycles:
        if ver[: len(cyc)] == cyc and (match is None or len(cyc) > len(match[0])):
            match = (cyc, raw)
    eol_before = version_tuple(str(entry.get("eol_before", "")))
    min_rec = version_tuple(str(entry.get("min_recommended", "")))
    if match is not None:
        cyc, raw = match
        eol = _date(raw.get("eol"))
        latest = str(raw.get("latest") or "")
        base = {"cycle": str(raw.get("cycle")), "eol": eol, "latest": latest, "title": title}
        if eol is not None and eol <= today:
            return EolVerdict(product, version, "end-of-life", reason="cycle-ended", **base)  # type: ignore[arg-type]
        if eol_before and ver < eol_before:
            return EolVerdict(product, version, "end-of-life", reason="older-than-supported", **base)  # type: ignore[arg-type]
        latest_t = version_tuple(latest)
        if latest_t and len(ver) >= len(latest_t) and ver < latest_t:
            return EolVerdict(product, version, "outdated", reason="newer-release", **base)  # type: ignore[arg-type]
        if min_rec and ver < min_rec:
            return EolVerdict(product, version, "outdated", reason="below-recommended", **base)  # type: ignore[arg-type]
        return EolVerdict(product, version, "supported", **base)  # type: ignore[arg-type]
    oldest = min((c for c, _ in cycles), default=None)
    if eol_before and ver < eol_before:
        return EolVerdict(product, version, "end-of-life", reason="older-than-supported", title=title)
    if not eol_before and oldest is not None and ver < oldest:  # without eol_before, older than any branch
        return EolVerdict(product, version, "end-of-life", reason="older-than-supported", title=title)
    if min_rec and ver < min_rec:
        return EolVerdict(product, version, "outdated", reason="below-recommended", title=title)
    if not cycles and (eol_before or min_rec):
        return EolVerdict(product, version, "supported", title=title)
    newest = max((c for c, _ in cycles), default=None)
    if newest is not None and ver > newest:
        return EolVerdict(product, version, "supported", reason="newer-than-known", title=title)
    return EolVerdict(product, version, "unknown", reason="no-cycle", title=title)
