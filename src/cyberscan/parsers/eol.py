"""End-of-life judgement of software versions, shared by web (banners, CMS) and port-scan checks.

Pure: data in (``checks/data/eol.yaml``, available as ``catalogue.extras["eol"]`` and to evaluators
via the check's ``params``), verdict out. Usage::

    verdict = judge_version(eol_data, "php", "7.4.33", today=facts.now.date())
    verdict.status  # "end-of-life"

Data shape (per product under ``products``)::

    php:
      title: PHP
      cycles:                       # release branches, matched by version prefix
        - {cycle: "8.3", eol: 2027-12-31, latest: "8.3.14"}
      eol_before: "8.1"             # optional: versions below this are end-of-life (without it:
                                    # versions older than every listed branch are)
      min_recommended: "9.8"        # optional: versions below this are "outdated" (update advised)

Statuses: ``end-of-life`` (no more security updates upstream), ``outdated`` (branch supported, but a
newer release exists or known-exploited flaws were fixed later), ``supported``, ``unknown`` (product
or version not in the data, or no version given).

Distribution builds. Debian, Ubuntu and Red Hat backport fixes into old version numbers, so
``OpenSSH 9.2p1 Debian 2+deb12u10`` is not "OpenSSH 9.2, outdated upstream" but "a Debian 12 build,
supported as long as Debian 12 is". :func:`distribution_build` finds the upstream version and the
distribution release in a version string (``("9.2p1", "debian-12")``); :func:`identify` also unmasks
MariaDB behind MySQL's ``5.5.5-`` compatibility prefix; :func:`judge_build` is what evaluators call
for a version as a service or banner states it: a distribution build whose release is in the data
(``distributions:`` in eol.yaml) is judged by that release's support period (reason
``distribution-*``), anything else by upstream support with :func:`judge_version`::

    verdict = judge_build(eol_data, "openssh", "9.2p1 Debian 2+deb12u10", today)
    verdict.cycle, verdict.distribution, verdict.status   # "9.2", "debian-12", "supported"

Distribution data shape (per family under ``distributions``; ``security`` = end of regular security
support, ``extended`` = end of extended support (Debian LTS: free for everyone; Ubuntu ESM and RHEL
ELS: only with a subscription, ``extended_free: false``))::

    debian:
      title: Debian
      extended_free: true
      releases:
        - {release: "12", security: 2026-06-10, extended: 2028-06-30, packages: {openssh: "9.2p1"}}

``packages`` names the upstream version a release ships, so a banner that names only the family
(``OpenSSH_9.2p1 Debian-2``) still finds its release; a version shipped by two releases finds none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from .numbers import small_int

STATUSES = ("supported", "outdated", "end-of-life", "unknown")


@dataclass(frozen=True, slots=True)
class EolVerdict:
    product: str
    version: str
    status: str  # one of STATUSES
    cycle: str = ""
    eol: date | None = None
    latest: str = ""
    reason: str = ""  # "cycle-ended" | "older-than-supported" | "newer-release" | "below-recommended" |
    # "distribution-supported" | "distribution-extended" | "distribution-extended-paid" | "distribution-ended"
    title: str = ""
    upstream: str = ""  # the upstream version in ``version`` ("9.2p1" of "9.2p1 Debian 2+deb12u10")
    distribution: str = ""  # "debian-12", "ubuntu-22.04", "rhel-9"; "debian" when the release is unknown
    distribution_title: str = ""  # "Debian 12"
    distribution_eol: date | None = None  # end of the distribution support that the verdict rests on

    @property
    def by_distribution(self) -> bool:
        """The verdict rests on a distribution release's support period, not on upstream support."""
        return self.reason.startswith("distribution-")


def version_tuple(version: str) -> tuple[int, ...]:
    """Leading numeric parts: ``"9.2p1"`` -> (9, 2); ``"2.4.41"`` -> (2, 4, 41); ``"abc"`` -> ()."""
    match = re.match(r"^\s*v?(\d+(?:\.\d+)*)", version or "")
    if not match:
        return ()
    parts: list[int] = []
    for part in match.group(1).split(".")[:6]:
        number = small_int(part)
        if number is None:
            break
        parts.append(number)
    return tuple(parts)


