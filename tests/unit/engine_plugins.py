"""Probes and evaluators used to exercise the engine itself (not product checks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cyberscan.engine import Facts, ProbeContext
from cyberscan.errors import ProbeTimeout
from cyberscan.models import Status, Verdict
from cyberscan.plugin import evaluator, probe

CALLS: dict[str, int] = {}
_lock = threading.Lock()


def _count(name: str) -> None:
    with _lock:
        CALLS[name] = CALLS.get(name, 0) + 1


@dataclass(frozen=True, slots=True)
class Number:
    value: int


@probe("t.slow", fact=Number)
def probe_slow(ctx: ProbeContext, target: str) -> Number:
    _count("t.slow")
    time.sleep(0.05)
    return Number(len(target))


@probe("t.derived", fact=Number)
def probe_derived(ctx: ProbeContext, target: str) -> Number:
    _count("t.derived")
    return Number(ctx.fact("t.slow").value * 2)


@probe("t.timeout", fact=Number)
def probe_timeout(ctx: ProbeContext, target: str) -> Number:
    raise ProbeTimeout("nothing came back", probe="t.timeout", target=target)


@probe("t.crash", fact=Number)
def probe_crash(ctx: ProbeContext, target: str) -> Number:
    raise RuntimeError("boom")


@evaluator("t.even")
def even(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    value = facts.fact(params.get("probe", "t.slow")).value
    status = Status.PASS if value % 2 == 0 else Status.FAIL
    return [Verdict(status, "even" if status is Status.PASS else "odd", {"value": value})]


@evaluator("t.broken")
def broken(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    raise ZeroDivisionError("bug in evaluator")
