"""What the user asked us to scan, and what we may therefore contact.

``normalize_domain`` turns user input (an IDN, a URL, an e-mail address) into an ASCII domain name or
raises :class:`UsageError`. :class:`Scope` decides which addresses a probe may connect to: public
addresses of names inside the scanned domains, and loopback/private ones only with ``allow_private``.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import idna

from .errors import OutOfScope, UsageError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class Normalized:
    domain: str
    original: str
    notice: str | None = None  # "url" | "email" | "idn" when the input was rewritten


def normalize_domain(raw: str) -> Normalized:
    """Validate and normalise a domain name given by the user."""
    original = raw
    value = raw.strip()
    notice = None
    if not value:
        raise UsageError("domain.empty")
    if "://" in value or value.startswith("//"):
        host = urlsplit(value if "://" in value else "http:" + value).hostname
        if not host:
            raise UsageError("domain.url-without-host", value=original)
        value, notice = host, "url"
    elif "@" in value:
        local, _, host = value.rpartition("@")
        if not local or not host:
            raise UsageError("domain.invalid", value=original)
        value, notice = host, "email"
    elif "/" in value:
        value = value.split("/", 1)[0]
        notice = "url"
    value = value.rstrip(".").lower()
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        pass
    else:
        raise UsageError("domain.ip-address", value=original)
    if any(ord(ch) > 127 for ch in value):
        try:
            value = idna.encode(value, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise UsageError("domain.bad-idn", value=original) from exc
        notice = notice or "idn"
    labels = value.split(".")
    if len(labels) < 2 or len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UsageError("domain.invalid", value=original)
    if labels[-1].isdigit():
        raise UsageError("domain.invalid", value=original)
    return Normalized(value, original, notice)


def is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global


def in_domain(name: str, domain: str) -> bool:
    name = name.rstrip(".").lower()
    domain = domain.rstrip(".").lower()
    return name == domain or name.endswith("." + domain)


@dataclass(slots=True)
class Scope:
    """Addresses a scan may contact, and a record of those it did contact."""

    domains: tuple[str, ...]
    allow_private: bool = False
    extra_hosts: tuple[str, ...] = ()
    probed: dict[str, set[str]] = field(default_factory=dict)  # address -> names it was reached as
    refused: dict[str, set[str]] = field(default_factory=dict)  # address -> names, refused for privacy
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def permits(self, address: str) -> bool:
        return self.allow_private or not is_private(address)

    def admit(self, address: str, name: str) -> None:
        """Record that ``address`` (reached as ``name``) is about to be contacted, or raise OutOfScope."""
        with self._lock:
            if not self.permits(address):
                self.refused.setdefault(address, set()).add(name)
                raise OutOfScope(f"{name} {address}: private", target=name)
            self.probed.setdefault(address, set()).add(name)

    def summary(self) -> dict[str, list[str]]:
        with self._lock:
            return {addr: sorted(names) for addr, names in sorted(self.probed.items())}