def cycle_of(version: str) -> str:
    """The release branch a version belongs to when the data lists none: ``"9.2p1"`` -> ``"9.2"``."""
    parts = version_tuple(version)
    return ".".join(str(p) for p in parts[:2])


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def product_data(eol_data: Mapping[str, Any] | None, product: str) -> Mapping[str, Any] | None:
    products = (eol_data or {}).get("products") or {}
    if not isinstance(products, Mapping):
        return None
    key = product.lower()
    found = products.get(key)
    if isinstance(found, Mapping):
        return found
    for entry in products.values():
        if isinstance(entry, Mapping) and key in [str(a).lower() for a in entry.get("aliases") or ()]:
            return entry
    return None


def judge_version(eol_data: Mapping[str, Any] | None, product: str, version: str, today: date) -> EolVerdict:
    """Judge ``product`` at ``version`` on ``today`` against the end-of-life data. Never raises."""
    verdict = _judge_version(eol_data, product, version, today)
    if not verdict.cycle and version_tuple(version):
        return replace(verdict, cycle=cycle_of(version))
    return verdict


def _judge_version(eol_data: Mapping[str, Any] | None, product: str, version: str, today: date) -> EolVerdict:
    entry = product_data(eol_data, product)
    title = str(entry.get("title", product)) if entry else product
    ver = version_tuple(version)
    if entry is None or not ver:
        return EolVerdict(product, version, "unknown", reason="no-data" if entry is None else "no-version", title=title)
    cycles = []
    for raw in entry.get("cycles") or ():
        if not isinstance(raw, Mapping):
            continue
        cyc = version_tuple(str(raw.get("cycle", "")))
        if cyc:
            cycles.append((cyc, raw))
    match = None
    for cyc, raw in cycles:
        if ver[: len(cyc)] == cyc and (match is None or len(cyc) > len(match[0])):
            match = (cyc, raw)
    eol_before = version_tuple(str(entry.get("eol_before", "")))
    min_rec = version_tuple(str(entry.get("min_recommended", "")))
    if match is not None:
        cyc, raw = match
        eol = _date(raw.get("eol"))
        latest = str(raw.get("latest") or "")
        base = {"cycle": str(raw.get("cycle")), "eol": eol, "latest": latest, "title": title}
        if eol is not None and eol <= today:
            return EolVerdict(product, version, "end-of-life", reason="cycle-ended", **base)  # type: ignore[arg-type]
        if eol_before and ver < eol_before:
            return EolVerdict(product, version, "end-of-life", reason="older-than-supported", **base)  # type: ignore[arg-type]
        latest_t = version_tuple(latest)
        if latest_t and len(ver) >= len(latest_t) and ver < latest_t:
            return EolVerdict(product, version, "outdated", reason="newer-release", **base)  # type: ignore[arg-type]
        if min_rec and ver < min_rec:
            return EolVerdict(product, version, "outdated", reason="below-recommended", **base)  # type: ignore[arg-type]
        return EolVerdict(product, version, "supported", **base)  # type: ignore[arg-type]
    oldest = min((c for c, _ in cycles), default=None)
    if eol_before and ver < eol_before:
        return EolVerdict(product, version, "end-of-life", reason="older-than-supported", title=title)
    if not eol_before and oldest is not None and ver < oldest:  # without eol_before, older than any branch
        return EolVerdict(product, version, "end-of-life", reason="older-than-supported", title=title)
    if min_rec and ver < min_rec:
        return EolVerdict(product, version, "outdated", reason="below-recommended", title=title)
    if not cycles and (eol_before or min_rec):
        return EolVerdict(product, version, "supported", title=title)
    newest = max((c for c, _ in cycles), default=None)
    if newest is not None and ver > newest:
        return EolVerdict(product, version, "supported", reason="newer-than-known", title=title)
    return EolVerdict(product, version, "unknown", reason="no-cycle", title=title)


# ----------------------------------------------------------------------------- distribution builds

