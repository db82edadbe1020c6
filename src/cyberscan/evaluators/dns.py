"""Judgement of the domain's DNS setup."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ..facts import Facts
from ..facts.dns import AxfrFact, CaaFact, CnameFact, DnssecFact, HostInventory, NsFact, SignedRRset
from ..models import SKIP_REASONS, ErrorReason, Status, Subject, Verdict
from ..plugin import evaluator
from .common import not_judged


@evaluator("dns.ipv6")
def ipv6(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    inventory: HostInventory = facts.fact("hosts.inventory")
    web = [h for h in inventory.hosts if {"apex", "www"} & set(h.roles) and h.addresses]
    with_v6 = sorted(h.name for h in web if h.ipv6)
    without = sorted(h.name for h in web if not h.ipv6)
    evidence = {"hosts": {h.name: list(h.addresses) for h in web}}
    # a host whose AAAA lookup failed may well have IPv6: unknown, never "without IPv6"
    failed: list[tuple[str, ErrorReason]] = []
    for h in inventory.hosts:
        if not {"apex", "www"} & set(h.roles):
            continue
        v6_error = next((reason for rdtype, reason in h.lookup_errors if rdtype == "AAAA"), None)
        if h.error is not None or v6_error is not None:
            failed.append((h.name, h.error or v6_error or ErrorReason.PROTOCOL))
    if failed:
        name, reason = failed[0]
        return [not_judged(reason, name, None, evidence=evidence)]
    if not web:
        return [Verdict(Status.INFO, "no-web-hosts", {}, evidence)]
    if without:
        return [Verdict(Status.INFO, "partial", {"without": ", ".join(without)}, evidence)]
    return [Verdict(Status.PASS, "all", {"hosts": ", ".join(with_v6)}, evidence)]


# ------------------------------------------------------------------------------------------ DNSSEC


def _rrset(signed: SignedRRset, rdtype: str) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(signed.name + ".", signed.ttl or 0, "IN", rdtype, list(signed.records))


def _signature_problem(signed: SignedRRset, keys: dns.rrset.RRset, now: float) -> tuple[str, dict[str, Any]] | None:
    """None when some RRSIG over ``signed`` validates with ``keys`` at ``now``; else a message key + params."""
    import dns.dnssec  # only when DNSSEC is judged: 10 ms of imports (cryptography's key types)

    if not signed.rrsigs:
        return "unsigned-rrset", {"rrtype": signed.rdtype}
    sigs = _rrset(SignedRRset(signed.name, "RRSIG", signed.rcode, signed.ttl, signed.rrsigs, ()), "RRSIG")
    expired = [s for s in sigs if s.expiration < now]
    if len(expired) == len(sigs):
        when = datetime.fromtimestamp(max(s.expiration for s in expired), UTC)
        return "expired", {"rrtype": signed.rdtype, "expired": when.strftime("%Y-%m-%d %H:%M UTC")}
    try:
        dns.dnssec.validate(_rrset(signed, signed.rdtype), sigs, {keys.name: keys}, now=now)
    except dns.exception.ValidationFailure as exc:
        return "bad-signature", {"rrtype": signed.rdtype, "detail": str(exc)}
    return None


def _ds_matches(fact: DnssecFact, keys: dns.rrset.RRset) -> tuple[list[str], list[str]]:
    """DS records that match a DNSKEY, and those that match none."""
    import dns.dnssec  # only when DNSSEC is judged: 10 ms of imports (cryptography's key types)

    matched: list[str] = []
    unmatched: list[str] = []
    ds_set = _rrset(fact.ds, "DS")
    for ds in ds_set:
        ok = False
        for key in keys:
            if dns.dnssec.key_id(key) != ds.key_tag:
                continue
            try:
                made = dns.dnssec.make_ds(keys.name, key, ds.digest_type)
            except (dns.exception.UnsupportedAlgorithm, ValueError):
                continue
            ok = ok or made == ds
        (matched if ok else unmatched).append(ds.to_text())
    return matched, unmatched


@evaluator("dns.dnssec")
def dnssec(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    import dns.dnssec  # only when DNSSEC is judged: 10 ms of imports (cryptography's key types)

    fact: DnssecFact = facts.fact("dns.dnssec")
    evidence: dict[str, Any] = {
        "dnskey": list(fact.dnskey.records),
        "dnskey_rrsig": list(fact.dnskey.rrsigs),
        "soa_rrsig": list(fact.soa.rrsigs),
        "ds": list(fact.ds.records),
        "resolver": fact.resolver_verdict,  # validated (AD) / not-validated / rejected (SERVFAIL)
    }
    if not fact.dnskey.records:
        if fact.ds.records:
            return [Verdict(Status.FAIL, "ds-without-dnskey", {"ds": ", ".join(fact.ds.records)}, evidence)]
        return [Verdict(Status.FAIL, "not-signed", {}, evidence)]
    keys = _rrset(fact.dnskey, "DNSKEY")
    now = facts.now.timestamp()
    problems = [p for p in (_signature_problem(signed, keys, now) for signed in (fact.dnskey, fact.soa)) if p]
    if problems:  # one finding for the domain: the first problem, all of them in the evidence
        evidence["problems"] = [{"problem": key, **params} for key, params in problems]
        return [Verdict(Status.FAIL, problems[0][0], problems[0][1], evidence)]
    algorithms = sorted({dns.dnssec.algorithm_to_text(k.algorithm) for k in keys})
    if not fact.ds.records:
        return [Verdict(Status.WARN, "signed-not-delegated", {"algorithms": ", ".join(algorithms)}, evidence)]
    matched, unmatched = _ds_matches(fact, keys)
    evidence["ds_matched"] = matched
    if not matched:
        return [Verdict(Status.FAIL, "ds-mismatch", {"ds": ", ".join(unmatched)}, evidence)]
    if unmatched:
        return [Verdict(Status.PASS, "ok-stale-ds", {"algorithms": ", ".join(algorithms), "ds": ", ".join(unmatched)},
                        evidence)]
    return [Verdict(Status.PASS, "ok", {"algorithms": ", ".join(algorithms)}, evidence)]


# ------------------------------------------------------------------------------------------ CAA


@evaluator("dns.caa")
def caa(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: CaaFact = facts.fact("dns.caa")
    evidence: dict[str, Any] = {"records": list(fact.records), "found_at": fact.found_at, "checked": list(fact.checked)}
    if not fact.records:
        return [Verdict(Status.FAIL, "missing", {"domain": fact.domain}, evidence)]
    issuers: list[str] = []
    wild: list[str] = []
    iodef: list[str] = []
    unknown_critical: list[str] = []
    unparsed: list[str] = []
    for text in fact.records:
        try:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.CAA, text)
        except (dns.exception.DNSException, ValueError):
            unparsed.append(text)
            continue
        tag = rdata.tag.decode("ascii", "replace").lower()  # type: ignore[attr-defined]
        value = rdata.value.decode("utf-8", "replace").strip()  # type: ignore[attr-defined]
        issuer = value.split(";", 1)[0].strip() or "(none)"
        if tag == "issue":
            issuers.append(issuer)
        elif tag == "issuewild":
            wild.append(issuer)
        elif tag == "iodef":
            iodef.append(value)
        elif rdata.flags & 128:  # type: ignore[attr-defined]
            unknown_critical.append(text)
    evidence.update({"issue": issuers, "issuewild": wild, "iodef": iodef})
    if unparsed:
        return [Verdict(Status.WARN, "unparsed", {"records": ", ".join(unparsed)}, evidence)]
    if unknown_critical:
        return [Verdict(Status.WARN, "unknown-critical", {"records": ", ".join(unknown_critical)}, evidence)]
    if not issuers and not wild:
        return [Verdict(Status.WARN, "no-issue-tag", {}, evidence)]
    p = {
        "issuers": ", ".join(sorted(set(issuers))) or "-",
        "wild": ", ".join(sorted(set(wild))) or "-",
        "iodef": ", ".join(iodef) or "-",
        "found_at": fact.found_at or "",
    }
    key = "ok" if fact.found_at == fact.domain else "ok-inherited"
    return [Verdict(Status.PASS, key, p, evidence)]


# ------------------------------------------------------------------------------------------ NS


@evaluator("dns.ns")
def nameservers(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: NsFact = facts.fact("dns.ns")
    evidence: dict[str, Any] = {
        "ns": {
            s.name: {
                "addresses": list(s.addresses),
                "error": s.error.value if s.error else None,
                "replies": [{"address": r.address, "rcode": r.rcode, "aa": r.authoritative, "serial": r.serial,
                             "error": r.error.value if r.error else None} for r in s.replies],
            }
            for s in fact.servers
        }
    }
    if not fact.names:
        return [Verdict(Status.INFO, "no-ns", {"domain": fact.domain}, evidence)]
    minimum = int(params.get("min_nameservers", 2))
    verdicts: list[Verdict] = []
    if len(fact.names) < minimum:
        verdicts.append(Verdict(Status.FAIL, "too-few", {"count": len(fact.names), "min": minimum, "names": ", ".join(fact.names)}, evidence))
    serials: dict[int, list[str]] = {}
    for server in fact.servers:
        ns_subject = Subject(host=server.name, service="dns")
        if server.error is not None:
            verdicts.append(Verdict(Status.ERROR, "ns-lookup-failed", {"ns": server.name, "detail": server.detail},
                                    evidence, ns_subject, server.error))
            continue
        if not server.addresses:
            verdicts.append(Verdict(Status.FAIL, "ns-no-address", {"ns": server.name}, evidence, ns_subject))
            continue
        for reply in server.replies:
            p = {"ns": server.name, "address": reply.address}
            subject = reply.subject(server.name)
            if reply.error in SKIP_REASONS:
                key = "ns-no-ipv6" if reply.error is ErrorReason.NO_IPV6 else "ns-out-of-scope"
                verdicts.append(Verdict(Status.SKIPPED, key, p, evidence, subject, reply.error))
            elif reply.error is not None:
                verdicts.append(Verdict(Status.ERROR, "ns-no-answer", {**p, "detail": reply.detail}, evidence, subject,
                                        reply.error))
            elif reply.rcode != "NOERROR" or not reply.authoritative or reply.serial is None:
                verdicts.append(Verdict(Status.FAIL, "lame", {**p, "rcode": reply.rcode, "aa": reply.authoritative},
                                        evidence, subject))
            else:
                serials.setdefault(reply.serial, []).append(f"{server.name} ({reply.address})")
    if len(serials) > 1:
        listing = "; ".join(f"{serial}: {', '.join(where)}" for serial, where in sorted(serials.items()))
        verdicts.append(Verdict(Status.WARN, "serial-mismatch", {"serials": listing}, evidence,
                                Subject(service="soa-serial")))
    if not any(v.status in (Status.FAIL, Status.ERROR, Status.WARN) for v in verdicts):
        serial = ", ".join(str(s) for s in sorted(serials)) or "-"
        verdicts.append(Verdict(Status.PASS, "ok", {"count": len(fact.names), "names": ", ".join(fact.names), "serial": serial}, evidence))
    return verdicts


# ------------------------------------------------------------------------------------------ AXFR


@evaluator("dns.axfr")
def axfr(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: AxfrFact = facts.fact("dns.axfr")
    evidence = {"attempts": [{"ns": a.server, "address": a.address, "transferred": a.transferred, "rcode": a.rcode,
                              "records": a.records, "error": a.error.value if a.error else None, "detail": a.detail}
                             for a in fact.attempts]}
    ns_outcome = facts.get("dns.ns")
    ns_fact = ns_outcome.fact if ns_outcome is not None else None
    unknown = [s for s in ns_fact.servers if s.error is not None] if isinstance(ns_fact, NsFact) else []
    verdicts = [Verdict(Status.ERROR, "ns-lookup-failed", {"ns": s.name, "detail": s.detail or str(s.error)}, evidence,
                        Subject(host=s.name, service="dns"), s.error) for s in unknown]
    if not fact.attempts and not verdicts:
        return [Verdict(Status.INFO, "no-servers", {}, evidence)]
    for a in fact.attempts:
        p = {"ns": a.server, "address": a.address}
        if a.transferred:
            verdicts.append(Verdict(Status.FAIL, "open", {**p, "records": a.records}, evidence, a.subject))
        elif a.error is None:
            verdicts.append(Verdict(Status.PASS, "refused", {**p, "rcode": a.rcode or "-"}, evidence, a.subject))
        elif a.error in SKIP_REASONS:
            key = "no-ipv6" if a.error is ErrorReason.NO_IPV6 else "out-of-scope"
            verdicts.append(Verdict(Status.SKIPPED, key, p, evidence, a.subject, a.error))
        else:
            verdicts.append(Verdict(Status.ERROR, "no-answer", {**p, "detail": a.detail}, evidence, a.subject, a.error))
    return verdicts


# ------------------------------------------------------------------------------------------ dangling CNAMEs


@evaluator("dns.dangling")
def dangling(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: CnameFact = facts.fact("dns.cnames")
    aliases = [c for c in fact.chains if c.chain or c.error is not None]
    evidence = {"aliases": {c.name: {"chain": list(c.chain), "final_rcode": c.final_rcode, "loop": c.loop,
                                     "too_long": c.too_long, "error": c.error.value if c.error else None}
                            for c in aliases}}
    verdicts = []
    inventory_outcome = facts.get("hosts.inventory")
    inventory = inventory_outcome.fact if inventory_outcome is not None else None
    if isinstance(inventory, HostInventory) and inventory.mx_error is not None:
        # the MX host names are unknown, so were not looked at: never "nothing dangles"
        verdicts.append(Verdict(Status.ERROR, "mx-unknown", {"detail": inventory.mx_error.value}, evidence,
                                Subject(service="smtp"), inventory.mx_error))
    if not aliases:
        if verdicts:
            return verdicts
        return [Verdict(Status.PASS, "no-aliases", {"count": len(fact.chains)}, evidence)]
    # names the zone itself revealed (role "found"): where the scan saw them
    sources = {h.name: list(h.sources) for h in inventory.hosts if h.sources} if isinstance(inventory, HostInventory) else {}
    for c in aliases:
        target = c.chain[-1] if c.chain else "?"
        p = {"host": c.name, "target": target, "chain": " → ".join((c.name, *c.chain))}
        subject = Subject(host=c.name)
        seen = {**evidence, "sources": sources[c.name]} if c.name in sources else evidence
        if c.loop:
            verdicts.append(Verdict(Status.FAIL, "loop", p, seen, subject))
        elif c.too_long:
            verdicts.append(Verdict(Status.FAIL, "too-long", {**p, "count": len(c.chain)}, seen, subject))
        elif c.error is not None:
            verdicts.append(Verdict(Status.ERROR, "lookup-failed", {**p, "detail": c.detail}, seen, subject, c.error))
        elif c.final_rcode == "NXDOMAIN":
            verdicts.append(Verdict(Status.FAIL, "dangling", p, seen, subject))
    if not any(v.status in (Status.FAIL, Status.ERROR) for v in verdicts):
        verdicts.append(Verdict(Status.PASS, "ok", {"count": len(aliases), "hosts": ", ".join(c.name for c in aliases)},
                                evidence))
    return verdicts
