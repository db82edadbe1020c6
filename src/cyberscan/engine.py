"""Runs a scan: collects each needed fact once (concurrently), then judges every selected check.

The engine owns scheduling, cancellation and judgement; probes own I/O (through
:mod:`cyberscan.runtime`); evaluators own the verdicts. A probe that raises a ``ProbeError`` (or
crashes) yields an outcome without a fact, and every check that needs it becomes ERROR (or SKIPPED
when out of scope) with the reason: an error is never a pass and never a fail.

Cancellation: when ``cancel`` is set (Ctrl-C, SIGTERM), the run's reaper cuts every open connection,
no new probe starts, and :func:`scan` returns within about half a second with what was judged so
far: facts not yet collected are ``interrupted`` and the scan is marked incomplete.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from .catalogue import Catalogue, Check, Profile
from .errors import CatalogueError
from .facts import Facts, version_of
from .models import (
    SKIP_REASONS,
    ErrorReason,
    Notice,
    ProbeOutcome,
    Result,
    Scan,
    Status,
    Subject,
    Verdict,
)
from .options import ScanOptions
from .registry import Registry
from .runtime import Run, Shared
from .scope import Scope
from .version import __version__

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]

# worst first: when one evaluator gives several verdicts about the same subject, the worst leads
_MERGE_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.INFO: 3, Status.MANUAL: 4, Status.PASS: 5,
                Status.SKIPPED: 6}
CANCEL_GRACE = 0.3  # seconds the engine waits for running probes after a cancel before judging


# ------------------------------------------------------------------------------- judging


def judge(check: Check, facts: Facts, registry: Registry) -> list[Result]:
    """Run one check's evaluator over its facts; never raises. One result per subject."""
    reg = registry.evaluators.get(check.evaluator)
    if reg is None:
        return [_result(check, facts.target, Verdict(Status.ERROR, "error.no-evaluator", {"evaluator": check.evaluator},
                                                     reason=ErrorReason.BUG))]
    missing = [facts[p] for p in check.needs if p in facts and not facts[p].ok]
    if missing and not reg.spec.handles_errors:
        first = missing[0]
        reason = first.error or ErrorReason.BUG
        status = Status.SKIPPED if reason in SKIP_REASONS else Status.ERROR
        verdict = Verdict(status, f"error.{reason}", {"probe": first.probe, "detail": first.detail}, reason=reason)
        return [_result(check, facts.target, verdict)]
    try:
        verdicts = reg.func(facts, check.params)
    except Exception as exc:
        log.debug("evaluator %s crashed", check.evaluator, exc_info=True)
        verdict = Verdict(Status.ERROR, "error.bug", {"detail": f"{type(exc).__name__}: {exc}"[:300]},
                          reason=ErrorReason.BUG)
        return [_result(check, facts.target, verdict)]
    return [_result(check, facts.target, v) for v in merge(verdicts)]