# (pattern, family, group holding the release or None); the first match wins. Tags in package
# revisions name the release; a bare name ("Debian", "(Ubuntu)") names only the family.
_DISTRO_TAGS: tuple[tuple[re.Pattern[str], str, int | None], ...] = (
    (re.compile(r"[+~.]deb(\d{1,2})u\d+", re.IGNORECASE), "debian", 1),  # 2+deb12u10, 0+deb12u1
    (re.compile(r"[+~]deb(\d{1,2})(?![0-9])", re.IGNORECASE), "debian", 1),  # 1.2-3~deb11
    (re.compile(r"[~+]bpo(\d{1,2})(?![0-9])", re.IGNORECASE), "debian", 1),  # backports: ~bpo12+1
    (re.compile(r"ubuntu0?\.(\d\d\.(?:04|10))(?![0-9])", re.IGNORECASE), "ubuntu", 1),  # 0ubuntu0.22.04.1
    (re.compile(r"[~+](?:ubuntu)?(\d\d\.(?:04|10))(?![0-9])", re.IGNORECASE), "ubuntu", 1),  # ~22.04
    (re.compile(r"[.+_]el(\d{1,2})(?![0-9])", re.IGNORECASE), "rhel", 1),  # 2.4.37-62.el8, module+el8.9.0
    (re.compile(r"debian", re.IGNORECASE), "debian", None),
    (re.compile(r"ubuntu", re.IGNORECASE), "ubuntu", None),  # 6ubuntu14.4, (Ubuntu)
    (re.compile(r"\b(?:red ?hat|rhel)\b", re.IGNORECASE), "rhel", None),
)
_CODENAMES = {"stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"}
_UPSTREAM = re.compile(r"^\s*v?(\d+(?:\.\d+)*[A-Za-z0-9.]*)")
_MARIADB_MASK = re.compile(r"^\s*5\.5\.5-(?P<version>\d+\.\d+\.\d+\S*)", re.IGNORECASE)


def distribution_build(version: str, extra: str = "") -> tuple[str, str]:
    """The upstream version and the distribution of a version string, e.g.

    ``"9.2p1 Debian 2+deb12u10"`` -> ``("9.2p1", "debian-12")``, ``"10.11.19-MariaDB-0+deb12u1"`` ->
    ``("10.11.19", "debian-12")``, ``"2.4.37-62.el8"`` -> ``("2.4.37", "rhel-8")``, ``"8.9p1 Ubuntu
    3ubuntu0.10"`` -> ``("8.9p1", "ubuntu")`` (family only: the release is not in the string),
    ``"1.26.2"`` -> ``("1.26.2", "")`` (an upstream build).

    ``extra`` is other text the service gave beside its version (nmap's extrainfo, a Server header's
    comment): it may name the family ("(Debian)"). Pure and total: never raises.
    """
    text = f"{version or ''} {extra or ''}"[:500]
    distribution = ""
    for pattern, family, group in _DISTRO_TAGS:
        match = pattern.search(text)
        if match is None:
            continue
        release = match.group(group) if group is not None else ""
        if release and family != "ubuntu":
            release = release.lstrip("0") or "0"  # deb09 -> 9; Ubuntu keeps "22.04"
        distribution = f"{family}-{release}" if release else family
        break
    if distribution == "debian":
        named = next((n for c, n in _CODENAMES.items() if re.search(rf"\b{c}\b", text, re.IGNORECASE)), "")
        distribution = f"debian-{named}" if named else distribution
    if not distribution:
        return version, ""
    upstream = _UPSTREAM.match(version or "")
    return (upstream.group(1).rstrip(".") if upstream else version), distribution


@dataclass(frozen=True, slots=True)
class Build:
    """What a service runs: product key (eol.yaml), upstream version, distribution ("" upstream)."""

    product: str
    version: str
    distribution: str = ""


def identify(product: str, version: str, extra: str = "") -> Build:
    """The product and build behind a stated product and version.

    MariaDB announces itself to MySQL clients as ``5.5.5-10.11.19-MariaDB-...``: that is MariaDB 10.11,
    not MySQL 5.5. Then :func:`distribution_build`. Never raises.
    """
    key = (product or "").lower()
    stated = version or ""
    if key in ("mysql", "mariadb") and "mariadb" in stated.lower():
        key = "mariadb"
        masked = _MARIADB_MASK.match(stated)
        if masked:
            stated = masked.group("version")
    upstream, distribution = distribution_build(stated, extra)
    if distribution == "" and key == "mariadb":  # "10.11.19-MariaDB": the suffix is no version
        leading = _UPSTREAM.match(stated)
        upstream = leading.group(1).rstrip(".") if leading else stated
    return Build(key, upstream, distribution)


