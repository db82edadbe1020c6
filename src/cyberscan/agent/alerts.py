"""What is worth a message: the agent's rules, pure (no I/O, no clock: ``now`` is given).

A round of one domain goes through two steps:

1. :func:`candidates` finds the regressions in a fresh assessment: a finding whose level rose above
   what the agent knows (its *baseline*, kept per finding key): a new ``fail``, a warning that became
   a fail, a newly exposed service (a ``net.exposed.*`` fail or warning), or a dated item (certificate,
   security.txt ``Expires``, DNSSEC signature) that passed its next stage. Where the agent has no
   baseline for a key yet, :func:`cyberscan.history.diff.compare` with the previous stored assessment
   says whether the check saw no problem there before. Nothing is a candidate in the first round.
2. After the candidates were probed again (:mod:`.confirm`), :func:`settle` reads the confirmed
   assessment: a candidate whose regression still holds becomes an alert; one that is gone was a
   flap, one that could not be judged again (a timeout) is left for the next round. It then updates
   the baseline of every key and adds what is due besides:

   - a problem that cleared and came back within ``flapping_rounds`` rounds is not new: no message;
   - reminders for open problems (alerted and not fixed), spaced by severity;
   - a check that gave ``error`` for ``cannot_check_rounds`` rounds in a row: "cannot check", once;
   - a drop of the DEN score by at least ``score_drop``;
   - in the first round, one summary instead of an alert per finding.

An error is never a regression and never a fix: it leaves the baseline as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from ..history.diff import BETTER, FIXED, NEW, UNCHANGED, WORSE, Diff
from ..models import Result, Severity, Status
from .config import Rules
from .dates import Dated, stage_name, stage_of

LEVEL = {Status.FAIL: 2, Status.WARN: 1, Status.PASS: 0, Status.INFO: 0}
STATUS_OF_LEVEL = {2: "fail", 1: "warn", 0: "pass"}

# kinds of message items
NEW_FAIL, WORSENED, EXPOSED, EXPIRY, SCORE = "new-fail", "worse", "exposed", "expiry", "score"
UNSCANNABLE, CANNOT_CHECK, REMINDER, SUMMARY, NO_NETWORK = "unscannable", "cannot-check", "reminder", "summary", "no-network"
RISE = "rise"  # a rise that is no alert by itself (a new warning): confirmed only when the score dropped
ALERTS = (NEW_FAIL, WORSENED, EXPOSED, EXPIRY, SCORE, UNSCANNABLE)

# findings about a date that runs out are judged by the dated items, against their own lifetime
DATED_FINDINGS: Mapping[str, frozenset[str] | None] = {
    "web.tls.cert.expiry": None,  # every message
    "web.tls.cert.valid": frozenset({"expired"}),
    "web.securitytxt": frozenset({"expired"}),
    "dns.dnssec": frozenset({"expired"}),
}
EXPOSURE_PREFIX = "net.exposed."
UNSEEN_ROUNDS = 30  # a key not seen for this many rounds (and not open) is forgotten

FINDING, DATED_KIND, META = "finding", "expiry", "meta"


def is_dated(check_id: str, message: str) -> bool:
    if check_id not in DATED_FINDINGS:
        return False
    messages = DATED_FINDINGS[check_id]
    return messages is None or message in messages


# ----------------------------------------------------------------------------- what the agent knows


@dataclass(slots=True)
class KeyState:
    """The baseline of one finding key, or of one dated item."""

    check_id: str = ""
    level: int | None = None  # last judged level: 0 no problem, 1 warning, 2 fail (None: never judged)
    status: str = ""
    severity: str = "info"
    errors: int = 0  # rounds in a row in error
    cannot_check_sent: bool = False
    open: bool = False  # alerted and not fixed
    opened: str | None = None
    alerted_level: int | None = None
    last_sent: str | None = None
    reminders: int = 0
    cleared_round: int | None = None  # the round the problem cleared in (for flapping)
    cleared_open: bool = False  # whether it was an open alert when it cleared
    seen_round: int = 0
    identity: str = ""  # dated items: fingerprint or date
    stage: int = 0
    first_seen: str | None = None
    end: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(slots=True)
class DomainMeta:
    rounds: int = 0  # rounds in which this domain was judged
    score: float | None = None  # the DEN score of the last judged round
    blind: int = 0  # rounds in a row without a usable scan
    blind_sent: bool = False
    unscannable: str | None = None  # the failure key alerted (the domain could not be scanned)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DomainMeta:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def meta_key(domain: str) -> str:
    return f"meta|{domain}"


@dataclass(frozen=True, slots=True)
class Item:
    """One thing a message says: an alert, a reminder, "cannot check", or the first round's summary."""

    kind: str
    domain: str
    key: str
    check_id: str = ""
    severity: str = ""
    old: str | None = None  # the status (or stage) before
    new: str | None = None  # now
    message: str = ""  # the finding's message key (rendered with the catalogue when the message is made)
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_alert(self) -> bool:
        return self.kind in ALERTS


