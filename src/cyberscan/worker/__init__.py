"""``cyberscan worker``: the same assessment engine on more machines, as Celery workers with a Redis
broker and a shared PostgreSQL history (docs/workers.md).

- :mod:`.wire`: what a task carries (JSON), the batch record, and what a worker accepts of them;
- :mod:`.limiter`: :class:`~.limiter.RedisLimiter`, per-address politeness across every worker;
- :mod:`.runner`: one worker process (its limiter, one ``Shared`` per batch, its store) and one task;
- :mod:`.app`: the Celery app (JSON only, late acknowledgement, retries with backoff);
- :mod:`.submit`: :func:`~.submit.submit` a batch (resumable) and :func:`~.submit.wait` for it.

Importing this package imports neither Celery nor Redis; :mod:`.app`, :mod:`.submit`,
:mod:`.runner` and :mod:`.limiter` do (the ``worker`` extra: ``pip install 'cyberscan[worker]'``).
Above the demo floor, below the commands: it uses the assessment, the batch and the history.
"""

from __future__ import annotations

from .wire import DEFAULT_QUEUE, TASK_NAME, BadMessage, Item, Policy, Refused, WorkerError

__all__ = ["DEFAULT_QUEUE", "TASK_NAME", "BadMessage", "Item", "Policy", "Refused", "WorkerError"]
