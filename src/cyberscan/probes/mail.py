"""DNS and HTTPS facts about the domain's e-mail: SPF (with its include tree), DMARC, DKIM keys,
MTA-STS and TLS reporting.

One probe per fact, each collected once and shared: both DMARC checks read ``dns.dmarc``; the SPF
recursion (includes, redirects, lookup and void-lookup counts) is one ``dns.spf`` fact.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
import requests.adapters
import yaml

from ..engine import ProbeContext
from ..errors import ProbeError, ProbeTimeout, TargetUnreachable
from ..parsers.dkim import is_dkim_candidate
from ..parsers.dmarc import is_dmarc_candidate, parse_dmarc
from ..parsers.mtasts import is_sts_candidate
from ..parsers.orgdomain import org_domain
from ..parsers.spf import is_spf, parse_spf
from ..plugin import probe
from .dnsbase import DnsAnswer, lookup, txt_strings

# ------------------------------------------------------------------------------------------ TXT


@dataclass(frozen=True, slots=True)
class TxtFact:
    """The TXT strings at one name (character-strings joined), and whether the name exists."""

    name: str
    rcode: str
    strings: tuple[str, ...]


def _txt(ctx: ProbeContext, name: str, probe_id: str) -> TxtFact:
    answer = lookup(ctx.resolver, name, "TXT", probe=probe_id)
    return TxtFact(name, answer.rcode, tuple(txt_strings(answer)))


# ------------------------------------------------------------------------------------------ SPF

MAX_WALK_LOOKUPS = 40  # stop following includes well beyond the limit of 10, to stay polite
MAX_DEPTH = 12


@dataclass(frozen=True, slots=True)
class SpfNode:
    """One SPF record visited while following includes and redirects."""

    domain: str
    via: str  # "root" | "include" | "redirect"
    depth: int
    parent: str  # "" for the root
    records: tuple[str, ...]  # SPF records found at the domain (one is right)
    rcode: str = "NOERROR"
    error: str = ""  # "" | no-record | multiple-records | syntax | loop | temp-error | macro


@dataclass(frozen=True, slots=True)
class SpfFact:
    domain: str
    txt: tuple[str, ...]  # every TXT string at the domain (evidence)
    nodes: tuple[SpfNode, ...]  # the root first, then in evaluation order
    lookups: int  # DNS-querying terms (include, a, mx, ptr, exists, redirect), RFC 7208 4.6.4
    void_lookups: int  # lookups that found nothing (NXDOMAIN or no records)
    void_names: tuple[str, ...] = ()
    mx_over_limit: tuple[str, ...] = ()  # mx mechanisms naming more than 10 MX hosts
    temp_errors: tuple[str, ...] = ()  # lookups that timed out or failed (the count may be low)
    truncated: bool = False  # the walk stopped early (far beyond the limit)

    @property
    def root(self) -> SpfNode:
        return self.nodes[0]

    @property
    def record(self) -> str | None:
        return self.root.records[0] if len(self.root.records) == 1 else None


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

    def void(self, name: str) -> None:
        self.voids += 1
        self.void_names.append(name)

    def query(self, name: str, rdtype: str) -> DnsAnswer | None:
        try:
            return lookup(self.ctx.resolver, name, rdtype, probe="dns.spf")
        except ProbeError as exc:
            self.temp.append(f"{name} {rdtype}: {exc}")
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
    root = lookup(ctx.resolver, domain, "TXT", probe="dns.spf")  # errors here make the check ERROR
    walk = _Walk(ctx)
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


@functools.cache
def public_suffixes() -> frozenset[str]:
    """Multi-label public suffixes from ``checks/data/public_suffixes.yaml`` (empty if unreadable)."""
    from ..catalogue import data_root

    try:
        raw: Any = yaml.safe_load((data_root() / "checks" / "data" / "public_suffixes.yaml").read_text("utf-8"))
    except (OSError, yaml.YAMLError):
        return frozenset()
    items = raw.get("suffixes", []) if isinstance(raw, dict) else []
    return frozenset(str(s).lower().strip(".") for s in items)


@dataclass(frozen=True, slots=True)
class ReportAuthorisation:
    """RFC 7489 7.1: an outside domain must agree to receive the domain's reports."""

    report_domain: str
    name: str  # <domain>._report._dmarc.<report domain>
    authorised: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class DmarcFact:
    domain: str
    org_domain: str
    name: str  # the _dmarc name whose records apply
    records: tuple[str, ...]  # DMARC records there (exactly one is right)
    other_txt: tuple[str, ...]  # other TXT strings at that name (ignored by receivers)
    inherited: bool  # no record at the domain itself: the organisational domain's applies
    authorisations: tuple[ReportAuthorisation, ...] = ()


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
    org = org_domain(domain, public_suffixes())
    name, records, others = _dmarc_at(ctx, domain)
    inherited = False
    if not records and org != domain.lower():
        name, records, others = _dmarc_at(ctx, org)
        inherited = True
    auths: list[ReportAuthorisation] = []
    if len(records) == 1:
        outside = sorted({d for d in _report_domains(records[0]) if org_domain(d, public_suffixes()) != org})
        for report_domain in outside:
            check = f"{domain}._report._dmarc.{report_domain}"
            try:
                txt = _txt(ctx, check, "dns.dmarc")
            except ProbeError as exc:
                auths.append(ReportAuthorisation(report_domain, check, False, str(exc)))
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


