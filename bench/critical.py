"""The critical path of one domain's passive scan: the longest chain of dependent round trips.

:func:`critical_path` models the probes as they are now (versions walked side by side, one walk per
address, the first SMTP session going on into STARTTLS, A and AAAA together, ...);
:func:`critical_path_v1` keeps the model of the baseline (docs/scale.md, "Today's figures"), so a scan can
be held against both. Below: the v1 description.

Derived from how today's probes depend on each other (engine: every probe of the domain starts at
once, 32 workers; ``ctx.fact`` waits for the fact it needs) and from what the scan itself found (how
many suites each TLS version accepted, which TLS version a handshake agreed, redirects), so the
count is exact for the domain scanned. One round trip (RTT) is: a TCP connect (SYN/SYN-ACK), one DNS
query, a TLS 1.3 handshake (TLS 1.2: two), one HTTP request, one SMTP command, an SMTP banner after
the connect. Closing a connection and sending QUIT are not waited for. Not modelled: the per-address
connection cap (4 at a time; apex, www and mta-sts often share one address) and CPU time, which is
why the wall time of a scan is more than the critical path even with nothing else running.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DKIM_WORKERS = 8
DKIM_SELECTORS = 39  # probes/mail.py COMMON_SELECTORS (default profile, no --dkim-selector)
MAX_ATTEMPTS = 48  # probes/tlsraw.py scan_version


def _tls_rtts(version: str) -> int:
    return 1 if version == "TLSv1.3" else 2


def tls_walk(endpoint: Mapping[str, Any], *, preamble: int = 0, enumerate_suites: bool = True) -> dict[str, int]:
    """Round trips of ``scan_endpoint``: a verifying handshake (again permissively when the chain is
    not trusted), then raw ClientHellos per version, each on a new connection (+ ``preamble`` round
    trips of SMTP before STARTTLS)."""
    connect = 1 + preamble
    handshake = connect + _tls_rtts(endpoint.get("negotiated_version", ""))
    if endpoint.get("chain_trusted") is False:
        handshake *= 2
    hellos = 0
    for version in endpoint.get("versions", []):
        if not version.get("accepted"):
            hellos += 1
        elif not enumerate_suites:
            hellos += 1
        elif not version.get("complete", True):
            hellos += MAX_ATTEMPTS
        else:
            hellos += len(version.get("suites", [])) + 1  # each accepted suite, then the refusal
    return {"handshake": handshake, "hellos": hellos, "rtts": handshake + hellos * (connect + 1)}


def _fetch(fetch: Mapping[str, Any] | None, *, tls: str | None) -> int:
    if not fetch:
        return 0
    hops = max(1, len(fetch.get("hops", [])))
    per_hop = 1 + (_tls_rtts(tls) if tls is not None else 0) + 1
    return hops * per_hop


def critical_path_v1(facts: Mapping[str, Any], domain: str) -> dict[str, Any]:
    """``facts``: probe -> fact (as in cyberscan's JSON report). Returns the chains and the longest."""
    inventory = facts.get("hosts.inventory") or {}
    hosts = inventory.get("hosts", [])
    mx_names = [h["name"] for h in hosts if "mx" in h.get("roles", [])]
    mx = 1
    resolve = 2  # A, then AAAA (one lookup when the name does not exist)
    inv = mx + resolve
    chains: dict[str, int] = {"preflight SOA": 1}
    tls = facts.get("tls.scan") or {}
    walks = [tls_walk(e) for e in tls.get("endpoints", []) if not e.get("error")]
    tls_version = next((e.get("negotiated_version") for e in tls.get("endpoints", []) if not e.get("error")), None)
    chains["tls.scan (inventory + slowest endpoint walk)"] = inv + max((w["rtts"] for w in walks), default=0)
    site = facts.get("http.site") or {}
    http = 0
    for endpoint in site.get("endpoints", []):
        total = _fetch(endpoint.get("http"), tls=None) + _fetch(endpoint.get("https"), tls=tls_version or "TLSv1.3")
        total += _fetch(endpoint.get("securitytxt"), tls=tls_version or "TLSv1.3")
        http = max(http, total)
    chains["http.site (inventory + plain, HTTPS, security.txt)"] = inv + http
    smtp = facts.get("smtp.starttls") or {}
    mail = 0
    for endpoint in smtp.get("endpoints", []):
        hello = 3  # connect, banner, EHLO (QUIT is not waited for)
        walk = tls_walk(endpoint["tls"], preamble=3, enumerate_suites=False)["rtts"] if endpoint.get("tls") else 0
        mail = max(mail, hello + walk)
    chains["smtp.starttls (inventory + banner/EHLO + STARTTLS walk)"] = inv + mail
    chains["dns.tlsa (inventory + one TLSA query per MX, in turn)"] = inv + len(mx_names)
    chains["dns.mx_hosts (MX + CNAME, A, AAAA)"] = mx + 3
    chains["dns.axfr (NS + A/AAAA + SOA + TCP AXFR)"] = 1 + 2 + 1 + 2
    chains["dns.dnssec (DNSKEY, SOA, DS, SOA in turn)"] = 4
    chains["dns.dkim (base + 39 selectors, 8 at a time)"] = 1 + math.ceil(DKIM_SELECTORS / DKIM_WORKERS)
    spf = facts.get("dns.spf") or {}
    depth = max((n.get("depth", 0) for n in spf.get("nodes", [])), default=0)
    chains["dns.spf (TXT + include depth)"] = 1 + depth + 1
    sts = facts.get("http.mta_sts") or {}
    chains["http.mta_sts (TXT + A/AAAA + TCP + TLS + GET)"] = (1 + 2 + 1 + 1 + 1) if sts.get("body") else 1
    cnames = facts.get("dns.cnames") or {}
    hops = max((len(c.get("chain", [])) for c in cnames.get("chains", [])), default=0)
    chains["dns.cnames (inventory + CNAME hops + A)"] = inv + hops + 1 + (1 if hops else 0)
    scan_chains = {k: v for k, v in chains.items() if k != "preflight SOA"}
    longest = max(scan_chains, key=lambda k: scan_chains[k])
    return {
        "domain": domain,
        "chains": chains,
        "longest": longest,
        "rtts": chains["preflight SOA"] + scan_chains[longest],
        "tls_walks": walks,
    }


# ----------------------------------------------------------------------------- the probes as they are now

PER_ADDRESS = 6  # ScanOptions.per_host_connections (one scan): connections to one address at once
DKIM_FIRST = 8  # probes/mail.py: the base name and DKIM_FIRST (7) selectors in the first round
DKIM_REST = 32  # then, unless _domainkey is NXDOMAIN, the other selectors
DKIM_AT_ONCE = 16  # probes/mail.py DKIM_WORKERS


def _hellos(version: Mapping[str, Any], enumerate_suites: bool) -> int:
    if not version.get("accepted") or not enumerate_suites:
        return 1
    if not version.get("complete", True):
        return MAX_ATTEMPTS
    return len(version.get("suites", [])) + 1


def walk_now(endpoint: Mapping[str, Any], *, preamble: int = 0, enumerate_suites: bool = True) -> dict[str, int]:
    """One address's walk now: the handshake beside one chain of ClientHellos per version (each hello a
    new connection: connect, ``preamble`` round trips, the hello; from the third hello of a suite walk
    on, its connection was opened while the previous hello was answered, so it costs the hello only).
    ``busy``: connection round trips in all (for the per-address limit)."""
    connect = 1 + preamble
    handshake = connect + _tls_rtts(endpoint.get("negotiated_version", ""))
    if endpoint.get("chain_trusted") is False:
        handshake *= 2
    chains = []
    busy = handshake
    for version in endpoint.get("versions", []):
        hellos = _hellos(version, enumerate_suites)
        ahead = enumerate_suites and preamble == 0 and hellos > 2
        chains.append(2 * (connect + 1) + (hellos - 2) if ahead else hellos * (connect + 1))
        busy += hellos * (connect + 1) + (1 if ahead else 0)
    return {"rtts": max([handshake, *chains]), "busy": busy}


def critical_path(facts: Mapping[str, Any], domain: str) -> dict[str, Any]:
    """The longest chain now, and a second lower bound: the round trips of all connections to the
    busiest address divided by the per-address limit (after the inventory). ``rtts`` is the larger."""
    inventory = facts.get("hosts.inventory") or {}
    hosts = inventory.get("hosts", [])
    mx_names = [h["name"] for h in hosts if "mx" in h.get("roles", [])]
    inv = 1 + 1  # MX, then A and AAAA side by side
    chains: dict[str, int] = {"preflight SOA": 1}
    busy: dict[str, int] = {}  # address -> connection round trips
    tls = facts.get("tls.scan") or {}
    ok = [e for e in tls.get("endpoints", []) if not e.get("error")]
    tls_version = next((e.get("negotiated_version") for e in ok), None)
    walked: set[str] = set()
    longest = 0
    for endpoint in ok:
        if endpoint["address"] in walked:  # another name on a walked address: handshake and four first hellos
            check = 2 * (1 + _tls_rtts(endpoint.get("negotiated_version", "")))
            busy[endpoint["address"]] = busy.get(endpoint["address"], 0) + check + 4 * 2
            continue
        walked.add(endpoint["address"])
        walk = walk_now(endpoint)
        longest = max(longest, walk["rtts"])
        busy[endpoint["address"]] = busy.get(endpoint["address"], 0) + walk["busy"]
    chains["tls.scan (inventory + slowest version chain of one address)"] = inv + longest
    site = facts.get("http.site") or {}
    http = 0
    for endpoint in site.get("endpoints", []):
        parts = (_fetch(endpoint.get("http"), tls=None), _fetch(endpoint.get("https"), tls=tls_version or "TLSv1.3"),
                 _fetch(endpoint.get("securitytxt"), tls=tls_version or "TLSv1.3"))
        http = max(http, sum(parts))
        busy[endpoint["address"]] = busy.get(endpoint["address"], 0) + sum(parts)
    chains["http.site (inventory + HTTPS, security.txt, plain)"] = inv + http
    smtp = facts.get("smtp.starttls") or {}
    mail = 0
    for endpoint in smtp.get("endpoints", []):
        first = 3  # connect, banner, EHLO (QUIT is not waited for)
        tls_ep = endpoint.get("tls")
        if tls_ep:
            first += 1 + _tls_rtts(tls_ep.get("negotiated_version", ""))  # STARTTLS, handshake on it
            if tls_ep.get("chain_trusted") is False:
                first += 4 + _tls_rtts(tls_ep.get("negotiated_version", ""))  # permissive, new session
            versions = [5] * len(tls_ep.get("versions", []))  # connect, banner, EHLO, STARTTLS, hello
        else:
            versions = [3] * 5  # started at once, ended after EHLO
        mail = max([mail, first, *versions])
        busy[endpoint["address"]] = busy.get(endpoint["address"], 0) + first + sum(versions)
    chains["smtp.starttls (inventory + first session or a version session)"] = inv + mail
    chains["dns.tlsa (inventory + TLSA of every MX at once)"] = inv + (1 if mx_names else 0)
    chains["dns.mx_hosts (MX + CNAME, A, AAAA at once)"] = 1 + 1
    chains["dns.axfr (NS + A/AAAA + SOA + TCP AXFR)"] = 1 + 1 + 1 + 2
    chains["dns.dnssec (DNSKEY, SOA, DS, SOA at once)"] = 1
    dkim = facts.get("dns.dkim") or {}
    cut = dkim.get("domainkey_rcode") == "NXDOMAIN" and len(dkim.get("selectors_tried", [])) < DKIM_FIRST
    chains["dns.dkim (base + 7 selectors, then the rest 16 at a time)"] = 1 + (0 if cut else
                                                                            math.ceil(DKIM_REST / DKIM_AT_ONCE))
    spf = facts.get("dns.spf") or {}
    depth = max((n.get("depth", 0) for n in spf.get("nodes", [])), default=0)
    chains["dns.spf (TXT + include depth)"] = 1 + depth + 1
    sts = facts.get("http.mta_sts") or {}
    chains["http.mta_sts (TXT + A/AAAA + TCP + TLS + GET)"] = (1 + 1 + 1 + 1 + 1) if sts.get("body") else 1
    cnames = facts.get("dns.cnames") or {}
    hops = max((len(c.get("chain", [])) for c in cnames.get("chains", [])), default=0)
    chains["dns.cnames (inventory + CNAME hops + A)"] = inv + hops + 1 + (1 if hops else 0)
    scan_chains = {k: v for k, v in chains.items() if k != "preflight SOA"}
    longest_chain = max(scan_chains, key=lambda k: scan_chains[k])
    busiest = max(busy, key=lambda a: busy[a]) if busy else ""
    bound = inv + math.ceil(busy[busiest] / PER_ADDRESS) if busiest else 0
    chain_rtts = chains["preflight SOA"] + scan_chains[longest_chain]
    return {
        "domain": domain,
        "chains": chains,
        "longest": longest_chain,
        "chain_rtts": chain_rtts,
        "busiest_address": busiest,
        "busiest_connection_rtts": busy.get(busiest, 0),
        "slot_bound_rtts": chains["preflight SOA"] + bound,
        "rtts": max(chain_rtts, chains["preflight SOA"] + bound),
    }
