"""Judgement of the domain's DNS setup."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dns.dnssec
import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ..engine import Facts
from ..models import Status, Verdict
from ..plugin import evaluator
from ..probes.dns import AxfrFact, CaaFact, CnameFact, NsFact
from ..probes.dnssec import DnssecFact, SignedRRset
from ..probes.hosts import HostInventory


@evaluator("dns.ipv6")
def ipv6(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    inventory: HostInventory = facts.fact("hosts.inventory")
    web = [h for h in inventory.hosts if {"apex", "www"} & set(h.roles) and h.addresses]
    with_v6 = sorted(h.name for h in web if h.ipv6)
    without = sorted(h.name for h in web if not h.ipv6)
    evidence = {"hosts": {h.name: list(h.addresses) for h in web}}
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
    verdicts = []
    for signed in (fact.dnskey, fact.soa):
        problem = _signature_problem(signed, keys, now)
        if problem is not None:
            verdicts.append(Verdict(Status.FAIL, problem[0], problem[1], evidence))
    if verdicts:
        return verdicts
    algorithms = sorted({dns.dnssec.algorithm_to_text(k.algorithm) for k in keys})
    if not fact.ds.records:
        return [Verdict(Status.WARN, "signed-not-delegated", {"algorithms": ", ".join(algorithms)}, evidence)]
    matched, unmatched = _ds_matches(fact, keys)
    evidence["ds_matched"] = matched
    if not matched:
        return [Verdict(Status.FAIL, "ds-mismatch", {"ds": ", ".join(unmatched)}, evidence)]
    if unmatched:
        verdicts.append(Verdict(Status.INFO, "stale-ds", {"ds": ", ".join(unmatched)}, evidence))
    verdicts.append(Verdict(Status.PASS, "ok", {"algorithms": ", ".join(algorithms)}, evidence))
    return verdicts


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
    verdicts = []
    if unparsed:
        verdicts.append(Verdict(Status.WARN, "unparsed", {"records": ", ".join(unparsed)}, evidence))
    if unknown_critical:
        verdicts.append(Verdict(Status.WARN, "unknown-critical", {"records": ", ".join(unknown_critical)}, evidence))
    if not issuers and not wild:
        verdicts.append(Verdict(Status.WARN, "no-issue-tag", {}, evidence))
        return verdicts
    p = {
        "issuers": ", ".join(sorted(set(issuers))) or "-",
        "wild": ", ".join(sorted(set(wild))) or "-",
        "iodef": ", ".join(iodef) or "-",
        "found_at": fact.found_at or "",
    }
    key = "ok" if fact.found_at == fact.domain else "ok-inherited"
    verdicts.append(Verdict(Status.PASS, key, p, evidence))
    return verdicts


# ------------------------------------------------------------------------------------------ NS


@evaluator("dns.ns")
def nameservers(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: NsFact = facts.fact("dns.ns")
    evidence: dict[str, Any] = {
        "ns": {
            s.name: {
                "addresses": list(s.addresses),
                "error": s.error,
                "replies": [{"address": r.address, "rcode": r.rcode, "aa": r.authoritative, "serial": r.serial, "error": r.error} for r in s.replies],
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
        if server.error:
            verdicts.append(Verdict(Status.ERROR, "ns-lookup-failed", {"ns": server.name, "detail": server.error, "reason": "unreachable"}, evidence, host=server.name))
            continue
        if not server.addresses:
            verdicts.append(Verdict(Status.FAIL, "ns-no-address", {"ns": server.name}, evidence, host=server.name))
            continue
        for reply in server.replies:
            p = {"ns": server.name, "address": reply.address}
            if reply.error == "out-of-scope":
                verdicts.append(Verdict(Status.SKIPPED, "ns-out-of-scope", p, evidence, host=server.name))
            elif reply.error == "no-ipv6":
                verdicts.append(Verdict(Status.SKIPPED, "ns-no-ipv6", p, evidence, host=server.name))
            elif reply.error:
                reason = "timeout" if reply.error == "timeout" else "unreachable" if reply.error == "unreachable" else "protocol"
                verdicts.append(Verdict(Status.ERROR, "ns-no-answer", {**p, "detail": reply.detail, "reason": reason}, evidence, host=server.name))
            elif reply.rcode != "NOERROR" or not reply.authoritative or reply.serial is None:
                verdicts.append(Verdict(Status.FAIL, "lame", {**p, "rcode": reply.rcode, "aa": "ja/yes" if reply.authoritative else "nee/no"}, evidence, host=server.name))
            else:
                serials.setdefault(reply.serial, []).append(f"{server.name} ({reply.address})")
    if len(serials) > 1:
        listing = "; ".join(f"{serial}: {', '.join(where)}" for serial, where in sorted(serials.items()))
        verdicts.append(Verdict(Status.WARN, "serial-mismatch", {"serials": listing}, evidence))
    if not any(v.status in (Status.FAIL, Status.ERROR, Status.WARN) for v in verdicts):
        serial = ", ".join(str(s) for s in sorted(serials)) or "-"
        verdicts.append(Verdict(Status.PASS, "ok", {"count": len(fact.names), "names": ", ".join(fact.names), "serial": serial}, evidence))
    return verdicts


# ------------------------------------------------------------------------------------------ AXFR


@evaluator("dns.axfr")
def axfr(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: AxfrFact = facts.fact("dns.axfr")
    evidence = {"attempts": [{"ns": a.server, "address": a.address, "outcome": a.outcome, "rcode": a.rcode, "records": a.records, "detail": a.detail} for a in fact.attempts]}
    if not fact.attempts:
        return [Verdict(Status.INFO, "no-servers", {}, evidence)]
    verdicts = []
    for a in fact.attempts:
        p = {"ns": a.server, "address": a.address}
        if a.outcome == "transferred":
            verdicts.append(Verdict(Status.FAIL, "open", {**p, "records": a.records}, evidence, host=a.server))
        elif a.outcome == "refused":
            verdicts.append(Verdict(Status.PASS, "refused", {**p, "rcode": a.rcode or "-"}, evidence, host=a.server))
        elif a.outcome == "out-of-scope":
            verdicts.append(Verdict(Status.SKIPPED, "out-of-scope", p, evidence, host=a.server))
        elif a.outcome == "no-ipv6":
            verdicts.append(Verdict(Status.SKIPPED, "no-ipv6", p, evidence, host=a.server))
        else:
            reason = a.outcome if a.outcome in ("timeout", "unreachable") else "protocol"
            verdicts.append(Verdict(Status.ERROR, "no-answer", {**p, "detail": a.detail, "reason": reason}, evidence, host=a.server))
    return verdicts


# ------------------------------------------------------------------------------------------ dangling CNAMEs


@evaluator("dns.dangling")
def dangling(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    fact: CnameFact = facts.fact("dns.cnames")
    aliases = [c for c in fact.chains if c.chain]
    evidence = {"aliases": {c.name: {"chain": list(c.chain), "final_rcode": c.final_rcode, "error": c.error} for c in aliases}}
    if not aliases:
        return [Verdict(Status.PASS, "no-aliases", {"count": len(fact.chains)}, evidence)]
    verdicts = []
    for c in aliases:
        p = {"host": c.name, "target": c.chain[-1], "chain": " → ".join((c.name, *c.chain))}
        if c.error == "alias loop":
            verdicts.append(Verdict(Status.FAIL, "loop", p, evidence, host=c.name))
        elif c.error:
            verdicts.append(Verdict(Status.ERROR, "lookup-failed", {**p, "detail": c.error, "reason": "unreachable"}, evidence, host=c.name))
        elif c.final_rcode == "NXDOMAIN":
            verdicts.append(Verdict(Status.FAIL, "dangling", p, evidence, host=c.name))
    if not verdicts:
        verdicts.append(Verdict(Status.PASS, "ok", {"count": len(aliases), "hosts": ", ".join(c.name for c in aliases)}, evidence))
    return verdicts
