"""Files that appear whole or not at all: written to a temporary file beside the target, flushed to
disk, and renamed over it (a crash or a full disk leaves the old file, never half of a new one).

Every file cyberscan writes for a user (reports, summaries, exports, the hub identity, answers)
goes through here. A target that is a symbolic link is refused (``output.symlink``): the rename
would replace the link, not what it points to, and a link planted in a shared folder must not
redirect a write.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import UsageError


@contextlib.contextmanager
def open_atomic(path: Path, *, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """A binary stream that becomes ``path`` (with permissions ``mode``) when the block ends without
    an error; on an error the temporary file is removed and ``path`` is untouched. Raises OSError,
    and UsageError for a symbolic link."""
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        raise UsageError("output.symlink", path=str(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def atomic_text(path: Path, *, mode: int = 0o644, newline: str | None = None) -> Iterator[IO[str]]:
    """:func:`open_atomic` as UTF-8 text (``newline`` as for :func:`open`)."""
    with open_atomic(path, mode=mode) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline=newline)
        yield text
        text.flush()
        text.detach()  # the binary stream stays open: open_atomic flushes it to disk and renames it


def write_atomic(path: Path, content: str | bytes, *, mode: int = 0o644) -> None:
    """Write ``content`` (text as UTF-8) to ``path`` whole or not at all."""
    with open_atomic(path, mode=mode) as handle:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
