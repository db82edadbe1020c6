"""The agent's configuration file (``agent.yaml``), read safely and validated with line numbers.

    domains: [museum.nl, collectie.museum.nl]
    options: {profile: klein-museum, timeout: 5}     # the scan command's option names, with underscores
    schedule: {every: 24h}                            # or {cron: "0 6 * * 1", timezone: Europe/Amsterdam}
    lang: nl                                          # the language of the messages (default: CYBERSCAN_LANG, else nl)
    db: /var/lib/cyberscan/history.sqlite             # or postgresql://user@host/db (password: PGPASSWORD or ~/.pgpass)
    alerts:
      webhook: {url: "https://hooks.museum.nl/cyberscan", secret_file: /etc/cyberscan/hook.key}
      email:
        to: [it@museum.nl]
        from: cyberscan@museum.nl
        smtp: {host: smtp.museum.nl, port: 587, user: cyberscan, password_file: /etc/cyberscan/smtp.pass}
    rules: {score_drop: 5, confirm_after: 60s, flapping_rounds: 3, cannot_check_rounds: 5,
            reminders: {critical: 1d, high: 3d, medium: 7d, low: 30d, info: never}}
    share:                                            # anonymised scores to DEN's hub after each round
      submit: true
      hub: https://hub.den.nl                         # https (plain http only to this computer)
      token_file: /etc/cyberscan/hub.token            # or token_env: NAME (default: CYBERSCAN_HUB_TOKEN)
      sector: museum                                  # museum | archive | library | other
      size: small                                     # micro | small | medium | large
      province: utrecht                               # optional
      # ca_bundle: /etc/cyberscan/hub-ca.pem, identity_folder: /var/lib/cyberscan, timeout: 15

Secrets (the webhook's signing key, the SMTP password, the hub's enrolment token) come only from a
file (``*_file``) or an environment variable (``*_env``): a secret written into this file, or into a
URL, is refused. They
are kept out of every ``repr`` and never logged. Every problem is a :class:`ConfigError` naming the
file and line (``agent.config.*`` in ``texts/agent.yaml``).
"""

from __future__ import annotations

import math
import os
import re
import stat
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .. import safeyaml
from ..errors import ConfigError, UsageError
from ..models import Severity
from ..options import Nameserver, ScanOptions, check_timeout
from ..scope import normalize_domain
from ..share import client as hub_client
from ..share.summary import PROVINCES, SECTORS, SIZES, Organisation
from ..texts import LANGUAGES
from .schedule import Cron, Every, Schedule, parse_duration

MAX_CONFIG_BYTES = 256 * 1024
MAX_SECRET_BYTES = 64 * 1024
MAX_DOMAINS = 200

# the scan command's options (with underscores) the agent understands, and those it does not use
SCAN_OPTIONS = {"profile", "lang", "nameserver", "timeout", "ca_bundle", "allow_private", "dkim_selector", "host",
                "ports", "i_am_authorised", "answers", "accepted", "catalogue", "db"}
NOT_FOR_THE_AGENT = {"format", "output", "fail_on", "no_progress", "no_save"}
TOP_LEVEL = {"domains", "options", "schedule", "lang", "db", "alerts", "rules", "share"}

DEFAULT_REMINDERS: Mapping[Severity, float | None] = {
    Severity.CRITICAL: 86400.0,
    Severity.HIGH: 3 * 86400.0,
    Severity.MEDIUM: 7 * 86400.0,
    Severity.LOW: 30 * 86400.0,
    Severity.INFO: None,
}

