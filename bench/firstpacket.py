"""When does ``cyberscan scan`` send its first packet? Run the command line with a hook that notes it.

    python -m bench.firstpacket STAMPFILE -- scan museum00008.test --nameserver 10.80.0.53 ...

Before cyberscan is imported, ``socket.socket``'s sending methods (``connect``, ``sendto``, ``send``,
``sendall``, ``sendmsg``) are wrapped so that the first call writes ``time.monotonic()`` (one clock
for every process on Linux) to STAMPFILE; then ``cyberscan.cli.run()`` runs with the arguments after
``--``. The caller notes ``time.monotonic()`` just before it starts the process: the difference is
the time from process start to the first packet (interpreter start-up, imports, catalogue, registry,
option checks). The hook costs the import of ``socket`` (which cyberscan imports anyway) and one
flag test per send. ``bench/scale.py`` (section ``startup``) uses it.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any


def install(stamp: str) -> None:
    state = {"done": False}

    def wrap(name: str) -> None:
        original: Callable[..., Any] = getattr(socket.socket, name)

        def hooked(self: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if not state["done"]:
                state["done"] = True
                now = time.monotonic()
                fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    os.write(fd, f"{now:.6f}\n".encode())
                finally:
                    os.close(fd)
            return original(self, *args, **kwargs)

        setattr(socket.socket, name, hooked)

    for name in ("connect", "connect_ex", "sendto", "send", "sendall", "sendmsg"):
        wrap(name)


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        raise SystemExit(__doc__)
    install(sys.argv[1])
    sys.argv = ["cyberscan", *sys.argv[3:]]
    from cyberscan.cli import run  # after the hook, as the measurement requires

    run()


if __name__ == "__main__":
    main()
