"""Discovers plugins through entry points (group ``cyberscan.plugins``), lazily and once."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from .errors import CatalogueError
from .plugin import ATTR, PluginSpec

GROUP = "cyberscan.plugins"


@dataclass(frozen=True, slots=True)
class Registered:
    spec: PluginSpec
    func: Callable[..., Any]
    origin: str  # "module:function", for error messages


@dataclass(slots=True)
class Registry:
    probes: dict[str, Registered] = field(default_factory=dict)
    evaluators: dict[str, Registered] = field(default_factory=dict)
    renderers: dict[str, Registered] = field(default_factory=dict)
    sections: dict[str, Registered] = field(default_factory=dict)  # extra HTML report tables
    catalogues: list[Any] = field(default_factory=list)  # extra catalogue dirs from plugins
    modules: list[str] = field(default_factory=list)

    def add_module(self, module: ModuleType) -> None:
        self.modules.append(module.__name__)
        for attr in vars(module).values():
            spec = getattr(attr, ATTR, None)
            if not isinstance(spec, PluginSpec) or getattr(attr, "__module__", None) != module.__name__:
                continue
            table = {"probe": self.probes, "evaluator": self.evaluators, "renderer": self.renderers,
                     "section": self.sections}[spec.kind]
            origin = f"{module.__name__}:{attr.__name__}"
            if spec.name in table:
                raise CatalogueError("plugin.duplicate", kind=spec.kind, name=spec.name, first=table[spec.name].origin,
                                     second=origin)
            table[spec.name] = Registered(spec, attr, origin)
        extra = getattr(module, "CATALOGUE", None)
        if extra is not None:
            self.catalogues.append(extra)

    def fact_types(self) -> dict[str, type]:
        return {name: reg.spec.fact for name, reg in self.probes.items() if reg.spec.fact is not None}


def _modules(name: str) -> list[ModuleType]:
    """The module ``name``, or for a package, every module in it (sorted, so loading is repeatable)."""
    try:
        module = importlib.import_module(name)
        found = [module]
        if hasattr(module, "__path__"):
            for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
                found.append(importlib.import_module(f"{name}.{info.name}"))
    except ImportError as exc:
        raise CatalogueError("plugin.not-importable", name=name, detail=str(exc)[:200]) from exc
    return found


def build(module_names: Iterable[str]) -> Registry:
    registry = Registry()
    for name in module_names:
        for module in _modules(name):
            registry.add_module(module)
    return registry


@functools.cache
def load() -> Registry:
    """The registry of every installed plugin, built-ins included."""
    names = sorted({ep.value.split(":")[0] for ep in entry_points(group=GROUP)})
    return build(names)
