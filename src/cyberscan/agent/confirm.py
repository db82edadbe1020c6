"""Before anyone is woken: probe a regression again, only the affected checks, after a short pause.

The checks probed again are the regressed ones plus every selected check that needs the same facts
(collecting ``tls.scan`` again costs the same for one check as for six, and judging them all keeps
the stored assessment consistent: each check is judged from the facts it needs, all from one moment).
For a dated item the checks that need its probe are taken. The confirmation is a scan under the
round's profile with ``include`` narrowed to those checks (``dataclasses.replace(profile,
include=..., include_tags=())``); :func:`merge` puts its facts and results into the round's
assessment in place of the first ones, and readiness and actions are computed again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace

from ..assessment import Assessment, assess, build
from ..catalogue import Catalogue, Check, Profile
from ..models import AcceptedRisk
from ..options import ScanOptions
from ..questionnaire import Answers
from ..registry import Registry
from .alerts import Candidate


def affected_checks(found: Iterable[Candidate], selected: Sequence[Check]) -> tuple[str, ...]:
    """The check ids to probe again for ``found``: the regressed checks and the selected checks
    that need the same probes (or a dated item's probe)."""
    found = list(found)
    wanted = {c.check_id for c in found if c.check_id}
    probes = {c.probe for c in found if c.probe}
    by_id = {c.id: c for c in selected}
    for check_id in wanted:
        check = by_id.get(check_id)
        if check is not None:
            probes.update(check.needs)
    ids = {c.id for c in selected if c.id in wanted or set(c.needs) & probes}
    return tuple(sorted(ids))


def confirmation_profile(profile: Profile, check_ids: Sequence[str]) -> Profile:
    """The round's profile (overrides, settings, exclusions kept) narrowed to ``check_ids``."""
    return replace(profile, include=tuple(check_ids), include_tags=())


def probe_again(domain: str, check_ids: Sequence[str], *, profile: Profile, options: ScanOptions,
                catalogue: Catalogue, registry: Registry, answers: Answers | None,
                accepted: Sequence[AcceptedRisk], cancel: threading.Event | None = None) -> Assessment:
    """A scan of ``domain`` with only ``check_ids`` (its preflight included)."""
    return assess([domain], profile=confirmation_profile(profile, check_ids), options=options, answers=answers,
                  accepted=accepted, catalogue=catalogue, registry=registry, cancel=cancel)


def merge(first: Assessment, again: Assessment, check_ids: Sequence[str], *, profile: Profile,
          answers: Answers | None, accepted: Sequence[AcceptedRisk]) -> Assessment:
    """``first`` with the results of ``check_ids`` and the facts they need taken from ``again``.

    When ``again`` could not scan the domain at all (its preflight failed), nothing is taken: the
    checks keep their first results, and the caller treats the regressions as not confirmed."""
    if again.failures or not again.scan.targets:
        return first
    ids = set(check_ids)
    catalogue = first.catalogue
    probes = {p for cid in ids if (check := catalogue.checks.get(cid)) is not None for p in check.needs}
    redone = {(o.probe, o.subject) for o in again.scan.outcomes if o.probe in probes}
    outcomes = tuple(sorted((*(o for o in first.scan.outcomes if (o.probe, o.subject) not in redone),
                             *(o for o in again.scan.outcomes if (o.probe, o.subject) in redone)),
                            key=lambda o: (o.subject, o.probe)))
    kept = [r for r in first.scan.results if r.check_id not in ids]
    fresh = [r for r in again.scan.results if r.check_id in ids]
    order = {c: i for i, c in enumerate(catalogue.checks)}
    results = tuple(sorted((*kept, *fresh), key=lambda r: (r.target, order.get(r.check_id, len(order)))))
    addresses = {k: tuple(sorted({*first.scan.addresses_probed.get(k, ()), *again.scan.addresses_probed.get(k, ())}))
                 for k in {*first.scan.addresses_probed, *again.scan.addresses_probed}}
    raw = replace(first.scan, results=results, outcomes=outcomes, addresses_probed=addresses,
                  complete=first.scan.complete and again.scan.complete)
    return build(raw, catalogue=catalogue, profile=profile, answers=answers, accepted=accepted,
                 failures=first.failures)
