"""Judgement of the port scan: which risky services can be reached from the internet.

Every check reads the one ``net.ports`` fact and judges only its own ``ports`` params, and only the
ports the fact says were scanned (a stored scan judged under a newer catalogue never passes a port
nobody looked at). One verdict per exposed (address, port): its subject is the address, the port,
the service (the catalogue's label for the port) and the host names that point to the address, so
each exposure has its own finding key and history.

Addresses of a hosting provider (recognised by their reverse DNS name, ``checks/data/hosting.yaml``,
or by a TLS certificate that names many other organisations' domains: a shared server) are a supplier matter: the finding is a WARN that tells what to ask the supplier, and
``net.exposed.supplier`` gathers them for the chain-dependency item of the DEN checklist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..facts import Facts
from ..facts.ports import BUDGET, AddressScan, OpenPort, PortScan
from ..models import ErrorReason, Status, Subject, Verdict
from ..parsers.banner import cycle_of, software
from ..parsers.eol import EolVerdict, judge_build, product_data
from ..parsers.orgdomain import org_domain
from ..parsers.ports import port_spec
from ..plugin import evaluator

PROBE = "net.ports"

PASSWORD_METHODS = ("password", "keyboard-interactive")


@dataclass(frozen=True, slots=True)
class PortRule:
    port: int
    proto: str
    label: str
    kind: str = ""  # "" | ssh | obsolete | gateway
    match: re.Pattern[str] | None = None  # when set, the port counts only if the service matches ...
    title_match: re.Pattern[str] | None = None  # ... or its home page's title matches this


def _pattern(value: Any, what: str) -> re.Pattern[str] | None:
    """A catalogue regular expression; a broken one is an error (the check is not judged), never
    "match everything" or "match nothing"."""
    if not value:
        return None
    try:
        return re.compile(str(value), re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"{what}: regex {value!r}: {exc}") from None


def rules(params: Mapping[str, Any]) -> list[PortRule]:
    out = []
    for entry in params.get("ports") or ():
        spec = port_spec(entry)
        if spec is None:
            continue
        raw = entry if isinstance(entry, Mapping) else {}
        label = str(raw.get("label", spec[0]))
        out.append(PortRule(spec[0], spec[1], label, str(raw.get("kind", "")), _pattern(raw.get("match"), label),
                            _pattern(raw.get("title_match"), label)))
    return out


def clean(op: OpenPort) -> OpenPort:
    """The port with its product and version cleaned (facts stored before the probe did it hold nmap's
    raw ``9.2p1 Debian 2+deb12u10`` or MariaDB as ``MySQL 5.5.5-10.11.19-MariaDB``)."""
    soft = software(op.product, op.version, op.extrainfo)
    if (soft.product, soft.version) == (op.product, op.version) and (op.distribution or not soft.distribution):
        return op
    return replace(op, product=soft.product, version=soft.version, distribution=op.distribution or soft.distribution,
                   build=op.build or soft.build)


def find(scan: AddressScan, port: int, proto: str) -> OpenPort | None:
    op = scan.find(port, proto)
    return None if op is None else clean(op)


def service_text(op: OpenPort) -> str:
    return " ".join(x for x in (op.service, op.product, op.version, op.extrainfo, op.banner) if x)


def matches(rule: PortRule, op: OpenPort) -> bool:
    """Whether the service on the port is the rule's kind. A home page's title is web content anyone
    can write, so it only counts through the rule's own strict ``title_match``."""
    if rule.match is None and rule.title_match is None:
        return True
    if rule.match is not None and rule.match.search(service_text(op)):
        return True
    return bool(rule.title_match is not None and op.title and rule.title_match.search(op.title))


def describe(rule: PortRule, op: OpenPort) -> str:
    """``RDP (3389/tcp: Microsoft Terminal Services)``: language-neutral, for message params."""
    seen = " ".join(x for x in (op.product, op.version, f"({op.distribution})" if op.distribution else "") if x)
    return f"{rule.label} ({op.port}/{op.proto}{': ' + seen if seen else ''})"


def _evidence_port(op: OpenPort) -> dict[str, Any]:
    data: dict[str, Any] = {"port": op.port, "proto": op.proto}
    for key in ("service", "product", "version", "distribution", "build", "extrainfo", "tunnel", "banner", "title"):
        value = getattr(op, key)
        if value:
            data[key] = value
    if op.auth_methods:
        data["auth_methods"] = list(op.auth_methods)
    return data


