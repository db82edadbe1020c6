"""Compare two judgements finding by finding key: pure, no I/O.

Each key in either judgement falls in exactly one of:

``fixed``       a problem (fail or warn) before, none now
``new``         no problem before, a problem now
``worse``       warn before, fail now
``better``      fail before, warn now
``unchanged``   the same level of problem (or none) on both sides
``not-comparable``  the truth is unknown on a side: the check did not run then (``not-run-old``) or
                does not run now (``not-run-new``), or it gave ``error``, ``skipped`` or ``manual``
                for that subject on a side (``unjudged-old`` / ``unjudged-new``). An error is never
                "fixed" and never "new"; an interrupted scan's checks are errors, so an incomplete
                assessment is not comparable wherever it was interrupted.

A key that is missing on one side while its check did run there, with no error covering that
subject, means "no problem" on that side: checks often report one domain-level PASS instead of
per-host FAILs, so the per-host FAILs count as fixed. An error covers a subject when every field it
names (domain, host, address, port, service) is the subject's.

:func:`compare` also says where the rules changed (catalogue, tool, profile, check versions), so a
reader knows whether a change is real or comes from newer rules (``cyberscan rescore`` judges the
old facts again under today's rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..models import Status
from .record import Finding, Record, Summary

FIXED, NEW, WORSE, BETTER, UNCHANGED, NOT_COMPARABLE = "fixed", "new", "worse", "better", "unchanged", "not-comparable"
KINDS = (FIXED, NEW, WORSE, BETTER, UNCHANGED, NOT_COMPARABLE)

_LEVEL = {Status.FAIL: 2, Status.WARN: 1, Status.PASS: 0, Status.INFO: 0}


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    kind: str  # one of KINDS
    old: Finding | None  # None: no such key then
    new: Finding | None
    reason: str | None = None  # why not comparable: not-run-old | not-run-new | unjudged-old | unjudged-new

    @property
    def check_id(self) -> str:
        return self.key.split("|", 1)[0]

    @property
    def domain(self) -> str:
        either = self.new or self.old
        return either.domain if either is not None else ""


@dataclass(frozen=True, slots=True)
class RuleChanges:
    """What differs in the rules the two judgements were made under."""

    catalogue: tuple[str, str] | None = None  # (old, new) when they differ
    tool: tuple[str, str] | None = None
    profile: tuple[str, str] | None = None
    changed: tuple[tuple[str, int, int], ...] = ()  # (check id, old version, new version)
    added: tuple[str, ...] = ()  # checks judged now, not then
    removed: tuple[str, ...] = ()  # checks judged then, not now

    @property
    def any(self) -> bool:
        """True when the judgements were made under different rules (the tool version alone does not count)."""
        return bool(self.catalogue or self.profile or self.changed or self.added or self.removed)


@dataclass(frozen=True, slots=True)
class Diff:
    old: Summary
    new: Summary
    domain: str | None
    changes: tuple[Change, ...]  # by kind, then key
    rules: RuleChanges

    def of(self, kind: str) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for c in self.changes if c.kind == kind) for kind in KINDS}

    @property
    def markers(self) -> dict[str, str]:
        """Finding key -> ``new`` | ``fixed`` | ``worse`` | ``better`` for findings of the new judgement."""
        return {c.key: c.kind for c in self.changes if c.kind in (NEW, FIXED, WORSE, BETTER) and c.new is not None}


def _covers(finding: Finding, parts: tuple[str, str, str, str, str]) -> bool:
    """Whether an unjudged finding is about ``parts`` or something containing it (a domain-level error
    covers every host of the domain)."""
    return all(not mine or mine == theirs for mine, theirs in zip(finding.parts, parts, strict=True))


def _unjudged_by_check(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings:
        if not f.judged:
            out.setdefault(f.check_id, []).append(f)
    return out


def _side(finding: Finding | None, check_id: str, parts: tuple[str, str, str, str, str], ran: set[str],
          unjudged: Mapping[str, list[Finding]], side: str) -> tuple[int | None, str | None]:
    """The problem level on one side (0 none, 1 warn, 2 fail), or None with the reason it is unknown."""
    if finding is not None:
        if not finding.judged:
            return None, f"unjudged-{side}"
        return _LEVEL.get(finding.status, 0), None
    if check_id not in ran:
        return None, f"not-run-{side}"
    if any(_covers(f, parts) for f in unjudged.get(check_id, ())):
        return None, f"unjudged-{side}"
    return 0, None


def _kind(old: int, new: int) -> str:
    if old == new:
        return UNCHANGED
    if old == 0:
        return NEW
    if new == 0:
        return FIXED
    return WORSE if new > old else BETTER


def rule_changes(old: Record, new: Record) -> RuleChanges:
    a, b = old.summary, new.summary
    ov, nv = old.check_versions, new.check_versions
    return RuleChanges(
        catalogue=(a.catalogue_version, b.catalogue_version) if a.catalogue_version != b.catalogue_version else None,
        tool=(a.tool_version, b.tool_version) if a.tool_version != b.tool_version else None,
        profile=(a.profile, b.profile) if a.profile != b.profile else None,
        changed=tuple((c, ov[c], nv[c]) for c in sorted(set(ov) & set(nv)) if ov[c] != nv[c]),
        added=tuple(sorted(set(nv) - set(ov))),
        removed=tuple(sorted(set(ov) - set(nv))),
    )


def compare(old: Record, new: Record, *, domain: str | None = None) -> Diff:
    """Every finding key of ``old`` and ``new`` (only those about ``domain`` when given), classified."""
    old_r, new_r = old.for_domain(domain), new.for_domain(domain)
    ran_old = {f.check_id for f in old_r.findings.values()}
    ran_new = {f.check_id for f in new_r.findings.values()}
    unjudged_old = _unjudged_by_check(old_r.findings.values())
    unjudged_new = _unjudged_by_check(new_r.findings.values())
    changes: list[Change] = []
    for key in sorted(set(old_r.findings) | set(new_r.findings)):
        o, n = old_r.findings.get(key), new_r.findings.get(key)
        either = n or o
        assert either is not None
        level_old, why_old = _side(o, either.check_id, either.parts, ran_old, unjudged_old, "old")
        level_new, why_new = _side(n, either.check_id, either.parts, ran_new, unjudged_new, "new")
        if level_old is None or level_new is None:
            changes.append(Change(key, NOT_COMPARABLE, o, n, why_old or why_new))
        else:
            changes.append(Change(key, _kind(level_old, level_new), o, n))
    order = {kind: i for i, kind in enumerate(KINDS)}
    changes.sort(key=lambda c: (order[c.kind], c.key))
    return Diff(old.summary, new.summary, domain, tuple(changes), rule_changes(old_r, new_r))
