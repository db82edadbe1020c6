"""The critical path of one domain's passive scan: the longest chain of dependent round trips.

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


def critical_path(facts: Mapping[str, Any], domain: str) -> dict[str, Any]:
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
