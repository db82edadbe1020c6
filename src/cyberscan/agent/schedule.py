"""When the agent runs its rounds: every interval (``every: 24h``) or on a cron expression
(``cron: "0 6 * * 1"``, read by croniter, in ``timezone`` or the computer's local time).

A round that was missed (the computer was off, the agent stopped) is run once as soon as the agent
is back, not once per missed slot: :func:`next_round`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from croniter import croniter

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_ALIASES = {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}


def parse_duration(value: Any) -> float:
    """Seconds in ``90``, ``"90s"``, ``"15m"``, ``"6h"``, ``"1d"``, ``"2w"`` or ``"1h30m"``. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(value)
        return float(value)
    if not isinstance(value, str):
        raise ValueError(value)
    text = value.strip().lower().replace(" ", "")
    if not text:
        raise ValueError(value)
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, position = 0.0, 0
    for match in _PART.finditer(text):
        if match.start() != position:
            raise ValueError(value)
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise ValueError(value)
    return total


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled start strictly after ``moment`` (an aware datetime)."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Every:
    seconds: float

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)

    def describe(self) -> str:
        return f"every {self.seconds:g}s"


@dataclass(frozen=True, slots=True)
class Cron:
    expression: str
    zone: ZoneInfo | None = None  # None: the computer's local time

    def __post_init__(self) -> None:
        text = self.expression.strip()
        if text.lower() in _ALIASES:
            return
        if len(text.split()) != 5 or not croniter.is_valid(text):
            raise ValueError(self.expression)

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone) if self.zone is not None else moment.astimezone()
        following: datetime = croniter(self.expression.strip(), local).get_next(datetime)
        return following.astimezone(moment.tzinfo)

    def describe(self) -> str:
        return f"cron '{self.expression}'" + (f" ({self.zone.key})" if self.zone is not None else "")


def next_round(schedule: Schedule, last_started: datetime | None, now: datetime) -> datetime:
    """When the next round should start: now when there never was one, or when the slot after the
    last round has passed (missed rounds are caught up once), else that slot."""
    if last_started is None:
        return now
    following = schedule.next_after(last_started)
    return now if following <= now else following
