"""The pseudonymous organisation id, kept on the organisation's own computer.

``organisation.json`` in the user data folder (``platformdirs``: ``~/.local/share/cyberscan`` on
Linux, or ``$XDG_DATA_HOME/cyberscan``) holds, written with mode 0600::

    {"format": "cyberscan-organisation", "version": 1,
     "id": "<32 hex>",        random; sent with every submission so DEN can follow one trend
     "secret": "<64 hex>",    random; never sent: the key of the submission ids
     "sector": "museum", "size": "small", "province": null}   the last self-description given

Neither value is derived from anything about the organisation. ``rotate`` replaces both: the hub then
sees a new organisation, and the old trend ends.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import platformdirs

from ..atomicfile import atomic_text
from ..errors import ConfigError
from .summary import PROVINCES, SECTORS, SIZES, Organisation

FILE_NAME = "organisation.json"
FORMAT = "cyberscan-organisation"


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    secret: bytes
    organisation: Organisation | None = None  # the last self-description given, if any


def default_folder() -> Path:
    return Path(platformdirs.user_data_dir("cyberscan", appauthor=False))


def new_identity(organisation: Organisation | None = None) -> Identity:
    return Identity(secrets.token_hex(16), secrets.token_bytes(32), organisation)


def _organisation(raw: Any) -> Organisation | None:
    if not isinstance(raw, dict):
        return None
    sector, size, province = raw.get("sector"), raw.get("size"), raw.get("province")
    if sector not in SECTORS or size not in SIZES or (province is not None and province not in PROVINCES):
        return None
    return Organisation(str(sector), str(size), str(province) if province else None)


def load(folder: Path | None = None) -> Identity | None:
    """The stored identity, None when there is none yet. Raises ConfigError for a broken file."""
    path = (folder or default_folder()) / FILE_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError("identity.unreadable", path=str(path), detail=type(exc).__name__) from exc
    ident, secret = raw.get("id") if isinstance(raw, dict) else None, raw.get("secret") if isinstance(raw, dict) else None
    if (not isinstance(ident, str) or len(ident) != 32 or not isinstance(secret, str) or len(secret) != 64
            or not all(c in "0123456789abcdef" for c in ident + secret)):
        raise ConfigError("identity.unreadable", path=str(path), detail="format")
    return Identity(ident, bytes.fromhex(secret), _organisation(raw))


def save(identity: Identity, folder: Path | None = None) -> Path:
    """Write the identity (mode 0600, atomically: a crash leaves the old file or the new one)."""
    folder = folder or default_folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    org = identity.organisation
    data = {"format": FORMAT, "version": 1, "id": identity.id, "secret": identity.secret.hex(),
            "sector": org.sector if org else None, "size": org.size if org else None,
            "province": org.province if org else None}
    path = folder / FILE_NAME
    with atomic_text(path, mode=0o600) as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    return path


def obtain(folder: Path | None = None, *, rotate: bool = False,
           organisation: Organisation | None = None) -> tuple[Identity, bool]:
    """The identity to use, created (or replaced, ``rotate``) and stored when needed; ``organisation``,
    when given, is remembered as the self-description. Returns (identity, whether the file changed)."""
    if rotate:
        try:
            previous = load(folder)
        except ConfigError:  # a broken file is what rotating replaces
            previous = None
        fresh = new_identity(organisation or (previous.organisation if previous else None))
        save(fresh, folder)
        return fresh, True
    current = load(folder)
    if current is None:
        fresh = new_identity(organisation)
        save(fresh, folder)
        return fresh, True
    if organisation is not None and organisation != current.organisation:
        current = replace(current, organisation=organisation)
        save(current, folder)
        return current, True
    return current, False
