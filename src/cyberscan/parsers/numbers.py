"""Numbers from untrusted text, without surprises: ASCII digits only, bounded length.

``int("²")`` raises although ``"²".isdigit()`` is true, and ``int()`` of a 4,301-digit string raises
in Python 3.11; a server can send either. Parsers read numbers through these helpers instead.
"""

from __future__ import annotations

MAX_DIGITS = 18  # larger than any value a protocol field here means (fits in 64 bits)


def is_digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


def small_int(text: str, *, max_digits: int = MAX_DIGITS) -> int | None:
    """``int(text)`` for 1 to ``max_digits`` ASCII digits; None for anything else."""
    return int(text) if is_digits(text) and len(text) <= max_digits else None


def capped_int(text: str, *, cap: int = 10**MAX_DIGITS) -> int | None:
    """Like :func:`small_int`, but a longer run of digits is ``cap`` (a huge value, not an error)."""
    if not is_digits(text):
        return None
    return int(text) if len(text) <= MAX_DIGITS else cap