@dataclass(frozen=True, slots=True)
class DkimSelector:
    selector: str
    name: str
    rcode: str
    records: tuple[str, ...]  # TXT strings that look like DKIM key records
    aliases: tuple[str, ...] = ()  # CNAMEs followed (hosted mail often delegates selectors)


@dataclass(frozen=True, slots=True)
class DkimFact:
    domain: str
    selectors_tried: tuple[str, ...]
    found: tuple[DkimSelector, ...]
    domainkey_rcode: str  # of _domainkey.<domain>: NXDOMAIN suggests no keys at all (RFC 8020)
    errors: tuple[str, ...] = ()  # "selector: reason" for lookups that failed


def dkim_selectors(ctx: ProbeContext) -> tuple[str, ...]:
    extra = ctx.settings.get("dkim_selectors") or ()
    chosen = [*ctx.options.dkim_selectors, *(str(s) for s in extra), *COMMON_SELECTORS]
    out: list[str] = []
    for sel in chosen:
        sel = sel.strip().strip(".").lower()
        if sel and sel not in out:
            out.append(sel)
    return tuple(out)


@probe("dns.dkim", fact=DkimFact)
def probe_dkim(ctx: ProbeContext, domain: str) -> DkimFact:
    selectors = dkim_selectors(ctx)
    base = lookup(ctx.resolver, f"_domainkey.{domain}", "TXT", probe="dns.dkim")

    def one(selector: str) -> DkimSelector | str:
        name = f"{selector}._domainkey.{domain}"
        try:
            answer = lookup(ctx.resolver, name, "TXT", probe="dns.dkim")
        except ProbeError as exc:
            return f"{selector}: {exc}"
        records = tuple(s for s in txt_strings(answer) if is_dkim_candidate(s))
        return DkimSelector(selector, name, answer.rcode, records, answer.cname_chain)

    results = ctx.map(one, selectors, workers=8)
    found = tuple(r for r in results if isinstance(r, DkimSelector) and r.records)
    errors = tuple(r for r in results if isinstance(r, str))
    return DkimFact(domain, selectors, found, base.rcode, errors)


# ------------------------------------------------------------------------------------------ MTA-STS / TLS-RPT


@probe("dns.mta_sts", fact=TxtFact)
def probe_mta_sts_txt(ctx: ProbeContext, domain: str) -> TxtFact:
    return _txt(ctx, f"_mta-sts.{domain}", "dns.mta_sts")


@probe("dns.tlsrpt", fact=TxtFact)
def probe_tlsrpt(ctx: ProbeContext, domain: str) -> TxtFact:
    return _txt(ctx, f"_smtp._tls.{domain}", "dns.tlsrpt")