@dataclass(frozen=True, slots=True)
class Candidate:
    """A regression seen in the first scan of a round, to be probed again before anyone is told."""

    key: str
    kind: str  # new-fail | worse | exposed | expiry
    check_id: str  # for expiry: "" (the probe names what to collect again)
    base: int  # the baseline level (or stage)
    level: int  # what the first scan saw
    probe: str = ""  # expiry: the probe of the dated item


@dataclass(frozen=True, slots=True)
class Settled:
    items: tuple[Item, ...]
    states: dict[str, KeyState]
    meta: DomainMeta
    log: Mapping[str, list[str]]  # confirmed, flapped, unconfirmed, reopened: keys


# ----------------------------------------------------------------------------- step 1: candidates


def _base_from_diff(diff: Diff | None, key: str) -> int | None:
    if diff is None:
        return None
    for change in diff.changes:
        if change.key != key:
            continue
        if change.kind in (NEW, WORSE, BETTER, FIXED, UNCHANGED):
            return LEVEL.get(change.old.status, 0) if change.old is not None else 0
        return None
    return None


def _lifetime(item: Dated, state: KeyState | None, now: datetime) -> timedelta | None:
    first = None
    if state is not None and state.identity == item.identity and state.first_seen:
        first = datetime.fromisoformat(state.first_seen)
    return item.lifetime(first or now)


def _kind(result: Result, base: int, level: int) -> str | None:
    if result.check_id.startswith(EXPOSURE_PREFIX) and level >= 1:
        return EXPOSED
    if level == 2:
        return NEW_FAIL if base == 0 else WORSENED
    return None


def candidates(results: Iterable[Result], dated: Sequence[Dated], states: Mapping[str, KeyState], diff: Diff | None,
               rules: Rules, now: datetime, *, first: bool) -> list[Candidate]:
    """The regressions of one domain's fresh assessment (none in the first round)."""
    if first:
        return []
    out: list[Candidate] = []
    for r in results:
        if r.source != "scan" or not r.judged or r.status not in LEVEL:
            continue
        if r.accepted is not None or is_dated(r.check_id, r.message):
            continue
        level = LEVEL[r.status]
        state = states.get(r.key)
        base = state.level if state is not None and state.level is not None else _base_from_diff(diff, r.key)
        if base is None or level <= base:
            continue
        kind = _kind(r, base, level)
        if kind is None or r.severity.rank < rules.min_severity.rank:
            kind = RISE
        out.append(Candidate(r.key, kind, r.check_id, base, level))
    for item in dated:
        state = states.get(item.key)
        same = state is not None and state.identity == item.identity
        base = state.stage if same and state is not None else 0
        stage = stage_of(item.end, now, _lifetime(item, state, now), rules.expiry_days)
        if stage > base:
            out.append(Candidate(item.key, EXPIRY, "", base, stage, item.probe))
    return out


# ----------------------------------------------------------------------------- step 2: settle


def _parts(key: str) -> tuple[str, ...]:
    fields_ = key.split("|")[1:]
    return tuple(fields_ + [""] * (5 - len(fields_)))[:5]


def _covered(key: str, unjudged: Iterable[Result]) -> bool:
    """Whether an unjudged result of the same check is about this key's subject (or one containing it)."""
    parts = _parts(key)
    return any(all(not mine or mine == theirs for mine, theirs in zip(_parts(r.key), parts, strict=True))
               for r in unjudged)


def _due(state: KeyState, rules: Rules, now: datetime) -> bool:
    try:
        interval = rules.reminders.get(Severity(state.severity))
    except ValueError:
        interval = None
    if interval is None or state.last_sent is None:
        return False
    return datetime.fromisoformat(state.last_sent) + timedelta(seconds=interval) <= now


