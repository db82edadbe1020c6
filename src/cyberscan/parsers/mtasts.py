"""MTA-STS (RFC 8461): the ``_mta-sts`` TXT record and the policy file. Pure and total."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numbers import small_int
from .tagvalue import Issue, parse_tag_list

MODES = ("enforce", "testing", "none")
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_MX_PATTERN = re.compile(r"^(\*\.)?([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*\.?$")


@dataclass(frozen=True, slots=True)
class StsRecord:
    text: str
    id: str | None
    errors: tuple[Issue, ...]


@dataclass(frozen=True, slots=True)
class StsPolicy:
    version: str | None
    mode: str | None
    mx: tuple[str, ...]
    max_age: int | None
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not self.errors


def is_sts_candidate(text: str) -> bool:
    return text.replace(" ", "").lower().startswith("v=stsv")


def parse_sts_record(text: str) -> StsRecord:
    parsed = parse_tag_list(text)
    errors = [i for i in parsed.issues if i.code != "empty-tag"]
    if not parsed.tags or parsed.tags[0] != ("v", "STSv1"):
        errors.append(Issue("bad-version", "v=STSv1"))
    sts_id = parsed.get("id")
    if sts_id is None:
        errors.append(Issue("missing-id", "no id= tag"))
    elif not _ID.match(sts_id):
        errors.append(Issue("bad-id", sts_id[:40]))
    return StsRecord(text, sts_id, tuple(errors))


def parse_sts_policy(body: str) -> StsPolicy:
    """Parse the policy file: ``key: value`` lines separated by LF or CRLF (RFC 8461 3.2)."""
    errors: list[Issue] = []
    warnings: list[Issue] = []
    values: dict[str, str] = {}
    mx: list[str] = []
    for number, line in enumerate(body.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        if ":" not in line:
            errors.append(Issue("bad-line", f"line {number}: {line[:60]}"))
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "mx":
            if not _MX_PATTERN.match(value):
                errors.append(Issue("bad-mx", value[:80]))
            else:
                mx.append(value.lower().rstrip("."))
            continue
        if key in values:
            warnings.append(Issue("duplicate-key", key))
            continue  # the first one counts
        values[key] = value
    version = values.get("version")
    if version != "STSv1":
        errors.append(Issue("bad-version", version or "missing"))
    mode = values.get("mode")
    if mode not in MODES:
        errors.append(Issue("bad-mode", mode or "missing"))
        mode = None
    max_age: int | None = None
    raw_age = values.get("max_age")
    if raw_age is None:
        errors.append(Issue("missing-max-age", ""))
    elif (age := small_int(raw_age, max_digits=10)) is None or age > 31557600:
        errors.append(Issue("bad-max-age", raw_age[:20]))
    else:
        max_age = int(raw_age)
    if mode in ("enforce", "testing") and not mx:
        errors.append(Issue("missing-mx", "mx"))
    return StsPolicy(version, mode, tuple(mx), max_age, tuple(errors), tuple(warnings))


def mx_matches(host: str, pattern: str) -> bool:
    """RFC 8461 4.1: exact match, or ``*.example.nl`` matching exactly one extra leftmost label."""
    host = host.lower().rstrip(".")
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)] and len(host) > len(suffix)
    return host == pattern
