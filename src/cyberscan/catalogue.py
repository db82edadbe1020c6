"""The check catalogue, framework files and profiles: data a DEN editor can change without code.

Layout (inside the wheel under ``cyberscan/_data/``, in a source tree at the repository root)::

    checks/catalogue.yaml            version of the catalogue as a whole
    checks/<area>/<rest-of-id>.yaml  one check each; the path mirrors the id
    checks/frameworks/<id>.yaml      DEN checklist, stappenplan, incident response, continuity ...
    profiles/<id>.yaml               which checks run and how they are tuned

Every file is read with a safe YAML loader (libyaml's ``CSafeLoader`` where available, else ``SafeLoader``).

Parsing about sixty YAML files is most of the time a command spends loading the catalogue, so what
they parse to is kept in a cache: one JSON file in the user's cache folder (``platformdirs``, e.g.
``~/.cache/cyberscan/catalogue-1.json``; ``CYBERSCAN_CACHE=PATH`` elsewhere, ``CYBERSCAN_CACHE=off``
for none). Each entry is keyed by a hash of the file's bytes (which are read every time), so an edited
file is never served stale, whatever its modification time says. Only JSON is ever read back (dates
are tagged), and only from a file owned by the user that nobody else may write to; everything read is
checked by the same parsing and validation as the YAML itself. A file whose content JSON cannot hold
exactly is parsed every time; a cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import platformdirs
import yaml

from .errors import CatalogueError, ConfigError
from .models import Severity
from .texts import LANGUAGES, Text, text

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

RELATIONS = ("direct", "partial", "indicator", "answer")
CONFIDENCE = ("read", "partial", "secondary", "inferred", "ours")

__all__ = ["LANGUAGES", "Text", "text"]  # re-exported: texts are picked the same way everywhere


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    version: int
    severity: Severity
    evaluator: str
    needs: tuple[str, ...]
    title: Text
    risk: Text
    remediation: Text
    messages: Mapping[str, Text]
    maps_to: Mapping[str, str]  # framework item id -> relation
    params: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    continuity: tuple[str, ...] = ()
    active: bool = False  # sends more than ordinary client traffic (port scans): needs consent
    who: str = "volunteer"  # who usually fixes it: volunteer | supplier | director
    effort: str = "low"  # low | medium | high
    source: str = ""  # file it came from

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class FrameworkItem:
    id: str
    framework: str
    title: Text
    description: Text
    confidence: str
    manual: bool = False
    number: str | None = None
    continuity: tuple[str, ...] = ()
    source: str = ""
    phase: str | None = None
    note: Text = field(default_factory=dict)  # editor's note, e.g. "Dutch title is our translation"
    provisional: bool = False  # the source was not fully read; number or wording may change


@dataclass(frozen=True, slots=True)
class Framework:
    id: str
    title: Text
    description: Text
    source: tuple[str, ...]
    confidence: str
    items: tuple[FrameworkItem, ...]
    scored: bool = True  # gets a readiness score in reports


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    title: Text
    description: Text
    include_tags: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    frameworks: tuple[str, ...] = ()
    questions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    checks: Mapping[str, Check]
    frameworks: Mapping[str, Framework]
    profiles: Mapping[str, Profile]
    extras: Mapping[str, Any] = field(default_factory=dict)  # other data files (eol.yaml, questions)

    def item(self, item_id: str) -> FrameworkItem | None:
        for fw in self.frameworks.values():
            for item in fw.items:
                if item.id == item_id:
                    return item
        return None

    def items(self) -> Iterator[FrameworkItem]:
        for fw in self.frameworks.values():
            yield from fw.items

    def select(self, profile: Profile) -> list[Check]:
        """The profile's checks, with its overrides applied, in catalogue order."""
        chosen = []
        for check in self.checks.values():
            wanted = check.id in profile.include or bool(set(check.tags) & set(profile.include_tags))
            if not wanted or check.id in profile.exclude:
                continue
            override = profile.overrides.get(check.id, {})
            if override.get("enabled") is False:
                continue
            if override:
                check = replace(
                    check,
                    severity=Severity(override.get("severity", check.severity)),
                    params={**check.params, **override.get("params", {})},
                )
            chosen.append(check)
        return chosen


# --------------------------------------------------------------------------- loading


