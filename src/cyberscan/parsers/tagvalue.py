"""Tag-value lists (``tag=value; tag=value``) as used by DKIM, DMARC, MTA-STS and TLS-RPT TXT records.

Pure and total: never raises. Problems are reported as :class:`Issue` codes with a short detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem found while parsing: a stable ``code`` (for message keys) and a ``detail`` for people."""

    code: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


@dataclass(frozen=True, slots=True)
class TagList:
    tags: tuple[tuple[str, str], ...]  # (lowercased tag name, value with surrounding whitespace removed)
    issues: tuple[Issue, ...]

    def get(self, name: str) -> str | None:
        for tag, value in self.tags:
            if tag == name:
                return value
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(tag for tag, _ in self.tags)


def parse_tag_list(text: str) -> TagList:
    """Split ``text`` on ``;`` into tags (RFC 6376 3.2). Duplicate tags and bad tag names are issues."""
    tags: list[tuple[str, str]] = []
    issues: list[Issue] = []
    seen: set[str] = set()
    parts = text.split(";")
    for index, part in enumerate(parts):
        chunk = part.strip(" \t\r\n")
        if not chunk:
            if index != len(parts) - 1 and index != 0:
                issues.append(Issue("empty-tag", f"position {index + 1}"))
            continue
        if "=" not in chunk:
            issues.append(Issue("tag-without-value", chunk[:60]))
            continue
        name, _, value = chunk.partition("=")
        name = name.strip(" \t\r\n")
        value = value.strip(" \t\r\n")
        if not _TAG.match(name):
            issues.append(Issue("bad-tag-name", name[:60]))
            continue
        key = name.lower()
        if key in seen:
            issues.append(Issue("duplicate-tag", key))
            continue
        seen.add(key)
        tags.append((key, value))
    return TagList(tuple(tags), tuple(issues))
