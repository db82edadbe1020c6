"""What travels through the broker, what the batch record in the store holds, and what a worker
accepts of either. Pure: no broker, no store, no sockets.

A task is JSON (Celery's json serializer; pickle is never accepted) carrying one keyword argument,
``item``::

    {"v": 1, "batch": "worker-3f...", "domain": "museum.nl", "hosts": ["shop.museum.nl"],
     "profile": "default", "options": {"timeout": 5.0, "nameservers": [], "allow_private": false,
                                       "dkim_selectors": [], "ports": false, "authorised": false}}

The broker is shared infrastructure, so a worker trusts nothing in a message by itself:

- the message is checked strictly (:func:`parse_item`): exact keys, types, lengths, a canonical
  domain name, known option values; anything else is dropped unscanned;
- it must agree with the batch record the enqueuer wrote to the history store
  (:func:`check_against_batch`): the batch exists and was made for workers, the domain is one of
  its targets with the same extra hosts, and profile and options are exactly those recorded. A
  forged message can therefore only ask what an enqueuer with access to the store asked already;
- what the worker itself allows bounds every batch (:func:`check_policy`): loopback and private
  addresses only on a worker started with ``--allow-private``, a port scan only on a worker started
  with ``--allow-ports`` and only when the enqueuer gave its consent explicitly (recorded, with who
  and when, in the batch record);
- files are never named by a message: a CA bundle is the worker's own ``--ca-bundle``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..batch import Target
from ..batch.targets import MAX_HOSTS
from ..errors import CyberscanError, UsageError
from ..options import MAX_TIMEOUT, MIN_TIMEOUT, Nameserver, ScanOptions
from ..scope import normalize_domain

PROTOCOL = 1  # the version of the message format (``v``)
TASK_NAME = "cyberscan.worker.assess"
BATCH_KIND = "cyberscan-worker"  # meta["kind"] of a batch made for workers
DEFAULT_QUEUE = "cyberscan"

MAX_NAMESERVERS = 8
MAX_SELECTORS = 100
MAX_BATCH_ID = 100
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.-]*$")
_PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SELECTOR = re.compile(r"^[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*$")
_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")

ITEM_KEYS = frozenset({"v", "batch", "domain", "hosts", "profile", "options"})
OPTION_KEYS = frozenset({"timeout", "nameservers", "allow_private", "dkim_selectors", "ports", "authorised"})


class WorkerError(CyberscanError):
    """A message, batch or worker setting that cannot be used (key in ``texts/worker.yaml``)."""


class BadMessage(WorkerError):
    """A message that is not a task of ours as we send them: dropped, never scanned, never stored."""


class Refused(WorkerError):
    """A well-formed task this worker will not run as asked (policy, or not what the batch recorded)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One domain of one batch, as a worker runs it."""

    batch: str
    domain: str
    hosts: tuple[str, ...]
    profile: str
    options: Mapping[str, Any]  # the wire form (:func:`options_to_wire`), already checked

    @property
    def key(self) -> tuple[str, str]:
        return (self.batch, self.domain)


@dataclass(frozen=True, slots=True)
class Policy:
    """What a worker allows whatever a message asks (its own command-line switches)."""

    allow_private: bool = False
    allow_ports: bool = False


# ----------------------------------------------------------------------------- options


def options_to_wire(options: ScanOptions) -> dict[str, Any]:
    """The scan options a task carries. Refuses what cannot travel: a CA bundle is a file on the
    enqueuer's machine (workers take their own ``--ca-bundle``), extra hosts belong to one target
    (the targets file's ``hosts`` column), and a port scan needs the enqueuer's explicit consent."""
    if options.ca_bundle is not None:
        raise UsageError("worker.ca-bundle-on-worker")
    if options.extra_hosts:
        raise UsageError("worker.hosts-in-targets")
    if options.ports and not options.authorised:
        raise UsageError("worker.ports-need-consent")
    return {
        "timeout": float(options.timeout),
        "nameservers": [str(ns) for ns in options.nameservers],
        "allow_private": bool(options.allow_private),
        "dkim_selectors": list(options.dkim_selectors),
        "ports": bool(options.ports),
        "authorised": bool(options.authorised and options.ports),
    }


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise BadMessage("worker.bad-message", detail=f"options.{key}")
    return value


def check_options(data: Any) -> dict[str, Any]:
    """The wire options, checked and in canonical form. Raises :class:`BadMessage`."""
    if not isinstance(data, Mapping) or set(data) != OPTION_KEYS:
        raise BadMessage("worker.bad-message", detail="options")
    timeout = data["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout) \
            or not MIN_TIMEOUT <= float(timeout) <= MAX_TIMEOUT:
        raise BadMessage("worker.bad-message", detail="options.timeout")
    servers = data["nameservers"]
    if not isinstance(servers, list) or len(servers) > MAX_NAMESERVERS or not all(isinstance(s, str) for s in servers):
        raise BadMessage("worker.bad-message", detail="options.nameservers")
    parsed = []
    for raw in servers:
        try:
            parsed.append(str(Nameserver.parse(raw)))
        except ValueError:
            raise BadMessage("worker.bad-message", detail="options.nameservers") from None
    selectors = data["dkim_selectors"]
    if not isinstance(selectors, list) or len(selectors) > MAX_SELECTORS \
            or not all(isinstance(s, str) and len(s) <= 253 and _SELECTOR.match(s) for s in selectors):
        raise BadMessage("worker.bad-message", detail="options.dkim_selectors")
    ports, authorised = _bool(data, "ports"), _bool(data, "authorised")
    if authorised and not ports:
        raise BadMessage("worker.bad-message", detail="options.authorised")
    return {"timeout": float(timeout), "nameservers": parsed, "allow_private": _bool(data, "allow_private"),
            "dkim_selectors": list(selectors), "ports": ports, "authorised": authorised}


def scan_options(wire: Mapping[str, Any], *, hosts: Sequence[str] = (), ca_bundle: str | None = None) -> ScanOptions:
    """The :class:`ScanOptions` of checked wire options, a target's extra hosts and the worker's CA bundle."""
    return ScanOptions(
        timeout=float(wire["timeout"]),
        nameservers=tuple(Nameserver.parse(s) for s in wire["nameservers"]),
        ca_bundle=ca_bundle,
        allow_private=bool(wire["allow_private"]),
        dkim_selectors=tuple(wire["dkim_selectors"]),
        extra_hosts=tuple(hosts),
        ports=bool(wire["ports"]),
        authorised=bool(wire["authorised"]),
    )


# ----------------------------------------------------------------------------- one task


def _domain(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > 253:
        raise BadMessage("worker.bad-message", detail=what)
    try:
        name = normalize_domain(value).domain
    except UsageError:
        raise BadMessage("worker.bad-message", detail=what) from None
    if name != value:  # we send canonical names only
        raise BadMessage("worker.bad-message", detail=what)
    return name


def check_batch_id(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_BATCH_ID or not _BATCH_ID.match(value):
        raise BadMessage("worker.bad-message", detail="batch")
    return value


def check_queue(value: str) -> str:
    if not _QUEUE.match(value):
        raise UsageError("worker.bad-queue", value=value[:100])
    return value


def item_to_wire(batch: str, target: Target, profile: str, options: Mapping[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL, "batch": batch, "domain": target.domain, "hosts": list(target.hosts), "profile": profile,
            "options": dict(options)}


def parse_item(data: Any) -> Item:
    """A task's ``item``, checked. Raises :class:`BadMessage` for anything we would not have sent."""
    if not isinstance(data, Mapping) or set(data) != ITEM_KEYS:
        raise BadMessage("worker.bad-message", detail="keys")
    if data["v"] != PROTOCOL or isinstance(data["v"], bool):
        raise BadMessage("worker.bad-version", version=str(data["v"])[:20], supported=PROTOCOL)
    batch = check_batch_id(data["batch"])
    domain = _domain(data["domain"], "domain")
    hosts = data["hosts"]
    if not isinstance(hosts, list) or len(hosts) > MAX_HOSTS:
        raise BadMessage("worker.bad-message", detail="hosts")
    names = tuple(_domain(h, "hosts") for h in hosts)
    if len(set(names)) != len(names):
        raise BadMessage("worker.bad-message", detail="hosts")
    profile = data["profile"]
    if not isinstance(profile, str) or not _PROFILE.match(profile):
        raise BadMessage("worker.bad-message", detail="profile")
    return Item(batch, domain, names, profile, check_options(data["options"]))


# ----------------------------------------------------------------------------- the batch record


def batch_meta(targets: Sequence[Target], *, profile: str, options: Mapping[str, Any], queue: str,
               consent: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the enqueuer records with the batch (``Store.start_batch(meta=...)``): the worker's
    reference for every task of the batch."""
    listed: dict[str, dict[str, Any]] = {}
    for t in targets:
        entry: dict[str, Any] = {}
        if t.hosts:
            entry["hosts"] = list(t.hosts)
        if t.organisation:
            entry["organisation"] = t.organisation
        if t.sector:
            entry["sector"] = t.sector
        listed[t.domain] = entry
    meta: dict[str, Any] = {"kind": BATCH_KIND, "v": PROTOCOL, "profile": profile, "options": dict(options),
                            "queue": queue, "targets": listed}
    if consent is not None:
        meta["consent"] = dict(consent)
    return meta


def check_against_batch(item: Item, meta: Mapping[str, Any]) -> None:
    """Refuse a task that is not what the enqueuer recorded for its batch. Raises :class:`Refused`."""
    if meta.get("kind") != BATCH_KIND or meta.get("v") != PROTOCOL:
        raise Refused("worker.not-a-worker-batch", batch=item.batch)
    targets = meta.get("targets")
    entry = targets.get(item.domain) if isinstance(targets, Mapping) else None
    if not isinstance(entry, Mapping):
        raise Refused("worker.not-in-batch", domain=item.domain, batch=item.batch)
    if tuple(entry.get("hosts") or ()) != item.hosts:
        raise Refused("worker.differs-from-batch", domain=item.domain, batch=item.batch, field="hosts")
    if meta.get("profile") != item.profile:
        raise Refused("worker.differs-from-batch", domain=item.domain, batch=item.batch, field="profile")
    try:
        recorded = check_options(meta.get("options"))
    except BadMessage:
        raise Refused("worker.differs-from-batch", domain=item.domain, batch=item.batch, field="options") from None
    if recorded != dict(item.options):
        raise Refused("worker.differs-from-batch", domain=item.domain, batch=item.batch, field="options")
    if item.options["ports"]:
        consent = meta.get("consent")
        if not (isinstance(consent, Mapping) and consent.get("ports") is True and consent.get("authorised") is True):
            raise Refused("worker.no-consent", domain=item.domain, batch=item.batch)


def check_policy(item: Item, policy: Policy) -> None:
    """Refuse what this worker does not allow, whatever the batch asked. Raises :class:`Refused`."""
    if item.options["allow_private"] and not policy.allow_private:
        raise Refused("worker.refused-private", domain=item.domain)
    if item.options["ports"] and not policy.allow_ports:
        raise Refused("worker.refused-ports", domain=item.domain)


__all__ = ["BATCH_KIND", "DEFAULT_QUEUE", "PROTOCOL", "TASK_NAME", "BadMessage", "Item", "Policy", "Refused",
           "WorkerError", "batch_meta", "check_against_batch", "check_batch_id", "check_options", "check_policy",
           "check_queue", "item_to_wire", "options_to_wire", "parse_item", "scan_options"]
