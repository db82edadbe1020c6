"""The few things to do first: failed checks and negative answers, ordered by risk and effort.

Where the scan recognises a supplier (mail provider from MX, DNS host from NS, web host from the
CNAMEs of the domain and www; ``checks/data/suppliers.yaml``), an action says where that supplier's
setting lives and what to ask them, so a volunteer can forward it as is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .catalogue import Catalogue, Text, text
from .models import ProbeOutcome, Result, Severity, Status
from .questionnaire import questionnaire
from .serialize import to_jsonable

_EFFORT = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True, slots=True)
class Supplier:
    """A supplier recognised from the scan's facts."""

    id: str
    role: str  # mail | dns | web
    name: str
    role_label: Text
    settings: Text
    ask: Text
    hosts: tuple[str, ...]  # the host names that matched


@dataclass(frozen=True, slots=True)
class Action:
    id: str  # the check or question id
    source: str  # "scan" or "self-reported"
    status: Status  # the worst status behind it (fail or warn)
    severity: Severity
    effort: str
    who: str
    title: Text  # the check's compliant state, or the question
    remediation: Text  # what to do
    items: tuple[str, ...]  # framework items it serves
    continuity: tuple[str, ...]
    targets: tuple[str, ...]
    hosts: tuple[str, ...]
    suppliers: tuple[Supplier, ...] = ()  # who holds the setting, when the scan recognised them

    @property
    def risk(self) -> int:
        """Severity, one step lower for a warning than for a failure."""
        return self.severity.rank - (1 if self.status is Status.WARN else 0)

    def supplier_advice(self, lang: str) -> list[str]:
        """One sentence per recognised supplier: who they are and where the setting lives."""
        return [f"{s.name} ({text(s.role_label, lang)}): {text(s.settings, lang)}" for s in self.suppliers]


# --------------------------------------------------------------------------- suppliers


