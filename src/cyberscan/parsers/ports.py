"""Port entries as the catalogue writes them (``{port: 3389, proto: tcp}`` or a bare number). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def port_spec(entry: Any) -> tuple[int, str] | None:
    """``{port: 3389, proto: tcp}`` (or a bare number) as (port, proto); None when malformed."""
    if isinstance(entry, int):
        entry = {"port": entry}
    if not isinstance(entry, Mapping):
        return None
    try:
        number = int(entry.get("port", -1))
    except (TypeError, ValueError, OverflowError):
        return None
    proto = str(entry.get("proto", "tcp")).lower()
    if not 0 < number < 65536 or proto not in ("tcp", "udp"):
        return None
    return number, proto
