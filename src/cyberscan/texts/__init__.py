"""Every text cyberscan shows to people, in Dutch and English: loaded from the YAML files here.

    say("scan.saved", "nl", path="rapport.html")   # -> "rapport: rapport.html"

Files (``src/cyberscan/texts/*.yaml``) map a key to ``{nl: ..., en: ...}``; a key is unique across all
files. Check texts, notices and shared check messages are catalogue data (``checks/``), not here.
Python code holds keys and parameters only; a test fails when prose appears as a literal in ``src/``.
"""

from __future__ import annotations

import functools
import os
import string
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("nl", "en")
DEFAULT_LANG = "nl"
ENV_LANG = "CYBERSCAN_LANG"

Text = Mapping[str, str]
_SAFE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where available: ten times faster


def text(value: Text, lang: str) -> str:
    """Pick ``lang`` from a two-language text, falling back to Dutch, then English."""
    return value.get(lang) or value.get("nl") or value.get("en") or ""


def env_lang(default: str = DEFAULT_LANG) -> str:
    """The language from ``CYBERSCAN_LANG`` (nl or en), else ``default``."""
    value = os.environ.get(ENV_LANG, "").strip().lower()[:2]
    return value if value in LANGUAGES else default


class _Keep(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return value


def fill(template: str, params: Mapping[str, Any]) -> str:
    """``template`` with ``{name}`` replaced; unknown names stay as they are, nothing raises."""
    try:
        return string.Formatter().vformat(template, (), _Keep({k: _plain(v) for k, v in params.items()}))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template


@functools.cache
def table() -> Mapping[str, Text]:
    """Every key of every texts file."""
    merged: dict[str, Text] = {}
    folder = resources.files(__name__)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.load(entry.read_text(encoding="utf-8"), Loader=_SAFE) or {}  # noqa: S506 - a safe loader
        for key, value in data.items():
            merged[str(key)] = {str(k): str(v) for k, v in value.items()}
    return merged


def say(key: str, lang: str = DEFAULT_LANG, /, **params: Any) -> str:
    """The text ``key`` in ``lang`` with ``params`` filled in (the key itself when it is unknown)."""
    value = table().get(key)
    if value is None:
        return key + (f" {params}" if params else "")
    return fill(text(value, lang), params)


def strings(prefix: str, lang: str) -> dict[str, str]:
    """Every text whose key starts with ``prefix``, by the rest of the key, in ``lang`` (for templates)."""
    return {k[len(prefix):]: text(v, lang) for k, v in table().items() if k.startswith(prefix)}
