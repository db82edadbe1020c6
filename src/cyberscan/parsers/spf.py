"""SPF records (RFC 7208): syntax, terms and the facts the evaluation limits need.

``parse_spf`` is pure and total: any text gives an :class:`SpfRecord` whose ``errors`` make the
record a permanent error (RFC 7208 4.6) and whose ``warnings`` are bad practice (e.g. ``ptr``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .numbers import small_int
from .tagvalue import Issue

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_MECHANISMS = ("include", "a", "mx", "ptr", "exists")  # each costs one DNS lookup (4.6.4)
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}

_MODIFIER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.]*$")
_MACRO = re.compile(r"%(?:\{[slodiphcrtvSLODIPHCRTV][0-9]*r?[.\-+,/_=]*\}|%|_|-)")
_DOMAIN_CHARS = re.compile(r"^[\x21-\x24\x26-\x7e]+$")  # visible characters except '%'
_TOPLABEL = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Term:
    kind: str  # "mechanism" | "modifier"
    name: str  # lowercased mechanism or modifier name
    qualifier: str = "+"  # mechanisms only
    value: str | None = None  # domain-spec, network or modifier value
    cidr4: int | None = None
    cidr6: int | None = None

    @property
    def result(self) -> str:
        return QUALIFIERS.get(self.qualifier, "pass")

    @property
    def has_macro(self) -> bool:
        return self.value is not None and "%" in self.value

    def __str__(self) -> str:
        if self.kind == "modifier":
            return f"{self.name}={self.value or ''}"
        text = ("" if self.qualifier == "+" else self.qualifier) + self.name
        if self.value is not None:
            text += f":{self.value}"
        if self.cidr4 is not None:
            text += f"/{self.cidr4}"
        if self.cidr6 is not None:
            text += f"/{self.cidr6}" if self.name == "ip6" else f"//{self.cidr6}"
        return text


@dataclass(frozen=True, slots=True)
class SpfRecord:
    text: str
    terms: tuple[Term, ...]
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def mechanisms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.kind == "mechanism")

    def modifier(self, name: str) -> str | None:
        for term in self.terms:
            if term.kind == "modifier" and term.name == name:
                return term.value
        return None

    @property
    def redirect(self) -> str | None:
        """The redirect target, unless an ``all`` mechanism makes it ineffective (6.1)."""
        if self.all_term is not None:
            return None
        return self.modifier("redirect")

    @property
    def all_term(self) -> Term | None:
        for term in self.mechanisms:
            if term.name == "all":
                return term
        return None

    @property
    def lookup_terms(self) -> tuple[Term, ...]:
        """Terms that cost a DNS lookup, in evaluation order (the redirect last, when effective)."""
        out = [t for t in self.mechanisms if t.name in LOOKUP_MECHANISMS]
        if self.redirect is not None:
            out.append(Term("modifier", "redirect", value=self.redirect))
        return tuple(out)

    @property
    def authorises_senders(self) -> bool:
        """Whether any mechanism could give ``pass``: the domain (or someone for it) sends mail."""
        return any(t.qualifier == "+" and t.name != "all" for t in self.mechanisms) or self.redirect is not None


def is_spf(text: str) -> bool:
    """RFC 7208 4.5: a record is SPF when it is exactly ``v=spf1`` or starts with ``v=spf1 ``."""
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def valid_domain_spec(spec: str) -> bool:
    """``domain-spec`` of RFC 7208 7.1: macro-string ending in a top label or a macro."""
    if not spec or len(spec) > 1000:
        return False
    stripped = _MACRO.sub("", spec)
    if "%" in stripped or (stripped and not _DOMAIN_CHARS.match(stripped)):
        return False
    if _MACRO.search(spec.rstrip(".")) and _MACRO.sub("M", spec.rstrip(".")).endswith("M"):
        return True  # ends in a macro-expand
    labels = spec.rstrip(".").split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return False
    return bool(_TOPLABEL.match(labels[-1])) and not labels[-1].isdigit()


def _cidr(raw: str, *, v4: bool, v6: bool) -> tuple[str, int | None, int | None, str | None]:
    """Split ``value/cidr4//cidr6``; return (value, cidr4, cidr6, error)."""
    value, cidr4, cidr6 = raw, None, None
    if v6 and "//" in value:
        value, _, six = value.partition("//")
        if small_int(six, max_digits=3) is None or int(six) > 128 or (len(six) > 1 and six[0] == "0"):
            return value, None, None, f"bad IPv6 prefix length /{six}"
        cidr6 = int(six)
    if v4 and "/" in value:
        value, _, four = value.rpartition("/")
        if small_int(four, max_digits=2) is None or int(four) > 32 or (len(four) > 1 and four[0] == "0"):
            return value, None, None, f"bad IPv4 prefix length /{four}"
        cidr4 = int(four)
    return value, cidr4, cidr6, None