def data_root() -> Traversable:
    """Where ``checks/`` and ``profiles/`` live: inside the installed package or the source tree."""
    packaged = resources.files("cyberscan") / "_data"
    if packaged.is_dir():
        return packaged
    source_tree = Path(__file__).resolve().parents[2]
    if (source_tree / "checks").is_dir():
        return source_tree
    raise CatalogueError("catalogue.missing")


def _parse_yaml(data: bytes, where: str) -> Any:
    try:
        return yaml.load(data.decode("utf-8"), Loader=_SafeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CatalogueError("catalogue.bad-yaml", where=where, line=mark.line + 1 if mark is not None else 0,
                             problem=str(getattr(exc, "problem", None) or exc)[:200]) from exc
    except UnicodeDecodeError as exc:
        raise CatalogueError("catalogue.unreadable", where=where, detail=str(exc)[:200]) from exc


def _read_bytes(path: Traversable) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CatalogueError("catalogue.unreadable", where=str(path), detail=str(exc)[:200]) from exc


def _read_yaml(path: Traversable) -> Any:
    return _parse_yaml(_read_bytes(path), str(path))


# --------------------------------------------------------------------------- the parse cache

CACHE_ENV = "CYBERSCAN_CACHE"
CACHE_FORMAT = 1
CACHE_MAX_ENTRIES = 1000  # beyond this, entries this load did not use are dropped


def cache_path() -> Path | None:
    """Where the parse cache lives (None: no cache), see the module docstring."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        value = value.strip()
        return None if value.lower() in ("", "0", "off", "no", "none") else Path(value)
    return Path(platformdirs.user_cache_path("cyberscan", appauthor=False)) / f"catalogue-{CACHE_FORMAT}.json"


def _tag(value: Any) -> Any:
    """``value`` as JSON can hold it: dates and maps with keys other than text tagged; raises
    TypeError for anything else JSON lacks (the file is then parsed every time)."""
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _tag(v) for k, v in value.items()}
        if all(k is None or isinstance(k, str | bool | int | float) for k in value):  # YAML's `yes:` is True
            return {"$map": [[k, _tag(v)] for k, v in value.items()]}
        raise TypeError("key")
    if isinstance(value, list):
        return [_tag(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise TypeError(type(value).__name__)


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$date" in obj and isinstance(obj["$date"], str):
            return dt.date.fromisoformat(obj["$date"])
        if "$datetime" in obj and isinstance(obj["$datetime"], str):
            return dt.datetime.fromisoformat(obj["$datetime"])
        if "$map" in obj and isinstance(obj["$map"], list):
            return dict(obj["$map"])
    return obj


def _trusted(path: Path) -> bool:
    """A cache file only this user can have written (its folder too)."""
    getuid = getattr(os, "getuid", None)
    try:
        for item in (path, path.parent):
            info = item.stat()
            if info.st_mode & 0o022 or (getuid is not None and info.st_uid != getuid()):
                return False
    except OSError:
        return False
    return True


class _ParseCache:
    """What catalogue files parse to, by a hash of their bytes, for one :func:`load`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        if path is None or not _trusted(path):
            return
        try:
            stored = json.loads(path.read_text(encoding="utf-8"), object_hook=_untag)
        except (OSError, ValueError, TypeError):  # unreadable, not JSON, or tags that do not decode
            return
        if isinstance(stored, dict) and stored.get("format") == CACHE_FORMAT and isinstance(stored.get("entries"), dict):
            self.entries = stored["entries"]

    def read(self, path: Traversable, where: str | None = None) -> Any:
        data = _read_bytes(path)
        digest = hashlib.blake2b(data, digest_size=20).hexdigest()
        self.used.add(digest)
        if digest in self.entries:
            return self.entries[digest]
        raw = _parse_yaml(data, where or str(path))
        if self.path is not None:
            try:
                tagged = _tag(raw)
                exact = json.loads(json.dumps(tagged), object_hook=_untag) == raw
            except (TypeError, ValueError):
                exact = False
            if exact:
                self.entries[digest] = raw
                self.dirty = True
        return raw

    def save(self) -> None:
        """Write the cache back when this load parsed anything new (atomically; failures ignored)."""
        if self.path is None or not self.dirty:
            return
        entries = self.entries
        if len(entries) > CACHE_MAX_ENTRIES:
            entries = {k: v for k, v in entries.items() if k in self.used}
        with contextlib.suppress(OSError, TypeError, ValueError):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=".catalogue-", dir=self.path.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump({"format": CACHE_FORMAT, "entries": {k: _tag(v) for k, v in entries.items()}}, out)
                os.replace(temp, self.path)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temp)


