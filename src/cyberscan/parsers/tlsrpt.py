"""SMTP TLS reporting record (RFC 8460 3): ``v=TLSRPTv1; rua=mailto:...,https://...``. Pure and total."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .tagvalue import Issue, parse_tag_list


@dataclass(frozen=True, slots=True)
class TlsRptRecord:
    text: str
    rua: tuple[str, ...]
    errors: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not self.errors


def is_tlsrpt_candidate(text: str) -> bool:
    return text.replace(" ", "").lower().startswith("v=tlsrpt")


def parse_tlsrpt(text: str) -> TlsRptRecord:
    parsed = parse_tag_list(text)
    errors = [i for i in parsed.issues if i.code != "empty-tag"]
    if not parsed.tags or parsed.tags[0] != ("v", "TLSRPTv1"):
        errors.append(Issue("bad-version", "v=TLSRPTv1"))
    rua: list[str] = []
    raw = parsed.get("rua")
    if raw is None:
        errors.append(Issue("missing-rua", "no rua= tag"))
    else:
        for item in raw.split(","):
            uri = item.strip()
            scheme, _, rest = uri.partition(":")
            scheme = scheme.lower()
            if scheme == "mailto" and "@" in rest and rest.split("@", 1)[0] and "." in rest.split("@", 1)[1]:
                rua.append(uri)
            elif scheme == "https" and _https_host(uri):
                rua.append(uri)
            else:
                errors.append(Issue("bad-uri", uri[:80] or "empty"))
    return TlsRptRecord(text, tuple(rua), tuple(errors))


def _https_host(uri: str) -> str:
    try:
        return urlsplit(uri).hostname or ""
    except ValueError:
        return ""
