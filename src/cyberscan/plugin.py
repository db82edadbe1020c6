"""Decorators through which built-in and third-party code offers probes, evaluators and renderers.

A plugin is a module named by an entry point in the group ``cyberscan.plugins``. The registry imports
it and collects every function decorated here. Built-in modules are registered the same way, so
there is one discovery path. Decorating only attaches metadata: nothing runs at import time.

    @probe("dns.mx", fact=MxFact)
    def probe_mx(ctx: ProbeContext, domain: str) -> MxFact: ...

    @evaluator("mail.mx")
    def mx(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]: ...

    @section("tls.hosts")
    def tls_hosts(report: Report) -> list[Section]: ...      # an extra table in the HTML report

A plugin package may also ship catalogue entries: give the module a ``CATALOGUE`` attribute holding
the directory (a ``pathlib.Path`` or ``importlib.resources`` traversable) with its ``<area>/*.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

ATTR = "__cyberscan_plugin__"


@dataclass(frozen=True, slots=True)
class PluginSpec:
    kind: str  # "probe" | "evaluator" | "renderer" | "section"
    name: str
    fact: type | None = None  # probes: the fact type they return (for storing and re-reading)
    handles_errors: bool = False  # evaluators: called even when a needed fact is missing
    suffix: str = ""  # renderers: default file suffix
    binary: bool = False  # renderers: output is bytes


def probe(name: str, *, fact: type) -> Callable[[F], F]:
    """Mark ``fn(ctx, target) -> fact`` as the probe ``name``."""

    def mark(fn: F) -> F:
        setattr(fn, ATTR, PluginSpec("probe", name, fact=fact))
        return fn

    return mark


def evaluator(name: str, *, handles_errors: bool = False) -> Callable[[F], F]:
    """Mark ``fn(facts, params) -> list[Verdict]`` as the evaluator ``name``.

    By default the engine reports ERROR without calling the evaluator when a needed fact is
    missing; ``handles_errors=True`` lets the evaluator look at the outcomes itself.
    """

    def mark(fn: F) -> F:
        setattr(fn, ATTR, PluginSpec("evaluator", name, handles_errors=handles_errors))
        return fn

    return mark


def renderer(name: str, *, suffix: str, binary: bool = False) -> Callable[[F], F]:
    """Mark ``fn(report: Report) -> str`` as the output format ``name`` (``-> bytes`` with ``binary=True``)."""

    def mark(fn: F) -> F:
        setattr(fn, ATTR, PluginSpec("renderer", name, suffix=suffix, binary=binary))
        return fn

    return mark


def section(name: str) -> Callable[[F], F]:
    """Mark ``fn(report: Report) -> list[Section]`` as an extra table of the HTML report."""

    def mark(fn: F) -> F:
        setattr(fn, ATTR, PluginSpec("section", name))
        return fn

    return mark
