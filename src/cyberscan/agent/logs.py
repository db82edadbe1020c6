"""The agent's log: plain lines, or JSON lines (``--log-format json``) for journald, Loki and friends.

Each JSON line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, plus
``exception`` when there is one. Messages never hold a secret: configuration values that are secrets
are only ever named by where they came from.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str = "text", *, level: int = logging.INFO, stream: IO[str] | None = None) -> logging.Handler:
    """Send the agent's (and cyberscan's) log to ``stream`` (standard error) as text or JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger("cyberscan")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    return handler
