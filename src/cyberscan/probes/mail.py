"""DNS and HTTPS facts about the domain's e-mail: SPF (with its include tree), DMARC, DKIM keys,
MTA-STS and TLS reporting.

One probe per fact, each collected once and shared: both DMARC checks read ``dns.dmarc``; the SPF
recursion (includes, redirects, lookup and void-lookup counts) is one ``dns.spf`` fact.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Interrupted, ProbeError, ProbeTimeout, ProtocolError, TargetUnreachable, Truncated
from ..facts.dns import DnsAnswer
from ..facts.mail import (
    DkimFact,
    DkimSelector,
    DmarcFact,
    ReportAuthorisation,
    SpfFact,
    SpfNode,
    StsPolicyFetch,
    TxtFact,
)
from ..models import ErrorReason
from ..parsers.dkim import is_dkim_candidate
from ..parsers.dmarc import is_dmarc_candidate, parse_dmarc
from ..parsers.mtasts import is_sts_candidate
from ..parsers.orgdomain import org_domain
from ..parsers.spf import is_spf, parse_spf
from ..plugin import probe
from ..runtime import Deadline, ProbeContext
from . import fanout
from .dnsbase import addresses_of, lookup, txt_strings
from .http import fetch_once
from .tls import bundle_key, classify_oserror

# ------------------------------------------------------------------------------------------ TXT


def _txt(ctx: ProbeContext, name: str, probe_id: str) -> TxtFact:
    answer = lookup(ctx, name, "TXT", probe=probe_id)
    return TxtFact(name, answer.rcode, tuple(txt_strings(answer)))


# ------------------------------------------------------------------------------------------ SPF

MAX_WALK_LOOKUPS = 40  # stop following includes well beyond the limit of 10, to stay polite
MAX_DEPTH = 12
MAX_TEMP_ERRORS = 3  # lookups that failed: the result is unknown already, stop asking (a hostile tree
# of names that never answer would otherwise cost MAX_WALK_LOOKUPS timeouts)


@dataclass
class _Walk:
    ctx: ProbeContext
    nodes: list[SpfNode] = field(default_factory=list)
    lookups: int = 0
    voids: int = 0
    void_names: list[str] = field(default_factory=list)
    mx_over: list[str] = field(default_factory=list)
    temp: list[str] = field(default_factory=list)
    truncated: bool = False
    deadline: Deadline | None = None

    def void(self, name: str) -> None:
        self.voids += 1
        self.void_names.append(name)

    def query(self, name: str, rdtype: str) -> DnsAnswer | None:
        if self.deadline is not None and self.deadline.expired:
            self.truncated = True  # the whole walk has a deadline too, however the records are built
            return None
        try:
            return lookup(self.ctx, name, rdtype, probe="dns.spf")
        except Interrupted:
            raise
        except ProbeError as exc:
            self.temp.append(f"{name} {rdtype}: {exc.reason.value}: {exc}")
            if len(self.temp) >= MAX_TEMP_ERRORS:
                self.truncated = True
            return None

    def visit(self, domain: str, via: str, depth: int, parent: str, stack: tuple[str, ...]) -> None:
        answer = self.query(domain, "TXT")
        if answer is None:
            self.nodes.append(SpfNode(domain, via, depth, parent, (), "", "temp-error"))
            return
        records = tuple(s for s in txt_strings(answer) if is_spf(s))
        if not records:
            if via != "root":
                self.void(domain)
            self.nodes.append(SpfNode(domain, via, depth, parent, (), answer.rcode, "no-record"))
            return
        if len(records) > 1:
            self.nodes.append(SpfNode(domain, via, depth, parent, records, answer.rcode, "multiple-records"))
            return
        record = parse_spf(records[0])
        self.nodes.append(SpfNode(domain, via, depth, parent, records, answer.rcode, "" if record.valid else "syntax"))
        if not record.valid:
            return
        for term in record.lookup_terms:
            if self.truncated:
                return
            self.lookups += 1
            if self.lookups > MAX_WALK_LOOKUPS or depth >= MAX_DEPTH:
                self.truncated = True
                return
            target = (term.value or domain).rstrip(".").lower()
            if term.has_macro:
                if term.name in ("include", "redirect"):
                    self.nodes.append(SpfNode(target, term.name, depth + 1, domain, (), "", "macro"))
                continue  # macros need a sender; nothing to look up from here
            if term.name in ("include", "redirect"):
                if target in stack or target == domain:
                    self.nodes.append(SpfNode(target, term.name, depth + 1, domain, (), "", "loop"))
                    continue
                self.visit(target, term.name, depth + 1, domain, (*stack, domain))
            elif term.name == "a":
                a = self.query(target, "A")
                aaaa = self.query(target, "AAAA") if a is not None and a.exists else a
                if a is not None and aaaa is not None and not a.records and not aaaa.records:
                    self.void(target)
            elif term.name == "mx":
                mx = self.query(target, "MX")
                if mx is not None:
                    if not mx.records:
                        self.void(target)
                    elif len(mx.records) > 10:
                        self.mx_over.append(target)
            elif term.name == "exists":
                a = self.query(target, "A")
                if a is not None and not a.records:
                    self.void(target)
            # ptr needs the connecting address; it costs a lookup but there is nothing to resolve here


@probe("dns.spf", fact=SpfFact)
def probe_spf(ctx: ProbeContext, domain: str) -> SpfFact:
    root = lookup(ctx, domain, "TXT", probe="dns.spf")  # errors here make the check ERROR
    walk = _Walk(ctx, deadline=ctx.deadline("spf"))
    walk.visit(domain.lower(), "root", 0, "", ())
    return SpfFact(
        domain=domain,
        txt=tuple(txt_strings(root)),
        nodes=tuple(walk.nodes),
        lookups=walk.lookups,
        void_lookups=walk.voids,
        void_names=tuple(walk.void_names),
        mx_over_limit=tuple(walk.mx_over),
        temp_errors=tuple(walk.temp),
        truncated=walk.truncated,
    )


# ------------------------------------------------------------------------------------------ DMARC


def public_suffixes(ctx: ProbeContext) -> frozenset[str]:
    """Multi-label public suffixes from ``checks/data/public_suffixes.yaml`` (the catalogue's data)."""
    raw: Any = ctx.data.get("public_suffixes")
    items = raw.get("suffixes", []) if isinstance(raw, dict) else []
    return frozenset(str(s).lower().strip(".") for s in items)


def _dmarc_at(ctx: ProbeContext, domain: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    fact = _txt(ctx, f"_dmarc.{domain}", "dns.dmarc")
    records = tuple(s for s in fact.strings if is_dmarc_candidate(s))
    others = tuple(s for s in fact.strings if not is_dmarc_candidate(s))
    return fact.name, records, others


def _report_domains(record: str) -> Iterable[str]:
    parsed = parse_dmarc(record)
    for uri in (*parsed.rua, *parsed.ruf):
        if uri.domain:
            yield uri.domain


@probe("dns.dmarc", fact=DmarcFact)
def probe_dmarc(ctx: ProbeContext, domain: str) -> DmarcFact:
    suffixes = public_suffixes(ctx)
    org = org_domain(domain, suffixes)
    name, records, others = _dmarc_at(ctx, domain)
    inherited = False
    if not records and org != domain.lower():
        name, records, others = _dmarc_at(ctx, org)
        inherited = True
    auths: list[ReportAuthorisation] = []
    if len(records) == 1:
        outside = sorted({d for d in _report_domains(records[0]) if org_domain(d, suffixes) != org})
        for report_domain in outside:
            check = f"{domain}._report._dmarc.{report_domain}"
            try:
                txt = _txt(ctx, check, "dns.dmarc")
            except ProbeError as exc:
                auths.append(ReportAuthorisation(report_domain, check, False, f"{exc.reason}: {exc.detail}"))
                continue
            ok = any(s.replace(" ", "").lower().startswith("v=dmarc1") for s in txt.strings)
            auths.append(ReportAuthorisation(report_domain, check, ok))
    return DmarcFact(domain, org, name, records, others, inherited, tuple(auths))


# ------------------------------------------------------------------------------------------ DKIM

COMMON_SELECTORS = (
    "default", "selector1", "selector2", "google", "k1", "k2", "k3", "mail", "dkim", "s1", "s2",
    "mx", "smtp", "email", "key1", "key2", "sig1", "mandrill", "mailjet", "sendgrid", "everlytickey1",
    "everlytickey2", "zoho", "protonmail", "protonmail2", "protonmail3", "fm1", "fm2", "fm3",
    "transip", "mijndomein", "hostnet", "strato", "dkim1", "dkim2", "mxvault", "202401", "2024",
)  # fmt: skip


def dkim_selectors(ctx: ProbeContext) -> tuple[str, ...]:
    extra = ctx.settings.get("dkim_selectors") or ()
    chosen = [*ctx.options.dkim_selectors, *(str(s) for s in extra), *COMMON_SELECTORS]
    out: list[str] = []
    for sel in chosen:
        sel = sel.strip().strip(".").lower()
        if sel and sel not in out:
            out.append(sel)
    return tuple(out)


DKIM_WORKERS = 16  # selectors asked at the same time
DKIM_FIRST = 7  # selectors asked in the first round, beside the base name (the given ones first, then the most used)


@probe("dns.dkim", fact=DkimFact)
def probe_dkim(ctx: ProbeContext, domain: str) -> DkimFact:
    """``_domainkey.<domain>`` and the selectors of :func:`dkim_selectors`, in two rounds.

    The first round asks the base name and the first ``DKIM_FIRST`` selectors side by side. When the
    base name does not exist (NXDOMAIN), no name below it exists either (RFC 8020), so no selector can
    hold a key: the other selectors are not asked, about 30 questions fewer for a domain without DKIM.
    A server that answers NXDOMAIN for an empty name although names below it exist (against RFC 8020)
    shows itself when a first-round selector is found anyway: then every selector is asked. A base
    name that exists, or could not be asked, leads to the second round: all the other selectors,
    ``DKIM_WORKERS`` at a time (the same three rounds of questions as asking all at once)."""
    selectors = dkim_selectors(ctx)

    def one(selector: str | None) -> DkimSelector | str | DnsAnswer:
        if selector is None:  # the base name: its errors are the probe's own (the check is then ERROR)
            return lookup(ctx, f"_domainkey.{domain}", "TXT", probe="dns.dkim")
        name = f"{selector}._domainkey.{domain}"
        try:
            answer = lookup(ctx, name, "TXT", probe="dns.dkim")
        except ProbeError as exc:
            return f"{selector}: {exc}"
        records = tuple(s for s in txt_strings(answer) if is_dkim_candidate(s))
        return DkimSelector(selector, name, answer.rcode, records, answer.cname_chain)

    first, rest = selectors[:DKIM_FIRST], selectors[DKIM_FIRST:]
    base, *results = fanout.run(one, [None, *first], workers=DKIM_WORKERS, cancel=ctx.cancel_event)
    assert isinstance(base, DnsAnswer)
    found_first = any(isinstance(r, DkimSelector) and (r.rcode == "NOERROR" or r.aliases) for r in results)
    tried = selectors
    if base.rcode == "NXDOMAIN" and not found_first:
        tried = first  # nothing below _domainkey exists
    elif rest:
        results += fanout.run(one, rest, workers=DKIM_WORKERS, cancel=ctx.cancel_event)
    found = tuple(r for r in results if isinstance(r, DkimSelector) and r.records)
    errors = tuple(r for r in results if isinstance(r, str))
    return DkimFact(domain, tried, found, base.rcode, errors)


# ------------------------------------------------------------------------------------------ MTA-STS / TLS-RPT


@probe("dns.mta_sts", fact=TxtFact)
def probe_mta_sts_txt(ctx: ProbeContext, domain: str) -> TxtFact:
    return _txt(ctx, f"_mta-sts.{domain}", "dns.mta_sts")


@probe("dns.tlsrpt", fact=TxtFact)
def probe_tlsrpt(ctx: ProbeContext, domain: str) -> TxtFact:
    return _txt(ctx, f"_smtp._tls.{domain}", "dns.tlsrpt")


MAX_POLICY_BYTES = 64 * 1024


def https_port(ctx: ProbeContext) -> int:
    """443, unless the profile setting ``https_port`` says otherwise (the demo and tests)."""
    try:
        port = int(ctx.settings.get("https_port", 443))
    except (TypeError, ValueError):
        return 443
    return port if 0 < port < 65536 else 443


_POLICY_CONTEXTS: dict[tuple[str | None, int, int], ssl.SSLContext] = {}
_POLICY_LOCK = threading.Lock()


def policy_context(ca_bundle: str | None) -> ssl.SSLContext:
    """What a sending mail server uses to fetch a policy: the default verifying context (system
    store plus ``--ca-bundle``), the host name checked (RFC 8461 3.3). Made once per process and
    bundle (a bundle changed on disk gets a new one)."""
    key = bundle_key(ca_bundle)
    if key is not None:
        with _POLICY_LOCK:
            found = _POLICY_CONTEXTS.get(key)
        if found is not None:
            return found
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if key is not None:
        with _POLICY_LOCK:
            context = _POLICY_CONTEXTS.setdefault(key, context)
    return context


# the peer went away during the handshake: says nothing about its certificate
_TLS_CONNECTION_TROUBLE = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _failure(reason: ErrorReason, detail: str, host: str) -> ProbeError:
    exc: ProbeError
    if reason is ErrorReason.TIMEOUT:
        exc = ProbeTimeout(detail, probe="http.mta_sts", target=host)
    elif reason is ErrorReason.PROTOCOL:
        exc = ProtocolError(detail, probe="http.mta_sts", target=host)
    else:
        exc = TargetUnreachable(detail, probe="http.mta_sts", target=host)
        exc.reason = reason  # UNREACHABLE or REFUSED
    return exc


def fetch_policy(ctx: ProbeContext, host: str, address: str, url: str) -> StsPolicyFetch:
    """GET the policy from one address with a verified certificate for ``host`` (RFC 8461 3.3).

    Raises ProbeError subclasses when there is no answer in time, the connection failed, or the
    answer was cut off at the size cap (a cut-off policy is never judged)."""
    ep = ctx.endpoint(address, host, "policy")
    try:
        exchange = fetch_once(ep, https_port(ctx), host, "/.well-known/mta-sts.txt", tls=True,
                              max_bytes=MAX_POLICY_BYTES, context=policy_context(ctx.options.ca_bundle))
    except ssl.SSLError as exc:
        detail = f"{url} ({address}): {type(exc).__name__}: {exc}"[:300]
        if isinstance(exc, _TLS_CONNECTION_TROUBLE):
            raise _failure(ErrorReason.PROTOCOL, detail, host) from exc
        return StsPolicyFetch(url, True, address, problem="tls", detail=f"{type(exc).__name__}: {exc}"[:300])
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = classify_oserror(exc) if isinstance(exc, OSError) else ErrorReason.PROTOCOL
        raise _failure(reason, f"{url} ({address}): {type(exc).__name__}: {exc}"[:300], host) from exc
    status, content_type = exchange.status, exchange.content_type
    if 300 <= status < 400:
        return StsPolicyFetch(url, True, address, status, content_type, problem="redirect",
                              location=(exchange.location or "")[:200])
    if status != 200:
        return StsPolicyFetch(url, True, address, status, content_type, problem="http-status")
    if exchange.truncated:
        raise Truncated(f"{url} ({address}): > {MAX_POLICY_BYTES} bytes", probe="http.mta_sts", target=host)
    if "\ufffd" in exchange.body:  # bytes that are not text in the declared charset (UTF-8 by default)
        return StsPolicyFetch(url, True, address, status, content_type, problem="not-utf8")
    return StsPolicyFetch(url, True, address, status, content_type, body=exchange.body)


@probe("http.mta_sts", fact=StsPolicyFetch)
def probe_mta_sts_policy(ctx: ProbeContext, domain: str) -> StsPolicyFetch:
    host = f"mta-sts.{domain}"
    url = f"https://{host}/.well-known/mta-sts.txt"
    txt: TxtFact = ctx.fact("dns.mta_sts")
    if not any(is_sts_candidate(s) for s in txt.strings):
        return StsPolicyFetch(url, False, problem="no-record")
    a, aaaa = addresses_of(ctx, host, probe="http.mta_sts")
    addresses = [*a.records, *(aaaa.records if aaaa is not a else ())]
    if not addresses:
        return StsPolicyFetch(url, False, problem="no-host", detail=host)
    last: ProbeError | None = None
    for address in addresses:
        try:
            return fetch_policy(ctx, host, address, url)
        except (Interrupted, Truncated):
            raise
        except ProbeError as exc:  # no answer from this address: try the next one
            last = exc
    assert last is not None
    raise last