MAX_POLICY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class StsPolicyFetch:
    """Fetching https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.3)."""

    url: str
    fetched: bool  # a request was made
    address: str = ""
    status: int | None = None
    content_type: str = ""
    body: str = ""
    problem: str = ""  # "" | no-record | no-host | redirect | http-status | too-large | tls | not-utf8
    detail: str = ""
    location: str = ""  # where a redirect pointed


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """Connect to an address we resolved ourselves, while SNI and the certificate check use the name."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(connections, maxsize, block, **kwargs)


def _url_host(address: str) -> str:
    return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address


def https_port(ctx: ProbeContext) -> int:
    """443, unless the profile setting ``https_port`` says otherwise (the demo and tests)."""
    try:
        port = int(ctx.settings.get("https_port", 443))
    except (TypeError, ValueError):
        return 443
    return port if 0 < port < 65536 else 443


def fetch_policy(ctx: ProbeContext, host: str, address: str, url: str) -> StsPolicyFetch:
    session = ctx.http()
    adapter = _PinnedAdapter(host)
    port = https_port(ctx)
    netloc = _url_host(address) + ("" if port == 443 else f":{port}")
    request = requests.Request("GET", f"https://{netloc}/.well-known/mta-sts.txt", headers={"Host": host})
    prepared = session.prepare_request(request)
    try:
        with ctx.connection_slot(address):
            verify = session.verify if session.verify is not None else True
            response = adapter.send(prepared, stream=True, timeout=(ctx.timeout, ctx.timeout), verify=verify, proxies={})
            try:
                status = response.status_code
                content_type = response.headers.get("Content-Type", "")
                if 300 <= status < 400:
                    return StsPolicyFetch(url, True, address, status, content_type, problem="redirect",
                                          location=response.headers.get("Location", "")[:200])  # fmt: skip
                if status != 200:
                    return StsPolicyFetch(url, True, address, status, content_type, problem="http-status")
                body = b""
                deadline = time.monotonic() + 3 * ctx.timeout  # a server dripping bytes cannot hold us
                for chunk in response.iter_content(8192):
                    body += chunk
                    if time.monotonic() > deadline:
                        raise ProbeTimeout(f"{url} ({address}) was too slow", probe="http.mta_sts", target=host)
                    if len(body) > MAX_POLICY_BYTES:
                        return StsPolicyFetch(url, True, address, status, content_type, problem="too-large",
                                              detail=f"more than {MAX_POLICY_BYTES} bytes")  # fmt: skip
            finally:
                response.close()
    except requests.exceptions.SSLError as exc:
        return StsPolicyFetch(url, True, address, problem="tls", detail=str(exc)[:300])
    except requests.exceptions.Timeout as exc:
        raise ProbeTimeout(f"{url} ({address}) did not answer in time", probe="http.mta_sts", target=host) from exc
    except (requests.exceptions.RequestException, OSError) as exc:
        raise TargetUnreachable(f"{url} ({address}): {exc}", probe="http.mta_sts", target=host) from exc
    finally:
        adapter.close()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return StsPolicyFetch(url, True, address, status, content_type, problem="not-utf8")
    return StsPolicyFetch(url, True, address, status, content_type, body=text)


@probe("http.mta_sts", fact=StsPolicyFetch)
def probe_mta_sts_policy(ctx: ProbeContext, domain: str) -> StsPolicyFetch:
    host = f"mta-sts.{domain}"
    url = f"https://{host}/.well-known/mta-sts.txt"
    txt: TxtFact = ctx.fact("dns.mta_sts")
    if not any(is_sts_candidate(s) for s in txt.strings):
        return StsPolicyFetch(url, False, problem="no-record")
    addresses: list[str] = []
    for rdtype in ("A", "AAAA"):
        answer = lookup(ctx.resolver, host, rdtype, probe="http.mta_sts")
        addresses.extend(answer.records)
        if not answer.exists:
            break
    if not addresses:
        return StsPolicyFetch(url, False, problem="no-host", detail=f"{host} has no address")
    last: ProbeError | None = None
    for address in addresses:
        ctx.admit(address, host)
        try:
            return fetch_policy(ctx, host, address, url)
        except (ProbeTimeout, TargetUnreachable) as exc:
            last = exc  # try the next address
    assert last is not None
    raise last
