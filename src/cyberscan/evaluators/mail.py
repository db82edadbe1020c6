"""Judgement of the domain's e-mail setup: MX, SPF, DMARC, DKIM, non-sending domains, MTA-STS, TLS-RPT.

Pure: facts in, verdicts out. Texts live in the catalogue (``checks/mail/*.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..facts import Facts
from ..facts.dns import MxFact, MxTargetsFact
from ..facts.mail import DkimFact, DmarcFact, SpfFact, SpfNode, StsPolicyFetch, TxtFact
from ..models import SKIP_REASONS, ErrorReason, ProbeOutcome, Status, Subject, Verdict
from ..parsers.dkim import parse_dkim
from ..parsers.dmarc import DmarcRecord, parse_dmarc
from ..parsers.mtasts import is_sts_candidate, mx_matches, parse_sts_policy, parse_sts_record
from ..parsers.spf import SpfRecord, parse_spf
from ..parsers.tlsrpt import is_tlsrpt_candidate, parse_tlsrpt
from ..plugin import evaluator

SPF_LOOKUP_LIMIT = 10
SPF_VOID_LIMIT = 2


def _join(items: Any) -> str:
    return ", ".join(str(i) for i in items)


def _outcome_error(outcome: ProbeOutcome) -> Verdict:
    reason = outcome.error or ErrorReason.PROTOCOL
    status = Status.SKIPPED if reason in SKIP_REASONS else Status.ERROR  # as the engine does
    return Verdict(status, f"error.{reason}", {"probe": outcome.probe, "detail": outcome.detail}, reason=reason)


# ------------------------------------------------------------------------------------------ MX


@evaluator("mail.mx")
def mx(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: MxFact = facts.fact("dns.mx")
    records = [f"{h.preference} {h.exchange or '.'}" for h in fact.hosts]
    evidence: dict[str, Any] = {"mx": records}
    if not fact.hosts:
        return [Verdict(Status.INFO, "no-mx", {}, evidence)]
    if fact.has_null_entry and len(fact.hosts) > 1:
        return [Verdict(Status.FAIL, "null-mx-mixed", {"records": _join(records)}, evidence)]
    if fact.null_mx:
        return [Verdict(Status.PASS, "null-mx", {}, evidence)]
    targets: MxTargetsFact = facts.fact("dns.mx_hosts")
    verdicts: list[Verdict] = []
    evidence["hosts"] = {
        t.name: {"addresses": list(t.addresses), "cname": t.cname, "rcode": t.rcode,
                 "error": t.error.value if t.error else None} for t in targets.targets
    }
    for t in targets.targets:
        host = Subject(host=t.name, service="smtp")
        if t.ip_literal:
            verdicts.append(Verdict(Status.FAIL, "ip-literal", {"host": t.name}, evidence, host))
        elif t.error is not None:
            verdicts.append(Verdict(Status.ERROR, "host-error", {"host": t.name, "detail": t.detail}, evidence, host,
                                    t.error))
        elif t.rcode == "NXDOMAIN":
            verdicts.append(Verdict(Status.FAIL, "nonexistent", {"host": t.name}, evidence, host))
        elif t.cname:
            verdicts.append(Verdict(Status.FAIL, "cname", {"host": t.name, "target": t.cname}, evidence, host))
        elif not t.addresses:
            verdicts.append(Verdict(Status.FAIL, "no-address", {"host": t.name}, evidence, host))
    if verdicts:
        return verdicts
    return [Verdict(Status.PASS, "ok", {"hosts": _join(t.name for t in targets.targets)}, evidence)]


# ------------------------------------------------------------------------------------------ SPF


def _effective_all(fact: SpfFact, node: SpfNode, seen: int = 0) -> str | None:
    """The qualifier of the 'all' that ends evaluation, following redirects; None when there is none."""
    if len(node.records) != 1 or seen > 10:
        return None
    record = parse_spf(node.records[0])
    if record.all_term is not None:
        return record.all_term.qualifier
    target = record.redirect
    if target is None:
        return None
    for other in fact.nodes:
        if other.via == "redirect" and other.parent == node.domain and other.domain == target.lower().rstrip("."):
            return _effective_all(fact, other, seen + 1)
    return None


def spf_evidence(fact: SpfFact) -> dict[str, Any]:
    return {
        "record": fact.record or list(fact.root.records),
        "lookups": fact.lookups,
        "void_lookups": fact.void_lookups,
        "tree": [
            {"domain": n.domain, "via": n.via, "depth": n.depth, "record": n.records[0] if n.records else None, "problem": n.error}
            for n in fact.nodes
        ],
        "temp_errors": list(fact.temp_errors),
    }


@evaluator("mail.spf")
def spf(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: SpfFact = facts.fact("dns.spf")
    evidence = spf_evidence(fact)
    root = fact.root
    if root.error == "temp-error":
        return [Verdict(Status.ERROR, "lookup-failed", {"detail": _join(fact.temp_errors)}, evidence,
                        reason=ErrorReason.SERVFAIL)]
    if not root.records:
        return [Verdict(Status.FAIL, "missing", {"domain": fact.domain}, evidence)]
    if len(root.records) > 1:
        return [Verdict(Status.FAIL, "multiple", {"count": len(root.records)}, evidence)]
    record = parse_spf(root.records[0])
    if not record.valid:
        return [Verdict(Status.FAIL, "syntax", {"errors": _join(record.errors)}, evidence)]
    limit = int(params.get("lookup_limit", SPF_LOOKUP_LIMIT))
    void_limit = int(params.get("void_limit", SPF_VOID_LIMIT))
    fails: list[Verdict] = []
    if fact.lookups > limit:
        more = "+" if fact.truncated else ""
        fails.append(Verdict(Status.FAIL, "too-many-lookups", {"count": f"{fact.lookups}{more}", "limit": limit}, evidence))
    if fact.void_lookups > void_limit:
        fails.append(Verdict(Status.FAIL, "too-many-void-lookups", {"count": fact.void_lookups, "limit": void_limit, "names": _join(fact.void_names)}, evidence))
    for node in fact.nodes[1:]:
        if node.error == "loop":
            fails.append(Verdict(Status.FAIL, "loop", {"domain": node.domain, "parent": node.parent}, evidence))
            continue
        if node.error in ("temp-error", "macro"):
            continue  # unknown (reported as ERROR below) or not resolvable without a sender
        problem = _node_problem(node)
        if problem:
            p = {"domain": node.domain, "via": node.via, "problem": problem}
            fails.append(Verdict(Status.FAIL, f"broken-include-{problem}", p, evidence))
        elif node.via == "include":
            included = parse_spf(node.records[0]).all_term
            if included is not None and included.qualifier == "+":
                fails.append(Verdict(Status.FAIL, "include-pass-all", {"domain": node.domain}, evidence))
    for name in fact.mx_over_limit:
        fails.append(Verdict(Status.FAIL, "too-many-mx", {"domain": name}, evidence))
    qualifier = _effective_all(fact, root)
    if qualifier == "+":
        fails.append(Verdict(Status.FAIL, "pass-all", {}, evidence))
    elif qualifier == "?":
        fails.append(Verdict(Status.FAIL, "neutral-all", {}, evidence))
    elif qualifier is None and not fact.temp_errors:
        fails.append(Verdict(Status.FAIL, "no-all", {}, evidence))
    if fails:
        return fails
    if fact.temp_errors:
        return [Verdict(Status.ERROR, "lookup-failed", {"detail": _join(fact.temp_errors)}, evidence,
                        reason=ErrorReason.SERVFAIL)]
    verdicts = []
    if _uses_ptr(fact):
        verdicts.append(Verdict(Status.WARN, "ptr", {}, evidence))
    params_ok = {"record": root.records[0], "lookups": fact.lookups, "limit": limit}
    verdicts.append(Verdict(Status.PASS, "ok-softfail" if qualifier == "~" else "ok", params_ok, evidence))
    return verdicts


def _node_problem(node: SpfNode) -> str:
    """Why an included or redirected record makes the evaluation a permanent error ("" if it does not)."""
    if not node.records:
        return "no-record"
    if len(node.records) > 1:
        return "multiple-records"
    if not parse_spf(node.records[0]).valid:
        return "syntax"
    return ""


def _uses_ptr(fact: SpfFact) -> bool:
    return any(len(n.records) == 1 and any(t.name == "ptr" for t in parse_spf(n.records[0]).mechanisms) for n in fact.nodes)


# ------------------------------------------------------------------------------------------ DMARC


def _dmarc_evidence(fact: DmarcFact) -> dict[str, Any]:
    return {
        "name": fact.name,
        "records": list(fact.records),
        "inherited_from_org_domain": fact.inherited,
        "org_domain": fact.org_domain,
        "other_txt": list(fact.other_txt),
    }


def _single_dmarc(fact: DmarcFact, evidence: dict[str, Any]) -> DmarcRecord | Verdict:
    if not fact.records:
        return Verdict(Status.FAIL, "missing", {"name": f"_dmarc.{fact.domain}"}, evidence)
    if len(fact.records) > 1:
        return Verdict(Status.FAIL, "multiple", {"count": len(fact.records), "name": fact.name}, evidence)
    record = parse_dmarc(fact.records[0])
    # a bad report address is ignored by receivers (RFC 7489 6.3), the policy still applies:
    # mail.dmarc.rua judges the addresses
    fatal = [e for e in record.errors if not e.code.startswith(("rua-", "ruf-"))]
    if fatal:
        return Verdict(Status.FAIL, "invalid", {"errors": _join(fatal), "record": fact.records[0]}, evidence)
    return record


@evaluator("mail.dmarc_policy")
def dmarc_policy(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: DmarcFact = facts.fact("dns.dmarc")
    evidence = _dmarc_evidence(fact)
    record = _single_dmarc(fact, evidence)
    if isinstance(record, Verdict):
        return [record]
    policy = (record.subdomain_policy or record.policy) if fact.inherited else record.policy
    accepted = tuple(params.get("accepted_policies", ("quarantine", "reject")))
    base = {"policy": policy, "name": fact.name}
    if policy not in accepted:
        return [Verdict(Status.FAIL, "policy-too-weak", base, evidence)]
    verdicts = []
    if record.pct < 100:
        verdicts.append(Verdict(Status.WARN, "partial-pct", {**base, "pct": record.pct}, evidence))
    if not fact.inherited and record.subdomain_policy == "none":
        verdicts.append(Verdict(Status.WARN, "subdomains-unprotected", base, evidence))
    verdicts.append(Verdict(Status.PASS, "ok-inherited" if fact.inherited else "ok", base, evidence))
    return verdicts


@evaluator("mail.dmarc_rua", handles_errors=True)
def dmarc_rua(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    dmarc_outcome = facts["dns.dmarc"]
    if not dmarc_outcome.ok:
        return [_outcome_error(dmarc_outcome)]
    fact: DmarcFact = facts.fact("dns.dmarc")
    evidence = _dmarc_evidence(fact)
    evidence["authorisations"] = [{"domain": a.report_domain, "name": a.name, "authorised": a.authorised, "error": a.error} for a in fact.authorisations]
    if len(fact.records) != 1:
        return [Verdict(Status.FAIL, "no-dmarc", {}, evidence)]
    record = parse_dmarc(fact.records[0])
    bad = [i for i in record.errors if i.code.startswith(("rua-", "ruf-"))]
    if len(bad) < len(record.errors):  # receivers ignore an invalid record, report addresses and all
        return [Verdict(Status.FAIL, "no-dmarc", {}, evidence)]
    if bad:
        return [Verdict(Status.FAIL, "bad-uri", {"errors": _join(bad)}, evidence)]
    if not record.rua:
        use = _mail_use(facts)
        if isinstance(use, ProbeOutcome):  # a failure only for domains that use mail: unknown here
            return [_outcome_error(use)]
        if not use:  # nothing legitimate to report on; mail.nonsending judges the rest
            return [Verdict(Status.INFO, "missing-no-mail", {"name": fact.name}, evidence)]
        return [Verdict(Status.FAIL, "missing", {"name": fact.name}, evidence)]
    verdicts = []
    rua_domains = {u.domain for u in record.rua}
    for auth in fact.authorisations:
        if auth.error:
            verdicts.append(Verdict(Status.WARN, "external-unchecked", {"domain": auth.report_domain, "name": auth.name}, evidence))
        elif not auth.authorised:
            key = "external-not-authorised" if auth.report_domain in rua_domains else "external-ruf-not-authorised"
            verdicts.append(Verdict(Status.WARN, key, {"domain": auth.report_domain, "name": auth.name}, evidence))
    addresses = _join(u.address for u in record.rua)
    verdicts.append(Verdict(Status.PASS, "ok", {"addresses": addresses}, evidence))
    return verdicts


# ------------------------------------------------------------------------------------------ DKIM


def _mail_use(facts: Facts) -> bool | ProbeOutcome:
    """Whether the domain receives (MX) or sends (SPF authorises someone) mail, or the failed
    outcome that keeps it unknown. Either fact alone can prove use; only both can rule it out."""
    mx_outcome = facts.get("dns.mx")
    spf_outcome = facts.get("dns.spf")
    mx_fact = mx_outcome.fact if mx_outcome is not None else None
    spf_fact = spf_outcome.fact if spf_outcome is not None else None
    if isinstance(mx_fact, MxFact) and mx_fact.receives_mail:
        return True
    if isinstance(spf_fact, SpfFact) and spf_fact.record is not None and parse_spf(spf_fact.record).authorises_senders:
        return True
    for outcome, fact in ((mx_outcome, mx_fact), (spf_outcome, spf_fact)):
        if outcome is not None and fact is None:
            return outcome
    if mx_outcome is None or spf_outcome is None:
        return True  # not asked for: assume the domain uses mail
    return False


def _uses_mail(facts: Facts) -> bool:
    """Whether the domain uses mail; True when unknown (a missing key then stays a warning)."""
    return _mail_use(facts) is not False


@evaluator("mail.dkim", handles_errors=True)
def dkim(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    dkim_outcome = facts["dns.dkim"]
    if not dkim_outcome.ok:
        return [_outcome_error(dkim_outcome)]
    fact = dkim_outcome.fact
    assert isinstance(fact, DkimFact)
    fail_bits = int(params.get("fail_below_bits", 1024))
    warn_bits = int(params.get("warn_below_bits", 2048))
    evidence: dict[str, Any] = {
        "selectors_tried": list(fact.selectors_tried),
        "found": {s.selector: list(s.records) for s in fact.found},
        "domainkey_rcode": fact.domainkey_rcode,
        "lookup_errors": list(fact.errors),
    }
    verdicts: list[Verdict] = []
    active = 0
    for sel in fact.found:
        for text in sel.records:
            key = parse_dkim(text)
            p = {"selector": sel.selector, "name": sel.name}
            at = Subject(host=sel.name, service="dkim")
            if key.revoked:
                verdicts.append(Verdict(Status.INFO, "revoked", p, evidence, at))
                continue
            if key.errors:
                verdicts.append(Verdict(Status.FAIL, "invalid", {**p, "errors": _join(key.errors)}, evidence, at))
                continue
            active += 1
            bits = key.bits or 0
            kp = {**p, "type": key.actual_type or key.key_type, "bits": bits}
            if key.actual_type == "rsa" and bits < fail_bits:
                verdicts.append(Verdict(Status.FAIL, "weak-key", {**kp, "min": warn_bits}, evidence, at))
            elif key.actual_type == "rsa" and bits < warn_bits:
                verdicts.append(Verdict(Status.WARN, "short-key", {**kp, "min": warn_bits}, evidence, at))
            else:
                verdicts.append(Verdict(Status.PASS, "ok", kp, evidence, at))
    if active:
        return verdicts
    count = len(fact.selectors_tried)
    if fact.errors:
        detail = _join(fact.errors[:3])
        return [*verdicts, Verdict(Status.ERROR, "lookup-failed", {"detail": detail}, evidence,
                                   reason=ErrorReason.SERVFAIL)]
    if not _uses_mail(facts):
        return [*verdicts, Verdict(Status.INFO, "not-found-no-mail", {"count": count}, evidence)]
    return [*verdicts, Verdict(Status.WARN, "not-found", {"count": count}, evidence)]


# ------------------------------------------------------------------------------------------ non-sending


@evaluator("mail.nonsending")
def nonsending(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    mx_fact: MxFact = facts.fact("dns.mx")
    spf_fact: SpfFact = facts.fact("dns.spf")
    dmarc_fact: DmarcFact = facts.fact("dns.dmarc")
    spf_record: SpfRecord | None = parse_spf(spf_fact.record) if spf_fact.record else None
    evidence = {
        "mx": [f"{h.preference} {h.exchange or '.'}" for h in mx_fact.hosts],
        "spf": list(spf_fact.root.records),
        "dmarc": list(dmarc_fact.records),
    }
    if mx_fact.receives_mail:
        return [Verdict(Status.INFO, "uses-mail", {"reason": "MX"}, evidence)]
    if spf_record is not None and spf_record.valid and spf_record.authorises_senders:
        return [Verdict(Status.INFO, "uses-mail", {"reason": "SPF"}, evidence)]
    missing = []
    if not mx_fact.null_mx:
        missing.append("MX 0 .")
    strict_spf = spf_record is not None and spf_record.valid and spf_record.all_term is not None and spf_record.all_term.qualifier == "-"
    if not strict_spf:
        missing.append("v=spf1 -all")
    policy = None
    if len(dmarc_fact.records) == 1:
        record = parse_dmarc(dmarc_fact.records[0])
        if record.valid:
            policy = (record.subdomain_policy or record.policy) if dmarc_fact.inherited else record.policy
    if policy != "reject":
        missing.append("DMARC p=reject")
    if missing:
        return [Verdict(Status.FAIL, "incomplete", {"missing": _join(missing)}, evidence)]
    return [Verdict(Status.PASS, "ok", {}, evidence)]


# ------------------------------------------------------------------------------------------ MTA-STS


@evaluator("mail.mta_sts", handles_errors=True)
def mta_sts(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    txt_outcome = facts["dns.mta_sts"]
    if not txt_outcome.ok:
        return [_outcome_error(txt_outcome)]
    txt = txt_outcome.fact
    assert isinstance(txt, TxtFact)
    candidates = [s for s in txt.strings if is_sts_candidate(s)]
    mx_outcome = facts["dns.mx"]
    mx_fact: MxFact | None = mx_outcome.fact if mx_outcome.ok else None
    evidence: dict[str, Any] = {"name": txt.name, "records": candidates}
    if not candidates:
        if mx_fact is not None and not mx_fact.receives_mail:
            return [Verdict(Status.INFO, "no-mail", {}, evidence)]
        return [Verdict(Status.WARN, "not-configured", {"name": txt.name}, evidence)]
    if len(candidates) > 1:
        return [Verdict(Status.FAIL, "multiple-records", {"count": len(candidates)}, evidence)]
    record = parse_sts_record(candidates[0])
    if record.errors:
        return [Verdict(Status.FAIL, "bad-record", {"errors": _join(record.errors), "record": candidates[0]}, evidence)]
    http_outcome = facts["http.mta_sts"]
    if not http_outcome.ok:
        return [_outcome_error(http_outcome)]
    fetch = http_outcome.fact
    assert isinstance(fetch, StsPolicyFetch)
    evidence.update({"url": fetch.url, "address": fetch.address, "status": fetch.status, "content_type": fetch.content_type, "policy": fetch.body})
    problem_keys = {
        "no-host": "policy-host-missing",
        "redirect": "policy-redirect",
        "http-status": "policy-http-status",
        "tls": "policy-tls",
        "not-utf8": "policy-unreadable",
    }
    if fetch.problem in problem_keys:
        host = fetch.url.split("/")[2]
        p = {"url": fetch.url, "host": host, "status": fetch.status or "", "detail": fetch.detail, "location": fetch.location}
        return [Verdict(Status.FAIL, problem_keys[fetch.problem], p, evidence)]
    policy = parse_sts_policy(fetch.body)
    if policy.errors:
        return [Verdict(Status.FAIL, "bad-policy", {"errors": _join(policy.errors), "url": fetch.url}, evidence)]
    verdicts: list[Verdict] = []
    media = fetch.content_type.split(";", 1)[0].strip().lower()
    if media != "text/plain":
        verdicts.append(Verdict(Status.WARN, "content-type", {"content_type": fetch.content_type or "-"}, evidence))
    if policy.mode == "none":
        return [*verdicts, Verdict(Status.FAIL, "mode-none", {}, evidence)]
    if mx_fact is None:  # which mail servers the policy must cover is unknown: never "covers every one"
        verdicts.append(_outcome_error(mx_outcome))
    else:
        hosts = [h.exchange for h in mx_fact.hosts if h.exchange]
        uncovered = [h for h in hosts if not any(mx_matches(h, pattern) for pattern in policy.mx)]
        if uncovered:
            p = {"hosts": _join(uncovered), "patterns": _join(policy.mx)}
            verdicts.append(Verdict(Status.FAIL, "mx-not-covered", p, evidence))
    min_age = int(params.get("min_max_age", 86400))
    if policy.max_age is not None and policy.max_age < min_age:
        verdicts.append(Verdict(Status.WARN, "short-max-age", {"max_age": policy.max_age, "min": min_age}, evidence))
    if policy.mode == "testing":
        verdicts.append(Verdict(Status.WARN, "mode-testing", {}, evidence))
    elif not any(v.status in (Status.FAIL, Status.ERROR) for v in verdicts):
        verdicts.append(Verdict(Status.PASS, "ok", {"mode": policy.mode, "max_age": policy.max_age}, evidence))
    return verdicts


# ------------------------------------------------------------------------------------------ TLS-RPT


@evaluator("mail.tlsrpt")
def tlsrpt(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    txt: TxtFact = facts.fact("dns.tlsrpt")
    mx_fact: MxFact = facts.fact("dns.mx")
    candidates = [s for s in txt.strings if is_tlsrpt_candidate(s)]
    evidence = {"name": txt.name, "records": candidates}
    if not candidates:
        if not mx_fact.receives_mail:
            return [Verdict(Status.INFO, "no-mail", {}, evidence)]
        return [Verdict(Status.WARN, "missing", {"name": txt.name}, evidence)]
    if len(candidates) > 1:
        return [Verdict(Status.FAIL, "multiple-records", {"count": len(candidates)}, evidence)]
    record = parse_tlsrpt(candidates[0])
    if record.errors:
        return [Verdict(Status.FAIL, "invalid", {"errors": _join(record.errors), "record": candidates[0]}, evidence)]
    return [Verdict(Status.PASS, "ok", {"rua": _join(record.rua)}, evidence)]
