"""Pure, total parsers for HTTP response headers and HTML hints. They never raise on any input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from .numbers import capped_int


@dataclass(frozen=True, slots=True)
class Hsts:
    max_age: int | None  # None when absent or not a number
    include_subdomains: bool
    preload: bool
    valid: bool  # exactly one well-formed max-age directive


def parse_hsts(value: str) -> Hsts:
    """``Strict-Transport-Security`` (RFC 6797 6.1): directives separated by ``;``."""
    max_age: int | None = None
    seen_max_age = 0
    include = preload = False
    valid = True
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, raw = part.partition("=")
        name = name.strip().lower()
        raw = raw.strip().strip('"')
        if name == "max-age":
            seen_max_age += 1
            number = capped_int(raw)
            if number is not None:
                max_age = number
            else:
                valid = False
        elif name == "includesubdomains":
            include = True
        elif name == "preload":
            preload = True
    if seen_max_age != 1:
        valid = False
        if seen_max_age > 1:
            max_age = None
    return Hsts(max_age, include, preload, valid and max_age is not None)


@dataclass(frozen=True, slots=True)
class Cookie:
    name: str
    secure: bool
    http_only: bool
    same_site: str  # "" when absent, else the value as given, lowercased


def parse_set_cookie(value: str) -> Cookie:
    """One ``Set-Cookie`` header value (RFC 6265 5.2): name and the security attributes."""
    first, *attrs = value.split(";")
    name = first.partition("=")[0].strip()
    secure = http_only = False
    same_site = ""
    for attr in attrs:
        key, _, val = attr.strip().partition("=")
        key = key.strip().lower()
        if key == "secure":
            secure = True
        elif key == "httponly":
            http_only = True
        elif key == "samesite":
            same_site = val.strip().lower() or "invalid"
    return Cookie(name, secure, http_only, same_site)


def csp_directive(policy: str, directive: str) -> str | None:
    """The value of one directive in a Content-Security-Policy, or None when absent."""
    directive = directive.lower()
    for part in policy.split(";"):
        tokens = part.strip().split(None, 1)
        if tokens and tokens[0].lower() == directive:
            return tokens[1].strip() if len(tokens) > 1 else ""
    return None


@dataclass(frozen=True, slots=True)
class Product:
    name: str  # lowercase product token, e.g. "nginx", "apache", "php"
    version: str  # "" when not disclosed
    raw: str


# the version may carry a distribution's package revision: "7.4.33-1+deb11u5", "8.2.29-1~deb12u1"
_PRODUCT = re.compile(r"([A-Za-z][A-Za-z0-9_.!\-]*?)(?:[/ ]v?(\d+(?:\.\d+){0,3}[A-Za-z0-9\-+~.]*))?(?=[\s;,(/]|$)")
_ALIASES = {
    "apache": "apache",
    "apache-coyote": "tomcat",
    "microsoft-iis": "iis",
    "nginx": "nginx",
    "openresty": "openresty",
    "php": "php",
    "litespeed": "litespeed",
    "lighttpd": "lighttpd",
    "caddy": "caddy",
    "openssl": "openssl",
    "asp.net": "asp.net",
    "express": "express",
    "wordpress": "wordpress",
    "drupal": "drupal",
    "joomla!": "joomla",
    "joomla": "joomla",
    "typo3": "typo3",
    "plone": "plone",
    "wix.com": "wix",
}


def parse_products(value: str) -> tuple[Product, ...]:
    """Products named in a ``Server``/``X-Powered-By`` header or a generator tag, with versions if given.

    ``"Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f"`` -> apache 2.4.41, openssl 1.1.1f;
    ``"WordPress 6.1.1"`` -> wordpress 6.1.1; ``"nginx"`` -> nginx without version.
    """
    out: list[Product] = []
    text = value.strip()[:500]
    # drop parenthesised comments such as "(Ubuntu)" or "(Win64)"
    text = re.sub(r"\([^)]*\)", " ", text)
    for match in _PRODUCT.finditer(text):
        token, version = match.group(1), match.group(2) or ""
        if not token:
            continue
        key = _ALIASES.get(token.lower())
        if key is None:
            continue
        if any(p.name == key for p in out):
            continue
        out.append(Product(key, version, match.group(0).strip()))
    return tuple(out)


class _GeneratorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() != "meta":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        if values.get("name", "").lower() == "generator" and values.get("content"):
            self.found.append(values["content"].strip()[:200])


def generators(html: str) -> tuple[str, ...]:
    """Every ``<meta name="generator" content="...">`` in an HTML page (e.g. "WordPress 6.4.2")."""
    parser = _GeneratorParser()
    try:
        parser.feed(html[:512 * 1024])
        parser.close()
    except (AssertionError, ValueError):  # html.parser can choke on broken markup
        pass
    return tuple(dict.fromkeys(parser.found))[:10]
