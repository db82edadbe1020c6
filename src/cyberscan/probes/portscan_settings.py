"""The port scan's profile settings (``settings: {portscan: {...}}``), read once and bounded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ScanSettings:
    timing: int = 3
    host_timeout: float = 300.0
    budget: float = 900.0
    parallel: int = 4
    max_parallelism: int = 8
    version_intensity: int = 7
    use_nmap: bool = True
    nmap_binary: str = "nmap"
    udp: bool = True
    external_hosts: bool = False
    connect_timeout: float = 3.0
    banner_timeout: float = 2.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ScanSettings:
        raw = settings.get("portscan") or {}
        if not isinstance(raw, Mapping):
            raw = {}

        def num(key: str, default: float, low: float, high: float) -> float:
            try:
                return min(max(float(raw.get(key, default)), low), high)
            except (TypeError, ValueError):
                return default

        return cls(
            timing=int(num("timing", 3, 0, 5)),
            host_timeout=num("host_timeout", 300, 5, 3600),
            budget=num("budget", 900, 5, 6 * 3600),
            parallel=int(num("parallel", 4, 1, 64)),
            max_parallelism=int(num("max_parallelism", 8, 1, 100)),
            version_intensity=int(num("version_intensity", 7, 0, 9)),
            use_nmap=bool(raw.get("nmap", True)),
            nmap_binary=str(raw.get("nmap_binary", "nmap")),
            udp=bool(raw.get("udp", True)),
            external_hosts=bool(raw.get("external_hosts", False)),
            connect_timeout=num("connect_timeout", 3, 0.1, 60),
            banner_timeout=num("banner_timeout", 2, 0.1, 30),
        )
