"""Accepted risks: findings the organisation marked as accepted or not applicable, with reason,
who decided and until when.

    cyberscan-accepted: 1
    accepted:
      - finding: "web.hsts|museum.nl|www.museum.nl|192.0.2.10|443|https"   # a finding key, or a check id
        kind: accepted            # or: not-applicable
        reason: "The old site goes offline in March."
        who: "J. de Vries (director)"
        expires: 2027-03-31
        status: warn              # optional: the status it was accepted at

An accepted finding is shown as "accepted until ..." and not counted as a gap. The acceptance lapses
at its expiry date, or when the finding itself changes (its status is no longer the one accepted).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date

import yaml

from . import safeyaml
from .errors import ConfigError
from .models import AcceptedRisk, Result, Status

FORMAT_KEY = "cyberscan-accepted"
FORMAT_VERSION = 1
_TOP_FIELDS = (FORMAT_KEY, "accepted")
KINDS = ("accepted", "not-applicable")
_FIELDS = {"finding", "kind", "reason", "who", "expires", "status"}


def _lines(text: str, where: str) -> tuple[dict[str, int], list[int]]:
    """Line (1-based) of each top-level key, and of each entry of ``accepted``."""
    root = safeyaml.compose(text, where=where)
    top: dict[str, int] = {}
    out: list[int] = []
    if not isinstance(root, yaml.MappingNode):
        return top, out
    for key, value in root.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        top.setdefault(str(key.value), key.start_mark.line + 1)
        if key.value == "accepted" and isinstance(value, yaml.SequenceNode):
            out = [item.start_mark.line + 1 for item in value.value]
    return top, out


def parse_risks(text: str, *, where: str = "accepted") -> tuple[AcceptedRisk, ...]:
    """Read an accepted-risks document: total on any YAML, every problem a ConfigError naming the line."""
    raw = safeyaml.load(text, where=where)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("risks.not-a-mapping", where=where, line=1)
    top, lines = _lines(text, where)
    for key in raw:
        if str(key) not in _TOP_FIELDS:
            raise ConfigError("risks.unknown-top-field", where=where, line=top.get(str(key), 1), field=str(key)[:60])
    version = raw.get(FORMAT_KEY, FORMAT_VERSION)
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise ConfigError("risks.bad-format", where=where, line=top.get(FORMAT_KEY, 1))
    entries = raw.get("accepted") or []
    if not isinstance(entries, list):
        raise ConfigError("risks.not-a-list", where=where, line=top.get("accepted", 1))
    out = []
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else 0
        if not isinstance(entry, dict):
            raise ConfigError("risks.bad-entry", where=where, line=line)
        unknown = sorted(str(k) for k in entry if str(k) not in _FIELDS)
        if unknown:
            raise ConfigError("risks.unknown-field", where=where, line=line, field=unknown[0])
        finding = str(entry.get("finding") or "").strip()
        if not finding or len(finding) > 600:
            raise ConfigError("risks.no-finding", where=where, line=line)
        kind = str(entry.get("kind") or "accepted")
        if kind not in KINDS:
            raise ConfigError("risks.bad-kind", where=where, line=line, value=kind[:40])
        expires = safeyaml.iso_date(entry.get("expires"))
        if expires is None:
            raise ConfigError("risks.bad-expires", where=where, line=line, value=str(entry.get("expires"))[:40])
        reason, who = str(entry.get("reason") or "").strip(), str(entry.get("who") or "").strip()
        if not reason or not who:
            raise ConfigError("risks.reason-and-who", where=where, line=line)
        status = str(entry.get("status") or "")
        if status and status not in {s.value for s in Status}:
            raise ConfigError("risks.bad-status", where=where, line=line, value=status[:40])
        out.append(AcceptedRisk(finding, kind, reason[:500], who[:200], expires, status, line))
    return tuple(out)


def matching(result: Result, risks: Iterable[AcceptedRisk], today: date) -> AcceptedRisk | None:
    """The acceptance that holds for ``result`` today, if any (a finding key beats a check id)."""
    if result.status not in (Status.FAIL, Status.WARN):
        return None
    best = None
    for risk in risks:
        if risk.key not in (result.key, result.check_id):
            continue
        if date.fromisoformat(risk.expires) < today:
            continue  # lapsed at its date
        if risk.status and risk.status != result.status.value:
            continue  # the finding changed since it was accepted
        if best is None or risk.key == result.key:
            best = risk
    return best


def apply(results: Sequence[Result], risks: Sequence[AcceptedRisk], today: date) -> tuple[Result, ...]:
    """The results, with each accepted finding marked."""
    if not risks:
        return tuple(results)
    return tuple(replace(r, accepted=m) if (m := matching(r, risks, today)) is not None else r for r in results)