def _walk(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".yaml"):
            yield f"{prefix}{entry.name}", entry


def _texts(raw: Any, where: str, name: str, *, required: bool = True) -> Text:
    if raw is None and not required:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(raw.get(lang), str) and raw.get(lang) for lang in LANGUAGES):
        raise CatalogueError("catalogue.needs-texts", where=where, field=name)
    return {str(k): str(v) for k, v in raw.items()}


def _tuple(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    return tuple(str(x) for x in raw)


def _severity(raw: Any, where: str) -> Severity:
    try:
        return Severity(raw)
    except ValueError:
        raise CatalogueError("catalogue.bad-severity", where=where, value=str(raw)[:40],
                             choices=", ".join(s.value for s in Severity)) from None


def parse_check(raw: Any, where: str, rel_path: str | None = None) -> Check:
    if not isinstance(raw, Mapping):
        raise CatalogueError("catalogue.not-a-check", where=where)
    try:
        check_id = str(raw["id"])
        if rel_path is not None:
            expected = rel_path.removesuffix(".yaml").replace("/", ".", 1)
            if check_id != expected:
                raise CatalogueError("catalogue.id-mismatch", where=where, id=check_id, expected=expected)
        maps_raw = raw.get("maps_to") or {}
        if isinstance(maps_raw, list):  # a plain list means every mapping is "direct"
            maps_raw = {str(item): "direct" for item in maps_raw}
        for item, relation in maps_raw.items():
            if relation not in RELATIONS:
                raise CatalogueError("catalogue.bad-relation", where=where, item=item, relation=relation,
                                     choices=", ".join(RELATIONS))
        messages = {str(k): _texts(v, where, f"messages.{k}") for k, v in (raw.get("messages") or {}).items()}
        return Check(
            id=check_id,
            version=int(raw.get("version", 1)),
            severity=_severity(raw["severity"], where),
            evaluator=str(raw["evaluator"]),
            needs=_tuple(raw.get("needs")),
            title=_texts(raw.get("title"), where, "title"),
            risk=_texts(raw.get("risk"), where, "risk"),
            remediation=_texts(raw.get("remediation"), where, "remediation"),
            messages=messages,
            maps_to={str(k): str(v) for k, v in maps_raw.items()},
            params=dict(raw.get("params") or {}),
            references=_tuple(raw.get("references")),
            tags=_tuple(raw.get("tags")),
            continuity=_tuple(raw.get("continuity")),
            active=bool(raw.get("active", False)),
            who=str(raw.get("who", "volunteer")),
            effort=str(raw.get("effort", "low")),
            source=where,
        )
    except KeyError as exc:
        raise CatalogueError("catalogue.missing-field", where=where, field=exc.args[0]) from exc
    except (ValueError, TypeError) as exc:
        raise CatalogueError("catalogue.bad-value", where=where, detail=str(exc)[:200]) from exc


def parse_framework(raw: Any, where: str) -> Framework:
    if not isinstance(raw, Mapping) or "id" not in raw or "items" not in raw:
        raise CatalogueError("catalogue.not-a-framework", where=where)
    fw_id = str(raw["id"])
    items = []
    for entry in raw["items"] or []:
        if not isinstance(entry, Mapping) or "id" not in entry:
            raise CatalogueError("catalogue.item-needs-id", where=where)
        item_where = f"{where} {entry['id']}"
        confidence = str(entry.get("confidence", raw.get("confidence", "inferred"))).lower()
        if confidence not in CONFIDENCE:
            raise CatalogueError("catalogue.bad-confidence", where=item_where, choices=", ".join(CONFIDENCE))
        number = entry.get("number")
        items.append(
            FrameworkItem(
                id=str(entry["id"]),
                framework=fw_id,
                title=_texts(entry.get("title"), item_where, "title"),
                description=_texts(entry.get("description"), item_where, "description", required=False),
                confidence=confidence,
                manual=bool(entry.get("manual", False)),
                number=None if number is None else str(number),
                continuity=_tuple(entry.get("continuity")),
                source=str(entry.get("source", "")),
                phase=entry.get("phase"),
                note=_texts(entry.get("note"), item_where, "note", required=False),
                provisional=bool(entry.get("provisional", False)),
            )
        )
    return Framework(
        id=fw_id,
        title=_texts(raw.get("title"), where, "title"),
        description=_texts(raw.get("description"), where, "description", required=False),
        source=_tuple(raw.get("source")),
        confidence=str(raw.get("confidence", "inferred")),
        items=tuple(items),
        scored=bool(raw.get("scored", True)),
    )


def _parse_profile(raw: Any, where: str, known: Mapping[str, Mapping[str, Any]]) -> Profile:
    if not isinstance(raw, Mapping) or "id" not in raw:
        raise CatalogueError("catalogue.not-a-profile", where=where)
    merged: dict[str, Any] = {}
    parent = raw.get("extends")
    if parent:
        if parent not in known:
            raise CatalogueError("catalogue.unknown-parent", where=where, parent=parent)
        merged = _merge(dict(known[parent]), {})
    merged = _merge(merged, dict(raw))
    select = merged.get("select") or {}
    return Profile(
        id=str(raw["id"]),
        title=_texts(raw.get("title"), where, "title"),
        description=_texts(raw.get("description"), where, "description", required=False),
        include_tags=_tuple(select.get("tags")),
        include=_tuple(select.get("include")),
        exclude=_tuple(select.get("exclude")),
        overrides=merged.get("overrides") or {},
        settings=merged.get("settings") or {},
        frameworks=_tuple(merged.get("frameworks")),
        questions=merged.get("questions") or {},
    )


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load(extra_dirs: Iterable[Traversable | Path] = ()) -> Catalogue:
    """Read the built-in catalogue plus plugin catalogues and ``--catalogue`` directories."""
    root = data_root()
    checks_dir = root / "checks"
    cache = _ParseCache(cache_path())
    meta = cache.read(checks_dir / "catalogue.yaml") or {}
    checks: dict[str, Check] = {}
    frameworks: dict[str, Framework] = {}
    extras: dict[str, Any] = {}
    for folder in [checks_dir, *extra_dirs]:
        for rel, path in _walk(folder):
            where = f"{folder.name}/{rel}"
            if rel == "catalogue.yaml":
                continue
            raw = cache.read(path)
            if rel.startswith("frameworks/"):
                fw = parse_framework(raw, where)
                if fw.id in frameworks:
                    raise CatalogueError("catalogue.duplicate-framework", where=where, id=fw.id)
                frameworks[fw.id] = fw
            elif rel.startswith("data/"):
                extras[rel.removeprefix("data/").removesuffix(".yaml")] = raw
            else:
                check = parse_check(raw, where, rel)
                if check.id in checks:
                    raise CatalogueError("catalogue.duplicate-check", where=where, id=check.id)
                checks[check.id] = check
    profiles_raw: dict[str, Mapping[str, Any]] = {}
    pending = {rel: cache.read(path) for rel, path in _walk(root / "profiles")}
    cache.save()
    profiles: dict[str, Profile] = {}
    # parents first: a few passes suffice for shallow inheritance
    for _ in range(len(pending) + 1):
        for rel, raw in list(pending.items()):
            parent = raw.get("extends") if isinstance(raw, Mapping) else None
            if parent and parent not in profiles_raw:
                continue
            profile = _parse_profile(raw, f"profiles/{rel}", profiles_raw)
            merged = _merge(dict(profiles_raw.get(parent, {})) if parent else {}, raw)
            profiles_raw[profile.id] = merged
            profiles[profile.id] = profile
            del pending[rel]
    if pending:
        raise CatalogueError("catalogue.circular-profiles", names=", ".join(sorted(pending)))
    return Catalogue(
        version=str(meta.get("version", "0")),
        checks=checks,
        frameworks=frameworks,
        profiles=profiles,
        extras=extras,
    )


@functools.cache
def builtin() -> Catalogue:
    from . import registry

    return load(registry.load().catalogues)


def profile(catalogue: Catalogue, name: str) -> Profile:
    try:
        return catalogue.profiles[name]
    except KeyError:
        known = ", ".join(sorted(catalogue.profiles))
        raise ConfigError("profile.unknown", name=name, known=known) from None
