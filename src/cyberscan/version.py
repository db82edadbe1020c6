"""The version of cyberscan (the one place it is written; pyproject.toml reads it), and its User-Agent."""

from __future__ import annotations

__version__ = "0.2.0"

USER_AGENT = f"cyberscan/{__version__} (+https://github.com/cyberscan; readiness scan for heritage organisations)"
