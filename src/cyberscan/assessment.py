"""One assessment core that every feature calls: targets + profile + options + answers -> Assessment.

    import cyberscan

    result = cyberscan.assess(["museum.nl"], profile="klein-museum")
    result.readiness.framework("den-checklist").score   # 0.0 .. 1.0, or None
    for action in result.actions: ...
    for finding in result.results: finding.key, finding.status

:func:`assess` normalises the targets, checks each domain can be scanned at all (preflight), runs the
scan, adds the questionnaire answers as self-reported results, marks accepted risks, and computes the
readiness per framework and the prioritised actions. :func:`reassess` does the same from a stored
scan's facts under the installed catalogue. Renderers, history, the agent, the batch and the hub
all read an :class:`Assessment`; none of them computes readiness or actions itself.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from . import catalogue as catalogue_mod
from . import registry as registry_mod
from .actions import Action, prioritise
from .catalogue import Catalogue, Profile
from .engine import Progress, rejudge, scan
from .errors import TargetError, UsageError
from .models import AcceptedRisk, Notice, Result, Scan
from .options import ScanOptions
from .preflight import preflight
from .questionnaire import Answers, answer_results
from .readiness import Readiness
from .readiness import assess as assess_readiness
from .registry import Registry
from .risks import apply as apply_risks
from .runtime import Shared
from .scope import normalize_domain
from .version import __version__

PREFLIGHT_WIDTH = 16  # domains whose SOA is asked at once


@dataclass(frozen=True, slots=True)
class TargetFailure:
    """A domain that could not be scanned at all (message key and params in ``checks/data``/texts)."""

    domain: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Assessment:
    """Everything known about one assessment: read by every renderer, stored by history."""

    scan: Scan
    results: tuple[Result, ...]  # scan results plus self-reported answers, accepted risks marked
    readiness: Readiness
    actions: tuple[Action, ...]  # every action, riskiest first (reports show the first few)
    notices: tuple[Notice, ...]
    catalogue: Catalogue = field(repr=False, compare=False)
    answers: Answers | None = None
    accepted: tuple[AcceptedRisk, ...] = ()
    failures: tuple[TargetFailure, ...] = ()

    @property
    def complete(self) -> bool:
        return self.scan.complete

    @property
    def targets(self) -> tuple[str, ...]:
        return self.scan.targets

    @property
    def profile(self) -> Profile | None:
        return self.catalogue.profiles.get(self.scan.profile)

    def addresses_contacted(self) -> Mapping[str, tuple[str, ...]]:
        return self.scan.addresses_probed


def normalise_targets(raw: Sequence[str]) -> tuple[list[str], list[Notice]]:
    """Domain names as DNS writes them, without duplicates; notices for rewritten input.

    Raises UsageError for anything that is not a domain name."""
    targets: list[str] = []
    notices: list[Notice] = []
    for value in raw:
        norm = normalize_domain(value)
        if norm.notice:
            notices.append(Notice(f"input.{norm.notice}", {"original": norm.original, "domain": norm.domain},
                                  norm.domain))
        if norm.domain not in targets:
            targets.append(norm.domain)
    if not targets:
        raise UsageError("domain.empty")
    return targets, notices


def _profile(catalogue: Catalogue, profile: str | Profile) -> Profile:
    return profile if isinstance(profile, Profile) else catalogue_mod.profile(catalogue, profile)


def assess(
    targets: Sequence[str] | str,
    *,
    profile: str | Profile = "default",
    options: ScanOptions | None = None,
    answers: Answers | None = None,
    accepted: Sequence[AcceptedRisk] = (),
    catalogue: Catalogue | None = None,
    registry: Registry | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    check_targets: bool = True,
    shared: Shared | None = None,
) -> Assessment:
    """Scan ``targets`` and assess them. Library entry point; never prints, never exits.

    Domains that cannot be scanned at all (no such domain, no nameserver answers) are listed in
    ``failures`` and left out; the others are scanned. A batch passes one ``shared`` to every call
    (DNS cache, per-address limiter, facts per address computed once). Set ``cancel`` to stop early: the assessment
    then covers what was judged so far and ``complete`` is False.
    Raises UsageError for a target that is not a domain name, ConfigError for an unknown profile.
    """
    registry = registry or registry_mod.load()
    catalogue = catalogue or catalogue_mod.builtin()
    chosen = _profile(catalogue, profile)
    options = options or ScanOptions()
    names, notices = normalise_targets([targets] if isinstance(targets, str) else list(targets))
    own = shared is None
    shared = shared or Shared(per_address=options.per_host_connections, workers=options.workers, cancel=cancel)
    try:
        failures, reachable = _preflight_all(names, options, shared) if check_targets else ([], names)
        started = now or datetime.now(UTC)
        if reachable:
            raw = scan(reachable, catalogue=catalogue, profile=chosen, registry=registry, options=options,
                       progress=progress, now=started, cancel=cancel, shared=shared)
        else:
            raw = _empty_scan(catalogue, chosen, started, options)
    finally:
        if own:
            shared.close()
    raw = replace(raw, notices=(*notices, *raw.notices))
    return build(raw, catalogue=catalogue, profile=chosen, answers=answers, accepted=accepted, failures=tuple(failures))


def _preflight_all(names: Sequence[str], options: ScanOptions,
                   shared: Shared) -> tuple[list[TargetFailure], list[str]]:
    """Preflight every domain at once (one round trip in all, not one per domain), on the shared pool."""

    def check(domain: str) -> TargetFailure | None:
        try:
            preflight(domain, options)
        except TargetError as exc:
            return TargetFailure(domain, exc.key, exc.params)
        return None

    found = shared.pool.map(check, names, width=PREFLIGHT_WIDTH)
    failures = [f for f in found if f is not None]
    return failures, [d for d, f in zip(names, found, strict=True) if f is None]


def reassess(
    stored: Scan,
    *,
    profile: str | Profile | None = None,
    answers: Answers | None = None,
    accepted: Sequence[AcceptedRisk] = (),
    catalogue: Catalogue | None = None,
    registry: Registry | None = None,
) -> Assessment:
    """Judge a stored scan's facts again under the installed catalogue, exactly as a fresh scan would
    (same consent gating for active checks, same answers and accepted risks)."""
    registry = registry or registry_mod.load()
    catalogue = catalogue or catalogue_mod.builtin()
    chosen = _profile(catalogue, profile or stored.profile)
    judged = rejudge(stored, catalogue=catalogue, profile=chosen, registry=registry)
    return build(judged, catalogue=catalogue, profile=chosen, answers=answers, accepted=accepted)


def _empty_scan(catalogue: Catalogue, profile: Profile, started: datetime, options: ScanOptions) -> Scan:
    stamp = started.isoformat(timespec="seconds")
    return Scan(__version__, catalogue.version, profile.id, stamp, stamp, (), (), (), options=options.public())


def build(
    raw: Scan,
    *,
    catalogue: Catalogue,
    profile: Profile | None = None,
    answers: Answers | None = None,
    accepted: Sequence[AcceptedRisk] = (),
    failures: tuple[TargetFailure, ...] = (),
) -> Assessment:
    """The assessment of a judged scan: answers added, accepted risks marked, readiness and actions."""
    profile = profile or catalogue.profiles.get(raw.profile) or catalogue_mod.profile(catalogue, "default")
    results = list(raw.results)
    when = datetime.fromisoformat(raw.started)
    if answers is not None and raw.targets:
        results.extend(answer_results(catalogue, profile, answers, target=raw.targets[0], today=when.date()))
    results = [r if r.subject.domain else replace(r, subject=r.subject.with_domain(r.target)) for r in results]
    marked = apply_risks(results, accepted, when.date())
    frameworks = list(profile.frameworks) if profile.frameworks else None
    readiness = assess_readiness(catalogue, marked, frameworks)
    actions = tuple(prioritise(catalogue, marked, outcomes=raw.outcomes, limit=None))
    return Assessment(
        scan=raw,
        results=marked,
        readiness=readiness,
        actions=actions,
        notices=raw.notices,
        catalogue=catalogue,
        answers=answers,
        accepted=tuple(accepted),
        failures=failures,
    )
