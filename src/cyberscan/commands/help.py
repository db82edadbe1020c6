"""Command-line help in the user's language, from ``texts/help.yaml``.

Click reads help texts when the commands are defined, before any option is parsed, so the language
is taken from the command line itself (``--lang en`` anywhere) or ``CYBERSCAN_LANG``. Click's own
words follow the same language (:mod:`.clicktext`).
"""

from __future__ import annotations

import sys

from ..texts import LANGUAGES, env_lang, say
from . import clicktext


def help_lang(argv: list[str] | None = None) -> str:
    args = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args) and args[i + 1] in LANGUAGES:
            return args[i + 1]
        if arg.startswith("--lang=") and arg.split("=", 1)[1] in LANGUAGES:
            return arg.split("=", 1)[1]
    return env_lang()


LANG = help_lang()
clicktext.install(LANG)  # before any command is defined: click builds some texts (file, [default: ...]) then


def h(key: str) -> str:
    """The help text ``key`` in the language of this invocation."""
    return say(key, LANG)
