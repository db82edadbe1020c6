"""Runs a scan: collects each needed fact once (concurrently), then judges every selected check.

The engine owns concurrency and politeness; probes own I/O; evaluators own judgement. A probe that
raises a :class:`ProbeError` (or crashes) yields an outcome without a fact, and every check that needs
it becomes ERROR with the reason: an error is never a pass and never a fail.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import dns.exception
import dns.nameserver
import dns.resolver
import requests

from . import __version__
from .catalogue import Catalogue, Check, Profile
from .errors import CatalogueError, OutOfScope, ProbeError, ProbeTimeout, ProtocolError, TargetUnreachable
from .models import ErrorReason, Notice, ProbeOutcome, Result, ScanResult, Status, Verdict
from .registry import Registry
from .scope import Scope

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")

USER_AGENT = f"cyberscan/{__version__} (+https://github.com/cyberscan; readiness scan for heritage organisations)"


@dataclass(frozen=True, slots=True)
class Nameserver:
    address: str
    port: int = 53

    @classmethod
    def parse(cls, raw: str) -> Nameserver:
        """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address."""
        import ipaddress

        value = raw.strip()
        port = 53
        if value.startswith("["):
            host, closed, rest = value[1:].partition("]")
            if not closed or (rest and not rest.startswith(":")):
                raise ValueError("malformed [address]:port")
            if rest.startswith(":"):
                port = int(rest[1:])
            value = host
        elif value.count(":") == 1:
            value, port_s = value.split(":")
            port = int(port_s)
        ipaddress.ip_address(value)
        if not 0 < port < 65536:
            raise ValueError("port out of range")
        return cls(value, port)


@dataclass(frozen=True, slots=True)
class ScanOptions:
    timeout: float = 5.0
    nameservers: tuple[Nameserver, ...] = ()
    ca_bundle: str | None = None
    allow_private: bool = False
    dkim_selectors: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    ports: bool = False  # active port checks requested
    authorised: bool = False  # the user confirmed they may scan these hosts
    workers: int = 32
    per_host_connections: int = 4
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. questionnaire answers


class ProbeContext:
    """What a probe may use: resolver, HTTP session, scope, settings, and other probes' facts."""

    def __init__(self, run: _Run, target: str) -> None:
        self._run = run
        self.target = target
        self.options = run.options
        self.timeout = run.options.timeout
        self.scope = run.scope
        self.settings = run.profile.settings
        self.now = run.now

    @property
    def resolver(self) -> dns.resolver.Resolver:
        return self._run.resolver()

    def http(self) -> requests.Session:
        """A session for this thread: cyberscan's User-Agent, the CA bundle, bounded redirects."""
        return self._run.http_session()

    def fact(self, probe: str, subject: str | None = None) -> Any:
        """The fact of another probe (collected once, shared). Raises ProbeError if it is missing."""
        outcome = self._run.outcome(probe, subject or self.target)
        if outcome.fact is None:
            raise ProbeError(
                f"needed fact {probe} is missing: {outcome.detail or outcome.error}",
                probe=probe,
                target=subject or self.target,
            )
        return outcome.fact

    def outcome(self, probe: str, subject: str | None = None) -> ProbeOutcome:
        return self._run.outcome(probe, subject or self.target)

    def check_params(self, probe: str) -> list[Mapping[str, Any]]:
        """The params of the selected checks that will run and need ``probe`` (e.g. the port lists
        the net checks want scanned), so a probe collects exactly what those checks judge."""
        return [c.params for c in self._run.checks if probe in c.needs]

    def admit(self, address: str, name: str) -> None:
        """Call before connecting to ``address``: raises OutOfScope outside the user's scope."""
        self.scope.admit(address, name)

    @contextlib.contextmanager
    def connection_slot(self, address: str) -> Iterator[None]:
        """Bound concurrent connections per address, so scans stay polite."""
        sem = self._run.host_semaphore(address)
        with sem:
            yield

    def map(self, fn: Callable[[T], U], items: Iterable[T], *, workers: int = 8) -> list[U]:
        """Run ``fn`` over ``items`` concurrently (for fan-out over hosts and addresses)."""
        items = list(items)
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def notice(self, key: str, **params: Any) -> None:
        self._run.add_notice(Notice(key, params, self.target))


