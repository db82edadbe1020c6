"""Exception hierarchy. Only ``cli.py`` turns these into messages and exit codes."""

from __future__ import annotations


class CyberscanError(Exception):
    """Root of every error cyberscan raises on purpose."""


class UsageError(CyberscanError):
    """The user asked for something that cannot be done as asked (bad domain, bad option)."""


class ConfigError(CyberscanError):
    """A profile, answers file or option value is invalid."""


class CatalogueError(ConfigError):
    """The check catalogue or a framework file is invalid."""


class TargetError(CyberscanError):
    """The target cannot be scanned at all (no such domain, no nameserver answers)."""


class ProbeError(CyberscanError):
    """A probe could not collect its fact. Carries the probe id and target."""

    def __init__(self, message: str, *, probe: str = "", target: str = "") -> None:
        super().__init__(message)
        self.probe = probe
        self.target = target


class ProbeTimeout(ProbeError):
    pass


class TargetUnreachable(ProbeError):
    pass


class ProtocolError(ProbeError):
    pass


class OutOfScope(ProbeError):
    """The probe would have contacted an address outside the scope the user gave."""
