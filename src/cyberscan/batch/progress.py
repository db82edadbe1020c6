"""How far a batch is: a progress bar with rate and time left on a terminal, sparse lines elsewhere.

On a terminal (standard error is a TTY) a rich progress bar shows domains done of the batch, the rate
in domains a minute, the time left and how many could not be scanned; it is redrawn by the writer's
loop (no drawing thread, so the writer can fork a replacement scanning process at any moment).
Anywhere else (a log file, CI) one plain line is written every tenth of the batch or every minute,
whichever comes first. Every text comes from ``texts/batch.yaml``.
"""

from __future__ import annotations

import time
from typing import IO, Any, Protocol

from ..texts import say

PLAIN_EVERY_SECONDS = 60.0
PLAIN_EVERY_SHARE = 0.1
REDRAW_SECONDS = 0.25


class Progress(Protocol):
    def start(self, total: int, done: int) -> None: ...

    def advance(self, failed: bool) -> None: ...

    def tick(self) -> None: ...

    def close(self) -> None: ...


class _Rate:
    """Domains a minute and time left, from this run's own pace (a resumed batch's earlier part is not counted)."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.before = 0
        self.failed = 0
        self.started = time.monotonic()

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.before = total, done, done
        self.started = time.monotonic()

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)

    @property
    def per_minute(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.done - self.before) / elapsed * 60 if elapsed > 0 else 0.0

    @property
    def left_seconds(self) -> float | None:
        rate = self.per_minute
        return (self.total - self.done) / rate * 60 if rate > 0 else None


def _duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    if seconds >= 3600:
        return say("batch.duration.hours", lang, hours=seconds // 3600, minutes=seconds % 3600 // 60)
    if seconds >= 60:
        return say("batch.duration.minutes", lang, minutes=seconds // 60, seconds=seconds % 60)
    return say("batch.duration.seconds", lang, seconds=seconds)


class PlainProgress:
    """One line now and then, for logs."""

    def __init__(self, stream: IO[str], lang: str) -> None:
        self.stream = stream
        self.lang = lang
        self.rate = _Rate()
        self._last_time = time.monotonic()
        self._last_done = 0

    def start(self, total: int, done: int) -> None:
        self.rate.start(total, done)
        self._last_done = done
        self._last_time = time.monotonic()

    def advance(self, failed: bool) -> None:
        self.rate.advance(failed)
        step = max(1, int(self.rate.total * PLAIN_EVERY_SHARE))
        if self.rate.done - self._last_done >= step or self.rate.done == self.rate.total:
            self._line()

    def tick(self) -> None:
        if time.monotonic() - self._last_time >= PLAIN_EVERY_SECONDS and self.rate.done < self.rate.total:
            self._line()

    def _line(self) -> None:
        r = self.rate
        share = r.done / r.total * 100 if r.total else 100.0
        self.stream.write(say("batch.progress.line", self.lang, done=r.done, total=r.total, share=f"{share:.0f}",
                              rate=f"{r.per_minute:.0f}", left=_duration(r.left_seconds, self.lang),
                              failed=r.failed) + "\n")
        self.stream.flush()
        self._last_done = r.done
        self._last_time = time.monotonic()

    def close(self) -> None:
        return None


class BarProgress:
    """A rich progress bar on standard error (a terminal)."""

    def __init__(self, stream: IO[str], lang: str) -> None:
        from rich.console import Console  # rich only when a terminal shows a bar: not at start-up
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as RichProgress

        self.lang = lang
        self.rate = _Rate()
        self._bar = RichProgress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
            console=Console(file=stream), auto_refresh=False, transient=False)
        self._task: Any = None
        self._drawn = 0.0

    def start(self, total: int, done: int) -> None:
        self.rate.start(total, done)
        self._bar.start()
        self._task = self._bar.add_task(say("batch.progress.label", self.lang), total=total, completed=done,
                                        status="")
        self._draw(force=True)

    def advance(self, failed: bool) -> None:
        self.rate.advance(failed)
        self._draw()

    def tick(self) -> None:
        self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < REDRAW_SECONDS:
            return
        self._drawn = now
        r = self.rate
        status = say("batch.progress.status", self.lang, rate=f"{r.per_minute:.0f}",
                     left=_duration(r.left_seconds, self.lang), failed=r.failed)
        self._bar.update(self._task, completed=r.done, status=status)
        self._bar.refresh()

    def close(self) -> None:
        if self._task is not None:
            self._draw(force=True)
        self._bar.stop()


class NoProgress:
    def start(self, total: int, done: int) -> None:
        return None

    def advance(self, failed: bool) -> None:
        return None

    def tick(self) -> None:
        return None

    def close(self) -> None:
        return None


def progress_for(stream: IO[str], lang: str, *, show: bool) -> Progress:
    """A bar on a terminal, plain lines elsewhere, nothing with ``show`` False (``--no-progress``)."""
    if not show:
        return NoProgress()
    if stream.isatty():
        return BarProgress(stream, lang)
    return PlainProgress(stream, lang)


__all__ = ["BarProgress", "NoProgress", "PlainProgress", "Progress", "progress_for"]