class _Run:
    def __init__(
        self,
        *,
        registry: Registry,
        profile: Profile,
        options: ScanOptions,
        scope: Scope,
        now: datetime,
    ) -> None:
        self.registry = registry
        self.profile = profile
        self.options = options
        self.scope = scope
        self.now = now
        self._futures: dict[tuple[str, str], Future[ProbeOutcome]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._host_sems: dict[str, threading.BoundedSemaphore] = {}
        self.checks: list[Check] = []  # the selected checks that will run (see ProbeContext.check_params)
        self.notices: list[Notice] = []

    # -- shared clients -------------------------------------------------------------------

    def resolver(self) -> dns.resolver.Resolver:
        res: dns.resolver.Resolver | None = getattr(self._local, "resolver", None)
        if res is None:
            res = make_resolver(self.options)
            self._local.resolver = res
        return res

    def http_session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            session.max_redirects = 5
            session.trust_env = False  # never send scan traffic through a proxy from the environment
            if self.options.ca_bundle:
                session.verify = self.options.ca_bundle
            self._local.session = session
        return session

    def host_semaphore(self, address: str) -> threading.BoundedSemaphore:
        with self._lock:
            sem = self._host_sems.get(address)
            if sem is None:
                sem = self._host_sems[address] = threading.BoundedSemaphore(self.options.per_host_connections)
            return sem

    def add_notice(self, notice: Notice) -> None:
        with self._lock:
            if notice not in self.notices:
                self.notices.append(notice)

    # -- facts ----------------------------------------------------------------------------

    def outcome(self, probe: str, subject: str) -> ProbeOutcome:
        """Collect (once) or wait for a fact. Computed in the calling thread, so no pool deadlock."""
        key = (probe, subject)
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if owner:
                future = self._futures[key] = Future()
        assert future is not None
        if owner:
            future.set_result(self._collect(probe, subject))
        return future.result()

    def _collect(self, probe: str, subject: str) -> ProbeOutcome:
        reg = self.registry.probes.get(probe)
        if reg is None:
            return ProbeOutcome(probe, subject, error=ErrorReason.BUG, detail=f"no probe named {probe!r} is installed")
        ctx = ProbeContext(self, subject)
        try:
            fact = reg.func(ctx, subject)
        except OutOfScope as exc:
            return ProbeOutcome(probe, subject, error=ErrorReason.OUT_OF_SCOPE, detail=str(exc))
        except ProbeTimeout as exc:
            return ProbeOutcome(probe, subject, error=ErrorReason.TIMEOUT, detail=str(exc))
        except TargetUnreachable as exc:
            return ProbeOutcome(probe, subject, error=ErrorReason.UNREACHABLE, detail=str(exc))
        except ProtocolError as exc:
            return ProbeOutcome(probe, subject, error=ErrorReason.PROTOCOL, detail=str(exc))
        except ProbeError as exc:
            return ProbeOutcome(probe, subject, error=_reason_for(exc), detail=str(exc))
        except dns.exception.Timeout as exc:
            return ProbeOutcome(probe, subject, error=ErrorReason.TIMEOUT, detail=str(exc))
        except Exception as exc:  # a crashing probe must not end the scan  # noqa: BLE001
            log.debug("probe %s crashed on %s:\n%s", probe, subject, traceback.format_exc())
            return ProbeOutcome(probe, subject, error=ErrorReason.BUG, detail=f"{type(exc).__name__}: {exc}")
        return ProbeOutcome(probe, subject, fact=fact)

    def all_outcomes(self) -> list[ProbeOutcome]:
        with self._lock:
            futures = list(self._futures.values())
        return [f.result() for f in futures if f.done()]


def _reason_for(exc: ProbeError) -> ErrorReason:
    cause = exc.__cause__
    if isinstance(cause, dns.exception.Timeout | TimeoutError):
        return ErrorReason.TIMEOUT
    return ErrorReason.UNREACHABLE


def make_resolver(options: ScanOptions) -> dns.resolver.Resolver:
    if options.nameservers:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [dns.nameserver.Do53Nameserver(ns.address, ns.port) for ns in options.nameservers]
    else:
        res = dns.resolver.Resolver(configure=True)
    res.timeout = options.timeout
    res.lifetime = options.timeout
    res.use_edns(0, dns.flags.DO, 1232)
    res.cache = dns.resolver.LRUCache()
    return res


# ------------------------------------------------------------------------------- facts view


class Facts(Mapping[str, ProbeOutcome]):
    """What an evaluator sees: the outcomes of the probes its check needs, plus scan context."""

    def __init__(
        self, target: str, outcomes: Mapping[str, ProbeOutcome], *, now: datetime, data: Mapping[str, Any] | None = None
    ) -> None:
        self.target = target
        self._outcomes = outcomes
        self.now = now
        self.data: Mapping[str, Any] = data or {}  # the catalogue's shared data files (hosting, eol ...)

    def __getitem__(self, probe: str) -> ProbeOutcome:
        return self._outcomes[probe]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    def fact(self, probe: str) -> Any:
        """The fact of ``probe``; only call for facts that exist (the engine checks by default)."""
        outcome = self._outcomes[probe]
        if outcome.fact is None:
            raise KeyError(probe)
        return outcome.fact


# ------------------------------------------------------------------------------- judging

Judge = Callable[[Check, Facts], list[Verdict]]


def judge(check: Check, facts: Facts, registry: Registry) -> list[Result]:
    """Run one check's evaluator over its facts; never raises."""
    reg = registry.evaluators.get(check.evaluator)
    if reg is None:
        return [_result(check, facts.target, Verdict(Status.ERROR, "error.no-evaluator", {"evaluator": check.evaluator}), ErrorReason.BUG)]
    missing = [facts[p] for p in check.needs if p in facts and not facts[p].ok]
    if missing and not reg.spec.handles_errors:
        first = missing[0]
        status = Status.SKIPPED if first.error in (ErrorReason.OUT_OF_SCOPE, ErrorReason.NOT_APPLICABLE) else Status.ERROR
        verdict = Verdict(status, f"error.{first.error}", {"probe": first.probe, "detail": first.detail})
        return [_result(check, facts.target, verdict, first.error)]
    try:
        verdicts = reg.func(facts, check.params)
    except Exception as exc:  # noqa: BLE001 - a crashing evaluator gives ERROR, the scan goes on
        log.debug("evaluator %s crashed:\n%s", check.evaluator, traceback.format_exc())
        verdict = Verdict(Status.ERROR, "error.bug", {"detail": f"{type(exc).__name__}: {exc}"})
        return [_result(check, facts.target, verdict, ErrorReason.BUG)]
    return [_result(check, facts.target, v, _verdict_reason(v)) for v in verdicts]


def _verdict_reason(verdict: Verdict) -> ErrorReason | None:
    if verdict.status is not Status.ERROR:
        return None
    reason = verdict.params.get("reason")
    try:
        return ErrorReason(reason) if reason else ErrorReason.PROTOCOL
    except ValueError:
        return ErrorReason.PROTOCOL


def _result(check: Check, target: str, verdict: Verdict, reason: ErrorReason | None) -> Result:
    return Result(
        check_id=check.id,
        check_version=check.version,
        target=target,
        status=verdict.status,
        severity=check.severity,
        message=verdict.message,
        params=dict(verdict.params),
        evidence=dict(verdict.evidence),
        host=verdict.host,
        maps_to=tuple(check.maps_to),
        error_reason=reason,
    )


def skipped(check: Check, target: str, message: str, **params: Any) -> Result:
    return _result(check, target, Verdict(Status.SKIPPED, message, params), ErrorReason.NOT_APPLICABLE)


# ------------------------------------------------------------------------------- scanning

Progress = Callable[[int, int, str], None]


def scan(
    targets: Sequence[str],
    *,
    catalogue: Catalogue,
    profile: Profile,
    registry: Registry,
    options: ScanOptions,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ScanResult:
    """Scan ``targets`` (already normalised domain names) under ``profile``."""
    started = now or datetime.now(UTC)
    checks = catalogue.select(profile)
    if not checks:
        raise CatalogueError(f"profile {profile.id!r} selects no checks")
    scope = Scope(tuple(targets), allow_private=options.allow_private, extra_hosts=options.extra_hosts)
    run = _Run(registry=registry, profile=profile, options=options, scope=scope, now=started)

    gated = {c.id for c in checks if c.active and not (options.ports and options.authorised)}
    run.checks = [c for c in checks if c.id not in gated]
    needed = sorted({(p, t) for t in targets for c in checks if c.id not in gated for p in c.needs})
    total = len(needed)
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="probe") as pool:
        futures = {pool.submit(run.outcome, p, t): (p, t) for p, t in needed}
        for future in _as_completed(futures):
            done += 1
            if progress is not None:
                progress(done, total, futures[future][1])

    results: list[Result] = []
    for target in targets:
        for check in checks:
            if check.id in gated:
                key = "skipped.active-not-requested" if not options.ports else "skipped.not-authorised"
                results.append(skipped(check, target, key))
                continue
            outcomes = {p: run.outcome(p, target) for p in check.needs}
            results.extend(judge(check, Facts(target, outcomes, now=started, data=catalogue.extras), registry))

    for address, names in sorted(scope.refused.items()):
        run.add_notice(Notice("scope.private-address", {"address": address, "names": sorted(names)}))
    return ScanResult(
        tool_version=__version__,
        catalogue_version=catalogue.version,
        profile=profile.id,
        started=started.isoformat(timespec="seconds"),
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        targets=list(targets),
        results=results,
        outcomes=run.all_outcomes(),
        notices=run.notices,
        addresses_probed=scope.summary(),
        options=_public_options(options),
    )


def rejudge(stored: ScanResult, *, catalogue: Catalogue, profile: Profile, registry: Registry) -> ScanResult:
    """Judge a stored scan's facts again under the current catalogue (for history and rescoring)."""
    by_key = {(o.probe, o.subject): o for o in stored.outcomes}
    results: list[Result] = []
    now = datetime.fromisoformat(stored.started)
    for target in stored.targets:
        for check in catalogue.select(profile):
            outcomes = {p: by_key[(p, target)] for p in check.needs if (p, target) in by_key}
            if len(outcomes) < len(check.needs):
                results.append(skipped(check, target, "skipped.no-stored-facts"))
                continue
            results.extend(judge(check, Facts(target, outcomes, now=now, data=catalogue.extras), registry))
    return ScanResult(
        tool_version=__version__,
        catalogue_version=catalogue.version,
        profile=profile.id,
        started=stored.started,
        finished=stored.finished,
        targets=stored.targets,
        results=results,
        outcomes=stored.outcomes,
        notices=stored.notices,
        addresses_probed=stored.addresses_probed,
        options=stored.options,
    )


def _as_completed(futures: Mapping[Future[Any], Any]) -> Iterator[Future[Any]]:
    from concurrent.futures import as_completed

    return as_completed(futures)


def _public_options(options: ScanOptions) -> dict[str, Any]:
    """Options worth recording in a report (never secrets; answers are stored separately)."""
    return {
        "timeout": options.timeout,
        "nameservers": [f"{ns.address}:{ns.port}" for ns in options.nameservers],
        "allow_private": options.allow_private,
        "dkim_selectors": list(options.dkim_selectors),
        "extra_hosts": list(options.extra_hosts),
        "ports": options.ports,
        "authorised": options.authorised,
    }
