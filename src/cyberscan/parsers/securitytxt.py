"""RFC 9116 security.txt: a pure, total parser (never raises on any input)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_FIELD = re.compile(r"^([A-Za-z0-9-]+):\s*(.*?)\s*$")
_SIG_BEGIN = "-----BEGIN PGP SIGNED MESSAGE-----"
_SIG_MID = "-----BEGIN PGP SIGNATURE-----"
_SIG_END = "-----END PGP SIGNATURE-----"
KNOWN = {"acknowledgments", "canonical", "contact", "encryption", "expires", "hiring", "policy",
         "preferred-languages", "csaf"}


@dataclass(frozen=True, slots=True)
class SecurityTxt:
    fields: tuple[tuple[str, str], ...]  # (lowercase name, value) in order
    contacts: tuple[str, ...]
    expires_raw: tuple[str, ...]  # every Expires value (RFC: exactly one)
    expires: datetime | None  # the single Expires, parsed, when valid
    canonical: tuple[str, ...]
    signed: bool  # an OpenPGP cleartext signature wraps the content
    errors: tuple[str, ...]  # machine-readable problems: "no-contact", "no-expires", "bad-expires", ...

    def values(self, name: str) -> tuple[str, ...]:
        return tuple(v for k, v in self.fields if k == name.lower())


def parse_datetime(value: str) -> datetime | None:
    """An RFC 3339 / ISO 8601 date-time with offset, as RFC 9116 requires; None if invalid."""
    text = value.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$", text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else None
    except (ValueError, OverflowError):  # e.g. 9999-12-31T23:59:59-00:01 lies past the last year UTC can hold
        return None


def _unwrap_signed(text: str) -> tuple[str, bool, list[str]]:
    """The signed content of an OpenPGP cleartext message, unescaping dash-escaped lines."""
    lines = text.splitlines()
    errors: list[str] = []
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == _SIG_BEGIN)
    except StopIteration:
        return text, False, errors
    try:
        mid = next(i for i, line in enumerate(lines) if line.strip() == _SIG_MID and i > start)
    except StopIteration:
        return text, False, ["bad-signature-block"]
    if not any(line.strip() == _SIG_END for line in lines[mid:]):
        errors.append("bad-signature-block")
    body = lines[start + 1 : mid]
    # skip armor headers ("Hash: SHA256") up to the first empty line
    while body and body[0].strip():
        body = body[1:]
    content = [line[2:] if line.startswith("- ") else line for line in body[1:]]
    return "\n".join(content), True, errors


def parse_securitytxt(text: str) -> SecurityTxt:
    content, signed, errors = _unwrap_signed(text[: 256 * 1024])
    fields: list[tuple[str, str]] = []
    for line in content.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _FIELD.match(stripped)
        if not match:
            if "invalid-line" not in errors:
                errors.append("invalid-line")
            continue
        fields.append((match.group(1).lower(), match.group(2)))
    contacts = tuple(v for k, v in fields if k == "contact")
    expires_raw = tuple(v for k, v in fields if k == "expires")
    canonical = tuple(v for k, v in fields if k == "canonical")
    expires = None
    if not contacts:
        errors.append("no-contact")
    if not expires_raw:
        errors.append("no-expires")
    elif len(expires_raw) > 1:
        errors.append("multiple-expires")
    else:
        expires = parse_datetime(expires_raw[0])
        if expires is None:
            errors.append("bad-expires")
    for contact in contacts:
        if not re.match(r"^(mailto:|https://|tel:)", contact, re.IGNORECASE):
            if "bad-contact" not in errors:
                errors.append("bad-contact")
    return SecurityTxt(tuple(fields), contacts, expires_raw, expires, canonical, signed, tuple(errors))


def looks_like_securitytxt(content_type: str, text: str) -> bool:
    """A served file is plausibly security.txt: text/plain, not an HTML error page."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype and ctype != "text/plain":
        return False
    head = text.lstrip()[:200].lower()
    return not (head.startswith("<!doctype") or head.startswith("<html"))