# ----------------------------------------------------------------------------- hosting providers


def hosting_provider(
    ptr: Sequence[str], domain: str, data: Mapping[str, Any] | None, suffixes: Sequence[str] = ()
) -> str | None:
    """The hosting provider whose server this is, recognised by the address's reverse DNS name.

    A name that only looks like a hosting server (``vps12.host.co.uk``) is named by its
    organisation's domain (``host.co.uk``, with the public suffixes when given)."""
    if not data or not ptr:
        return None
    for name in ptr:
        name = name.rstrip(".").lower()
        if name == domain or name.endswith("." + domain):
            continue  # the organisation's own name: no sign of a supplier
        for provider in data.get("providers") or ():
            if not isinstance(provider, Mapping):
                continue
            for suffix in provider.get("ptr_suffixes") or ():
                suffix = str(suffix).lower().strip(".")
                if name == suffix or name.endswith("." + suffix):
                    return str(provider.get("name", suffix))
        for pattern in data.get("generic_ptr_patterns") or ():
            try:
                if re.search(str(pattern), name):
                    return org_domain(name, suffixes)
            except re.error:
                continue
    return None


def _hosting(facts: Facts) -> Mapping[str, Any] | None:
    value = facts.data.get("hosting")
    return value if isinstance(value, Mapping) else None


def _suffixes(facts: Facts) -> list[str]:
    data = facts.data.get("public_suffixes")
    raw = data.get("suffixes") if isinstance(data, Mapping) else None
    return [str(x) for x in raw] if isinstance(raw, Sequence) and not isinstance(raw, str) else []


@dataclass(frozen=True, slots=True)
class Supplier:
    provider: str  # the hosting provider's name; "" when only the shared certificate gives it away
    other_domains: tuple[str, ...] = ()  # other organisations' domains on the address's certificate


def shared_domains(scan: AddressScan, domain: str, suffixes: Sequence[str] = ()) -> tuple[str, ...]:
    """Other organisations' domains named in the TLS certificates served on the address."""
    own = org_domain(domain, suffixes)
    names = {n.removeprefix("*.") for op in scan.open for n in op.cert_names}
    return tuple(sorted({org_domain(n, suffixes) for n in names if n} - {own}))


def supplier_of(scan: AddressScan, domain: str, facts: Facts) -> Supplier | None:
    """Whose server this is: a hosting provider (reverse DNS) or a server shared by many domains."""
    hosting = _hosting(facts)
    suffixes = _suffixes(facts)
    provider = hosting_provider(scan.ptr, domain, hosting, suffixes)
    others = shared_domains(scan, domain, suffixes)
    try:
        threshold = int((hosting or {}).get("shared_min_domains", 3))
    except (TypeError, ValueError):
        threshold = 3
    shared = others if len(others) >= max(threshold, 1) else ()
    if provider or shared:
        return Supplier(provider or "", shared)
    return None


def _supplier_params(sup: Supplier) -> dict[str, Any]:
    if sup.provider:
        return {"provider": sup.provider}
    return {"count": len(sup.other_domains), "examples": list(sup.other_domains[:3])}


# ----------------------------------------------------------------------------- exposed services


def _error(scan: AddressScan) -> Verdict:
    """ERROR for an address that was not (completely) scanned: nothing about it is judged."""
    reason = scan.error or ErrorReason.PROTOCOL
    if reason is ErrorReason.TIMEOUT:
        key = "scan-budget" if scan.detail == BUDGET else "scan-timeout"
    elif reason is ErrorReason.INTERRUPTED:
        key = "endpoint.interrupted"
    else:
        key = "scan-failed"
    return Verdict(
        Status.ERROR,
        key,
        {"address": scan.address, "names": list(scan.names), "detail": scan.detail},
        {"address": scan.address, "error": reason.value, "detail": scan.detail},
        scan.subject(),
        reason,
    )


def _udp_skipped(fact: PortScan, wanted: list[PortRule]) -> list[Verdict]:
    udp = sorted({r.port for r in wanted if r.proto == "udp"})
    if not udp or not fact.udp_skipped:
        return []
    labels = sorted({r.label for r in wanted if r.proto == "udp"})
    return [Verdict(Status.SKIPPED, f"udp-{fact.udp_skipped}", {"ports": [f"{p}/udp" for p in udp], "services": labels},
                    subject=Subject(service="udp"), reason=ErrorReason.NOT_APPLICABLE)]