def distribution_data(eol_data: Mapping[str, Any] | None, distribution: str) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(family entry, release entry) of ``"debian-12"``; None when the family or release is not listed."""
    family, _, release = (distribution or "").partition("-")
    families = (eol_data or {}).get("distributions") or {}
    entry = families.get(family) if isinstance(families, Mapping) else None
    if not isinstance(entry, Mapping) or not release:
        return None
    for raw in entry.get("releases") or ():
        if isinstance(raw, Mapping) and str(raw.get("release", "")) == release:
            return entry, raw
    return None


def judge_build(eol_data: Mapping[str, Any] | None, product: str, version: str, today: date, *,
                extra: str = "") -> EolVerdict:
    """Judge a product at a version as a service or banner states it (distribution builds included).

    A distribution build whose release is in the data is judged by that release's support period:
    ``supported`` (regular security support, or free extended support such as Debian LTS),
    ``outdated`` (extended support only with a subscription: Ubuntu ESM, RHEL ELS), ``end-of-life``
    (all support ended). Other builds are judged upstream (:func:`judge_version`). ``cycle`` is the
    release branch (``"9.2"``), never the whole stated version. Never raises.
    """
    try:
        build = identify(product, version, extra)
    except (TypeError, ValueError, re.error):  # defensive: a stated version must never break a judgement
        build = Build((product or "").lower(), version or "")
    upstream = judge_version(eol_data, build.product, build.version, today)
    distribution = build.distribution
    if distribution and "-" not in distribution:  # "debian": which release ships exactly this version?
        distribution = release_shipping(eol_data, distribution, build.product, build.version) or distribution
    found = distribution_data(eol_data, distribution)
    base = replace(upstream, version=version, upstream=build.version, distribution=distribution,
                   distribution_title=_distribution_title(eol_data, distribution))
    if found is None or upstream.reason in ("no-data", "no-version"):
        return base
    family, release = found
    security, extended = _date(release.get("security")), _date(release.get("extended"))
    free = bool(family.get("extended_free", False))
    # the distribution's dates replace upstream's: its packages get backported fixes, not new releases
    by_distribution = replace(base, latest="")
    if security is None or today < security:
        return replace(by_distribution, status="supported", reason="distribution-supported", eol=security,
                       distribution_eol=security)
    if extended is not None and today < extended:
        status, reason = ("supported", "distribution-extended") if free else ("outdated", "distribution-extended-paid")
        return replace(by_distribution, status=status, reason=reason, eol=extended, distribution_eol=extended)
    ended = extended or security
    return replace(by_distribution, status="end-of-life", reason="distribution-ended", eol=ended, distribution_eol=ended)


def release_shipping(eol_data: Mapping[str, Any] | None, family: str, product: str, upstream: str) -> str:
    """``"debian-12"`` when exactly one listed release of ``family`` ships ``product`` at ``upstream``
    (``packages:`` in eol.yaml, e.g. OpenSSH 9.2p1 only in Debian 12); "" otherwise."""
    families = (eol_data or {}).get("distributions") or {}
    entry = families.get(family) if isinstance(families, Mapping) else None
    if not isinstance(entry, Mapping) or not upstream:
        return ""
    hits = [str(raw.get("release")) for raw in entry.get("releases") or ()
            if isinstance(raw, Mapping) and isinstance(raw.get("packages"), Mapping)
            and str(raw["packages"].get(product, "")).lower() == upstream.lower()]
    return f"{family}-{hits[0]}" if len(hits) == 1 else ""


def _distribution_title(eol_data: Mapping[str, Any] | None, distribution: str) -> str:
    if not distribution:
        return ""
    family, _, release = distribution.partition("-")
    families = (eol_data or {}).get("distributions") or {}
    entry = families.get(family) if isinstance(families, Mapping) else None
    title = str(entry.get("title", family)) if isinstance(entry, Mapping) else family.capitalize()
    return f"{title} {release}".strip()
