"""Picks the user's language for catalogue texts and formats message keys with their parameters."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from .catalogue import Catalogue, Check, text
from .models import Notice, Result

DEFAULT_LANG = "nl"


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fmt(template: str, params: Mapping[str, Any]) -> str:
    values = {k: _plain(v) for k, v in params.items()}
    try:
        return string.Formatter().vformat(template, (), _SafeDict(values))
    except (ValueError, IndexError, AttributeError):
        return template


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return value


def message(catalogue: Catalogue, check: Check | None, result: Result, lang: str) -> str:
    """The human sentence for a result, in ``lang``."""
    templates: Mapping[str, Any] | None = check.messages.get(result.message) if check else None
    if templates is None:
        templates = catalogue.extras.get("messages", {}).get(result.message)
    if templates is None:
        return result.message + (f" ({_plain(dict(result.params))})" if result.params else "")
    return _fmt(text(templates, lang), result.params)


def notice(catalogue: Catalogue, item: Notice, lang: str) -> str:
    templates = catalogue.extras.get("notices", {}).get(item.key)
    if templates is None:
        return f"{item.key}: {dict(item.params)}"
    return _fmt(text(templates, lang), item.params)
