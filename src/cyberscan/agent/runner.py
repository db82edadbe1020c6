"""The agent's life: rounds on a schedule until SIGTERM, or one round (``--once``).

Each round runs under the store's agent lock (:mod:`.lock`). In the long-running mode the next round
is due one schedule step after the last round that started (read from the round log in the store,
so a restart does not scan again at once, and a missed round is caught up once). Between rounds the
outbox (messages, and the hub's summaries when sharing is on) is retried when its next attempt
comes. SIGTERM (or Ctrl-C) sets the stop event: a scan or a pause ends at once, a write in progress
is finished, and :func:`serve` returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from ..errors import CyberscanError
from ..history import HistoryError, Store
from ..history.agentstore import RUNNING
from ..texts import say
from .lock import describe, round_lock
from .rounds import ERROR, FAILED, OK, Round, RoundResult, Setup, deliver_due, next_delivery, utcnow
from .schedule import Every, next_round

log = logging.getLogger("cyberscan.agent")

LOCK_RETRY = 30.0  # seconds before trying again when another agent holds the lock
SHORT_INTERVAL = 300.0


def once(store: Store, setup: Setup, *, cancel: threading.Event,
         clock: Callable[[], datetime] = utcnow) -> RoundResult | None:
    """One round now (None when another agent holds the lock)."""
    with round_lock(store) as mine:
        if not mine:
            log.warning(say("agent.log.locked", setup.lang, lock=describe(store)))
            return None
        deliver_due(store, setup, cancel=cancel, clock=clock)
        return Round(store, setup, cancel=cancel, clock=clock).run()


def _last_start(store: Store) -> datetime | None:
    """The start of the last round that counts for the schedule: one that ran to its end (ok, failed)
    or broke on an error. An interrupted or abandoned round did nothing: the next one is due at once."""
    last = store.agent.last_start((OK, FAILED, ERROR, RUNNING))
    return datetime.fromisoformat(last) if last is not None else None


def serve(store: Store, setup: Setup, *, cancel: threading.Event, clock: Callable[[], datetime] = utcnow,
          max_rounds: int | None = None) -> int:
    """Rounds on the schedule until ``cancel`` is set; returns how many rounds ran."""
    schedule = setup.config.schedule
    if isinstance(schedule, Every) and schedule.seconds < SHORT_INTERVAL:
        log.warning(say("agent.log.short-interval", setup.lang, seconds=f"{schedule.seconds:g}"))
    ran = 0
    announced: datetime | None = None
    while not cancel.is_set():
        now = clock()
        due = next_round(schedule, _last_start(store), now)
        if due > now:
            if due != announced:
                log.info(say("agent.log.next", setup.lang, when=due.isoformat(timespec="seconds")))
                announced = due
            outbox = next_delivery(store, setup)
            wake = due
            if outbox is not None:
                retry_at = datetime.fromisoformat(outbox)
                if retry_at <= now:
                    deliver_due(store, setup, cancel=cancel, clock=clock)
                    continue
                wake = min(wake, retry_at)
            cancel.wait(max((wake - now).total_seconds(), 0.05))
            continue
        with round_lock(store) as mine:
            if not mine:
                log.warning(say("agent.log.locked", setup.lang, lock=describe(store)))
                cancel.wait(LOCK_RETRY)
                continue
            # another agent may have run this round while we waited for the lock
            again = next_round(schedule, _last_start(store), clock())
            if again > clock():
                log.info(say("agent.log.already-done", setup.lang, when=again.isoformat(timespec="seconds")))
                continue
            try:
                deliver_due(store, setup, cancel=cancel, clock=clock)
                Round(store, setup, cancel=cancel, clock=clock).run()
            except HistoryError as exc:  # the store is away for a while: try again at the next round
                log.error(say("agent.log.store-failed", setup.lang, detail=exc.message("en")))
            except CyberscanError:  # e.g. an answers file broken since the start: the round said why
                pass
            except Exception:  # a bug in one round must not end months of rounds; it is logged whole
                log.exception("round failed")
        ran += 1
        if max_rounds is not None and ran >= max_rounds:
            break
    return ran
