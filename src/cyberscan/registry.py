"""Discovers plugins through entry points (group ``cyberscan.plugins``), lazily and once.

Third-party plugins are imported when the registry is loaded (nothing tells what they provide). The
built-in packages (:data:`BUILTIN`) are imported only when a table they fill is first asked for, so
``cyberscan checks`` imports no probe, and a scan imports the renderers only for its report. The
first look at the probes (a scan is about to start) also starts one background thread that imports
the remaining built-in packages (evaluators, renderers) while the scan waits on the network; whoever
needs a table before that thread is done waits for it. A unit test checks that each built-in package
provides only the kinds listed here and no ``CATALOGUE``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from .errors import CatalogueError
from .plugin import ATTR, PluginSpec

GROUP = "cyberscan.plugins"
KINDS = ("probe", "evaluator", "renderer", "section")
# the built-in plugin packages and the kinds each provides (none ships a CATALOGUE)
BUILTIN: dict[str, tuple[str, ...]] = {
    "cyberscan.probes": ("probe",),
    "cyberscan.evaluators": ("evaluator",),
    "cyberscan.render": ("renderer", "section"),
}


@dataclass(frozen=True, slots=True)
class Registered:
    spec: PluginSpec
    func: Callable[..., Any]
    origin: str  # "module:function", for error messages


class Registry:
    """Every registered probe, evaluator, renderer and report section, and the plugins' catalogues.

    The tables are plain dictionaries (``registry.probes[name]``); a table is complete when it is
    returned, built-in packages being imported then if they were not yet (see the module docstring)."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
        self._catalogues: list[Any] = []  # extra catalogue dirs from plugins
        self.modules: list[str] = []
        self._pending: dict[str, tuple[str, ...]] = {}  # package -> kinds, not imported yet
        self._lock = threading.RLock()
        self._warming: threading.Thread | None = None

    @property
    def probes(self) -> dict[str, Registered]:
        table = self._table("probe")
        self.warm_up()  # a scan is about to start: judge and report with everything imported by then
        return table

    @property
    def evaluators(self) -> dict[str, Registered]:
        return self._table("evaluator")

    @property
    def renderers(self) -> dict[str, Registered]:
        return self._table("renderer")

    @property
    def sections(self) -> dict[str, Registered]:
        """Extra HTML report tables."""
        return self._table("section")

    @property
    def catalogues(self) -> list[Any]:
        """Extra catalogue dirs from plugins (built-in packages have none: nothing is imported)."""
        return self._catalogues

    def defer(self, package: str, kinds: tuple[str, ...]) -> None:
        """Import ``package`` (and its modules) only when a table of ``kinds`` is asked for."""
        with self._lock:
            self._pending[package] = kinds

    def _table(self, kind: str) -> dict[str, Registered]:
        if self._pending:
            self._import(lambda kinds: kind in kinds)
        return self._tables[kind]

    def _import(self, wanted: Callable[[tuple[str, ...]], bool]) -> None:
        with self._lock:
            for package, kinds in list(self._pending.items()):
                if wanted(kinds):
                    for module in _modules(package):
                        self.add_module(module)
                    del self._pending[package]

    def warm_up(self) -> None:
        """Import every deferred package in one background daemon thread (once). A failure there is
        left for the table's first reader, who imports again and gets the error."""
        with self._lock:
            if self._warming is not None or not self._pending:
                return
            self._warming = threading.Thread(target=self._warm, name="registry-warm-up", daemon=True)
            self._warming.start()

    def _warm(self) -> None:
        try:
            self._import(lambda kinds: True)
        except Exception:  # noqa: BLE001, S110 - raised again to the reader of that table
            pass

    def add_module(self, module: ModuleType) -> None:
        self.modules.append(module.__name__)
        for attr in vars(module).values():
            spec = getattr(attr, ATTR, None)
            if not isinstance(spec, PluginSpec) or getattr(attr, "__module__", None) != module.__name__:
                continue
            table = self._tables[spec.kind]
            origin = f"{module.__name__}:{attr.__name__}"
            if spec.name in table:
                raise CatalogueError("plugin.duplicate", kind=spec.kind, name=spec.name, first=table[spec.name].origin,
                                     second=origin)
            table[spec.name] = Registered(spec, attr, origin)
        extra = getattr(module, "CATALOGUE", None)
        if extra is not None:
            self._catalogues.append(extra)

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
    """A registry of these modules (or packages), every one imported now."""
    registry = Registry()
    for name in module_names:
        for module in _modules(name):
            registry.add_module(module)
    return registry


@functools.cache
def load() -> Registry:
    """The registry of every installed plugin, built-ins included (built-in packages imported when needed)."""
    names = sorted({ep.value.split(":")[0] for ep in entry_points(group=GROUP)})
    registry = Registry()
    for name in names:
        if name in BUILTIN:
            registry.defer(name, BUILTIN[name])
        else:
            for module in _modules(name):
                registry.add_module(module)
    return registry
