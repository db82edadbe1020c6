"""The few things to do first: failed checks and negative answers, ordered by risk to the organisation.

The order comes from data (``checks/data/priorities.yaml``): each finding gets the weight of the first
rule that matches its check id (and, where the rule says so, its message key), so an end-of-life CMS
outranks a missing DNSSEC signature whatever their severities. Ties go to the higher severity, then
the smaller effort.

Where the scan recognises a supplier (mail provider from MX, DNS host from NS, web host from the
CNAMEs of the domain and www; ``checks/data/suppliers.yaml``), an action says where that supplier's
setting lives and what to ask them, so a volunteer can forward it as is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
    serves: tuple[str, ...] = ()  # our names it serves: the domain (MX, NS) or the web hosts behind a CNAME


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
    weight: float = 0.0  # risk to the organisation (priorities.yaml weight x status factor)
    reason: str = ""  # the priority rule's reason id ("exposed", "end-of-life", ...)
    reason_text: Text = field(default_factory=dict)  # why it is this high, for people
    keys: tuple[str, ...] = ()  # the finding keys behind it, riskiest first

    @property
    def risk(self) -> float:
        return self.weight

    def supplier_advice(self, lang: str) -> list[str]:
        """One sentence per recognised supplier: who they are and where the setting lives."""
        return [f"{s.name} ({text(s.role_label, lang)}): {text(s.settings, lang)}" for s in self.suppliers]


# --------------------------------------------------------------------------- suppliers


def _strings(value: Any, host_roles: Sequence[str], owner: str) -> Iterable[tuple[str, str]]:
    """Every string in a JSON-like fact with the name it belongs to (a host entry's own name, else
    ``owner``), skipping host entries whose roles are not wanted."""
    if isinstance(value, str):
        yield owner, value
    elif isinstance(value, Mapping):
        roles = value.get("roles")
        if isinstance(roles, list | tuple):
            if host_roles and not set(map(str, roles)) & set(host_roles):
                return
            if isinstance(value.get("name"), str):
                owner = str(value["name"]).lower().rstrip(".")
        for item in value.values():
            yield from _strings(item, host_roles, owner)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, host_roles, owner)


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
    names: dict[str, dict[str, set[str]]] = {}  # role -> supplier host name -> names of ours it serves
    for outcome in outcomes:
        if outcome.fact is None or outcome.probe not in by_probe or (target is not None and outcome.subject != target):
            continue
        plain = to_jsonable(outcome.fact)
        for role_name in by_probe[outcome.probe]:
            host_roles = tuple(str(r) for r in (roles[role_name].get("host_roles") or ()))
            found = names.setdefault(role_name, {})
            for owner, value in _strings(plain, host_roles, outcome.subject.lower().rstrip(".")):
                if "." in value:
                    found.setdefault(value.lower().rstrip("."), set()).add(owner)
    out: list[Supplier] = []
    for entry in data.get("suppliers") or []:
        if not isinstance(entry, Mapping):
            continue
        role_name = str(entry.get("role", ""))
        patterns = [str(p).lower() for p in entry.get("patterns") or []]
        seen = names.get(role_name, {})
        matched = sorted(h for h in seen if any(fnmatch.fnmatchcase(h, p) for p in patterns))
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
                    serves=tuple(sorted({o for h in matched for o in seen[h]})),
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


# --------------------------------------------------------------------------- priorities


@dataclass(frozen=True, slots=True)
class Priority:
    """How much one finding threatens the organisation (from ``priorities.yaml``)."""

    weight: float
    reason: str
    text: Text


def priority(catalogue: Catalogue, result: Result) -> Priority:
    """The weight of the first rule in ``priorities.yaml`` that matches ``result``, times its status factor."""
    data = catalogue.extras.get("priorities") or {}
    if not isinstance(data, Mapping):
        data = {}
    reasons: Mapping[str, Any] = data.get("reasons") or {}
    factors: Mapping[str, Any] = data.get("status_factor") or {}
    factor = float(factors.get(result.status.value, 1.0 if result.status is Status.FAIL else 0.5))
    default = data.get("default") or {}
    weight, reason = float(default.get("weight", 20)), str(default.get("reason", ""))
    for rule in data.get("rules") or ():
        if not isinstance(rule, Mapping):
            continue
        patterns = [str(p) for p in rule.get("match") or ()]
        if not any(fnmatch.fnmatchcase(result.check_id, p) for p in patterns):
            continue
        messages = rule.get("messages")
        if messages and result.message not in {str(m) for m in messages}:
            continue
        weight, reason = float(rule.get("weight", weight)), str(rule.get("reason", reason))
        break
    label = reasons.get(reason)
    return Priority(weight * factor, reason, dict(label) if isinstance(label, Mapping) else {})


# --------------------------------------------------------------------------- actions


def prioritise(
    catalogue: Catalogue,
    results: Iterable[Result],
    *,
    outcomes: Iterable[ProbeOutcome] = (),
    limit: int | None = 5,
) -> list[Action]:
    """The things to do first: one action per failed or warned check or question, riskiest first
    (weights from ``priorities.yaml``), then the more severe, then the easier."""
    qn = questionnaire(catalogue)
    suppliers = recognise_suppliers(catalogue, outcomes)
    grouped: dict[str, list[Result]] = {}
    for result in results:
        if result.status in (Status.FAIL, Status.WARN) and result.severity is not Severity.INFO and result.accepted is None:
            grouped.setdefault(result.check_id, []).append(result)
    actions = []
    for key, unordered in grouped.items():
        ranked = sorted(((priority(catalogue, r), r) for r in unordered),
                        key=lambda pr: (-pr[0].weight, pr[1].status is not Status.FAIL, -pr[1].severity.rank))
        top = ranked[0][0]
        group = [r for _, r in ranked]
        worst = min(group, key=lambda r: (r.status is not Status.FAIL, -r.severity.rank))
        keys = tuple(r.key for r in group)
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
                    weight=top.weight,
                    reason=top.reason,
                    reason_text=top.text,
                    keys=keys,
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
                    weight=top.weight,
                    reason=top.reason,
                    reason_text=top.text,
                    keys=keys,
                )
            )
    actions.sort(key=lambda a: (-a.weight, -a.severity.rank, _EFFORT.get(a.effort, 1), a.source != "scan", a.id))
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
            "weight": a.weight,
            "reason": a.reason,
            "keys": list(a.keys),
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
