"""cyberscan: a cyber-readiness scanner for Dutch cultural-heritage organisations.

Use it as a library through one entry point (see ``docs/library.md``)::

    import cyberscan

    assessment = cyberscan.assess(["museum.nl"], profile="klein-museum")

The names below are loaded on first use, so ``import cyberscan`` (and the command line's start-up)
stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from .version import __version__

_API = {
    "assess": "cyberscan.assessment",
    "reassess": "cyberscan.assessment",
    "Assessment": "cyberscan.assessment",
    "ScanOptions": "cyberscan.options",
    "Nameserver": "cyberscan.options",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module), name)
