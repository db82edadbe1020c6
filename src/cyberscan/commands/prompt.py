"""Asking the person at the terminal, so that Ctrl-C always works.

Python's ``input()`` (and so ``click.prompt``) has a race: a Ctrl-C that arrives after the prompt is
written but before the blocking ``read()`` starts is noted by the signal handler and then forgotten
while ``read()`` waits for a line that never comes, so the program hangs (measured with
``bench/stress_ctrl_c.py``). On a real terminal we therefore wait with ``select()`` in short slices
and read the line ourselves: between slices the interpreter runs its signal handlers, so a pending
Ctrl-C raises ``KeyboardInterrupt`` within a fraction of a second, wherever it landed. The terminal
stays in its normal line mode, so editing a line (backspace) works as before.

Every function here raises :class:`click.Abort` for Ctrl-C and for the end of input (Ctrl-D).
"""

from __future__ import annotations

import os
import select
import sys
from typing import TextIO

import click

from ..texts import say

SLICE = 0.2  # seconds between checks for a pending signal while waiting for a line
MAX_LINE = 64 * 1024


def _terminal_fd() -> int | None:
    """The file descriptor of standard input when it is a real terminal on POSIX, else None."""
    if os.name != "posix":
        return None
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):  # replaced by a test runner, or closed
        return None
    return fd if os.isatty(fd) else None


def _read_line(fd: int) -> str:
    data = bytearray()
    while b"\n" not in data and len(data) < MAX_LINE:
        ready, _, _ = select.select([fd], [], [], SLICE)  # returns to Python (and its signal handlers) often
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:  # Ctrl-D: end of input
            if not data:
                raise EOFError
            break
        data.extend(chunk)
    encoding = getattr(sys.stdin, "encoding", None) or "utf-8"
    return data.decode(encoding, errors="replace").rstrip("\r\n")


def ask(prompt: str, *, err: bool = False) -> str:
    """One line typed after ``prompt`` (stripped), or :class:`click.Abort` on Ctrl-C or end of input."""
    fd = _terminal_fd()
    try:
        if fd is None:  # a pipe, a file or a test runner: no terminal, no Ctrl-C race
            raw: str = click.prompt(prompt, default="", show_default=False, prompt_suffix="", err=err)
            return raw.strip()
        stream: TextIO = sys.stderr if err else sys.stdout
        click.echo(prompt, nl=False, err=err)
        stream.flush()
        return _read_line(fd).strip()
    except (KeyboardInterrupt, EOFError):
        raise click.Abort from None


def ask_yes_no(question: str, lang: str, *, err: bool = True) -> bool:
    """Yes or no (the default, on Enter) in the user's language; Ctrl-C is :class:`click.Abort`."""
    yes = {w.strip() for w in say("prompt.yes-words", lang).split(",")}
    no = {w.strip() for w in say("prompt.no-words", lang).split(",")}
    while True:
        answer = ask(f"{question} {say('prompt.yes-no', lang)} ", err=err).lower()
        if answer in yes:
            return True
        if not answer or answer in no:
            return False
        click.echo(say("prompt.yes-or-no", lang), err=err)
