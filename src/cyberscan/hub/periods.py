"""Quarters: which ones are closed (published) and which still take submissions. Pure."""

from __future__ import annotations

from datetime import date, timedelta

GRACE_DAYS = 14  # a quarter closes two weeks after its last day, for scans made near its end


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_end(period: str) -> date:
    year, q = int(period[:4]), int(period[-1])
    first_of_next = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return first_of_next - timedelta(days=1)


def is_closed(period: str, today: date) -> bool:
    return today > quarter_end(period) + timedelta(days=GRACE_DAYS)


def quarters_between(first: str, last: str) -> list[str]:
    out = []
    year, q = int(first[:4]), int(first[-1])
    while f"{year}-Q{q}" <= last:
        out.append(f"{year}-Q{q}")
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)
    return out


def closed_quarters(first: str | None, today: date) -> list[str]:
    """Every closed quarter from ``first`` (the oldest with a submission) on, oldest first."""
    if first is None:
        return []
    latest = quarter_of(today)
    return [p for p in quarters_between(first, latest) if is_closed(p, today)]
