"""Where reports go: planned and checked before a scan starts, written atomically afterwards.

A report is written to a temporary file in the target's own folder and renamed over the target, so
a killed process or a full disk never leaves a half-written report behind (the previous report stays
as it was). A target that is a symbolic link is refused: cyberscan never writes through a link.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..atomicfile import write_atomic
from ..errors import UsageError

STDOUT = "-"


@dataclass(frozen=True, slots=True)
class Planned:
    fmt: str
    path: Path | None  # None: standard output


def plan(formats: Sequence[str], output: str | None, suffixes: dict[str, str], *, stem: str) -> list[Planned]:
    """Where each format goes. Raises UsageError for an impossible combination or an unusable path.

    ``terminal`` without ``--output`` goes to standard output; one other format without ``--output``
    too; several formats without ``--output`` become files in the current folder; ``--output -``
    takes exactly one format; ``--output DIR/`` (or an existing folder) takes files named ``stem``."""
    wanted = list(dict.fromkeys(formats))
    if output == STDOUT:
        if len(wanted) != 1:
            raise UsageError("output.stdout-one-format")
        return [Planned(wanted[0], None)]
    if output is None:
        to_stdout = [f for f in wanted if f == "terminal"] or (wanted if len(wanted) == 1 else [])
        files = [f for f in wanted if f not in to_stdout]
        folder: Path | None = Path(".") if files else None
    else:
        to_stdout = []
        files = wanted
        target = Path(output)
        folder = target if (len(files) > 1 or output.endswith(("/", os.sep)) or target.is_dir()) else None
    planned = [Planned(f, None) for f in to_stdout]
    if folder is not None:
        planned += [Planned(f, folder / f"{stem}.{suffixes[f]}") for f in files]
    elif files:
        planned.append(Planned(files[0], Path(output or "")))
    for item in planned:
        if item.path is not None:
            check_writable(item.path)
    return planned


def check_writable(path: Path) -> None:
    """Refuse a path we must not or cannot write, before any work is done."""
    if path.is_symlink():
        raise UsageError("output.symlink", path=str(path))
    if path.exists() and not path.is_file():
        raise UsageError("output.not-a-file", path=str(path))
    folder = path.parent if str(path.parent) else Path(".")
    probe = folder
    while not probe.exists():  # the folder will be created: its nearest existing parent must be writable
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError("output.not-writable", path=str(path))


__all__ = ["Planned", "check_writable", "plan", "write_atomic"]