def merge(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """One verdict per subject: the worst leads, the others' messages go into its ``also`` evidence.

    This keeps finding keys unique within a scan whatever an evaluator (a plugin's too) returns."""
    by_key: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        by_key.setdefault((verdict.subject or Subject()).key, []).append(verdict)
    out = []
    for group in by_key.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        ordered = sorted(group, key=lambda v: _MERGE_ORDER.get(v.status, 9))
        lead = ordered[0]
        also = [{"status": v.status.value, "message": v.message, "params": dict(v.params)} for v in ordered[1:]]
        out.append(replace(lead, evidence={**lead.evidence, "also": also}))
    return out


def _reason(verdict: Verdict) -> ErrorReason | None:
    if verdict.status not in (Status.ERROR, Status.SKIPPED):
        return None
    if verdict.reason is not None:
        return verdict.reason
    raw = verdict.params.get("reason")  # plugins written before Verdict.reason
    try:
        return ErrorReason(raw) if raw else (ErrorReason.PROTOCOL if verdict.status is Status.ERROR
                                             else ErrorReason.NOT_APPLICABLE)
    except ValueError:
        return ErrorReason.PROTOCOL


def _result(check: Check, target: str, verdict: Verdict) -> Result:
    return Result(
        check_id=check.id,
        check_version=check.version,
        target=target,
        status=verdict.status,
        severity=check.severity,
        message=verdict.message,
        params=dict(verdict.params),
        evidence=dict(verdict.evidence),
        subject=(verdict.subject or Subject()).with_domain(target),
        maps_to=tuple(check.maps_to),
        error_reason=_reason(verdict),
    )


def skipped(check: Check, target: str, message: str, **params: Any) -> Result:
    return _result(check, target, Verdict(Status.SKIPPED, message, params, reason=ErrorReason.NOT_APPLICABLE))


def gated(checks: Sequence[Check], options: ScanOptions) -> set[str]:
    """Active checks (port scans) that do not run: not asked for, or not confirmed."""
    return {c.id for c in checks if c.active and not (options.ports and options.authorised)}


def judge_all(
    targets: Sequence[str],
    checks: Sequence[Check],
    outcome: Callable[[str, str], ProbeOutcome | None],
    *,
    registry: Registry,
    options: ScanOptions,
    now: datetime,
    data: Mapping[str, Any],
    missing: Callable[[Check, str], Result],
) -> list[Result]:
    """Judge every check for every target, from ``outcome(probe, target)`` (None: not available)."""
    off = gated(checks, options)
    results: list[Result] = []
    for target in targets:
        for check in checks:
            if check.id in off:
                key = "skipped.active-not-requested" if not options.ports else "skipped.not-authorised"
                results.append(skipped(check, target, key))
                continue
            outcomes = {p: outcome(p, target) for p in check.needs}
            if any(o is None for o in outcomes.values()):
                results.append(missing(check, target))
                continue
            found = {p: o for p, o in outcomes.items() if o is not None}
            results.extend(judge(check, Facts(target, found, now=now, data=data), registry))
    return results


# ------------------------------------------------------------------------------- scanning


def scan(
    targets: Sequence[str],
    *,
    catalogue: Catalogue,
    profile: Profile,
    registry: Registry,
    options: ScanOptions,
    progress: Progress | None = None,
    now: datetime | None = None,
    cancel: threading.Event | None = None,
    shared: Shared | None = None,
) -> Scan:
    """Scan ``targets`` (already normalised domain names) under ``profile``.

    Returns early, with ``complete=False``, when ``cancel`` is set. The scan is judged at its start
    time to the second, the same instant a stored scan is judged again at (``rejudge``), so a
    certificate's days left are the same number in every report of it."""
    started = (now or datetime.now(UTC)).replace(microsecond=0)
    checks = catalogue.select(profile)
    if not checks:
        raise CatalogueError("catalogue.no-checks", profile=profile.id)
    scope = Scope(tuple(targets), allow_private=options.allow_private, extra_hosts=options.extra_hosts)
    off = gated(checks, options)
    running = [c for c in checks if c.id not in off]
    run = Run(
        probes={name: reg.func for name, reg in registry.probes.items()},
        profile=profile,
        options=options,
        scope=scope,
        now=started,
        checks=running,
        cancel=cancel,
        data=catalogue.extras,
        shared=shared,
    )
    needed = sorted({(p, t) for t in targets for c in running for p in c.needs}, key=lambda j: (j[1], j[0]))
    try:
        _collect(run, needed, options.workers, progress)
    finally:
        run.close()
    complete = not run.cancel.is_set() or all(
        (o := run.collected(p, t)) is not None and o.error is not ErrorReason.INTERRUPTED for p, t in needed
    )

    def outcome(probe: str, target: str) -> ProbeOutcome | None:
        found = run.collected(probe, target)
        return found if found is not None else ProbeOutcome(probe, target, error=ErrorReason.INTERRUPTED)

    def missing(check: Check, target: str) -> Result:  # pragma: no cover - outcome() never gives None
        return skipped(check, target, "skipped.no-stored-facts")

    results = judge_all(targets, checks, outcome, registry=registry, options=options, now=started,
                        data=catalogue.extras, missing=missing)
    for address, names in sorted(scope.refused.items()):
        run.add_notice(Notice("scope.private-address", {"address": address, "names": sorted(names)}))
    if not complete:
        run.add_notice(Notice("scan.interrupted", {}))
    types = registry.fact_types()
    return Scan(
        tool_version=__version__,
        catalogue_version=catalogue.version,
        profile=profile.id,
        started=started.isoformat(timespec="seconds"),
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        targets=tuple(targets),
        results=tuple(results),
        outcomes=tuple(sorted(run.all_outcomes(), key=lambda o: (o.subject, o.probe))),
        notices=tuple(run.notices),
        addresses_probed={a: tuple(n) for a, n in scope.summary().items()},
        options=options.public(),
        complete=complete,
        fact_versions={p: version_of(t) for p, t in sorted(types.items())},
    )


def _collect(run: Run, needed: Sequence[tuple[str, str]], workers: int, progress: Progress | None) -> None:
    """Collect every needed fact on the run's pool (at most ``workers`` probes of this scan at once),
    domain by domain; on cancel, stop waiting after a short grace.

    The calling thread only waits (so a Ctrl-C is answered within the grace whatever a probe is
    doing); progress is the group's finished count, read in O(1) per tick."""
    group = run.shared.pool.start(lambda job: run.outcome(job[0], job[1]), needed, width=workers)
    total = len(needed)
    tick = 0.05 if progress is not None else 0.25
    reported = 0
    while not group.wait(tick):
        if progress is not None and group.finished != reported:
            reported = group.finished
            progress(reported, total, needed[group.last][1] if group.last >= 0 else "")
        if run.cancel.is_set():
            run.reaper.cut_all()
            group.wait(CANCEL_GRACE)
            return
    if progress is not None and total != reported:
        progress(total, total, needed[group.last][1] if group.last >= 0 else "")


def rejudge(stored: Scan, *, catalogue: Catalogue, profile: Profile, registry: Registry,
            options: ScanOptions | None = None) -> Scan:
    """Judge a stored scan's facts again under the current catalogue, with the stored options'
    consent gating (a port scan never "passes" because its facts are missing)."""
    by_key = {(o.probe, o.subject): o for o in stored.outcomes}
    now = datetime.fromisoformat(stored.started)
    opts = options or ScanOptions(
        ports=bool(stored.options.get("ports", False)), authorised=bool(stored.options.get("authorised", False))
    )
    checks = catalogue.select(profile)

    def missing(check: Check, target: str) -> Result:
        return skipped(check, target, "skipped.no-stored-facts")

    results = judge_all(stored.targets, checks, lambda p, t: by_key.get((p, t)), registry=registry, options=opts,
                        now=now, data=catalogue.extras, missing=missing)
    return replace(stored, tool_version=__version__, catalogue_version=catalogue.version, profile=profile.id,
                   results=tuple(results))
