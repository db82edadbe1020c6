"""E-mail facts from DNS and HTTPS: TXT records, the SPF include tree, DMARC, DKIM keys, the MTA-STS policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from . import migrates


@dataclass(frozen=True, slots=True)
class TxtFact:
    """The TXT strings at one name (character-strings joined), and whether the name exists."""

    VERSION: ClassVar[int] = 1
    name: str
    rcode: str
    strings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SpfNode:
    """One SPF record visited while following includes and redirects."""

    domain: str
    via: str  # "root" | "include" | "redirect"
    depth: int
    parent: str  # "" for the root
    records: tuple[str, ...]  # SPF records found at the domain (one is right)
    rcode: str = "NOERROR"
    error: str = ""  # RFC 7208 terms: "" | no-record | multiple-records | syntax | loop | temp-error | macro


@dataclass(frozen=True, slots=True)
class SpfFact:
    VERSION: ClassVar[int] = 1
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


@dataclass(frozen=True, slots=True)
class ReportAuthorisation:
    """RFC 7489 7.1: an outside domain must agree to receive the domain's reports."""

    report_domain: str
    name: str  # <domain>._report._dmarc.<report domain>
    authorised: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class DmarcFact:
    VERSION: ClassVar[int] = 1
    domain: str
    org_domain: str
    name: str  # the _dmarc name whose records apply
    records: tuple[str, ...]  # DMARC records there (exactly one is right)
    other_txt: tuple[str, ...]  # other TXT strings at that name (ignored by receivers)
    inherited: bool  # no record at the domain itself: the organisational domain's applies
    authorisations: tuple[ReportAuthorisation, ...] = ()


@dataclass(frozen=True, slots=True)
class DkimSelector:
    selector: str
    name: str
    rcode: str
    records: tuple[str, ...]  # TXT strings that look like DKIM key records
    aliases: tuple[str, ...] = ()  # CNAMEs followed (hosted mail often delegates selectors)


@dataclass(frozen=True, slots=True)
class DkimFact:
    VERSION: ClassVar[int] = 1
    domain: str
    selectors_tried: tuple[str, ...]
    found: tuple[DkimSelector, ...]
    domainkey_rcode: str  # of _domainkey.<domain>: NXDOMAIN suggests no keys at all (RFC 8020)
    errors: tuple[str, ...] = ()  # "selector: reason" for lookups that failed


@dataclass(frozen=True, slots=True)
class StsPolicyFetch:
    """Fetching https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.3)."""

    VERSION: ClassVar[int] = 2
    url: str
    fetched: bool  # a request was made
    address: str = ""
    status: int | None = None
    content_type: str = ""
    body: str = ""
    problem: str = ""  # "" | no-record | no-host | redirect | http-status | tls | not-utf8
    detail: str = ""
    location: str = ""  # where a redirect pointed


@migrates(StsPolicyFetch, 1)
def _sts_v1(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("problem") == "too-large":  # a cut-off answer is not judged any more
        raise ValueError("too-large")
    return data