_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret and where it came from (``file /etc/...`` or ``env NAME``): the value is never shown."""

    value: str = field(repr=False)
    source: str = ""
    world_readable: bool = False  # a secret file that every user of the computer can read

    def __str__(self) -> str:
        return f"<secret from {self.source}>"


@dataclass(frozen=True, slots=True)
class Smtp:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls (implicit, port 465) | none (a relay on this computer only)
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Email:
    to: tuple[str, ...]
    sender: str
    smtp: Smtp


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: Secret | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Share:
    """Submitting anonymised scores to DEN's hub (``share:`` with ``submit: true``)."""

    hub: str  # the base URL, as :func:`cyberscan.share.client.hub_base` gives it
    token: Secret = field(repr=False)  # the enrolment token
    organisation: Organisation
    ca_bundle: str | None = None
    identity_folder: Path | None = None  # None: where ``cyberscan submit`` keeps the organisation id
    timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class Rules:
    """When a change is worth a message (``rules:`` in agent.yaml)."""

    score_drop: float = 0.05  # a drop of the DEN score by at least this much (0..1; the file says points)
    min_severity: Severity = Severity.LOW  # new fails of lower severity are not alerted
    confirm_after: float = 60.0  # seconds before a regression is probed again
    flapping_rounds: int = 3  # a problem that cleared and is back within this many rounds is not new
    cannot_check_rounds: int = 5  # a check in error this many rounds in a row: "cannot check", once
    reminders: Mapping[Severity, float | None] = field(default_factory=lambda: dict(DEFAULT_REMINDERS))
    expiry_days: tuple[int, ...] = (14, 7, 1)  # besides a third of the lifetime remaining
    retry_first: float = 60.0  # outbox: the first retry after this many seconds, doubling ...
    retry_max: float = 6 * 3600.0  # ... up to this
    give_up_after: float = 7 * 86400.0  # a message not delivered within this is abandoned (and logged)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    path: str
    domains: tuple[str, ...]
    profile: str = "default"
    options: ScanOptions = field(default_factory=ScanOptions)
    answers_file: Path | None = None
    accepted_file: Path | None = None
    catalogue_dirs: tuple[Path, ...] = ()
    schedule: Schedule = field(default_factory=lambda: Every(86400.0))
    lang: str | None = None  # None: the command's default (CYBERSCAN_LANG, else Dutch)
    db: str | None = None  # None: CYBERSCAN_DB, else the default store
    email: Email | None = None
    webhook: Webhook | None = None
    rules: Rules = field(default_factory=Rules)
    share: Share | None = None  # submit anonymised scores to DEN's hub after each round

    @property
    def secrets(self) -> tuple[Secret, ...]:
        found = [self.email.smtp.password if self.email is not None else None,
                 self.webhook.secret if self.webhook is not None else None,
                 self.share.token if self.share is not None else None]
        return tuple(s for s in found if s is not None)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(name for name, on in (("email", self.email), ("webhook", self.webhook)) if on is not None)


# ----------------------------------------------------------------------------- line numbers


