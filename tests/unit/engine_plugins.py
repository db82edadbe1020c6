"""Probes and evaluators used to exercise the engine itself (not product checks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cyberscan.errors import ProbeTimeout
from cyberscan.facts import Facts
from cyberscan.models import Status, Subject, Verdict
from cyberscan.plugin import evaluator, probe
from cyberscan.runtime import ProbeContext

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


# A TCP server that accepts and never says a word: set by tests before a scan.
HANG_ADDRESS: tuple[str, int] = ("127.0.0.1", 9)


@probe("t.hang", fact=Number)
def probe_hang(ctx: ProbeContext, target: str) -> Number:
    """Blocks on a read from a server that never answers (only the deadline or a cancel ends it)."""
    address, port = HANG_ADDRESS
    ep = ctx.endpoint(address, target, "tls")
    with ep.connect(port) as sock:
        while True:
            try:
                if not sock.recv(1):
                    break
            except TimeoutError:
                continue  # a slow read is not the end: only the endpoint's deadline is
    return Number(0)


@evaluator("t.twice")
def twice(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    """Two verdicts about the same subject, and one about another: the engine merges the first two."""
    where = Subject(host="www." + facts.target, address="192.0.2.1", port=443, service="https")
    return [
        Verdict(Status.PASS, "even", {"value": 1}, subject=where),
        Verdict(Status.FAIL, "odd", {"value": 2}, subject=where),
        Verdict(Status.PASS, "even", {"value": 3}, subject=Subject(host=facts.target)),
    ]
