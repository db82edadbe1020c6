"""The installed version of cyberscan, and the User-Agent its requests carry."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cyberscan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

USER_AGENT = f"cyberscan/{__version__} (+https://github.com/cyberscan; readiness scan for heritage organisations)"
