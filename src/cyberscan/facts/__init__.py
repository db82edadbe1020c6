"""Fact types: what probes observed, as frozen dataclasses. No I/O here, ever.

Probes (``cyberscan.probes``) build these; evaluators (``cyberscan.evaluators``) judge them; both import
this package and nothing of each other. Every top-level fact type carries a ``VERSION``: a stored
scan records it per probe, and :mod:`cyberscan.serialize` migrates an older stored fact forward (see
``MIGRATIONS`` in each module) or refuses it with a message naming the fact.

:class:`Facts` is the view an evaluator gets: the outcomes of the probes its check needs, the scan
time and the catalogue's shared data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from ..models import ErrorReason, ProbeOutcome


def version_of(fact_type: type) -> int:
    """The ``VERSION`` of a fact type (1 for plugin facts that declare none)."""
    value = getattr(fact_type, "VERSION", 1)
    return value if isinstance(value, int) and value > 0 else 1


def reason_of(name: str | None) -> ErrorReason | None:
    """An ``ErrorReason`` from its value; None for "" / "ok" / None; PROTOCOL for anything unknown."""
    if not name or name == "ok":
        return None
    try:
        return ErrorReason(name)
    except ValueError:
        return ErrorReason.PROTOCOL


class Facts(Mapping[str, ProbeOutcome]):
    """What an evaluator sees: the outcomes of the probes its check needs, plus scan context."""

    def __init__(
        self, target: str, outcomes: Mapping[str, ProbeOutcome], *, now: datetime, data: Mapping[str, Any] | None = None
    ) -> None:
        self.target = target
        self._outcomes = outcomes
        self.now = now
        self.data: Mapping[str, Any] = data or {}  # the catalogue's shared data files (hosting, eol ...)

    def __getitem__(self, probe: str) -> ProbeOutcome:
        return self._outcomes[probe]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    def fact(self, probe: str) -> Any:
        """The fact of ``probe``; only call for facts that exist (the engine checks by default)."""
        outcome = self._outcomes[probe]
        if outcome.fact is None:
            raise KeyError(probe)
        return outcome.fact


# ----------------------------------------------------------------------------- migrations

Migration = Callable[[dict[str, Any]], dict[str, Any]]
_MIGRATIONS: dict[tuple[type, int], Migration] = {}


def migrates(fact_type: type, from_version: int) -> Callable[[Migration], Migration]:
    """Register ``fn(stored_dict) -> dict`` that turns a stored fact of ``from_version`` into the next."""

    def mark(fn: Migration) -> Migration:
        _MIGRATIONS[(fact_type, from_version)] = fn
        return fn

    return mark


def migration(fact_type: type, from_version: int) -> Migration | None:
    return _MIGRATIONS.get((fact_type, from_version))


def v1_status(value: Any) -> str | None:
    """A version-1 endpoint ``status`` string ("ok", "timeout" ...) as a version-2 ``error`` value."""
    reason = reason_of(str(value) if value else None)
    return reason.value if reason is not None else None
