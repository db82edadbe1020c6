"""One message per round with everything worth saying, in Dutch or English (``texts/agent.yaml``).

The message is made once, when the round ends, and kept as it is in the outbox: a retry sends the
same words. It has a subject and a plain-text body for e-mail, and a JSON payload for the webhook::

    {"type": "cyberscan.agent", "version": 1, "id": "...", "round": 12, "created": "2026-...Z", "lang": "nl",
     "subject": "...", "text": "...",
     "items": [{"kind": "new-fail", "domain": "museum.nl", "key": "mail.dmarc.policy|museum.nl||||",
                "check_id": "mail.dmarc.policy", "severity": "high", "old": "pass", "new": "fail",
                "title": "...", "what": "...", "todo": "...", "where": "museum.nl", "params": {...}}]}

Text that came from a server (a banner, a header) is neutralised: control characters never reach a
mail client or a chat channel as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..catalogue import Catalogue
from ..history.record import subject_label
from ..i18n import message_for
from ..render.view import clean
from ..texts import say, text
from .alerts import ALERTS, CANNOT_CHECK, EXPIRY, NO_NETWORK, REMINDER, SCORE, SUMMARY, UNSCANNABLE, Item

PAYLOAD_TYPE = "cyberscan.agent"
PAYLOAD_VERSION = 1
MAX_SUMMARY_PROBLEMS = 10


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    subject: str
    text: str
    payload: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "subject": self.subject, "text": self.text, "payload": dict(self.payload)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        return cls(str(data["id"]), str(data["subject"]), str(data["text"]), dict(data["payload"]))


def _percent(value: Any, lang: str) -> str:
    return say("agent.unknown-score", lang) if value is None else f"{round(float(value) * 100)}%"


def _where(item: Item) -> str:
    return clean(subject_label(item.key)) if "|" in item.key else item.domain


def _status(value: str | None, lang: str) -> str:
    if not value:
        return say("agent.line.none", lang)
    return say(f"agent.status.{value}", lang) if value in ("pass", "fail", "warn", "info", "error", "skipped") else value


def _describe(item: Item, lang: str, catalogue: Catalogue) -> dict[str, str]:
    """title, what, todo and where of one item, in ``lang``."""
    check = catalogue.checks.get(item.check_id) if item.check_id else None
    where = _where(item)
    title = text(check.title, lang) if check is not None else item.domain
    params = dict(item.params)
    todo = text(check.remediation, lang) if check is not None else ""
    what = ""
    if item.message:
        what = message_for(catalogue, check, item.message, dict(params.get("params") or {}), lang)
    if item.kind == EXPIRY:
        kind = str(params.get("what", "certificate"))
        suffix = "-expired" if params.get("expired") else ""
        where = clean(", ".join(str(w) for w in params.get("where") or [item.domain]))
        what = say(f"agent.expiry.{kind}{suffix}", lang, where=where, days=params.get("days"), end=params.get("end"),
                   lifetime=params.get("lifetime_days") or "?")
        todo = say(f"agent.todo.{kind}", lang)
        title = say("agent.kind.expiry", lang) + ": " + where
    elif item.kind == SCORE:
        what = say("agent.score.text", lang, domain=item.domain, before=_percent(params.get("before"), lang),
                   now=_percent(params.get("now"), lang))
        todo = say("agent.score.todo", lang, domain=item.domain)
        where = item.domain
    elif item.kind == UNSCANNABLE:
        what = say("agent.unscannable.text", lang, domain=item.domain,
                   reason=say(str(params.get("failure", "")), lang, **dict(params.get("failure_params") or {})))
        todo = say("agent.unscannable.todo", lang)
        where = item.domain
    elif item.kind == CANNOT_CHECK:
        if item.check_id:
            what = say("agent.cannot-check.text", lang, rounds=params.get("rounds"), reason=params.get("reason", ""))
        else:
            what = say("agent.cannot-check.domain", lang, domain=item.domain, rounds=params.get("rounds"),
                       reason=params.get("reason", ""))
            where = item.domain
        todo = say("agent.cannot-check.todo", lang)
    elif item.kind == NO_NETWORK:
        what = say("agent.no-network.text", lang, rounds=params.get("rounds"))
        todo = say("agent.no-network.todo", lang)
        where = "-"
    return {"title": clean(title), "what": clean(what), "todo": clean(todo), "where": where}


def _summary_lines(item: Item, lang: str, catalogue: Catalogue) -> list[str]:
    p = dict(item.params)
    lines = [say("agent.summary.score", lang, score=_percent(p.get("score"), lang)),
             say("agent.summary.counts", lang, **{k: int(dict(p.get("counts") or {}).get(k, 0))
                                                   for k in ("fail", "warn", "pass", "error")})]
    since = p.get("since")
    if isinstance(since, Mapping):
        lines.append(say("agent.summary.since", lang, date=str(since.get("date", ""))[:10], new=since.get("new", 0),
                         fixed=since.get("fixed", 0)))
    problems = list(p.get("problems") or [])
    if problems:
        lines.append(say("agent.summary.problems", lang))
        for problem in problems[:MAX_SUMMARY_PROBLEMS]:
            check = catalogue.checks.get(str(problem.get("check_id")))
            said = message_for(catalogue, check, str(problem.get("message", "")), dict(problem.get("params") or {}), lang)
            severity = say(f"agent.severity.{problem.get('severity', 'info')}", lang)
            status = say(f"agent.status.{problem.get('status', 'fail')}", lang)
            where = clean(subject_label(str(problem.get("key", ""))))
            lines.append(f"  - [{severity}, {status}] {where}: {clean(said)}")
        if len(problems) > MAX_SUMMARY_PROBLEMS:
            lines.append("  " + say("agent.summary.more", lang, count=len(problems) - MAX_SUMMARY_PROBLEMS,
                                    domain=item.domain))
    else:
        lines.append(say("agent.summary.no-problems", lang))
    dates = list(p.get("dates") or [])
    if dates:
        lines.append(say("agent.summary.dates", lang))
        for d in dates:
            fake = Item(EXPIRY, item.domain, "", params=d)
            lines.append("  - " + _describe(fake, lang, catalogue)["what"])
    lines.append(say("agent.summary.next", lang))
    return lines


def compose(items: Sequence[Item], *, lang: str, catalogue: Catalogue, round_no: int, now: datetime) -> Message | None:
    """The round's message, or None when there is nothing to say."""
    if not items:
        return None
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    domains = list(dict.fromkeys(i.domain for i in items if i.domain))
    names = ", ".join(domains) or "-"
    alerts = [i for i in items if i.kind in ALERTS]
    summaries = [i for i in items if i.kind == SUMMARY]
    reminders = [i for i in items if i.kind == REMINDER]
    if alerts:
        subject = say("agent.subject.alerts", lang, count=len(alerts), domains=names)
        intro = say("agent.intro.alerts", lang, domains=names, when=when)
    elif summaries:
        subject = say("agent.subject.summary", lang, domains=names)
        intro = say("agent.intro.summary", lang, domains=names, when=when)
    elif reminders:
        subject = say("agent.subject.reminders", lang, count=len(reminders), domains=names)
        intro = say("agent.intro.reminders", lang, when=when)
    else:
        subject = say("agent.subject.notices", lang, domains=names)
        intro = say("agent.intro.notices", lang, when=when)
    lines = [intro, ""]
    payload_items = []
    order = {SUMMARY: 0, **{k: 1 for k in ALERTS}, REMINDER: 2, CANNOT_CHECK: 3, NO_NETWORK: 4}
    for domain in [*domains, ""]:
        mine = sorted((i for i in items if i.domain == domain), key=lambda i: (order.get(i.kind, 9), i.key))
        if not mine:
            continue
        if domain:
            lines += [domain, "=" * len(domain)]
        for item in mine:
            described = _describe(item, lang, catalogue)
            payload_items.append({"kind": item.kind, "domain": item.domain, "key": item.key, "check_id": item.check_id,
                                  "severity": item.severity, "old": item.old, "new": item.new, **described,
                                  "params": dict(item.params)})
            if item.kind == SUMMARY:
                lines += [*_summary_lines(item, lang, catalogue), ""]
                continue
            severity = f" ({say(f'agent.severity.{item.severity}', lang)})" if item.severity else ""
            lines.append(f"* {say(f'agent.kind.{item.kind}', lang)}{severity}: {described['title']}")
            if described["where"] and item.kind != EXPIRY:
                lines.append("  " + say("agent.line.where", lang, where=described["where"]))
            if described["what"]:
                lines.append("  " + say("agent.line.what", lang, what=described["what"]))
            if item.kind in ALERTS and item.kind not in (EXPIRY, SCORE, UNSCANNABLE):
                lines.append("  " + say("agent.line.change", lang, old=_status(item.old, lang),
                                        new=_status(item.new, lang)))
            if item.kind == REMINDER:
                lines.append("  " + say("agent.line.since", lang, since=str(item.params.get("since", ""))[:10],
                                        count=item.params.get("reminders", 1)))
            if described["todo"]:
                lines.append("  " + say("agent.line.todo", lang, todo=described["todo"]))
            lines.append("")
    lines.append(say("agent.footer", lang, round=round_no, domain=domains[0] if domains else ""))
    body = "\n".join(lines) + "\n"
    ident = uuid.uuid4().hex
    payload = {"type": PAYLOAD_TYPE, "version": PAYLOAD_VERSION, "id": ident, "round": round_no,
               "created": now.isoformat(timespec="seconds"), "lang": lang, "subject": subject, "text": body,
               "items": payload_items}
    return Message(ident, subject, body, payload)