def _dated_params(item: Dated, stage: int, lifetime: timedelta | None, rules: Rules, now: datetime) -> dict[str, Any]:
    remaining = item.end - now
    return {
        "what": item.what,
        "stage": stage_name(stage, lifetime, rules.expiry_days),
        "days": max(int(remaining.total_seconds() // 86400), 0) if remaining.total_seconds() > 0 else 0,
        "expired": remaining.total_seconds() <= 0,
        "end": item.end.date().isoformat(),
        "lifetime_days": round(lifetime.total_seconds() / 86400) if lifetime is not None else None,
        "where": list(item.where),
    }


def _finding_params(r: Result) -> dict[str, Any]:
    return {"params": {str(k): v for k, v in r.params.items()}, "host": r.subject.host or "",
            "address": r.subject.address or "", "port": r.subject.port, "service": r.subject.service or ""}


def settle(
    domain: str,
    results: Sequence[Result],
    dated: Sequence[Dated],
    found: Sequence[Candidate],
    states: Mapping[str, KeyState],
    meta: DomainMeta,
    rules: Rules,
    now: datetime,
    *,
    round_no: int,
    first: bool,
    score: float | None,
    summary: Mapping[str, Any] | None = None,
    confirmable: bool = True,
) -> Settled:
    """The items of one domain's round and the baseline after it, from the confirmed assessment.

    With ``confirmable`` False (the confirmation could not scan the domain at all) no candidate is
    confirmed and none of their keys takes the level the first scan saw: they come back next round."""
    stamp = now.isoformat(timespec="seconds")
    new_states = {k: replace(v) for k, v in states.items()}
    meta = replace(meta)
    items: list[Item] = []
    log: dict[str, list[str]] = {"confirmed": [], "flapped": [], "unconfirmed": [], "reopened": []}
    by_key = {r.key: r for r in results if r.source == "scan"}
    dated_by_key = {d.key: d for d in dated}
    alerted: set[str] = set()
    hold: set[str] = set()  # candidates not confirmed for lack of an answer: their baseline stays
    unjudged_by_check: dict[str, list[Result]] = {}
    ran: set[str] = set()
    for seen in by_key.values():
        ran.add(seen.check_id)
        if not seen.judged:
            unjudged_by_check.setdefault(seen.check_id, []).append(seen)

    # the candidates: does the regression hold in the confirmed assessment?
    for c in found:
        if not confirmable:
            log["unconfirmed"].append(c.key)
            hold.add(c.key)
            continue
        if c.kind == EXPIRY:
            item = dated_by_key.get(c.key)
            if item is None:
                log["unconfirmed"].append(c.key)
                continue
            state = new_states.get(c.key)
            lifetime = _lifetime(item, state, now)
            stage = stage_of(item.end, now, lifetime, rules.expiry_days)
            same = state is not None and state.identity == item.identity
            base = state.stage if same and state is not None else 0
            if stage <= base:
                log["flapped"].append(c.key)
                continue
            log["confirmed"].append(c.key)
            items.append(Item(EXPIRY, domain, c.key, new=stage_name(stage, lifetime, rules.expiry_days),
                              old=stage_name(base, lifetime, rules.expiry_days) or None,
                              params=_dated_params(item, stage, lifetime, rules, now)))
            fresh = state if same and state is not None else KeyState(identity=item.identity, first_seen=stamp)
            fresh.stage, fresh.end, fresh.last_sent, fresh.seen_round = stage, item.end.isoformat(), stamp, round_no
            new_states[c.key] = fresh
            alerted.add(c.key)
            continue
        found_now = by_key.get(c.key)
        if found_now is None and c.check_id in ran and not _covered(c.key, unjudged_by_check.get(c.check_id, ())):
            log["flapped"].append(c.key)  # gone again: its check ran and saw no problem there
            continue
        if found_now is None or not found_now.judged or found_now.status not in LEVEL:
            log["unconfirmed"].append(c.key)
            hold.add(c.key)
            continue
        r = found_now
        level = LEVEL[r.status]
        if level <= c.base or r.accepted is not None:
            log["flapped"].append(c.key)
            continue
        state = new_states.get(c.key) or KeyState(check_id=r.check_id)
        recent = state.cleared_round is not None and round_no - state.cleared_round <= rules.flapping_rounds
        if recent:
            log["reopened"].append(c.key)  # it cleared a round or two ago: not new
            state.open = state.cleared_open
            state.cleared_round = None
        elif c.kind == RISE:
            log["confirmed"].append(c.key)  # it holds; no message of its own (the score may say it)
        else:
            log["confirmed"].append(c.key)
            items.append(Item(c.kind, domain, c.key, r.check_id, r.severity.value, STATUS_OF_LEVEL.get(c.base),
                              r.status.value, r.message, _finding_params(r)))
            state.open, state.opened, state.alerted_level = True, stamp, level
            state.last_sent, state.reminders, state.cleared_round = stamp, 0, None
            alerted.add(c.key)
        new_states[c.key] = state

    # the score compares like with like only when nothing judged last round is in error now
    judged_checks = {st.check_id for k, st in states.items() if st.level is not None and st.errors == 0
                     and not k.startswith("expiry.")}
    comparable = True
    for r in by_key.values():
        if r.status is not Status.ERROR:
            continue
        before = states.get(r.key)
        if (before is not None and before.errors == 0) or (before is None and r.check_id in judged_checks):
            comparable = False
            break

    # every finding of this round: the baseline follows what was judged; errors leave it alone
    for key, r in by_key.items():
        state = new_states.get(key) or KeyState(check_id=r.check_id)
        state.check_id, state.severity, state.seen_round = r.check_id, r.severity.value, round_no
        if key in hold:
            new_states[key] = state
            continue
        if r.judged and r.status in LEVEL:
            level = LEVEL[r.status]
            if state.level is not None and level == 0 and state.level > 0:
                state.cleared_round, state.cleared_open, state.open = round_no, state.open, False
            state.level, state.status = level, r.status.value
            state.errors, state.cannot_check_sent = 0, False
        elif r.status is Status.ERROR:
            state.errors += 1
            if state.errors >= rules.cannot_check_rounds and not state.cannot_check_sent:
                state.cannot_check_sent = True
                items.append(Item(CANNOT_CHECK, domain, key, r.check_id, r.severity.value, state.status or None,
                                  r.status.value, r.message,
                                  {**_finding_params(r), "rounds": state.errors,
                                   "reason": r.error_reason.value if r.error_reason else ""}))
        new_states[key] = state
    for key, state in list(new_states.items()):
        if key in by_key or key in dated_by_key or key.startswith("expiry."):
            continue
        # gone from this round: fixed when its check ran without an error about that subject
        if state.check_id in ran and not _covered(key, unjudged_by_check.get(state.check_id, ())):
            if state.level:
                state.cleared_round, state.cleared_open, state.open = round_no, state.open, False
            state.level, state.status, state.seen_round = 0, "", round_no
            state.errors, state.cannot_check_sent = 0, False
        if not state.open and round_no - state.seen_round > UNSEEN_ROUNDS:
            del new_states[key]

    # dated items not alerted this round: follow them (a renewal starts again; stages already
    # passed without an alert, in the first round or for a renewal, are known, not new)
    for item in dated:
        if item.key in alerted:
            continue
        state = new_states.get(item.key)
        if state is None or state.identity != item.identity:
            state = KeyState(identity=item.identity, first_seen=stamp)
            lifetime = item.lifetime(now)
            stage = stage_of(item.end, now, lifetime, rules.expiry_days)
            # a new item counts as known only in the first round: else its stage was a candidate
            state.stage = stage if first else 0 if any(c.key == item.key for c in found) else stage
        elif item.key in hold:
            pass  # the stage passed is still to be confirmed
        state.end, state.seen_round = item.end.isoformat(), round_no
        new_states[item.key] = state
    for key, state in list(new_states.items()):
        if key.startswith("expiry.") and key not in dated_by_key and round_no - state.seen_round > UNSEEN_ROUNDS:
            del new_states[key]

    # reminders for open problems
    for key, state in sorted(new_states.items()):
        if key in alerted or not state.open or not state.level or not _due(state, rules, now):
            continue
        now_result = by_key.get(key)
        items.append(Item(REMINDER, domain, key, state.check_id, state.severity, None, state.status,
                          now_result.message if now_result is not None else "",
                          {**(_finding_params(now_result) if now_result is not None else {}),
                           "since": state.opened or "",
                           "reminders": state.reminders + 1}))
        state.last_sent, state.reminders = stamp, state.reminders + 1

    # the score (kept from the last round it could be compared in)
    if comparable and not first and meta.score is not None and score is not None \
            and meta.score - score >= rules.score_drop - 1e-9:
        items.append(Item(SCORE, domain, f"score|{domain}", params={"before": meta.score, "now": score}))
    if score is not None and (comparable or first or meta.score is None):
        meta.score = score
    if first:
        items.append(Item(SUMMARY, domain, f"summary|{domain}", params=dict(summary or {})))
    meta.rounds += 1
    meta.blind, meta.blind_sent = 0, False
    return Settled(tuple(items), new_states, meta, log)


def dated_summary(dated: Sequence[Dated], rules: Rules, now: datetime) -> list[dict[str, Any]]:
    """The first round's list of dated items that already passed a stage."""
    out = []
    for item in sorted(dated, key=lambda d: d.end):
        lifetime = item.lifetime(now)
        stage = stage_of(item.end, now, lifetime, rules.expiry_days)
        if stage:
            out.append(_dated_params(item, stage, lifetime, rules, now))
    return out
