"""Renderers read a finished scan and write it in one format. They hold no business logic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..catalogue import Catalogue
from ..models import ScanResult
from ..registry import Registry


@dataclass(slots=True)
class Report:
    """Everything a renderer may read."""

    scan: ScanResult
    catalogue: Catalogue
    lang: str = "nl"
    answers: Mapping[str, Any] | None = None  # questionnaire answers, when given
    extra: dict[str, Any] = field(default_factory=dict)


def render(fmt: str, report: Report, registry: Registry) -> str:
    reg = registry.renderers[fmt]
    out: str = reg.func(report)
    return out


def suffix(fmt: str, registry: Registry) -> str:
    return registry.renderers[fmt].spec.suffix