def _mechanism(qualifier: str, name: str, arg: str | None, raw: str) -> tuple[Term | None, Issue | None]:
    if name == "all":
        if arg is not None:
            return None, Issue("bad-mechanism", raw)
        return Term("mechanism", "all", qualifier), None
    if name in ("include", "exists"):
        if not arg or not valid_domain_spec(arg):
            return None, Issue("bad-domain", raw)
        return Term("mechanism", name, qualifier, arg), None
    if name == "ptr":
        if arg is not None and not valid_domain_spec(arg):
            return None, Issue("bad-domain", raw)
        return Term("mechanism", name, qualifier, arg), None
    if name in ("a", "mx"):
        if arg is None:
            return Term("mechanism", name, qualifier), None
        rest = arg
        domain = None
        if not rest.startswith("/"):
            slash = rest.find("/")
            domain, rest = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
            if not valid_domain_spec(domain):
                return None, Issue("bad-domain", raw)
        _, cidr4, cidr6, error = _cidr("x" + rest, v4=True, v6=True)
        if error:
            return None, Issue("bad-cidr", f"{raw} ({error})")
        return Term("mechanism", name, qualifier, domain, cidr4, cidr6), None
    if name in ("ip4", "ip6"):
        if not arg:
            return None, Issue("bad-ip", raw)
        value, cidr4, cidr6, error = _cidr(arg, v4=name == "ip4", v6=False)
        if name == "ip6" and "/" in arg:
            value, _, six = arg.rpartition("/")
            if small_int(six, max_digits=3) is None or int(six) > 128 or (len(six) > 1 and six[0] == "0"):
                return None, Issue("bad-cidr", raw)
            cidr6 = int(six)
            error = None
        if error:
            return None, Issue("bad-cidr", f"{raw} ({error})")
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return None, Issue("bad-ip", raw)
        if address.version != (4 if name == "ip4" else 6):
            return None, Issue("bad-ip", raw)
        return Term("mechanism", name, qualifier, value, cidr4, cidr6), None
    return None, Issue("unknown-mechanism", raw)


def parse_spf(text: str) -> SpfRecord:
    """Parse one SPF record (the TXT strings already joined)."""
    errors: list[Issue] = []
    warnings: list[Issue] = []
    terms: list[Term] = []
    if not is_spf(text):
        return SpfRecord(text, (), (Issue("not-spf", text[:40]),), ())
    if any(ord(ch) > 127 for ch in text):
        errors.append(Issue("non-ascii", ""))
    body = text[6:]
    if "\t" in body or "\n" in body or "\r" in body:
        errors.append(Issue("bad-whitespace", "\\t"))
    seen_all = False
    modifiers_seen: set[str] = set()
    for raw in body.replace("\t", " ").split(" "):
        if not raw:
            continue
        if "=" in raw and (":" not in raw or raw.index("=") < raw.index(":")) and raw[0] not in QUALIFIERS:
            name, _, value = raw.partition("=")
            if not _MODIFIER_NAME.match(name):
                errors.append(Issue("bad-modifier", raw))
                continue
            key = name.lower()
            if key in ("redirect", "exp"):
                if key in modifiers_seen:
                    errors.append(Issue("duplicate-modifier", key))
                    continue
                if not valid_domain_spec(value):
                    errors.append(Issue("bad-domain", raw))
                    continue
            modifiers_seen.add(key)
            terms.append(Term("modifier", key, value=value))
            continue
        qualifier = "+"
        body_term = raw
        if raw[0] in QUALIFIERS:
            qualifier, body_term = raw[0], raw[1:]
        sep = len(body_term)
        for i, ch in enumerate(body_term):
            if ch in ":/":
                sep = i
                break
        name = body_term[:sep].lower()
        arg: str | None = None
        if sep < len(body_term):
            arg = body_term[sep + 1 :] if body_term[sep] == ":" else body_term[sep:]
            if body_term[sep] == "/" and name not in ("a", "mx"):
                errors.append(Issue("bad-mechanism", raw))
                continue
        term, issue = _mechanism(qualifier, name, arg, raw)
        if issue is not None:
            errors.append(issue)
            continue
        assert term is not None
        if seen_all:
            warnings.append(Issue("after-all", raw))
        if term.name == "all":
            seen_all = True
        if term.name == "ptr":
            warnings.append(Issue("ptr", raw))
        terms.append(term)
    record = SpfRecord(text, tuple(terms), tuple(errors), tuple(warnings))
    if record.all_term is not None and record.modifier("redirect") is not None:
        warnings.append(Issue("redirect-ignored", "all"))
    return SpfRecord(text, tuple(terms), tuple(errors), tuple(warnings))
