"""Click's own words (``Usage:``, ``Error: Invalid value for ...``, ``Show this message and exit.``) in
the user's language.

Click marks its messages for translation with :mod:`gettext` (``from gettext import gettext as _``
in each of its modules) but ships no translations, and Python's gettext only finds compiled ``.mo``
files on disk for the process-wide domain. We keep the Dutch wording as data (``texts/click.yaml``),
build a :class:`gettext.NullTranslations` from it at start-up, and point the names ``_`` and
``ngettext`` that click's modules imported from gettext at it. Only names that still are gettext's
own functions (or ours) are touched, so a click that stops using gettext is simply left alone, and
``test_click_texts_are_click_messages`` fails when a click upgrade rewords a message.
"""

from __future__ import annotations

import gettext
import importlib
from types import ModuleType

from ..texts import table, text

# click's modules that import gettext's functions (click 8.x)
CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "shell_completion", "termui",
                 "types", "utils", "_termui_impl")
PREFIX = "click."
PLURAL = ".plural"


class TextsTranslation(gettext.NullTranslations):
    """A gettext translation whose catalogue is the ``click.*`` texts: English message id -> ``lang``."""

    def __init__(self, lang: str = "en") -> None:
        super().__init__()
        self.lang = lang
        self.catalog: dict[str, str] = {}
        self.use(lang)

    def use(self, lang: str) -> None:
        self.lang = lang
        self.catalog = {text(value, "en"): text(value, lang) for key, value in table().items() if key.startswith(PREFIX)}

    def gettext(self, message: str) -> str:
        return self.catalog.get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)  # Dutch and English share the plural rule


ACTIVE = TextsTranslation()


def _ours(value: object) -> bool:
    return getattr(value, "__self__", None) is ACTIVE


def install(lang: str) -> None:
    """Make click speak ``lang`` from now on (idempotent; safe to call once per invocation)."""
    ACTIVE.use(lang)
    for name in CLICK_MODULES:
        try:
            module: ModuleType = importlib.import_module(f"click.{name}")
        except ImportError:  # e.g. a click without that module
            continue
        current = getattr(module, "_", None)
        if current is gettext.gettext or _ours(current):
            module._ = ACTIVE.gettext  # type: ignore[attr-defined]
        plural = getattr(module, "ngettext", None)
        if plural is gettext.ngettext or _ours(plural):
            module.ngettext = ACTIVE.ngettext  # type: ignore[attr-defined]