def _lines(node: Any, path: tuple[Any, ...] = (), out: dict[tuple[Any, ...], int] | None = None
           ) -> dict[tuple[Any, ...], int]:
    """Path (keys and list indexes) -> line (1-based) of every key and item in the document."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                here = (*path, key.value)
                out[here] = key.start_mark.line + 1
                _lines(value, here, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = (*path, index)
            out[here] = item.start_mark.line + 1
            _lines(item, here, out)
    return out


class _Reader:
    """Validation helpers that name the file and line of each problem."""

    def __init__(self, where: str, lines: Mapping[tuple[Any, ...], int], base: Path) -> None:
        self.where = where
        self.lines = lines
        self.base = base

    def line(self, path: tuple[Any, ...]) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1

    def at(self, path: tuple[Any, ...]) -> dict[str, Any]:
        """Where a value is, for a ConfigError about it: the file, its line and the field's path."""
        return {"where": self.where, "line": self.line(path), "field": ".".join(str(p) for p in path) or "-"}

    def mapping(self, value: Any, path: tuple[Any, ...], allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError("agent.config.not-a-mapping", **self.at(path))
        for key in value:
            if not isinstance(key, str):
                raise ConfigError("agent.config.unknown-field", **self.at(path), name=str(key)[:40])
            if key not in allowed:
                raise ConfigError("agent.config.unknown-field", **self.at((*path, key)), name=key[:40])
        return value

    def text(self, value: Any, path: tuple[Any, ...], *, limit: int = 500) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError("agent.config.not-text", **self.at(path))
        result = str(value).strip()
        if not result or len(result) > limit or any(ch in result for ch in "\r\n\x00"):
            raise ConfigError("agent.config.not-text", **self.at(path))
        return result

    def texts(self, value: Any, path: tuple[Any, ...]) -> tuple[str, ...]:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return (self.text(value, path),)
        if not isinstance(value, list):
            raise ConfigError("agent.config.not-a-list", **self.at(path))
        return tuple(self.text(v, (*path, i)) for i, v in enumerate(value))

    def flag(self, value: Any, path: tuple[Any, ...]) -> bool:
        if not isinstance(value, bool):
            raise ConfigError("agent.config.not-a-flag", **self.at(path))
        return value

    def number(self, value: Any, path: tuple[Any, ...], low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError("agent.config.not-a-number", **self.at(path), low=low, high=high)
        if not low <= float(value) <= high:
            raise ConfigError("agent.config.not-a-number", **self.at(path), low=low, high=high)
        return float(value)

    def duration(self, value: Any, path: tuple[Any, ...], *, low: float, high: float, never: bool = False
                 ) -> float | None:
        if never and value in ("never", False):
            return None
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise ConfigError("agent.config.bad-duration", **self.at(path), value=str(value)[:40]) from None
        if not low <= seconds <= high:
            raise ConfigError("agent.config.bad-duration", **self.at(path), value=str(value)[:40])
        return seconds

    def file(self, value: Any, path: tuple[Any, ...], *, must_exist: bool = True) -> Path:
        raw = Path(self.text(value, path, limit=4096)).expanduser()
        resolved = raw if raw.is_absolute() else self.base / raw
        if must_exist and not resolved.is_file():
            raise ConfigError("agent.config.no-such-file", **self.at(path), file=str(resolved))
        return resolved

    def folder(self, value: Any, path: tuple[Any, ...]) -> Path:
        raw = Path(self.text(value, path, limit=4096)).expanduser()
        resolved = raw if raw.is_absolute() else self.base / raw
        if not resolved.is_dir():
            raise ConfigError("agent.config.no-such-folder", **self.at(path), file=str(resolved))
        return resolved

    def address(self, value: Any, path: tuple[Any, ...]) -> str:
        result = self.text(value, path, limit=254)
        if not _ADDRESS.match(result):
            raise ConfigError("agent.config.bad-address", **self.at(path), value=result[:80])
        return result

    def secret(self, section: Mapping[str, Any], path: tuple[Any, ...], name: str, environ: Mapping[str, str]
               ) -> Secret | None:
        """``<name>_file`` or ``<name>_env``; ``<name>`` itself (a secret in this file) is refused."""
        if name in section:
            raise ConfigError("agent.config.secret-inline", **self.at((*path, name)), name=name)
        from_file, from_env = section.get(f"{name}_file"), section.get(f"{name}_env")
        if from_file is not None and from_env is not None:
            raise ConfigError("agent.config.secret-twice", **self.at((*path, f"{name}_file")), name=name)
        if from_file is not None:
            where = (*path, f"{name}_file")
            secret_path = self.file(from_file, where)
            try:
                with secret_path.open("rb") as handle:
                    data = handle.read(MAX_SECRET_BYTES + 1)
                mode = secret_path.stat().st_mode
            except OSError as exc:
                raise ConfigError("agent.config.secret-unreadable", **self.at(where), file=str(secret_path), detail=exc.strerror or type(exc).__name__) from None
            if len(data) > MAX_SECRET_BYTES:
                raise ConfigError("agent.config.secret-unreadable", **self.at(where), file=str(secret_path), detail="too large")
            try:
                value = data.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise ConfigError("agent.config.secret-unreadable", **self.at(where), file=str(secret_path), detail="not UTF-8") from None
            if not value:
                raise ConfigError("agent.config.secret-empty", **self.at(where), file=str(secret_path))
            source = f"file {secret_path}"
            if mode & stat.S_IROTH:
                return Secret(value, source, world_readable=True)
            return Secret(value, source)
        if from_env is not None:
            where = (*path, f"{name}_env")
            variable = self.text(from_env, where, limit=200)
            value = environ.get(variable, "").strip()
            if not value:
                raise ConfigError("agent.config.secret-no-env", **self.at(where), variable=variable)
            return Secret(value, f"env {variable}")
        return None


# ----------------------------------------------------------------------------- the sections


def _domains(r: _Reader, raw: Any) -> tuple[str, ...]:
    if raw is None:
        raise ConfigError("agent.config.no-domains", **r.at(()))
    values = r.texts(raw, ("domains",))
    if not values:
        raise ConfigError("agent.config.no-domains", **r.at(("domains",)))
    if len(values) > MAX_DOMAINS:
        raise ConfigError("agent.config.too-many-domains", **r.at(("domains",)), limit=MAX_DOMAINS)
    out: list[str] = []
    for index, value in enumerate(values):
        try:
            domain = normalize_domain(value).domain
        except UsageError as exc:
            raise ConfigError("agent.config.bad-domain", **r.at(("domains", index) if isinstance(raw, list) else ("domains",)), value=value[:80], detail=exc.message("en")) from None
        if domain not in out:
            out.append(domain)
    return tuple(out)


def _options(r: _Reader, raw: Any) -> dict[str, Any]:
    if raw is not None and isinstance(raw, dict):
        for key in raw:
            if key in NOT_FOR_THE_AGENT:
                raise ConfigError("agent.config.option-not-used", **r.at(("options", key)), name=key)
            dashed = str(key).replace("-", "_")
            if dashed != key and dashed in SCAN_OPTIONS:
                raise ConfigError("agent.config.option-underscores", **r.at(("options", key)), name=key, fixed=dashed)
    return r.mapping(raw, ("options",), SCAN_OPTIONS)


def _scan_options(r: _Reader, opts: Mapping[str, Any]) -> ScanOptions:
    p = ("options",)
    nameservers = []
    for index, value in enumerate(r.texts(opts.get("nameserver", []), (*p, "nameserver"))):
        try:
            nameservers.append(Nameserver.parse(value))
        except ValueError:
            where = (*p, "nameserver", index) if isinstance(opts.get("nameserver"), list) else (*p, "nameserver")
            raise ConfigError("agent.config.bad-nameserver", **r.at(where), value=value[:80]) from None
    hosts = []
    for index, value in enumerate(r.texts(opts.get("host", []), (*p, "host"))):
        try:
            hosts.append(normalize_domain(value).domain)
        except UsageError as exc:
            where = (*p, "host", index) if isinstance(opts.get("host"), list) else (*p, "host")
            raise ConfigError("agent.config.bad-domain", **r.at(where), value=value[:80], detail=exc.message("en")) from None
    timeout = 5.0
    if "timeout" in opts:
        value = opts["timeout"]
        try:
            timeout = check_timeout(value)
        except UsageError:
            raise ConfigError("agent.config.bad-timeout", **r.at((*p, "timeout")), value=str(value)[:40]) from None
    ca_bundle = str(r.file(opts["ca_bundle"], (*p, "ca_bundle"))) if "ca_bundle" in opts else None
    ports = r.flag(opts.get("ports", False), (*p, "ports"))
    authorised = r.flag(opts.get("i_am_authorised", False), (*p, "i_am_authorised"))
    if ports and not authorised:
        raise ConfigError("agent.config.ports-need-consent", **r.at((*p, "ports")))
    return ScanOptions(
        timeout=timeout,
        nameservers=tuple(nameservers),
        ca_bundle=ca_bundle,
        allow_private=r.flag(opts.get("allow_private", False), (*p, "allow_private")),
        dkim_selectors=r.texts(opts.get("dkim_selector", []), (*p, "dkim_selector")),
        extra_hosts=tuple(hosts),
        ports=ports,
        authorised=authorised,
    )


def _schedule(r: _Reader, raw: Any) -> Schedule:
    p = ("schedule",)
    if raw is None:
        return Every(86400.0)
    section = r.mapping(raw, p, {"every", "cron", "timezone"})
    if ("every" in section) == ("cron" in section):
        raise ConfigError("agent.config.schedule-one", **r.at(p))
    if "every" in section:
        if "timezone" in section:
            raise ConfigError("agent.config.unknown-field", **r.at((*p, "timezone")), name="timezone")
        seconds = r.duration(section["every"], (*p, "every"), low=1, high=366 * 86400)
        assert seconds is not None
        return Every(seconds)
    expression = r.text(section["cron"], (*p, "cron"), limit=200)
    zone = None
    if "timezone" in section:
        name = r.text(section["timezone"], (*p, "timezone"), limit=100)
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("agent.config.bad-timezone", **r.at((*p, "timezone")), value=name[:60]) from None
    try:
        return Cron(expression, zone)
    except ValueError:
        raise ConfigError("agent.config.bad-cron", **r.at((*p, "cron")), value=expression[:80]) from None


def _no_password_in_url(r: _Reader, url: str, path: tuple[Any, ...]) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise ConfigError("agent.config.bad-url", **r.at(path), value=url[:80]) from None
    if parts.password is not None:
        raise ConfigError("agent.config.secret-in-url", **r.at(path))


def _db(r: _Reader, raw: Any, path: tuple[Any, ...]) -> str:
    value = r.text(raw, path, limit=4096)
    if value.startswith(("postgresql://", "postgres://")):
        _no_password_in_url(r, value, path)
        return value
    resolved = Path(value).expanduser()
    return str(resolved if resolved.is_absolute() else r.base / resolved)


def _smtp(r: _Reader, raw: Any, path: tuple[Any, ...], environ: Mapping[str, str]) -> Smtp:
    section = r.mapping(raw, path, {"host", "port", "security", "user", "password", "password_file", "password_env",
                                    "ca_file", "timeout"})
    if "host" not in section:
        raise ConfigError("agent.config.missing", **r.at((*path, "host")), name="host")
    host = r.text(section["host"], (*path, "host"), limit=253)
    security = r.text(section.get("security", "starttls"), (*path, "security"))
    if security not in ("starttls", "tls", "none"):
        raise ConfigError("agent.config.bad-choice", **r.at((*path, "security")), value=security[:40], choices="starttls, tls, none")
    port = int(r.number(section.get("port", 465 if security == "tls" else 587), (*path, "port"), 1, 65535))
    user = r.text(section["user"], (*path, "user"), limit=320) if "user" in section else None
    password = r.secret(section, path, "password", environ)
    if (user is None) != (password is None):
        raise ConfigError("agent.config.user-and-password", **r.at(path))
    if security == "none" and password is not None and host not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError("agent.config.password-in-the-clear", **r.at((*path, "security")))
    ca_file = str(r.file(section["ca_file"], (*path, "ca_file"))) if "ca_file" in section else None
    timeout = r.number(section.get("timeout", 30), (*path, "timeout"), 1, 300)
    return Smtp(host, port, security, user, password, ca_file, timeout)


def _email(r: _Reader, raw: Any, domains: Sequence[str], environ: Mapping[str, str]) -> Email:
    p = ("alerts", "email")
    section = r.mapping(raw, p, {"to", "from", "smtp"})
    if "to" not in section:
        raise ConfigError("agent.config.missing", **r.at((*p, "to")), name="to")
    raw_to = section["to"]
    to = [r.address(v, (*p, "to", i) if isinstance(raw_to, list) else (*p, "to"))
          for i, v in enumerate(r.texts(raw_to, (*p, "to")))]
    if not to:
        raise ConfigError("agent.config.missing", **r.at((*p, "to")), name="to")
    sender = r.address(section["from"], (*p, "from")) if "from" in section else f"cyberscan@{domains[0]}"
    if "smtp" not in section:
        raise ConfigError("agent.config.missing", **r.at((*p, "smtp")), name="smtp")
    return Email(tuple(to), sender, _smtp(r, section["smtp"], (*p, "smtp"), environ))


def _webhook(r: _Reader, raw: Any, environ: Mapping[str, str]) -> Webhook:
    p = ("alerts", "webhook")
    section = r.mapping(raw, p, {"url", "secret", "secret_file", "secret_env", "ca_file", "timeout"})
    if "url" not in section:
        raise ConfigError("agent.config.missing", **r.at((*p, "url")), name="url")
    url = r.text(section["url"], (*p, "url"), limit=2000)
    _no_password_in_url(r, url, (*p, "url"))
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("agent.config.bad-url", **r.at((*p, "url")), value=url[:80])
    secret = r.secret(section, p, "secret", environ)
    ca_file = str(r.file(section["ca_file"], (*p, "ca_file"))) if "ca_file" in section else None
    timeout = r.number(section.get("timeout", 30), (*p, "timeout"), 1, 300)
    return Webhook(url, secret, ca_file, timeout)


def _rules(r: _Reader, raw: Any) -> Rules:
    p = ("rules",)
    section = r.mapping(raw, p, {"score_drop", "min_severity", "confirm_after", "flapping_rounds",
                                 "cannot_check_rounds", "reminders", "expiry_days", "retry_first", "retry_max",
                                 "give_up_after"})
    defaults = Rules()
    min_severity = defaults.min_severity
    if "min_severity" in section:
        value = r.text(section["min_severity"], (*p, "min_severity"))
        try:
            min_severity = Severity(value)
        except ValueError:
            raise ConfigError("agent.config.bad-choice", **r.at((*p, "min_severity")), value=value[:40], choices=", ".join(s.value for s in Severity)) from None
    reminders = dict(DEFAULT_REMINDERS)
    if "reminders" in section:
        rp = (*p, "reminders")
        given = r.mapping(section["reminders"], rp, {s.value for s in Severity})
        for name, value in given.items():
            reminders[Severity(name)] = r.duration(value, (*rp, name), low=60, high=366 * 86400, never=True)
    days = defaults.expiry_days
    if "expiry_days" in section:
        ep = (*p, "expiry_days")
        if not isinstance(section["expiry_days"], list):
            raise ConfigError("agent.config.not-a-list", **r.at(ep))
        days = tuple(sorted({int(r.number(v, (*ep, i), 1, 365)) for i, v in enumerate(section["expiry_days"])},
                            reverse=True))

    def seconds(name: str, default: float, low: float, high: float) -> float:
        if name not in section:
            return default
        value = r.duration(section[name], (*p, name), low=low, high=high)
        assert value is not None
        return value

    return Rules(
        score_drop=r.number(section.get("score_drop", defaults.score_drop * 100), (*p, "score_drop"), 0.1, 100) / 100,
        min_severity=min_severity,
        confirm_after=seconds("confirm_after", defaults.confirm_after, 0, 3600),
        flapping_rounds=int(r.number(section.get("flapping_rounds", defaults.flapping_rounds),
                                     (*p, "flapping_rounds"), 0, 1000)),
        cannot_check_rounds=int(r.number(section.get("cannot_check_rounds", defaults.cannot_check_rounds),
                                         (*p, "cannot_check_rounds"), 1, 1000)),
        reminders=reminders,
        expiry_days=days,
        retry_first=seconds("retry_first", defaults.retry_first, 1, 86400),
        retry_max=seconds("retry_max", defaults.retry_max, 1, 7 * 86400),
        give_up_after=seconds("give_up_after", defaults.give_up_after, 60, 366 * 86400),
    )


def _choice(r: _Reader, section: Mapping[str, Any], path: tuple[Any, ...], name: str, choices: Sequence[str]
            ) -> str:
    value = r.text(section[name], (*path, name), limit=40)
    if value not in choices:
        raise ConfigError("agent.config.bad-choice", **r.at((*path, name)), value=value[:40], choices=", ".join(choices))
    return value


def _hub_url(r: _Reader, raw: Any, path: tuple[Any, ...]) -> str:
    url = r.text(raw, path, limit=2000)
    _no_password_in_url(r, url, path)
    try:
        return hub_client.hub_base(url)
    except UsageError as exc:
        if exc.key == "hub.url-insecure":
            raise ConfigError("agent.config.hub-insecure", **r.at(path), value=url[:80]) from None
        raise ConfigError("agent.config.bad-hub", **r.at(path), value=url[:80]) from None


def _hub_token(r: _Reader, section: Mapping[str, Any], path: tuple[Any, ...], environ: Mapping[str, str]) -> Secret:
    """``token_file`` or ``token_env``; with neither, the variable ``cyberscan submit`` reads
    (CYBERSCAN_HUB_TOKEN). The token's own rules are those of :func:`cyberscan.share.client.read_token`."""
    token = r.secret(section, path, "token", environ)
    if token is None:
        value = environ.get(hub_client.TOKEN_ENV, "").strip()
        if not value:
            raise ConfigError("agent.config.hub-no-token", **r.at(path), variable=hub_client.TOKEN_ENV)
        token = Secret(value, f"env {hub_client.TOKEN_ENV}")
    given = (*path, "token_file") if "token_file" in section else (*path, "token_env") if "token_env" in section else path
    if (len(token.value) > hub_client.MAX_TOKEN_BYTES or not token.value.isascii()
            or any(c.isspace() or not c.isprintable() for c in token.value)):
        raise ConfigError("agent.config.hub-bad-token", **r.at(given), source=token.source)
    return token


def _share(r: _Reader, raw: Any, environ: Mapping[str, str]) -> Share | None:
    """The ``share:`` section. Everything in it is checked, also with ``submit: false``; the token is
    only read when it is needed (``submit: true``)."""
    p = ("share",)
    section = r.mapping(raw, p, {"submit", "hub", "token", "token_file", "token_env", "ca_bundle", "sector", "size",
                                 "province", "identity_folder", "timeout"})
    submit = r.flag(section.get("submit", False), (*p, "submit"))
    hub = _hub_url(r, section["hub"], (*p, "hub")) if "hub" in section else None
    sector = _choice(r, section, p, "sector", SECTORS) if "sector" in section else None
    size = _choice(r, section, p, "size", SIZES) if "size" in section else None
    province = _choice(r, section, p, "province", [*PROVINCES, "none"]) if "province" in section else None
    ca_bundle = str(r.file(section["ca_bundle"], (*p, "ca_bundle"))) if "ca_bundle" in section else None
    folder = r.folder(section["identity_folder"], (*p, "identity_folder")) if "identity_folder" in section else None
    timeout = r.number(section.get("timeout", 15), (*p, "timeout"), 1, 300)
    if "token" in section:
        raise ConfigError("agent.config.secret-inline", **r.at((*p, "token")), name="token")
    if not submit:
        return None
    for name, value in (("hub", hub), ("sector", sector), ("size", size)):
        if value is None:
            raise ConfigError("agent.config.missing", **r.at((*p, name)), name=name)
    assert hub is not None and sector is not None and size is not None
    token = _hub_token(r, section, p, environ)
    organisation = Organisation(sector, size, None if province in (None, "none") else province)
    return Share(hub, token, organisation, ca_bundle, folder, timeout)


# ----------------------------------------------------------------------------- reading


def parse_config(text: str, *, where: str, base: Path | None = None, environ: Mapping[str, str] | None = None
                 ) -> AgentConfig:
    """Validate an agent.yaml document; relative paths are read from ``base`` (the file's folder)."""
    env = os.environ if environ is None else environ
    data = safeyaml.load(text, where=where, max_bytes=MAX_CONFIG_BYTES)
    if data is None:
        raise ConfigError("agent.config.empty", where=where, line=1)
    r = _Reader(where, _lines(safeyaml.compose(text, where=where)), base or Path.cwd())
    top = r.mapping(data, (), TOP_LEVEL)
    domains = _domains(r, top.get("domains"))
    opts = _options(r, top.get("options"))
    options = _scan_options(r, opts)
    lang = None
    for path, value in ((("lang",), top.get("lang")), (("options", "lang"), opts.get("lang"))):
        if value is None:
            continue
        if lang is not None:
            raise ConfigError("agent.config.lang-twice", **r.at(path))
        lang = r.text(value, path)
        if lang not in LANGUAGES:
            raise ConfigError("agent.config.bad-choice", **r.at(path), value=lang[:20], choices=", ".join(LANGUAGES))
    db = None
    for path, value in ((("db",), top.get("db")), (("options", "db"), opts.get("db"))):
        if value is None:
            continue
        if db is not None:
            raise ConfigError("agent.config.db-twice", **r.at(path))
        db = _db(r, value, path)
    alerts = r.mapping(top.get("alerts"), ("alerts",), {"email", "webhook"})
    email = _email(r, alerts["email"], domains, env) if alerts.get("email") is not None else None
    webhook = _webhook(r, alerts["webhook"], env) if alerts.get("webhook") is not None else None
    catalogue_raw = opts.get("catalogue", [])
    catalogue_dirs = tuple(r.folder(v, ("options", "catalogue", i) if isinstance(catalogue_raw, list)
                                    else ("options", "catalogue"))
                           for i, v in enumerate(r.texts(catalogue_raw, ("options", "catalogue"))))
    share = _share(r, top.get("share"), env)
    return AgentConfig(
        path=where,
        domains=domains,
        profile=r.text(opts["profile"], ("options", "profile"), limit=200) if "profile" in opts else "default",
        options=options,
        answers_file=r.file(opts["answers"], ("options", "answers")) if "answers" in opts else None,
        accepted_file=r.file(opts["accepted"], ("options", "accepted")) if "accepted" in opts else None,
        catalogue_dirs=catalogue_dirs,
        schedule=_schedule(r, top.get("schedule")),
        lang=lang,
        db=db,
        email=email,
        webhook=webhook,
        rules=_rules(r, top.get("rules")),
        share=share,
    )


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read and validate the agent's configuration file. Raises ConfigError (with the line)."""
    where = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError("agent.config.unreadable", where=where, detail=exc.strerror or type(exc).__name__) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError("yaml.too-large", where=where, limit=MAX_CONFIG_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("agent.config.not-utf8", where=where) from None
    return parse_config(text, where=where, base=path.resolve().parent, environ=environ)
