"""DMARC records (RFC 7489 6.3, 6.4): tags, policy and report addresses.

``parse_dmarc`` is pure and total. A record with ``errors`` is not a usable DMARC policy; ``warnings``
are legal but unwise (e.g. ``pct`` below 100). The organisational domain is in :mod:`.orgdomain`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .numbers import small_int
from .tagvalue import Issue, parse_tag_list

POLICIES = ("none", "quarantine", "reject")
KNOWN_TAGS = ("v", "p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "rf", "ri", "np", "psd", "t")
_SIZE = re.compile(r"^\d+[kmgtKMGT]?$")
_MAILBOX = re.compile(r"^[^@\s]+@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)$")


@dataclass(frozen=True, slots=True)
class ReportUri:
    uri: str
    scheme: str  # "mailto" | "https" | other
    address: str  # mailbox for mailto, host for https
    domain: str  # the domain reports go to ("" when unparseable)


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    text: str
    policy: str | None  # p=
    subdomain_policy: str | None  # sp=, None when absent (then p applies)
    pct: int
    rua: tuple[ReportUri, ...]
    ruf: tuple[ReportUri, ...]
    adkim: str  # "r" | "s"
    aspf: str
    tags: tuple[tuple[str, str], ...]
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not self.errors


def is_dmarc_candidate(text: str) -> bool:
    """Whether a TXT string at ``_dmarc`` is meant as DMARC (a ``v=DMARC`` start, even malformed)."""
    return text.strip().replace(" ", "").lower().startswith("v=dmarc")


def parse_uri_list(value: str) -> tuple[tuple[ReportUri, ...], list[Issue]]:
    uris: list[ReportUri] = []
    issues: list[Issue] = []
    for raw in value.split(","):
        uri = raw.strip()
        if not uri:
            issues.append(Issue("bad-uri", "''"))
            continue
        target = uri.split("!", 1)[0]  # optional size limit: mailto:a@b.nl!10m
        if "!" in uri and not _SIZE.match(uri.split("!", 1)[1]):
            issues.append(Issue("bad-uri", uri))
        scheme, _, rest = target.partition(":")
        scheme = scheme.lower()
        if scheme == "mailto":
            mailbox = rest.split("?", 1)[0]
            match = _MAILBOX.match(mailbox)
            if not match:
                issues.append(Issue("bad-uri", uri))
                uris.append(ReportUri(uri, scheme, mailbox, ""))
                continue
            uris.append(ReportUri(uri, scheme, mailbox, match.group(1).lower().rstrip(".")))
        elif scheme == "https":
            try:
                host = urlsplit(target).hostname or ""
            except ValueError:
                host = ""
            if not host:
                issues.append(Issue("bad-uri", uri))
            uris.append(ReportUri(uri, scheme, host, host.lower()))
        else:
            issues.append(Issue("unsupported-uri", uri))
            uris.append(ReportUri(uri, scheme, rest, ""))
    return tuple(uris), issues


def parse_dmarc(text: str) -> DmarcRecord:
    errors: list[Issue] = []
    warnings: list[Issue] = []
    parsed = parse_tag_list(text)
    for issue in parsed.issues:
        (warnings if issue.code == "empty-tag" else errors).append(issue)
    tags = parsed.tags
    if not tags or tags[0][0] != "v":
        errors.append(Issue("v-not-first", "v=DMARC1"))
    elif tags[0][1] != "DMARC1":
        errors.append(Issue("bad-version", tags[0][1][:40]))
    policy_raw = parsed.get("p")
    policy: str | None = None
    if policy_raw is None:
        errors.append(Issue("missing-p", "no p= tag"))
    elif policy_raw.lower() not in POLICIES:
        errors.append(Issue("bad-p", policy_raw[:40]))
    else:
        policy = policy_raw.lower()
        if tags and len(tags) > 1 and tags[1][0] != "p":
            warnings.append(Issue("p-not-second", "p="))
    sp_raw = parsed.get("sp")
    subdomain_policy: str | None = None
    if sp_raw is not None:
        if sp_raw.lower() in POLICIES:
            subdomain_policy = sp_raw.lower()
        else:
            errors.append(Issue("bad-sp", sp_raw[:40]))
    pct = 100
    pct_raw = parsed.get("pct")
    if pct_raw is not None:
        number = small_int(pct_raw)
        if number is not None and 0 <= number <= 100:
            pct = number
            if pct < 100:
                warnings.append(Issue("pct-below-100", str(pct)))
        else:
            errors.append(Issue("bad-pct", pct_raw[:40]))
    alignment = {}
    for tag in ("adkim", "aspf"):
        raw = parsed.get(tag)
        if raw is None:
            alignment[tag] = "r"
        elif raw.lower() in ("r", "s"):
            alignment[tag] = raw.lower()
        else:
            alignment[tag] = "r"
            errors.append(Issue(f"bad-{tag}", raw[:40]))
    rua: tuple[ReportUri, ...] = ()
    ruf: tuple[ReportUri, ...] = ()
    if (raw_rua := parsed.get("rua")) is not None:
        rua, issues = parse_uri_list(raw_rua)
        errors.extend(Issue(f"rua-{i.code}", i.detail) for i in issues)
    if (raw_ruf := parsed.get("ruf")) is not None:
        ruf, issues = parse_uri_list(raw_ruf)
        errors.extend(Issue(f"ruf-{i.code}", i.detail) for i in issues)
    ri = parsed.get("ri")
    if ri is not None and not ri.isdigit():
        errors.append(Issue("bad-ri", ri[:40]))
    fo = parsed.get("fo")
    if fo is not None and not all(part.strip() in ("0", "1", "d", "s") for part in fo.split(":")):
        errors.append(Issue("bad-fo", fo[:40]))
    for tag, _ in tags:
        if tag not in KNOWN_TAGS:
            warnings.append(Issue("unknown-tag", tag))
    return DmarcRecord(
        text=text,
        policy=policy,
        subdomain_policy=subdomain_policy,
        pct=pct,
        rua=rua,
        ruf=ruf,
        adkim=alignment["adkim"],
        aspf=alignment["aspf"],
        tags=tags,
        errors=tuple(errors),
        warnings=tuple(warnings),
    )
