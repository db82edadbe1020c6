"""Anonymised scores to DEN's hub after each round (``share: {submit: true}`` in agent.yaml).

What is sent is exactly what ``cyberscan submit`` sends: :func:`cyberscan.share.summary.summarise`
of a domain's assessment under the same pseudonymous organisation id and secret
(:func:`cyberscan.share.identity.obtain`), checked with :func:`~cyberscan.share.summary.validate`
first (a summary the published schema does not allow is never sent). Only complete assessments of a
round that ran to its end are summarised: an interrupted round or an incomplete scan would skew the
hub's statistics.

The summaries wait in the outbox (channel ``hub``, the message being ``{"domain": ..., "summary":
...}``: the domain stays in the local store, only the summary is sent), which also remembers what was
sent: a submission id it holds is not queued again. Sending never fails a round:

- stored (201) and "already stored" (200, the same submission id again) both count as sent;
- a hub that cannot be reached, answers 5xx or 429, refuses the token (401, 403), or whose
  certificate does not verify: the hub as a whole is tried again later, with the outbox's back-off
  (``retry_first`` doubling up to ``retry_max``); every summary waiting for it waits for that same
  moment, and it is logged once per try, not once per summary;
- refused for good (400 invalid, 409 conflict, 413 too large, 422 a quarter the hub has closed):
  that summary is abandoned and logged;
- a summary not sent within :data:`KEEP` (a quarter plus the hub's two weeks of grace: by then the
  hub refuses it anyway) is abandoned.

The token is used in the ``Authorization`` header and nowhere else: it is not stored, and no log
line holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from .. import catalogue as catalogue_mod
from ..assessment import Assessment
from ..errors import CyberscanError
from ..history.agentstore import AgentTables
from ..share import client, identity
from ..share.summary import summarise, validate
from ..texts import say
from .config import Rules, Share
from .deliver import HUB_CHANNEL, backoff

log = logging.getLogger("cyberscan.agent")

KEEP = timedelta(days=106)
FOR_GOOD = frozenset({"hub.rejected", "hub.conflict", "hub.too-large"})  # retrying cannot change the answer


@dataclass(frozen=True, slots=True)
class Sent:
    stored: int = 0
    already: int = 0  # the hub had it (a resubmission)
    waiting: int = 0  # kept for the next try
    gave_up: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"stored": self.stored, "already": self.already, "waiting": self.waiting, "gave_up": self.gave_up}


def summaries(assessments: Mapping[str, Assessment], share: Share, lang: str) -> list[tuple[str, dict[str, Any]]]:
    """(domain, summary) of every complete assessment, valid against the published schema. Problems
    are logged, never raised: sharing never fails a round."""
    complete = {domain: a for domain, a in assessments.items() if a.complete}
    if not complete:
        return []
    try:
        ident, _changed = identity.obtain(share.identity_folder, organisation=share.organisation)
    except (OSError, CyberscanError) as exc:
        detail = exc.message("en") if isinstance(exc, CyberscanError) else f"{type(exc).__name__}: {exc.strerror or exc}"
        log.error(say("agent.log.hub-identity", lang, folder=str(share.identity_folder or identity.default_folder()),
                      detail=detail[:300]))
        return []
    published = catalogue_mod.builtin()
    out = []
    for domain, assessment in complete.items():
        summary = summarise(assessment, share.organisation, published=published, organisation_id=ident.id,
                            secret=ident.secret)
        problems = validate(summary)
        if problems:  # a bug: never share what the published schema does not allow
            log.error(say("agent.log.hub-invalid", lang, domain=domain, detail=problems[0][:300]))
            continue
        out.append((domain, summary))
    return out


def queue(tables: AgentTables, found: Sequence[tuple[str, Mapping[str, Any]]], now: datetime, lang: str) -> int:
    """Put the summaries in the outbox; returns how many. A summary whose submission id the outbox
    already holds (waiting, sent or abandoned) is not queued again. While the hub is in back-off,
    new summaries wait for its next try."""
    stamp = now.isoformat(timespec="seconds")
    waiting_until = tables.next_due(channels=(HUB_CHANNEL,))
    queued = 0
    for domain, summary in found:
        if tables.holds(HUB_CHANNEL, "submission_id", str(summary["submission_id"])):
            continue
        tables.enqueue(HUB_CHANNEL, {"domain": domain, "summary": dict(summary)}, stamp, not_before=waiting_until)
        queued += 1
    if queued:
        log.info(say("agent.log.hub-queued", lang, count=queued))
    return queued


def _technical(exc: client.HubError) -> str:
    """Why a try failed, as a technical detail (the key and the status; never the token)."""
    parts = [exc.key, *(str(exc.params[k]) for k in ("status", "detail") if exc.params.get(k))]
    return " ".join(parts)[:300]


def send_due(tables: AgentTables, share: Share, rules: Rules, now: datetime, lang: str, *,
             stop: Callable[[], bool] = lambda: False, session: requests.Session | None = None) -> Sent:
    """Submit the hub's due summaries, oldest first, until the hub fails (then they all wait)."""
    stamp = now.isoformat(timespec="seconds")
    rows = tables.due(stamp, channels=(HUB_CHANNEL,), limit=500)
    stored = already = waiting = gave_up = 0
    http = session or requests.Session()
    ca_bundle = Path(share.ca_bundle) if share.ca_bundle else None
    try:
        for index, row in enumerate(rows):
            if stop():
                break
            attempt = row.attempts + 1
            summary = row.message.get("summary")
            sid = str(summary.get("submission_id", ""))[:12] if isinstance(summary, dict) else "-"
            if not isinstance(summary, dict):
                tables.failed(row.id, attempt, "not-a-summary", None, stamp)
                gave_up += 1
                continue
            try:
                sent = client.submit(share.hub, summary, share.token.value, ca_bundle=ca_bundle,
                                     timeout=share.timeout, attempts=1, session=http)
            except client.HubError as exc:
                error = _technical(exc)
                if exc.key in FOR_GOOD:
                    tables.failed(row.id, attempt, error, None, stamp)
                    gave_up += 1
                    log.error(say("agent.log.hub-gave-up", lang, hub=share.hub, id=sid, error=error))
                    continue
                retry = now + timedelta(seconds=backoff(attempt, rules))
                when = retry.isoformat(timespec="seconds")
                for held in rows[index:]:  # the hub as a whole is tried again later
                    if retry - datetime.fromisoformat(held.created) > KEEP:
                        tables.failed(held.id, held.attempts + 1, error, None, stamp)
                        gave_up += 1
                    else:
                        tables.failed(held.id, held.attempts + 1, error, when, stamp)
                        waiting += 1
                log.warning(say("agent.log.hub-waiting", lang, hub=share.hub, count=waiting, error=error, retry=when,
                                abandoned=gave_up))
                break
            tables.delivered(row.id, stamp, attempt)
            if sent.stored:
                stored += 1
            else:
                already += 1
    finally:
        if session is None:
            http.close()
    if stored or already:
        log.info(say("agent.log.hub-sent", lang, hub=share.hub, stored=stored, already=already))
    return Sent(stored, already, waiting, gave_up)


__all__ = ["FOR_GOOD", "KEEP", "Sent", "queue", "send_due", "summaries"]
