"""The Celery application of cyberscan's workers and enqueuers: delivery, acknowledgement and retries
are Celery's (with kombu's Redis transport); nothing of that is ours.

- JSON only (``task_serializer``, ``accept_content``): a message in pickle or any other format is
  refused by Celery before it reaches us.
- Late acknowledgement (``acks_late``) and ``reject_on_worker_lost``: a task is acknowledged when it
  has finished, so a worker killed mid-task leaves it unacknowledged and the broker delivers it again.
  On Redis that happens once the message has been unacknowledged for the *visibility timeout*
  (kombu's ``visibility_timeout``, 3600 s by default here as in kombu): it must be longer than the
  longest task, or a task still running is delivered a second time (harmless: the batch journal
  stores it once, but the domain is scanned twice). Workers look for such messages every
  ``restore_interval`` seconds.
- ``worker_prefetch_multiplier = 1``: a worker reserves no more tasks than it runs, so a killed
  worker holds few and a slow one does not hoard.
- Retries with backoff (:func:`backoff`) only for :class:`~cyberscan.worker.runner.Transient`
  problems; a domain's own scan problems are results.
- No result backend (the history store holds every result), no events, no remote control: the
  broker is shared infrastructure and remote-control commands through it (shutdown, pool restart)
  are not accepted. Progress is watched in the history store.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Celery, Task

from .runner import Settings, Transient, current
from .wire import DEFAULT_QUEUE, TASK_NAME

log = logging.getLogger(__name__)

DEFAULT_VISIBILITY_TIMEOUT = 3600.0
MAX_RETRIES = 10
BACKOFF_FIRST = 2.0
BACKOFF_MAX = 300.0
BROKER_SOCKET_TIMEOUT = 30.0  # a Redis call of the broker connection (BRPOP waits 1 s at a time)
BROKER_CONNECT_TIMEOUT = 10.0


def backoff(retries: int, *, cap: float = BACKOFF_MAX) -> float:
    """Seconds before retry number ``retries + 1``: doubling from 2 s up to ``cap``, with jitter."""
    base = min(cap, BACKOFF_FIRST * (2 ** max(0, retries)))
    return float(base * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not secrets


def restore_interval(visibility_timeout: float) -> float:
    """How often a worker looks for messages whose visibility timeout ran out."""
    return max(1.0, min(10.0, visibility_timeout / 4))


def make_app(broker: str, *, queue: str = DEFAULT_QUEUE, visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
             settings: Settings | None = None) -> Celery:
    """The Celery app. With ``settings`` it can run tasks (a worker); without, it only sends them."""
    app = Celery("cyberscan", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_accept_content=["json"],
        event_serializer="json",
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue,
        task_create_missing_queues=True,
        task_send_sent_event=False,
        worker_send_task_events=False,
        worker_enable_remote_control=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": float(visibility_timeout),
            "unacked_restore_interval": restore_interval(visibility_timeout),
            "unacked_restore_throttle": 1,
            "socket_timeout": BROKER_SOCKET_TIMEOUT,
            "socket_connect_timeout": BROKER_CONNECT_TIMEOUT,
        },
        enable_utc=True,
        timezone="UTC",
    )
    cap = min(BACKOFF_MAX, max(1.0, visibility_timeout / 2))  # an ETA past the visibility timeout is redelivered

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
              max_retries=MAX_RETRIES)
    def assess_item(self: Task, item: Any) -> None:
        if settings is None:
            raise RuntimeError("make_app(settings=None) is send-only")  # a programming error, never a user's
        try:
            current(settings).run(item)
        except Transient as exc:
            retries = int(self.request.retries or 0)
            log.warning("cyberscan worker: will retry (%d of %d): %s", retries + 1, MAX_RETRIES, exc)
            raise self.retry(exc=exc, countdown=backoff(retries, cap=cap)) from None

    return app


__all__ = ["DEFAULT_VISIBILITY_TIMEOUT", "MAX_RETRIES", "backoff", "make_app", "restore_interval"]
