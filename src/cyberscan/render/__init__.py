"""Renderers read a finished :class:`~cyberscan.assessment.Assessment` and write it in one format.

They compute nothing: readiness, actions and findings come from the assessment; a renderer only
picks the language's texts and lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..assessment import Assessment
from ..catalogue import Catalogue
from ..registry import Registry


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a renderer may read: the assessment, the language, and presentation switches."""

    assessment: Assessment
    lang: str = "nl"
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"color": True, "demo": True}

    @property
    def catalogue(self) -> Catalogue:
        return self.assessment.catalogue

    def with_extra(self, **values: Any) -> Report:
        return Report(self.assessment, self.lang, {**self.extra, **values})


def render(fmt: str, report: Report, registry: Registry) -> str | bytes:
    """Write ``report`` in format ``fmt`` (bytes for a binary format such as ``pdf``); the registry's
    extra report tables come along (``sections``). May raise UsageError when the format cannot be
    made on this computer (``pdf`` without a browser)."""
    reg = registry.renderers[fmt]
    if "sections" not in report.extra:
        report = report.with_extra(sections=tuple(r.func for _, r in sorted(registry.sections.items())))
    out: str | bytes = reg.func(report)
    return out


def suffix(fmt: str, registry: Registry) -> str:
    return registry.renderers[fmt].spec.suffix
