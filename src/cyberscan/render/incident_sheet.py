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
from typing import Any

import jinja2

from ..actions import recognise_suppliers
from ..catalogue import Catalogue
from ..models import ProbeOutcome
from ..plugin import renderer
from ..questionnaire import questionnaire
from ..serialize import to_jsonable
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

STRINGS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Incidentblad digitale veiligheid",
        "subtitle": "Bij een (vermoeden van een) cyberincident. Print dit blad, hang het op en leg een kopie in de kluis.",
        "first": "Eerst doen",
        "roles": "Wie bellen",
        "role": "Rol",
        "name": "Naam",
        "phone": "Telefoon",
        "suppliers": "Leveranciers die de scan zag",
        "mail": "E-mail",
        "dns": "DNS (domeinbeheer)",
        "web": "Website",
        "none_found": "niet gevonden",
        "duties": "Meldplichten",
        "made": "Gemaakt met cyberscan {version} op {date} voor {domain}. Controleer dit blad elk jaar en na elke wijziging van leverancier of personeel.",
        "fill_in": "invullen",
        "role_coordinator": "Coördinator",
        "role_deputy": "Vervanger coördinator",
        "role_decision": "Beslisser (systemen uit, publiek informeren)",
        "role_communication": "Communicatie en pers",
        "role_it_supplier": "IT-leverancier / IT-vrijwilliger",
        "role_hosting": "Hosting / websitebouwer",
        "role_ir_firm": "Incidentresponsbedrijf",
        "role_insurer": "Verzekeraar (noodnummer, polis)",
        "role_privacy": "Privacycontact / FG",
        "police": "Politie (aangifte, geen spoed)",
        "step1": "Blijf kalm en bel de coördinator. Noteer vanaf nu wat er gebeurt, met tijden.",
        "step2": "Haal getroffen computers van het netwerk (kabel eruit, wifi uit), maar zet ze niet uit en wis niets.",
        "step3": "Koppel de back-upschijf los en bescherm de back-ups. Betaal geen losgeld en reageer niet op de aanvallers.",
        "step4": "Bel de IT-leverancier of het incidentresponsbedrijf, en de verzekeraar, vóórdat u zelf gaat herstellen.",
        "step5": "Wijzig wachtwoorden vanaf een schoon apparaat, te beginnen bij e-mail, domeinregistratie en beheeraccounts.",
        "step6": "Maak foto's of schermafdrukken als bewijs en bewaar logboeken.",
        "step7": "Informeer medewerkers, vrijwilligers en partners via het noodkanaal; gebruik geen mogelijk getroffen mail.",
        "duty_ap": "Datalek (persoonsgegevens)? Binnen 72 uur beoordelen en zo nodig melden bij de Autoriteit Persoonsgegevens (autoriteitpersoonsgegevens.nl, 'datalek melden'). Noteer elk datalek in het eigen register.",
        "duty_police": "Doe aangifte bij de politie (0900-8844 of politie.nl); de verzekeraar vraagt er meestal om.",
        "duty_nis2_yes": "Uw organisatie valt onder NIS2 / de Cyberbeveiligingswet: geef binnen 24 uur een vroege waarschuwing aan het CSIRT/NCSC en de toezichthouder.",
        "duty_nis2_maybe": "Valt u onder NIS2 / de Cyberbeveiligingswet? Dan binnen 24 uur een vroege waarschuwing aan het CSIRT/NCSC en de toezichthouder. Zoek dit vooraf uit.",
        "duty_nis2_no": "NIS2 (24-uursmelding) geldt volgens uw antwoorden niet voor uw organisatie.",
        "duty_insurer": "Meld het incident direct bij de verzekeraar; vaak regelt die ook hulp.",
    },
    "en": {
        "title": "Digital security incident sheet",
        "subtitle": "For a (suspected) cyber incident. Print this sheet, put it on the wall and keep a copy in the safe.",
        "first": "Do first",
        "roles": "Whom to call",
        "role": "Role",
        "name": "Name",
        "phone": "Phone",
        "suppliers": "Suppliers the scan saw",
        "mail": "E-mail",
        "dns": "DNS (domain)",
        "web": "Website",
        "none_found": "not found",
        "duties": "Reporting duties",
        "made": "Made with cyberscan {version} on {date} for {domain}. Check this sheet every year and after any change of supplier or staff.",
        "fill_in": "fill in",
        "role_coordinator": "Coordinator",
        "role_deputy": "Deputy coordinator",
        "role_decision": "Decision-maker (systems off, informing the public)",
        "role_communication": "Communication and press",
        "role_it_supplier": "IT supplier / IT volunteer",
        "role_hosting": "Hosting / web builder",
        "role_ir_firm": "Incident-response company",
        "role_insurer": "Insurer (emergency number, policy)",
        "role_privacy": "Privacy contact / DPO",
        "police": "Police (report, non-emergency)",
        "step1": "Stay calm and call the coordinator. From now on, write down what happens, with times.",
        "step2": "Take affected computers off the network (unplug the cable, switch off wifi), but do not switch them off and do not wipe anything.",
        "step3": "Disconnect the backup disk and protect the backups. Do not pay a ransom and do not reply to the attackers.",
        "step4": "Call the IT supplier or incident-response company, and the insurer, before you start repairing yourself.",
        "step5": "Change passwords from a clean device, starting with e-mail, the domain registrar and admin accounts.",
        "step6": "Take photos or screenshots as evidence and keep the logs.",
        "step7": "Inform staff, volunteers and partners through the emergency channel; do not use mail that may be affected.",
        "duty_ap": "Data breach (personal data)? Within 72 hours decide whether to notify the Dutch Data Protection Authority (autoriteitpersoonsgegevens.nl, 'datalek melden'), and do so where needed. Record every breach in your own register.",
        "duty_police": "File a police report (0900-8844 or politie.nl); the insurer usually asks for it.",
        "duty_nis2_yes": "Your organisation is in scope of NIS2 / the Dutch Cybersecurity Act: give an early warning to the CSIRT/NCSC and the supervisor within 24 hours.",
        "duty_nis2_maybe": "In scope of NIS2 / the Dutch Cybersecurity Act? Then give an early warning to the CSIRT/NCSC and the supervisor within 24 hours. Find this out in advance.",
        "duty_nis2_no": "According to your answers, NIS2 (24-hour reporting) does not apply to your organisation.",
        "duty_insurer": "Report the incident to the insurer straight away; they often arrange help too.",
    },
}


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
    rows.append(ContactRow(t["police"], "Politie", "0900-8844"))
    return tuple(rows)


def build_sheet(report: Report) -> Sheet:
    lang = report.lang if report.lang in STRINGS else "nl"
    t = STRINGS[lang]
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
    footer = t["made"].format(version=__version__, date=_date_of(scan.started), domain=domain)
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
