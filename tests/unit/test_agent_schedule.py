"""Schedules: an interval or a cron expression; a missed round is caught up once, not once per slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cyberscan.agent.schedule import Cron, Every, next_round, parse_duration

MONDAY_6 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90), (90, 90), ("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400), ("2w", 1209600),
    ("1h30m", 5400), ("1.5h", 5400), (" 24H ", 86400),
])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "often", "5x", "h", "1h 30", "-5m", True, None, float("nan"), [1]])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_every_interval_counts_from_the_last_round() -> None:
    schedule = Every(86400)
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert next_round(schedule, None, now) == now  # never ran: now
    assert next_round(schedule, now - timedelta(hours=3), now) == now + timedelta(hours=21)
    assert next_round(schedule, now - timedelta(days=9), now) == now  # missed nine: one round now


def test_cron_in_a_time_zone() -> None:
    schedule = Cron("0 6 * * 1", ZoneInfo("Europe/Amsterdam"))
    wednesday = datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert schedule.next_after(wednesday) == datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 06:00 CET
    summer = Cron("0 6 * * 1", ZoneInfo("Europe/Amsterdam")).next_after(datetime(2026, 7, 1, tzinfo=UTC))
    assert summer == datetime(2026, 7, 6, 4, 0, tzinfo=UTC)  # 06:00 CEST


def test_cron_missed_and_not_missed() -> None:
    schedule = Cron("0 6 * * 1", ZoneInfo("UTC"))
    after = MONDAY_6 + timedelta(minutes=3)
    assert next_round(schedule, MONDAY_6, after) == MONDAY_6 + timedelta(days=7)
    assert next_round(schedule, MONDAY_6 - timedelta(days=14), after) == after  # off for two weeks: once, now


@pytest.mark.parametrize("expression", ["@daily", "*/15 * * * *", "0 6 * * mon-fri", "30 2 1 * *"])
def test_cron_expressions(expression: str) -> None:
    nxt = Cron(expression, ZoneInfo("UTC")).next_after(MONDAY_6)
    assert nxt > MONDAY_6


@pytest.mark.parametrize("expression", ["", "61 * * * *", "* * * *", "0 0 0 * * *", "every day"])
def test_bad_cron_expressions(expression: str) -> None:
    with pytest.raises(ValueError):
        Cron(expression)
