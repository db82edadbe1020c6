"""Picks the user's language for catalogue texts and formats message keys with their parameters.

Check messages come from the check's own ``messages``, then from the shared
``checks/data/messages.yaml``; notices from ``checks/data/notices.yaml``. Interface texts live in
:mod:`cyberscan.texts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .catalogue import Catalogue, Check
from .models import Notice, Result
from .texts import DEFAULT_LANG, fill, text

__all__ = ["DEFAULT_LANG", "message", "message_for", "notice"]


def message_for(catalogue: Catalogue, check: Check | None, key: str, params: Mapping[str, Any], lang: str) -> str:
    """The sentence for message ``key`` with ``params``, in ``lang`` (the key itself when unknown)."""
    templates: Mapping[str, Any] | None = check.messages.get(key) if check else None
    if templates is None:
        templates = catalogue.extras.get("messages", {}).get(key)
    if templates is None:
        return key + (f" ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else "")
    return fill(text(templates, lang), params)


def message(catalogue: Catalogue, check: Check | None, result: Result, lang: str) -> str:
    """The human sentence for a result, in ``lang``."""
    return message_for(catalogue, check, result.message, result.params, lang)


def notice(catalogue: Catalogue, item: Notice, lang: str) -> str:
    templates = catalogue.extras.get("notices", {}).get(item.key)
    if templates is None:
        return f"{item.key}: {dict(item.params)}"
    return fill(text(templates, lang), item.params)
