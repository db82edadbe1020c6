"""Ready-to-send messages for the suppliers a scan recognised (``cyberscan report SCAN.json --supplier``).

One plain-text message per recognised supplier (web host, mail provider, DNS host;
:func:`cyberscan.actions.recognise_suppliers`), with only the findings whose setting that supplier
holds (``checks/data/suppliers.yaml``, ``checks``) and, for a web host, only the findings on the
hosts it serves. Each point says what we saw, where, what we ask, and the technical details. Never the
questionnaire answers: only scan findings, and no contact details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..actions import Supplier, recognise_suppliers, supplier_roles_for
from ..catalogue import text
from ..models import Result, Status
from . import Report
from .view import Finding, describe, fmt, language, neutralise, ordered

_SAFE = re.compile(r"[^a-z0-9.-]+")
_DETAIL_ROWS = 12


@dataclass(frozen=True, slots=True)
class SupplierMessage:
    supplier: str  # supplier id from suppliers.yaml
    role: str
    name: str
    filename: str  # e.g. "cyberscan-museum.nl-transip.txt"
    count: int  # findings in the message
    text: str


def _serves(supplier: Supplier, result: Result) -> bool:
    """A web host only answers for the hosts behind its CNAMEs; mail and DNS for the whole domain."""
    if supplier.role != "web" or not supplier.serves:
        return True
    host = (result.subject.host or "").lower().rstrip(".")
    return host in supplier.serves or (not host and result.target in supplier.serves)


def findings_for(report: Report, supplier: Supplier) -> list[Result]:
    """The scan's failures and warnings whose setting ``supplier`` holds, riskiest check first."""
    cat = report.catalogue
    keep = []
    for result in ordered(report.assessment):
        if result.source != "scan" or result.check_id not in cat.checks:
            continue  # never questionnaire answers
        if result.status not in (Status.FAIL, Status.WARN) or result.accepted is not None:
            continue
        if supplier.role in supplier_roles_for(cat, result.check_id) and _serves(supplier, result):
            keep.append(result)
    return keep


def _filename(domain: str, supplier: Supplier) -> str:
    return f"cyberscan-{_SAFE.sub('-', domain.lower())}-{_SAFE.sub('-', supplier.id.lower()) or 'supplier'}.txt"


def supplier_messages(report: Report) -> list[SupplierMessage]:
    """One message per recognised supplier that has something to do (none when nothing applies)."""
    lang = language(report)
    assessment = report.assessment
    domain = ", ".join(assessment.scan.targets)
    when = assessment.scan.started[:10]
    out = []
    for supplier in recognise_suppliers(report.catalogue, assessment.scan.outcomes):
        results = findings_for(report, supplier)
        if not results:
            continue
        t, described = describe(report, results)
        findings: dict[str, list[Finding]] = {}
        for finding in described:
            findings.setdefault(finding.check_id, []).append(finding)
        name = neutralise(supplier.name)
        lines = [
            fmt(t["supplier_subject"], domain=domain, count=len(findings), name=name),
            "",
            fmt(t["supplier_greeting"], name=name),
            "",
            fmt(t["supplier_intro"], domain=domain, date=when, role=text(supplier.role_label, lang)),
            "",
        ]
        for index, same in enumerate(findings.values(), start=1):
            lead = same[0]
            lines.append(fmt(t["supplier_point"], index=index, headline=lead.headline))
            lines.append(fmt(t["supplier_where"], where=", ".join(dict.fromkeys(f.where for f in same))))
            for f in same[1:]:
                if f.message != lead.message:
                    lines.append(f"   - {f.where}: {f.message}")
            lines.append(fmt(t["supplier_check"], title=lead.title))
            if lead.remediation:
                lines.append(fmt(t["supplier_request"], remediation=lead.remediation))
            rows = [(f.where, name_, value) for f in same for name_, value in f.evidence]
            if rows:
                lines.append(t["supplier_details"])
                for where, name_, value in rows[:_DETAIL_ROWS]:
                    prefix = f"{where} · " if len(same) > 1 else ""
                    lines.append(f"     {prefix}{name_}: {value}")
                if len(rows) > _DETAIL_ROWS:
                    lines.append("     " + fmt(t["ev_more_rows"], count=len(rows) - _DETAIL_ROWS))
            lines.append("")
        ask = text(supplier.ask, lang)
        if ask:
            lines += [fmt(t["supplier_ask"], ask=ask), ""]
        lines += [t["supplier_close"], "", t["supplier_regards"], fmt(t["supplier_signature"], domain=domain), ""]
        body = neutralise("\n".join(lines), keep="\n")
        first = assessment.scan.targets[0] if assessment.scan.targets else "report"
        out.append(SupplierMessage(supplier.id, supplier.role, name, _filename(first, supplier), len(findings), body))
    return out