def _strings(value: Any, host_roles: Sequence[str]) -> Iterable[str]:
    """Every string in a JSON-like fact, skipping host entries whose roles are not wanted."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        roles = value.get("roles")
        if host_roles and isinstance(roles, list | tuple) and not set(map(str, roles)) & set(host_roles):
            return
        for item in value.values():
            yield from _strings(item, host_roles)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, host_roles)


def recognise_suppliers(
    catalogue: Catalogue, outcomes: Iterable[ProbeOutcome], target: str | None = None
) -> list[Supplier]:
    """Suppliers whose host-name patterns match the facts of ``target`` (or of every target)."""
    data = catalogue.extras.get("suppliers") or {}
    if not isinstance(data, Mapping):
        return []
    roles: Mapping[str, Any] = data.get("roles") or {}
    by_probe: dict[str, list[str]] = {}
    for name, role in roles.items():
        if isinstance(role, Mapping) and role.get("probe"):
            by_probe.setdefault(str(role["probe"]), []).append(str(name))
    names: dict[str, set[str]] = {}
    for outcome in outcomes:
        if outcome.fact is None or outcome.probe not in by_probe or (target is not None and outcome.subject != target):
            continue
        plain = to_jsonable(outcome.fact)
        for role_name in by_probe[outcome.probe]:
            host_roles = tuple(str(r) for r in (roles[role_name].get("host_roles") or ()))
            found = names.setdefault(role_name, set())
            found.update(s.lower().rstrip(".") for s in _strings(plain, host_roles) if "." in s)
    out: list[Supplier] = []
    for entry in data.get("suppliers") or []:
        if not isinstance(entry, Mapping):
            continue
        role_name = str(entry.get("role", ""))
        patterns = [str(p).lower() for p in entry.get("patterns") or []]
        matched = sorted(h for h in names.get(role_name, ()) if any(fnmatch.fnmatchcase(h, p) for p in patterns))
        if matched:
            role = roles.get(role_name) or {}
            out.append(
                Supplier(
                    id=str(entry.get("id", entry.get("name", ""))),
                    role=role_name,
                    name=str(entry.get("name", "")),
                    role_label=dict(role.get("label") or {"nl": role_name, "en": role_name}),
                    settings=dict(entry.get("settings") or {}),
                    ask=dict(entry.get("ask") or {}),
                    hosts=tuple(matched),
                )
            )
    return out


def supplier_roles_for(catalogue: Catalogue, check_id: str) -> tuple[str, ...]:
    """Which supplier roles hold the setting a check is about (first matching rule)."""
    data = catalogue.extras.get("suppliers") or {}
    for rule in (data.get("checks") or []) if isinstance(data, Mapping) else []:
        if isinstance(rule, Mapping) and fnmatch.fnmatchcase(check_id, str(rule.get("match", ""))):
            return tuple(str(r) for r in rule.get("roles") or ())
    return ()


# --------------------------------------------------------------------------- actions


def prioritise(
    catalogue: Catalogue,
    results: Iterable[Result],
    *,
    outcomes: Iterable[ProbeOutcome] = (),
    limit: int | None = 5,
) -> list[Action]:
    """The things to do first: one action per failed or warned check or question, riskiest and easiest first."""
    qn = questionnaire(catalogue)
    suppliers = recognise_suppliers(catalogue, outcomes)
    grouped: dict[str, list[Result]] = {}
    for result in results:
        if result.status in (Status.FAIL, Status.WARN) and result.severity is not Severity.INFO and result.accepted is None:
            grouped.setdefault(result.check_id, []).append(result)
    actions = []
    for key, group in grouped.items():
        worst = min(group, key=lambda r: (r.status is not Status.FAIL, -r.severity.rank))
        check = catalogue.checks.get(key)
        question = qn.get(key) if check is None else None
        if check is not None:
            roles = supplier_roles_for(catalogue, key)
            mine = tuple(sorted((s for s in suppliers if s.role in roles), key=lambda s: roles.index(s.role)))
            actions.append(
                Action(
                    id=key,
                    source=worst.source,
                    status=worst.status,
                    severity=worst.severity,
                    effort=check.effort,
                    who=check.who,
                    title=check.title,
                    remediation=check.remediation,
                    items=tuple(check.maps_to),
                    continuity=tuple(check.continuity),
                    targets=tuple(dict.fromkeys(r.target for r in group)),
                    hosts=tuple(dict.fromkeys(h for r in group if (h := _where(r)))),
                    suppliers=mine,
                )
            )
        elif question is not None:
            actions.append(
                Action(
                    id=key,
                    source="self-reported",
                    status=worst.status,
                    severity=worst.severity,
                    effort=question.effort,
                    who=question.who,
                    title=question.text,
                    remediation=question.advice,
                    items=question.maps_to,
                    continuity=question.continuity,
                    targets=tuple(dict.fromkeys(r.target for r in group)),
                    hosts=(),
                )
            )
    actions.sort(key=lambda a: (-a.risk, _EFFORT.get(a.effort, 1), a.source != "scan", a.id))
    return actions if limit is None else actions[:limit]


def _where(result: Result) -> str:
    """A short, language-neutral name for where a finding is: host name, else address."""
    subject = result.subject
    return subject.host or subject.address or ""


def actions_to_dict(actions: Sequence[Action], lang: str | None = None) -> list[dict[str, Any]]:
    """JSON-ready actions (texts in both languages unless ``lang`` is given)."""

    def t(value: Text) -> Any:
        return text(value, lang) if lang else dict(value)

    return [
        {
            "id": a.id,
            "source": a.source,
            "status": a.status.value,
            "severity": a.severity.value,
            "effort": a.effort,
            "who": a.who,
            "title": t(a.title),
            "remediation": t(a.remediation),
            "items": list(a.items),
            "continuity": list(a.continuity),
            "targets": list(a.targets),
            "hosts": list(a.hosts),
            "suppliers": [
                {
                    "id": s.id,
                    "role": s.role,
                    "name": s.name,
                    "settings": t(s.settings),
                    "ask": t(s.ask),
                    "hosts": list(s.hosts),
                }
                for s in a.suppliers
            ],
        }
        for a in actions
    ]
