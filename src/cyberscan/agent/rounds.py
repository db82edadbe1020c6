"""One round of the agent: assess every domain, keep it, compare it, confirm what regressed, tell.

1. Each domain is assessed with :func:`cyberscan.assessment.assess` (its own assessment, so each
   domain has its own history and DEN score). A domain that cannot be scanned because the network is
   not there (no resolver, no nameserver answers, nothing answered at all) is *blind* this round:
   nothing is stored for it and its checks are not counted as errors. When every domain is blind the
   round is recorded as failed (no network), not as every check erroring.
2. Each assessment is compared with what the agent knows per finding key and with the previous
   stored assessment (:func:`cyberscan.history.diff.compare`; when the rules changed, the previous
   facts are judged again under today's rules first and that judgement is stored, as ``cyberscan
   rescore`` would). :func:`.alerts.candidates` lists the regressions.
3. After ``confirm_after`` seconds the affected checks are probed again (:mod:`.confirm`); the
   confirmed assessment is saved in the history and :func:`.alerts.settle` decides what is said.
4. One message with everything worth saying goes into the outbox and out (:mod:`.deliver`).
5. With ``share: {submit: true}``, the anonymous summary of each domain's (complete) assessment goes
   into the outbox too and is submitted to DEN's hub (:mod:`.sharing`); a hub that is down or
   refuses never fails the round, the summaries wait for the next try.

A round stopped by SIGTERM while it scans or waits stores nothing half: it is recorded as
interrupted. Once the saving has begun it is finished first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import catalogue as catalogue_mod
from .. import registry as registry_mod
from ..assessment import Assessment, TargetFailure, assess, reassess
from ..catalogue import Catalogue, Profile
from ..errors import ConfigError, CyberscanError, TargetError
from ..history import Record, Store, record_of
from ..history.diff import Diff, compare, rule_changes
from ..history.record import answers_from, den_scores
from ..models import AcceptedRisk, Result, Severity, Status
from ..preflight import preflight
from ..questionnaire import Answers, parse_answers
from ..registry import Registry
from ..risks import parse_risks
from ..serialize import to_jsonable
from ..share import identity
from ..texts import say
from . import sharing
from .alerts import (
    CANNOT_CHECK,
    LEVEL,
    NO_NETWORK,
    RISE,
    UNSCANNABLE,
    Candidate,
    DomainMeta,
    Item,
    KeyState,
    candidates,
    dated_summary,
    meta_key,
    settle,
)
from .config import AgentConfig
from .confirm import affected_checks, merge, probe_again
from .dates import dated
from .deliver import HUB_CHANNEL, Sender, enqueue, flush, senders
from .messages import Message, compose

log = logging.getLogger("cyberscan.agent")

NETWORK_FAILURES = frozenset({"target.no-resolver", "target.no-answer", "target.dns-failed"})
NOTHING_ANSWERED = "nothing-answered"
AGENT = ""  # the agent's own state (failed rounds) is kept under this "domain"
KEEP_SENT = timedelta(days=90)  # delivered messages and finished rounds are forgotten after this
MAX_INPUT_BYTES = 1024 * 1024

OK, FAILED, INTERRUPTED, ERROR = "ok", "failed", "interrupted", "error"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Setup:
    """What every round uses: the configuration, catalogue, plugins, profile and language."""

    config: AgentConfig
    catalogue: Catalogue
    registry: Registry
    profile: Profile
    lang: str
    channels: Mapping[str, Sender] = field(default_factory=dict)


def prepare(config: AgentConfig, lang: str) -> Setup:
    """Load the catalogue and profile once (ConfigError when they cannot be used) and check that the
    answers and accepted-risk files read."""
    registry = registry_mod.load()
    cat = (catalogue_mod.load([*registry.catalogues, *config.catalogue_dirs]) if config.catalogue_dirs
           else catalogue_mod.builtin())
    profile = catalogue_mod.profile(cat, config.profile)
    setup = Setup(config, cat, registry, profile, lang, senders(config.email, config.webhook))
    read_inputs(setup)
    if config.share is not None:
        identity.load(config.share.identity_folder)  # a broken organisation file is said at the start
    return setup


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise ConfigError("file.unreadable", path=str(path), detail=exc.strerror or type(exc).__name__) from None
    if len(data) > MAX_INPUT_BYTES:
        raise ConfigError("file.too-large", path=str(path), limit=MAX_INPUT_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("file.not-text", path=str(path)) from None


def read_inputs(setup: Setup) -> tuple[Answers | None, tuple[AcceptedRisk, ...]]:
    """The answers and accepted risks, read again each round (so an edit counts from the next round)."""
    config = setup.config
    answers = (parse_answers(_read(config.answers_file), setup.catalogue, where=str(config.answers_file))
               if config.answers_file else None)
    accepted = (parse_risks(_read(config.accepted_file), where=str(config.accepted_file))
                if config.accepted_file else ())
    return answers, accepted


@dataclass(slots=True)
class _Plan:
    first: Assessment
    states: dict[str, KeyState]
    meta: DomainMeta
    initial: bool
    previous: Record | None
    diff: Diff | None
    found: list[Candidate]
    confirmed: Assessment | None = None
    confirmable: bool = True


@dataclass(frozen=True, slots=True)
class RoundResult:
    number: int
    status: str  # ok | failed | interrupted | error
    items: tuple[Item, ...] = ()
    message: Message | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def _load(store: Store, domain: str) -> tuple[dict[str, KeyState], DomainMeta, dict[str, tuple[str, dict[str, Any]]]]:
    raw = store.agent.states(domain)
    meta_raw = raw.pop(meta_key(domain), None)
    meta = DomainMeta.from_dict(meta_raw[1]) if meta_raw else DomainMeta()
    states = {k: KeyState.from_dict(data) for k, (kind, data) in raw.items() if kind in ("finding", "expiry")}
    return states, meta, raw


def _save_states(store: Store, domain: str, states: Mapping[str, KeyState], meta: DomainMeta, when: str) -> None:
    rows: dict[str, tuple[str, Mapping[str, Any]]] = {
        k: ("expiry" if k.startswith("expiry.") else "finding", s.to_dict()) for k, s in states.items()}
    rows[meta_key(domain)] = ("meta", meta.to_dict())
    store.agent.put_states(domain, rows, when)


def _save_meta(store: Store, domain: str, meta: DomainMeta, when: str) -> None:
    states, _old, _raw = _load(store, domain)
    _save_states(store, domain, states, meta, when)


def _rescored(store: Store, setup: Setup, previous: Record) -> Record:
    """The previous assessment judged again under today's rules (stored as a rescore), or as it was
    when its facts cannot be read back."""
    assert previous.id is not None
    try:
        stored = store.scan(previous.id, setup.registry)
        again = reassess(stored, profile=setup.profile, answers=answers_from(previous.answers, setup.catalogue),
                         accepted=previous.accepted, catalogue=setup.catalogue, registry=setup.registry)
        return store.get(store.save(again, rescored_from=previous.id))
    except (CyberscanError, ValueError, KeyError, TypeError) as exc:
        log.warning("previous assessment %s could not be judged again: %s", previous.id, exc)
        return previous


def _problems(results: Sequence[Result]) -> list[dict[str, Any]]:
    found = [r for r in results if r.status in (Status.FAIL, Status.WARN) and r.accepted is None]
    found.sort(key=lambda r: (-r.severity.rank, 0 if r.status is Status.FAIL else 1, r.key))
    return [{"check_id": r.check_id, "key": r.key, "severity": r.severity.value, "status": r.status.value,
             "message": r.message, "params": to_jsonable(dict(r.params))} for r in found]


def _summary(final: Assessment, previous: Record | None, diff: Diff | None, setup: Setup, now: datetime
             ) -> dict[str, Any]:
    counts = {s.value: 0 for s in Status}
    for r in final.results:
        counts[r.status.value] += 1
    out: dict[str, Any] = {
        "score": den_scores(final.readiness)[0],
        "counts": counts,
        "problems": _problems(final.results),
        "dates": dated_summary(dated(final.scan.outcomes), setup.config.rules, now),
    }
    if previous is not None and diff is not None:
        out["since"] = {"date": previous.summary.started, "new": diff.counts.get("new", 0),
                        "fixed": diff.counts.get("fixed", 0)}
    return out


def _blind_reason(assessment: Assessment) -> str | None:
    if assessment.failures:
        key = assessment.failures[0].key
        return key if key in NETWORK_FAILURES else None
    if not any(r.judged for r in assessment.scan.results):
        return NOTHING_ANSWERED
    return None


def _still_unscannable(domain: str, setup: Setup) -> TargetError | None:
    try:
        preflight(domain, setup.config.options)
    except TargetError as exc:
        return exc
    return None


class Round:
    """One round against one store (see the module's docstring)."""

    def __init__(self, store: Store, setup: Setup, *, cancel: threading.Event,
                 clock: Callable[[], datetime] = utcnow, pause: Callable[[float], bool] | None = None) -> None:
        self.store = store
        self.setup = setup
        self.cancel = cancel
        self.clock = clock
        self.pause = pause or cancel.wait  # the wait before confirming: True when stopped meanwhile
        self.rules = setup.config.rules
        self.lang = setup.lang

    def run(self) -> RoundResult:
        started = self.clock()
        tables = self.store.agent
        number = tables.start_round(iso(started))
        begun = time.monotonic()
        log.info(say("agent.log.round-start", self.lang, round=number))
        try:
            result = self._run(number, started)
        except Exception as exc:
            detail = exc.message("en") if isinstance(exc, CyberscanError) else f"{type(exc).__name__}: {exc}"
            log.error(say("agent.log.round-error", self.lang, round=number, detail=detail[:300]))
            try:
                tables.finish_round(number, ERROR, iso(self.clock()), {"error": detail[:500]})
            except CyberscanError:
                pass
            raise
        log.info(say("agent.log.round-done", self.lang, round=number, status=result.status, items=len(result.items),
                     seconds=round(time.monotonic() - begun, 1)))
        return result

    def _interrupted(self, number: int) -> RoundResult:
        log.warning(say("agent.log.interrupted", self.lang, round=number))
        self.store.agent.finish_round(number, INTERRUPTED, iso(self.clock()), {})
        return RoundResult(number, INTERRUPTED)

    def _run(self, number: int, started: datetime) -> RoundResult:
        setup, config, rules = self.setup, self.setup.config, self.rules
        answers, accepted = read_inputs(setup)
        firsts: dict[str, Assessment] = {}
        blind: dict[str, str] = {}
        unscannable: dict[str, TargetFailure] = {}
        for domain in config.domains:
            if self.cancel.is_set():
                return self._interrupted(number)
            assessment = assess([domain], profile=setup.profile, options=config.options, answers=answers,
                                accepted=accepted, catalogue=setup.catalogue, registry=setup.registry,
                                cancel=self.cancel, now=started)
            if self.cancel.is_set() or not assessment.complete:
                return self._interrupted(number)
            reason = _blind_reason(assessment)
            if reason is not None:
                blind[domain] = reason
                log.warning(say("agent.log.blind", self.lang, domain=domain, reason=reason))
            elif assessment.failures:
                unscannable[domain] = assessment.failures[0]
            else:
                firsts[domain] = assessment
        if not firsts and not unscannable:
            return self._failed_round(number, started, blind)
        self._network_back()

        plans: dict[str, _Plan] = {}
        for domain, first in firsts.items():
            states, meta, _raw = _load(self.store, domain)
            initial = meta.rounds == 0
            previous = self.store.latest(domain)
            current = record_of(first)
            if previous is not None and rule_changes(previous, current).any:
                previous = _rescored(self.store, setup, previous)
                for key, finding in previous.findings.items():
                    if finding.judged and key in states and finding.status in LEVEL:
                        states[key].level = LEVEL[finding.status]
                if not initial and previous.summary.score is not None:
                    meta.score = previous.summary.score
            diff = compare(previous, current, domain=domain) if previous is not None else None
            found = candidates(first.results, dated(first.scan.outcomes), states, diff, rules, started, first=initial)
            score = den_scores(first.readiness)[0]
            dropped = meta.score is not None and score is not None and meta.score - score >= rules.score_drop - 1e-9
            if not dropped:  # a rise that is no alert by itself is only confirmed for a drop of the score
                found = [c for c in found if c.kind != RISE]
            plans[domain] = _Plan(first, states, meta, initial, previous, diff, found)

        waiting = sum(len(p.found) for p in plans.values()) + len(unscannable)
        still: dict[str, TargetError] = {}
        if waiting:
            log.info(say("agent.log.confirm", self.lang, count=waiting, seconds=round(rules.confirm_after, 1)))
            if self.pause(rules.confirm_after) or self.cancel.is_set():
                return self._interrupted(number)
            selected = setup.catalogue.select(setup.profile)
            for domain, plan in plans.items():
                if not plan.found:
                    continue
                ids = affected_checks(plan.found, selected)
                again = probe_again(domain, ids, profile=setup.profile, options=config.options,
                                    catalogue=setup.catalogue, registry=setup.registry, answers=answers,
                                    accepted=accepted, cancel=self.cancel)
                if self.cancel.is_set() or not again.complete:
                    return self._interrupted(number)
                if again.failures or not any(r.judged for r in again.scan.results):
                    plan.confirmable = False  # no answer at all now: nothing is confirmed, nothing dropped
                    continue
                plan.confirmed = merge(plan.first, again, ids, profile=setup.profile, answers=answers,
                                       accepted=accepted)
            for domain in unscannable:
                problem = _still_unscannable(domain, setup)
                if problem is not None:
                    still[domain] = problem

        # from here on everything is written: a SIGTERM waits for it
        items: list[Item] = []
        detail: dict[str, Any] = {"domains": {}, "blind": blind, "unscannable": {}}
        finals: dict[str, Assessment] = {}
        for domain, plan in plans.items():
            final = finals[domain] = plan.confirmed or plan.first
            saved = self.store.save(final)
            score = den_scores(final.readiness)[0]
            plan.meta.unscannable = None
            summary = _summary(final, plan.previous, plan.diff, setup, started) if plan.initial else None
            settled = settle(domain, final.results, dated(final.scan.outcomes), plan.found, plan.states, plan.meta,
                             rules, started, round_no=plan.meta.rounds + 1, first=plan.initial,
                             score=score if plan.confirmable else None,
                             summary=summary, confirmable=plan.confirmable)
            _save_states(self.store, domain, settled.states, settled.meta, iso(started))
            items.extend(settled.items)
            detail["domains"][domain] = {"assessment": saved, "score": score,
                                         "candidates": [c.key for c in plan.found], **settled.log}
            log.info(say("agent.log.domain", self.lang, domain=domain, id=saved,
                         score="-" if score is None else f"{round(score * 100)}%", candidates=len(plan.found)))
            if plan.found:
                log.info(say("agent.log.confirmed", self.lang, domain=domain,
                             **{k: len(v) for k, v in settled.log.items()}))
        for domain, failure in unscannable.items():
            _states, meta, _raw = _load(self.store, domain)
            problem = still.get(domain)
            detail["unscannable"][domain] = {"key": failure.key, "confirmed": problem is not None}
            if problem is not None and meta.unscannable != problem.key:
                items.append(Item(UNSCANNABLE, domain, f"domain|{domain}", severity=Severity.HIGH.value,
                                  params={"failure": problem.key, "failure_params": to_jsonable(problem.params)}))
                meta.unscannable = problem.key
            _save_meta(self.store, domain, meta, iso(started))
        for domain, reason in blind.items():
            _states, meta, _raw = _load(self.store, domain)
            meta.blind += 1
            if meta.blind >= rules.cannot_check_rounds and not meta.blind_sent:
                meta.blind_sent = True
                items.append(Item(CANNOT_CHECK, domain, f"domain|{domain}", params={"rounds": meta.blind,
                                                                                     "reason": reason}))
            _save_meta(self.store, domain, meta, iso(started))
        queued = self._queue_for_hub(finals)
        message = self._tell(items, number, started)
        detail["items"] = [{"kind": i.kind, "domain": i.domain, "key": i.key} for i in items]
        detail["message"] = message.id if message is not None else None
        if config.share is not None:
            detail["hub"] = {"queued": queued, **self._submit().to_dict()}
        self.store.agent.finish_round(number, OK, iso(self.clock()), detail)
        self.store.agent.prune(iso(started - KEEP_SENT))
        return RoundResult(number, OK, tuple(items), message, detail)

    def _queue_for_hub(self, finals: Mapping[str, Assessment]) -> int:
        """The summaries of this round's assessments into the outbox, the first domain of the
        configuration last: the hub keeps an organisation's latest summary of a quarter."""
        share = self.setup.config.share
        if share is None:
            return 0
        found = sharing.summaries(dict(reversed(list(finals.items()))), share, self.lang)
        return sharing.queue(self.store.agent, found, self.clock(), self.lang)

    def _submit(self) -> sharing.Sent:
        share = self.setup.config.share
        if share is None or self.cancel.is_set():  # stopped: the summaries wait in the outbox
            return sharing.Sent()
        return sharing.send_due(self.store.agent, share, self.rules, self.clock(), self.lang, stop=self.cancel.is_set)

    def _network_back(self) -> None:
        _states, meta, _raw = _load(self.store, AGENT)
        if meta.blind or meta.blind_sent:
            meta.blind, meta.blind_sent = 0, False
            _save_meta(self.store, AGENT, meta, iso(self.clock()))

    def _failed_round(self, number: int, started: datetime, blind: Mapping[str, str]) -> RoundResult:
        log.warning(say("agent.log.failed-round", self.lang, round=number))
        _states, meta, _raw = _load(self.store, AGENT)
        meta.blind += 1
        items: list[Item] = []
        if meta.blind >= self.rules.cannot_check_rounds and not meta.blind_sent:
            meta.blind_sent = True
            items.append(Item(NO_NETWORK, AGENT, "agent|no-network", params={"rounds": meta.blind}))
        _save_meta(self.store, AGENT, meta, iso(started))
        message = self._tell(items, number, started)
        detail = {"blind": dict(blind), "failed_rounds": meta.blind,
                  "items": [{"kind": i.kind, "domain": i.domain, "key": i.key} for i in items],
                  "message": message.id if message is not None else None}
        self.store.agent.finish_round(number, FAILED, iso(self.clock()), detail)
        return RoundResult(number, FAILED, tuple(items), message, detail)

    def _tell(self, items: Sequence[Item], number: int, started: datetime) -> Message | None:
        message = compose(items, lang=self.lang, catalogue=self.setup.catalogue, round_no=number, now=started)
        if message is None:
            return None
        channels = self.setup.channels
        stored = Message(message.id, message.subject, message.text, to_jsonable(dict(message.payload)))
        if not channels:
            log.warning(say("agent.log.no-channels", self.lang))
            for item in items:
                log.warning("%s %s %s", item.kind, item.domain, item.key)
            return stored
        enqueue(self.store.agent, stored, channels, self.clock(), self.lang)
        flush(self.store.agent, channels, self.rules, self.clock(), self.lang)
        return stored


def _outbox_channels(setup: Setup) -> dict[str, Any] | None:
    """The outbox rows this setup sends (as :meth:`AgentTables.due` selects them), None: none. Alerts
    are only sent when a channel is configured, the hub's summaries only when sharing is on: rows
    that nothing sends wait, and never wake the agent."""
    alerts, hub = bool(setup.channels), setup.config.share is not None
    if alerts and hub:
        return {}
    if alerts:
        return {"not_channels": (HUB_CHANNEL,)}
    if hub:
        return {"channels": (HUB_CHANNEL,)}
    return None


def next_delivery(store: Store, setup: Setup) -> str | None:
    """When the outbox next has something to try that this setup sends (ISO time), or None."""
    selected = _outbox_channels(setup)
    return None if selected is None else store.agent.next_due(**selected)


def deliver_due(store: Store, setup: Setup, *, cancel: threading.Event | None = None,
                clock: Callable[[], datetime] = utcnow) -> tuple[int, int]:
    """Retry the outbox's due messages and the hub's due summaries (before a round and between rounds);
    returns (delivered, failed) of the messages."""
    stop = cancel.is_set if cancel is not None else (lambda: False)
    done = (0, 0)
    if setup.channels:
        done = flush(store.agent, setup.channels, setup.config.rules, clock(), setup.lang, stop=stop)
    if setup.config.share is not None and not stop():
        sharing.send_due(store.agent, setup.config.share, setup.config.rules, clock(), setup.lang, stop=stop)
    return done
