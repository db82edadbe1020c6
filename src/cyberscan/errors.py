"""Exception hierarchy. An error carries a text key and parameters; the command line says it in the
user's language (``err.message("nl")``), ``str(err)`` gives the English sentence for developers.
"""

from __future__ import annotations

from typing import Any

from .models import ErrorReason
from .texts import say


class CyberscanError(Exception):
    """Root of every error cyberscan raises on purpose."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def message(self, lang: str = "en") -> str:
        return say(self.key, lang, **self.params)

    def __str__(self) -> str:
        return self.message("en")


class UsageError(CyberscanError):
    """The user asked for something that cannot be done as asked (bad domain, bad option)."""


class ConfigError(CyberscanError):
    """A profile, answers file or option value is invalid."""


class CatalogueError(ConfigError):
    """The check catalogue or a framework file is invalid."""


class TargetError(CyberscanError):
    """The target cannot be scanned at all (no such domain, no nameserver answers)."""


class StoredScanError(CyberscanError):
    """A stored scan or report file cannot be read back."""


class ProbeError(Exception):
    """A probe could not collect its fact. ``detail`` is technical (names, addresses, what the peer
    did), never a sentence: reports show it as evidence beside a translated message."""

    reason: ErrorReason = ErrorReason.UNREACHABLE

    def __init__(self, detail: str = "", *, probe: str = "", target: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.probe = probe
        self.target = target


class ProbeTimeout(ProbeError):
    reason = ErrorReason.TIMEOUT


class TargetUnreachable(ProbeError):
    reason = ErrorReason.UNREACHABLE


class ProtocolError(ProbeError):
    reason = ErrorReason.PROTOCOL


class ServerFailure(ProbeError):
    """SERVFAIL or REFUSED from every nameserver: the truth is unknown."""

    reason = ErrorReason.SERVFAIL


class Truncated(ProbeError):
    """The answer was cut off (size cap): it is never judged as content."""

    reason = ErrorReason.TRUNCATED


class OutOfScope(ProbeError):
    """The probe would have contacted an address outside the scope the user gave."""

    reason = ErrorReason.OUT_OF_SCOPE


class Interrupted(ProbeError):
    """The scan was stopped (Ctrl-C, SIGTERM) before this fact was collected."""

    reason = ErrorReason.INTERRUPTED