@evaluator("net.exposed")
def exposed(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    """FAIL per address where one of the check's services answers (WARN on a provider's server)."""
    fact: PortScan = facts.fact(PROBE)
    wanted = rules(params)
    verdicts: list[Verdict] = []
    looked = False
    ssh_ok: list[str] = []
    for scan in fact.addresses:
        if not scan.ok:
            verdicts.append(_error(scan))
            continue
        found: list[tuple[PortRule, OpenPort, str]] = []  # (rule, port, kind of finding)
        for rule in wanted:
            if not scan.scanned(rule.port, rule.proto):
                continue
            looked = True
            op = find(scan, rule.port, rule.proto)
            if op is None or not matches(rule, op):
                continue
            if rule.kind == "ssh":
                methods = set(op.auth_methods)
                if methods & set(PASSWORD_METHODS):
                    found.append((rule, op, "ssh-password"))
                elif methods:
                    ssh_ok.append(f"{scan.address}: {describe(rule, op)}")
                else:
                    found.append((rule, op, "ssh-auth-unknown"))
            else:
                found.append((rule, op, "open"))
        if not found:
            continue
        sup = supplier_of(scan, fact.domain, facts)
        base: dict[str, Any] = {"address": scan.address, "names": list(scan.names)}
        # on a supplier's server the finding is the supplier's to fix: WARN, with what to ask them
        suffix = "" if sup is None else ("-hosted" if sup.provider else "-shared")
        status = Status.FAIL if sup is None else Status.WARN
        if sup is not None:
            base.update(_supplier_params(sup))
        for rule, op, kind in found:  # one finding per exposed port, so each has its own history
            ev: dict[str, Any] = {"address": scan.address, "ptr": list(scan.ptr), "open": [_evidence_port(op)],
                                  "method": scan.method}
            if sup is not None:
                ev["supplier"] = {"provider": sup.provider, "other_domains": list(sup.other_domains)}
            key, level = (kind, Status.WARN) if kind == "ssh-auth-unknown" else (kind + suffix, status)
            subject = scan.subject(op.port, rule.label)
            verdicts.append(Verdict(level, key, {**base, "services": [describe(rule, op)]}, ev, subject))
    verdicts.extend(_udp_skipped(fact, wanted))
    if any(v.status in (Status.FAIL, Status.WARN, Status.ERROR) for v in verdicts):
        return verdicts
    checked = [s.address for s in fact.addresses if s.ok]
    evidence_all = {"addresses": checked, "method": fact.method, "refused": list(fact.refused)}
    if not fact.addresses:
        return [*verdicts, Verdict(Status.INFO, "no-addresses", {"domain": fact.domain}, evidence_all)]
    if not looked:
        return [*verdicts, Verdict(Status.SKIPPED, "not-scanned", {"ports": _port_list(wanted)}, evidence_all)]
    if ssh_ok:
        evidence_all["ssh_keys_only"] = ssh_ok
    ports = _port_list([r for r in wanted if r.proto == "tcp" or not fact.udp_skipped])
    return [Verdict(Status.PASS, "closed", {"addresses": checked, "ports": ports}, evidence_all), *verdicts]


def _port_list(wanted: list[PortRule]) -> list[str]:
    return [f"{r.port}/{r.proto}" for r in sorted(wanted, key=lambda r: (r.proto, r.port))]


# ----------------------------------------------------------------------------- remote access


@evaluator("net.remote_access")
def remote_access(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    """VPN and remote-desktop gateways: reachable is normal; product and version are reported and judged."""
    fact: PortScan = facts.fact(PROBE)
    wanted = rules(params)
    products = params.get("products") or ()
    eol_data = facts.data.get("eol")
    verdicts: list[Verdict] = []
    looked = False
    for scan in fact.addresses:
        if not scan.ok:
            verdicts.append(_error(scan))
            continue
        for rule in wanted:
            if not scan.scanned(rule.port, rule.proto):
                continue
            looked = True
            op = find(scan, rule.port, rule.proto)
            if op is None or not matches(rule, op):
                continue
            key, name = identify(op, products)
            shown = op if op.product else replace(op, product=name)  # a portal known only by its title
            params_v = {
                "address": scan.address,
                "names": list(scan.names),
                "service": describe(rule, shown),
                "product": shown.product or rule.label,
                "version": op.version,
            }
            ev = {"address": scan.address, "open": [_evidence_port(op)], "product_key": key}
            at = scan.subject(op.port, rule.label)
            if rule.kind == "obsolete":
                verdicts.append(Verdict(Status.FAIL, "obsolete", params_v, ev, at))
                continue
            judged = judge_service(eol_data, op, facts, products)
            if judged is not None and judged.status in ("end-of-life", "outdated"):
                status, key = _judged_key(judged)
                verdicts.append(Verdict(status, key, {**params_v, **_eol_params(judged, eol_data)}, ev, at))
            elif op.version:
                verdicts.append(Verdict(Status.INFO, "gateway", params_v, ev, at))
            else:
                verdicts.append(Verdict(Status.INFO, "gateway-no-version", params_v, ev, at))
    verdicts.extend(_udp_skipped(fact, wanted))
    if any(v.status is not Status.SKIPPED for v in verdicts):
        return verdicts
    if not fact.addresses:
        return [*verdicts, Verdict(Status.INFO, "no-addresses", {"domain": fact.domain})]
    if not looked:
        return [*verdicts, Verdict(Status.SKIPPED, "not-scanned", {"ports": _port_list(wanted)})]
    ports = _port_list([r for r in wanted if r.proto == "tcp" or not fact.udp_skipped])
    return [Verdict(Status.PASS, "none-found", {"ports": ports}), *verdicts]


# ----------------------------------------------------------------------------- outdated software


def _product_entries(products: Sequence[Any]) -> list[tuple[str, re.Pattern[str] | None, re.Pattern[str] | None]]:
    out = []
    for entry in products:
        if not isinstance(entry, Mapping) or not entry.get("product") or not (entry.get("match") or entry.get("title")):
            continue
        key = str(entry["product"])
        out.append((key, _pattern(entry.get("match"), key), _pattern(entry.get("title"), key)))
    return out


def identify(op: OpenPort, products: Sequence[Any] = ()) -> tuple[str, str]:
    """(``eol.yaml`` product key, what named it) for the service on a port: ``("openssh", "OpenSSH")``.

    ``products`` (check params) map names to keys by regular expression, first match wins: ``match``
    is tried on nmap's (or the banner's) product name and extra information, ``title`` on the home
    page's title (for portals nmap has no fingerprint for). Otherwise the CPE's product part, then
    the product name itself."""
    named = " ".join(x for x in (op.product, op.extrainfo) if x)
    for key, match, title in _product_entries(products):
        if match is not None and named and match.search(named):
            return key, op.product
        found = title.search(op.title) if title is not None and op.title else None
        if found:
            return key, found.group(0)
    for cpe in op.cpe:
        parts = cpe.split(":")
        if len(parts) >= 4 and parts[1] == "/a" and parts[3]:
            return parts[3], op.product
    return op.product.lower(), op.product


def eol_product(op: OpenPort, products: Sequence[Any] = ()) -> str:
    """The ``eol.yaml`` product key for what nmap or the banner named (``OpenSSH`` -> ``openssh``)."""
    return identify(clean(op), products)[0]


def judge_service(eol_data: Any, op: OpenPort, facts: Facts, products: Sequence[Any] = ()) -> EolVerdict | None:
    """The end-of-life judgement of a service's product and version; None when none is possible."""
    op = clean(op)
    if not op.product or not op.version or not isinstance(eol_data, Mapping):
        return None
    # a distribution build ("9.2p1 Debian 2+deb12u10") is judged by its release's support period
    stated = " ".join(x for x in (op.version, op.distribution, op.build) if x)
    verdict = judge_build(eol_data, eol_product(op, products), stated, facts.now.date(), extra=op.extrainfo)
    return None if verdict.status == "unknown" else verdict


def _judged_key(judged: EolVerdict) -> tuple[Status, str]:
    """FAIL end-of-life / WARN outdated, with the ``-distribution`` message when a release's support decided."""
    status, key = (Status.FAIL, "end-of-life") if judged.status == "end-of-life" else (Status.WARN, "outdated")
    return status, key + ("-distribution" if judged.by_distribution else "")


def _eol_params(judged: EolVerdict, eol_data: Any = None) -> dict[str, Any]:
    recommended = judged.latest
    if not recommended:
        entry = product_data(eol_data if isinstance(eol_data, Mapping) else None, judged.product)
        recommended = str(entry.get("min_recommended") or "") if entry else ""
    out: dict[str, Any] = {
        "cycle": judged.cycle or cycle_of(judged.version) or judged.version,  # "9.2", never "9.2p1 Debian ..."
        "latest": judged.latest,
        "recommended": recommended or "?",
        "product_title": judged.title,
    }
    if judged.eol is not None:
        out["eol_date"] = judged.eol.isoformat()
    if judged.by_distribution:
        out["distribution"] = judged.distribution_title or judged.distribution
        out["eol"] = judged.distribution_eol.isoformat() if judged.distribution_eol else "?"
    return out


def _eol_evidence(judged: EolVerdict, eol_data: Any = None) -> dict[str, Any]:
    return {
        "product": judged.product,
        "version": judged.upstream or judged.version,  # the upstream version; as stated: "stated"
        "stated": judged.version,
        "status": judged.status,
        "reason": judged.reason,
        **_eol_params(judged, eol_data),
    }


@evaluator("net.software_outdated")
def software_outdated(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    """Every service that names its product and version, judged against the end-of-life data.

    End of life is a FAIL; a supported branch with a newer release or a known-exploited flaw fixed
    later is a WARN (distributions often backport fixes, so the supplier is asked to confirm).
    """
    fact: PortScan = facts.fact(PROBE)
    eol_data = facts.data.get("eol")
    products = params.get("products") or ()
    verdicts: list[Verdict] = []
    current: list[str] = []
    unjudged: list[str] = []
    for scan in fact.addresses:
        if not scan.ok:
            verdicts.append(_error(scan))
            continue
        for op in map(clean, scan.open):
            if not op.product:
                continue
            seen = " ".join(x for x in (op.product, op.version, f"({op.distribution})" if op.distribution else "") if x)
            label = f"{seen} ({scan.address} {op.port}/{op.proto})"
            judged = judge_service(eol_data, op, facts, products)
            if judged is None:
                unjudged.append(label)
                continue
            if judged.status == "supported":
                current.append(label)
                continue
            status, key = _judged_key(judged)
            verdicts.append(
                Verdict(
                    status,
                    key,
                    {"address": scan.address, "names": list(scan.names), "service": label, **_eol_params(judged, eol_data)},
                    {"address": scan.address, "open": [_evidence_port(op)], "judgement": _eol_evidence(judged, eol_data)},
                    scan.subject(op.port, judged.product),
                )
            )
    if verdicts:
        return verdicts
    if current:
        return [Verdict(Status.PASS, "current", {"services": current}, {"unjudged": unjudged})]
    if unjudged:
        return [Verdict(Status.INFO, "unjudged", {"services": unjudged})]
    return [Verdict(Status.INFO, "no-versions", {})]


# ----------------------------------------------------------------------------- supplier matter


@evaluator("net.supplier")
def supplier(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    """Addresses on a hosting provider's servers: what to ask the supplier (DEN chain dependency)."""
    fact: PortScan = facts.fact(PROBE)
    expected = {p for p in (port_spec(e) for e in params.get("expected_ports") or ()) if p is not None}
    verdicts: list[Verdict] = []
    for scan in fact.addresses:
        if not scan.ok:  # neither its services nor its certificate (a shared server?) are known
            verdicts.append(_error(scan))
            continue
        sup = supplier_of(scan, fact.domain, facts)
        if sup is None:
            continue
        kind = "hosted" if sup.provider else "shared"
        base = {"address": scan.address, "names": list(scan.names), **_supplier_params(sup)}
        ev = {
            "address": scan.address,
            "ptr": list(scan.ptr),
            "provider": sup.provider,
            "other_domains": list(sup.other_domains),
            "open": [_evidence_port(op) for op in scan.open],
        }
        other = [op for op in scan.open if (op.port, op.proto) not in expected]
        if other:
            services = [f"{op.port}/{op.proto}" + (f" ({op.product})" if op.product else "") for op in other]
            verdicts.append(Verdict(Status.WARN, f"{kind}-exposed", {**base, "services": services}, ev, scan.subject()))
        else:
            verdicts.append(Verdict(Status.INFO, kind, base, ev, scan.subject()))
    if verdicts:
        return verdicts
    if not fact.addresses:
        return [Verdict(Status.INFO, "no-addresses", {"domain": fact.domain})]
    return [Verdict(Status.INFO, "not-hosted", {"addresses": [s.address for s in fact.addresses]})]
