"""The printable incident-response sheet (one A4 page): first steps, roles and contacts, suppliers the
scan found, and reporting duties. Meant for the wall and the safe, so it works with systems down.

Contact details come from the questionnaire answers only (personal data): they are printed here and
nowhere else.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jinja2 is imported when a template is first rendered (a JSON scan never does)
    import jinja2

from ..actions import recognise_suppliers
from ..catalogue import Catalogue
from ..models import ProbeOutcome
from ..plugin import renderer
from ..questionnaire import questionnaire
from ..serialize import to_jsonable
from ..texts import DEFAULT_LANG, LANGUAGES, say, strings
from ..version import __version__
from . import Report

ROLES = (
    "coordinator",
    "deputy",
    "decision",
    "communication",
    "it_supplier",
    "hosting",
    "ir_firm",
    "insurer",
    "privacy",
)

@dataclass(frozen=True, slots=True)
class ContactRow:
    role: str
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class SupplierRow:
    kind: str
    names: str  # recognised supplier names, or ""
    hosts: str  # what the scan saw


@dataclass(frozen=True, slots=True)
class Sheet:
    lang: str
    t: Mapping[str, str]
    domain: str
    steps: tuple[str, ...]
    contacts: tuple[ContactRow, ...]
    suppliers: tuple[SupplierRow, ...]
    duties: tuple[str, ...]
    footer: str


def _hosts(outcomes: Iterable[ProbeOutcome], probe: str, target: str, host_roles: tuple[str, ...] = ()) -> list[str]:
    """Host names (and, for web hosts, CNAME targets) that ``probe`` saw for ``target``."""
    found: list[str] = []
    for outcome in outcomes:
        if outcome.probe != probe or outcome.subject != target or outcome.fact is None:
            continue
        plain = to_jsonable(outcome.fact)
        entries = None
        for key in ("hosts", "names", "nameservers"):
            found_list = plain.get(key) if isinstance(plain, Mapping) else None
            if isinstance(found_list, list):
                entries = found_list
                break
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, str):
                names = [entry]
            elif isinstance(entry, Mapping):
                roles = entry.get("roles")
                if host_roles and isinstance(roles, list) and not set(roles) & set(host_roles):
                    continue
                names = [str(entry.get(k)) for k in ("exchange", "name", "host") if entry.get(k)]
                names += [str(c) for c in entry.get("cnames") or []]
            else:
                continue
            for name in names:
                name = name.rstrip(".").lower()
                if name and name not in found:
                    found.append(name)
    return found


def _contact_rows(
    catalogue: Catalogue, answers: Mapping[str, Any] | None, t: Mapping[str, str]
) -> tuple[ContactRow, ...]:
    by_role: dict[str, Mapping[str, Any]] = {}
    for question in questionnaire(catalogue).questions:
        if question.type == "contact" and question.role and answers is not None:
            value = answers.get(question.id)
            if isinstance(value, Mapping):
                by_role[question.role] = value
    rows = []
    for role in ROLES:
        value = by_role.get(role, {})
        rows.append(ContactRow(t[f"role_{role}"], str(value.get("name", "")), str(value.get("phone", ""))))
    rows.append(ContactRow(t["police"], t["police_name"], t["police_phone"]))
    return tuple(rows)


def build_sheet(report: Report) -> Sheet:
    lang = report.lang if report.lang in LANGUAGES else DEFAULT_LANG
    t = strings("sheet.", lang)
    scan = report.assessment.scan
    answers = report.assessment.answers
    domain = scan.targets[0] if scan.targets else ""
    recognised = recognise_suppliers(report.catalogue, scan.outcomes, domain or None)
    suppliers = []
    for kind, probe, roles in (
        ("mail", "dns.mx", ()),
        ("dns", "dns.ns", ()),
        ("web", "hosts.inventory", ("apex", "www")),
    ):
        names = ", ".join(s.name for s in recognised if s.role == kind)
        hosts = ", ".join(_hosts(scan.outcomes, probe, domain, roles)[:4])
        suppliers.append(SupplierRow(t[kind], names, hosts or ("" if names else t["none_found"])))
    nis2 = answers.get("q.scope.nis2") if answers is not None else None
    nis2_key = {"yes": "duty_nis2_yes", "no": "duty_nis2_no"}.get(str(nis2), "duty_nis2_maybe")
    duties = (t["duty_ap"], t["duty_police"], t[nis2_key], t["duty_insurer"])
    footer = say("sheet.made", lang, version=__version__, date=_date_of(scan.started), domain=domain)
    return Sheet(
        lang=lang,
        t=t,
        domain=domain,
        steps=tuple(t[f"step{i}"] for i in range(1, 8)),
        contacts=_contact_rows(report.catalogue, answers, t),
        suppliers=tuple(suppliers),
        duties=duties,
        footer=footer,
    )


def _date_of(started: str) -> str:
    try:
        return date.fromisoformat(started[:10]).isoformat()
    except ValueError:
        return started


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("cyberscan", "render/templates"),
        autoescape=jinja2.select_autoescape(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@renderer("incident-sheet", suffix="sheet.html")
def render_incident_sheet(report: Report) -> str:
    sheet = build_sheet(report)
    return _environment().get_template("incident_sheet.html").render(s=sheet, t=sheet.t)
