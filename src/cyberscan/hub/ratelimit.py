"""A token bucket per enrolment token, in memory (per worker process); nothing about it is stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Buckets:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic, limit: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(per_minute, 1))
        self.clock = clock
        self.limit = limit  # buckets kept at most (the oldest are forgotten)
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str, cost: int = 1) -> float:
        """0 when ``cost`` submissions may go ahead, else the seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= min(cost, self.burst):
                self._state[key] = (tokens - cost, now)
                if len(self._state) > self.limit:
                    self._state.pop(next(iter(self._state)))
                return 0.0
            self._state[key] = (tokens, now)
            return (min(cost, self.burst) - tokens) / self.rate
