"""The agent's alert rules, table-driven over pairs of stored judgements: the previous one (kept in
the history) and this round's first scan and its confirmation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from cyberscan.agent.alerts import (
    CANNOT_CHECK,
    EXPIRY,
    EXPOSED,
    NEW_FAIL,
    REMINDER,
    SCORE,
    SUMMARY,
    WORSENED,
    DomainMeta,
    KeyState,
    candidates,
    settle,
)
from cyberscan.agent.config import Rules
from cyberscan.agent.dates import CERTIFICATE, Dated, stage_of, stages
from cyberscan.history.diff import compare
from cyberscan.history.record import Record, Summary, findings_of
from cyberscan.models import AcceptedRisk, ErrorReason, Result, Severity, Status, Subject

DOMAIN = "museum.test"
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
RULES = Rules(confirm_after=0)


def result(check: str, status: str | None, *, severity: str = "high", host: str | None = None, port: int | None = None,
           message: str = "m", accepted: bool = False) -> Result | None:
    if status is None:
        return None
    st = Status(status)
    subject = Subject(domain=DOMAIN, host=host, address="192.0.2.1" if port else None, port=port,
                      service="rdp" if port == 3389 else None)
    risk = AcceptedRisk(f"{check}", "accepted", "r", "w", "2099-01-01") if accepted else None
    return Result(check, 1, DOMAIN, st, Severity(severity), message, {}, {}, subject.with_domain(DOMAIN),
                  error_reason=ErrorReason.TIMEOUT if st is Status.ERROR else None, accepted=risk)


def record(results: Sequence[Result], when: datetime = NOW) -> Record:
    stamp = when.isoformat()
    summary = Summary(None, "u", (DOMAIN,), stamp, stamp, stamp, "t", "c", "default", True, "scan", None, None, {})
    return Record(summary, findings_of(results), {r.check_id: r.check_version for r in results})


@dataclass
class Case:
    name: str
    before: Sequence[Result]  # the previous stored judgement (None: there is none)
    first: Sequence[Result]  # this round's scan
    again: Sequence[Result] | None  # after confirmation (None: the same as first)
    kinds: tuple[str, ...]
    rules: Rules = RULES


def _r(*args: object, **kw: object) -> Result:
    out = result(*args, **kw)  # type: ignore[arg-type]
    assert out is not None
    return out


DMARC = "mail.dmarc.policy"
OTHER = [_r("dns.caa", "pass", severity="low")]

CASES = [
    Case("pass then fail, still failing: one alert", [_r(DMARC, "pass"), *OTHER], [_r(DMARC, "fail"), *OTHER], None,
         (NEW_FAIL,)),
    Case("pass then fail, passing again at confirmation: a flap, nothing", [_r(DMARC, "pass")], [_r(DMARC, "fail")],
         [_r(DMARC, "pass")], ()),
    Case("pass then fail, timeout at confirmation: nothing yet", [_r(DMARC, "pass")], [_r(DMARC, "fail")],
         [_r(DMARC, "error")], ()),
    Case("warning then fail: worse", [_r(DMARC, "warn")], [_r(DMARC, "fail")], None, (WORSENED,)),
    Case("fail stays fail", [_r(DMARC, "fail")], [_r(DMARC, "fail")], None, ()),
    Case("fail then pass: fixed, no message", [_r(DMARC, "fail")], [_r(DMARC, "pass")], None, ()),
    Case("pass then error (one timeout): nothing", [_r(DMARC, "pass")], [_r(DMARC, "error")], None, ()),
    Case("pass then warning: not alerted", [_r(DMARC, "pass")], [_r(DMARC, "warn")], None, ()),
    Case("a new subject of a check that ran: new fail", [_r("web.hsts", "pass", host="www.museum.test")],
         [_r("web.hsts", "pass", host="www.museum.test"), _r("web.hsts", "fail", host="shop.museum.test")], None,
         (NEW_FAIL,)),
    Case("a new subject gone again at confirmation: a flap", [_r("net.exposed.vnc", "pass")],
         [_r("net.exposed.vnc", "fail", port=5900)], [_r("net.exposed.vnc", "pass")], ()),
    Case("a newly exposed service", [_r("net.exposed.rdp", "pass")],
         [_r("net.exposed.rdp", "fail", port=3389)], None, (EXPOSED,)),
    Case("a newly exposed service at warning level", [_r("net.exposed.rdp", "pass")],
         [_r("net.exposed.rdp", "warn", port=3389)], None, (EXPOSED,)),
    Case("an accepted risk is not alerted", [_r(DMARC, "pass")], [_r(DMARC, "fail", accepted=True)], None, ()),
    Case("below the minimum severity", [_r("dns.caa", "pass", severity="low")], [_r("dns.caa", "fail", severity="low")],
         None, (), replace(RULES, min_severity=Severity.MEDIUM)),
    Case("certificate expiry findings are left to the dated rules", [_r("web.tls.cert.expiry", "pass")],
         [_r("web.tls.cert.expiry", "fail", message="expires-very-soon")], None, ()),
    Case("security.txt expired is a dated item, malformed is a finding", [_r("web.securitytxt", "pass")],
         [_r("web.securitytxt", "fail", message="malformed")], None, (NEW_FAIL,)),
    Case("a check that did not run before is not new", [_r(DMARC, "pass")],
         [_r(DMARC, "pass"), _r("mail.spf", "fail")], None, ()),
    Case("an error before: unknown, so not new", [_r(DMARC, "error")], [_r(DMARC, "fail")], None, ()),
]


def _run(case: Case, *, states: dict[str, KeyState] | None = None, first: bool = False):  # type: ignore[no-untyped-def]
    before = record(case.before, NOW - timedelta(days=1))
    current = record(case.first)
    diff = compare(before, current, domain=DOMAIN)
    if states is None:  # the agent's baseline after the previous round, as settle left it
        states = settle(DOMAIN, case.before, [], [], {}, DomainMeta(), case.rules, NOW - timedelta(days=1),
                        round_no=1, first=True, score=None).states
    found = candidates(case.first, [], states, diff, case.rules, NOW, first=first)
    again = list(case.again) if case.again is not None else list(case.first)
    return settle(DOMAIN, again, [], found, states, DomainMeta(rounds=1), case.rules, NOW, round_no=2, first=first,
                  score=None)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_alert_rules(case: Case) -> None:
    settled = _run(case)
    assert tuple(i.kind for i in settled.items) == case.kinds, settled.log


def test_first_round_sends_one_summary_not_an_alert_per_finding() -> None:
    case = Case("first", [], [_r(DMARC, "fail"), _r("mail.spf", "fail"), _r("net.exposed.rdp", "fail", port=3389)],
                None, ())
    found = candidates(case.first, [], {}, None, RULES, NOW, first=True)
    assert found == []
    settled = settle(DOMAIN, case.first, [], found, {}, DomainMeta(), RULES, NOW, round_no=1, first=True, score=0.5,
                     summary={"score": 0.5})
    assert [i.kind for i in settled.items] == [SUMMARY]
    assert settled.meta.rounds == 1 and settled.meta.score == 0.5
    assert all(not s.open for s in settled.states.values())  # known, not alerted: no reminders for them


def test_the_baseline_outlives_an_error_round() -> None:
    """pass, then a round of errors, then fail: the fail is new (the history's diff alone would call
    it not comparable, the agent's baseline remembers the pass)."""
    states = _run(Case("1", [_r(DMARC, "pass")], [_r(DMARC, "error")], None, ())).states
    assert states[_r(DMARC, "pass").key].level == 0
    before = record([_r(DMARC, "error")])
    current = [_r(DMARC, "fail")]
    found = candidates(current, [], states, compare(before, record(current)), RULES, NOW, first=False)
    assert [c.kind for c in found] == [NEW_FAIL]


def _sequence(statuses: Sequence[str], rules: Rules = RULES, *, days_apart: float = 1.0,
              severity: str = "high") -> list[list[str]]:
    """Rounds of one finding with these statuses (each confirmed as first seen): the item kinds per round."""
    states: dict[str, KeyState] = {}
    meta = DomainMeta()
    previous: list[Result] = []
    out = []
    for n, status in enumerate(statuses, start=1):
        now = NOW + timedelta(days=days_apart * n)
        current = [_r(DMARC, status, severity=severity), *OTHER]
        diff = compare(record(previous), record(current)) if previous else None
        first = meta.rounds == 0
        found = candidates(current, [], states, diff, rules, now, first=first)
        settled = settle(DOMAIN, current, [], found, states, meta, rules, now, round_no=meta.rounds + 1, first=first,
                         score=None)
        states, meta, previous = settled.states, settled.meta, current
        out.append([i.kind for i in settled.items])
    return out


def test_a_problem_that_clears_and_comes_back_within_a_few_rounds_is_not_new() -> None:
    kinds = _sequence(["pass", "fail", "pass", "fail", "pass", "pass", "pass", "pass", "fail"],
                      replace(RULES, flapping_rounds=3, reminders={}), days_apart=0.1)
    assert kinds == [[SUMMARY], [NEW_FAIL], [], [], [], [], [], [], [NEW_FAIL]]


def test_a_known_problem_flapping_stays_quiet() -> None:
    kinds = _sequence(["fail", "pass", "fail", "pass", "fail"], replace(RULES, flapping_rounds=3), days_apart=0.1)
    assert kinds == [[SUMMARY], [], [], [], []]


@pytest.mark.parametrize(("severity", "days_apart", "expected"), [
    ("critical", 1.0, [[SUMMARY], [NEW_FAIL], [REMINDER], [REMINDER], [REMINDER]]),
    ("high", 1.0, [[SUMMARY], [NEW_FAIL], [], [], [REMINDER]]),
    ("medium", 2.0, [[SUMMARY], [NEW_FAIL], [], [], [], [REMINDER]]),
    ("info", 30.0, [[SUMMARY], [NEW_FAIL], [], [], []]),  # info: never reminded
])
def test_reminders_are_spaced_by_severity(severity: str, days_apart: float, expected: list[list[str]]) -> None:
    statuses = ["pass"] + ["fail"] * (len(expected) - 1)
    rules = replace(RULES, min_severity=Severity.INFO)
    assert _sequence(statuses, rules, days_apart=days_apart, severity=severity) == expected


def test_below_the_minimum_severity_nothing_is_alerted_or_reminded() -> None:
    assert _sequence(["pass", "fail", "fail", "fail"], days_apart=30, severity="info") == [[SUMMARY], [], [], []]


def test_a_check_in_error_for_many_rounds_is_reported_once_as_cannot_check() -> None:
    rules = replace(RULES, cannot_check_rounds=3)
    kinds = _sequence(["pass", "error", "error", "error", "error", "error", "pass", "error", "error", "error"], rules,
                      days_apart=0.1)
    assert kinds == [[SUMMARY], [], [], [CANNOT_CHECK], [], [], [], [], [], [CANNOT_CHECK]]
    assert CANNOT_CHECK not in {k for round_ in kinds for k in round_ if k in (NEW_FAIL, WORSENED)}


def test_a_score_drop_is_said_once() -> None:
    rules = replace(RULES, score_drop=0.05)
    meta = DomainMeta(rounds=3, score=0.80)
    items = settle(DOMAIN, OTHER, [], [], {}, meta, rules, NOW, round_no=4, first=False, score=0.70).items
    assert [i.kind for i in items] == [SCORE] and items[0].params == {"before": 0.80, "now": 0.70}
    assert settle(DOMAIN, OTHER, [], [], {}, replace(meta, score=0.70), rules, NOW, round_no=5, first=False,
                  score=0.68).items == ()


# ----------------------------------------------------------------------------- dated items


def cert(days_left: float, lifetime_days: float, *, identity: str = "aa", now: datetime = NOW) -> Dated:
    end = now + timedelta(days=days_left)
    return Dated(f"expiry.certificate|{DOMAIN}|{identity}", CERTIFICATE, DOMAIN, "tls.scan", identity, end,
                 end - timedelta(days=lifetime_days), ("www.museum.test (192.0.2.1:443)",))


@pytest.mark.parametrize(("lifetime", "names"), [
    (398, ["third", "14d", "7d", "1d", "expired"]),
    (47, ["third", "14d", "7d", "1d", "expired"]),
    (20, ["third", "1d", "expired"]),  # a third is 6.7 days: the 14- and 7-day marks would come at once
    (6, ["third", "1d", "expired"]),
])
def test_stages_follow_the_certificates_own_lifetime(lifetime: int, names: list[str]) -> None:
    assert [n for n, _ in stages(timedelta(days=lifetime), (14, 7, 1))] == names


def test_a_certificate_is_alerted_once_per_stage_and_a_renewal_starts_again() -> None:
    lifetime = 47.0
    states: dict[str, KeyState] = {}
    meta = DomainMeta(rounds=1)
    start = NOW
    seen: list[tuple[float, list[str]]] = []
    for day in range(0, 52):
        now = start + timedelta(days=day)
        item = cert(lifetime - day, lifetime, now=now) if day <= 47 else cert(90, 90, identity="bb", now=now)
        found = candidates(OTHER, [item], states, None, RULES, now, first=False)
        settled = settle(DOMAIN, OTHER, [item], found, states, meta, RULES, now, round_no=meta.rounds + 1,
                         first=False, score=None)
        states, meta = settled.states, settled.meta
        stage_names = [str(i.new) for i in settled.items if i.kind == EXPIRY]
        if stage_names:
            seen.append((lifetime - day, stage_names))
    # a third of 47 days is 15.7 days: the alerts come at 15, 14, 7 and 1 days left, then expiry
    assert seen == [(15, ["third"]), (14, ["14d"]), (7, ["7d"]), (1, ["1d"]), (0, ["expired"])]


def test_a_certificate_swapped_for_one_that_expires_soon_is_alerted_at_once() -> None:
    states = settle(DOMAIN, OTHER, [cert(80, 90)], [], {}, DomainMeta(), RULES, NOW, round_no=1, first=True,
                    score=None).states
    swapped = cert(5, 30, identity="cc")
    found = candidates(OTHER, [swapped], states, None, RULES, NOW, first=False)
    assert [(c.kind, c.level) for c in found] == [(EXPIRY, stage_of(swapped.end, NOW, timedelta(days=30), (14, 7, 1)))]
    items = settle(DOMAIN, OTHER, [swapped], found, states, DomainMeta(rounds=1), RULES, NOW, round_no=2, first=False,
                   score=None).items
    assert [(i.kind, i.new, i.params["days"]) for i in items] == [(EXPIRY, "7d", 5)]


def test_the_first_round_knows_what_already_passed_a_stage() -> None:
    states = settle(DOMAIN, OTHER, [cert(5, 90)], [], {}, DomainMeta(), RULES, NOW, round_no=1, first=True,
                    score=None).states
    found = candidates(OTHER, [cert(4.5, 90)], states, None, RULES, NOW + timedelta(hours=12), first=False)
    assert found == []  # the summary said so; the next stage (1 day) is the next alert
