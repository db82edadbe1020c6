"""Built-in TCP connect scan with banner reading, for computers without nmap.

Plain TCP connections (what any client makes), at most ``per_address`` at once per address and
``parallel`` addresses at once, each attempt with a timeout, the whole scan within ``budget``
seconds. A port that accepts the connection is open; its first words (or its answer to a plain
``HEAD / HTTP/1.0``) are read to recognise the service (:mod:`cyberscan.parsers.banner`).
Detection is coarser than nmap's: no UDP, no TLS-wrapped services, no SSH login methods.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..facts.ports import BUDGET, OpenPort
from ..models import ErrorReason
from ..parsers.banner import parse_banner, printable

if TYPE_CHECKING:  # asyncio is imported when a port scan runs (about 10 ms of every scan's start-up otherwise)
    import asyncio

NUDGE = b"HEAD / HTTP/1.0\r\n\r\n"
BANNER_BYTES = 1024


@dataclass(frozen=True, slots=True)
class ConnectResult:
    scanned: tuple[int, ...] = ()
    open: tuple[OpenPort, ...] = ()
    error: ErrorReason | None = None
    detail: str = ""


async def _read(reader: asyncio.StreamReader, timeout: float) -> bytes:
    import asyncio

    try:
        return await asyncio.wait_for(reader.read(BANNER_BYTES), timeout)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return b""


async def probe_port(address: str, port: int, *, connect_timeout: float, banner_timeout: float) -> OpenPort | None:
    """Connect to one port; an OpenPort with what the service said, or None when it is not open."""
    import asyncio

    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), connect_timeout)
    except (TimeoutError, OSError):
        return None  # refused (closed), no answer (filtered) or unreachable: not open
    try:
        data = await _read(reader, banner_timeout)
        if not data:
            with contextlib.suppress(OSError):
                writer.write(NUDGE)
                await asyncio.wait_for(writer.drain(), banner_timeout)
            data = await _read(reader, banner_timeout)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1)
    info = parse_banner(data)
    return OpenPort(
        port=port,
        proto="tcp",
        service=info.service,
        product=info.product,
        version=info.version,
        distribution=info.distribution,
        build=info.build,
        banner=info.text or printable(data),
        confident=bool(info.service),
    )


async def _scan_address(
    address: str,
    ports: tuple[int, ...],
    *,
    connect_timeout: float,
    banner_timeout: float,
    per_address: int,
    gate: asyncio.Semaphore,
) -> ConnectResult:
    import asyncio

    async with gate:
        slots = asyncio.Semaphore(per_address)

        async def one(port: int) -> OpenPort | None:
            async with slots:
                return await probe_port(address, port, connect_timeout=connect_timeout, banner_timeout=banner_timeout)

        found = await asyncio.gather(*(one(p) for p in ports))
    return ConnectResult(scanned=tuple(ports), open=tuple(f for f in found if f is not None))


async def _scan_all(
    targets: Mapping[str, tuple[int, ...]],
    *,
    connect_timeout: float,
    banner_timeout: float,
    per_address: int,
    parallel: int,
    budget: float,
    cancel: threading.Event | None = None,
) -> dict[str, ConnectResult]:
    import asyncio

    loop_time = asyncio.get_running_loop().time
    gate = asyncio.Semaphore(parallel)
    tasks = {
        address: asyncio.ensure_future(
            _scan_address(
                address,
                ports,
                connect_timeout=connect_timeout,
                banner_timeout=banner_timeout,
                per_address=per_address,
                gate=gate,
            )
        )
        for address, ports in targets.items()
    }
    end = loop_time() + budget
    pending = set(tasks.values())
    while pending and loop_time() < end and not (cancel is not None and cancel.is_set()):
        _, pending = await asyncio.wait(pending, timeout=min(0.2, max(0.0, end - loop_time())))
    out: dict[str, ConnectResult] = {}
    for address, task in tasks.items():
        if task.done() and not task.cancelled() and task.exception() is None:
            out[address] = task.result()
        elif task.done() and not task.cancelled():
            out[address] = ConnectResult(error=ErrorReason.UNREACHABLE, detail=f"connect scan: {task.exception()}")
        else:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            if cancel is not None and cancel.is_set():
                out[address] = ConnectResult(error=ErrorReason.INTERRUPTED, detail="cancelled")
            else:
                out[address] = ConnectResult(error=ErrorReason.TIMEOUT, detail=BUDGET)
    return out


def connect_scan(
    targets: Mapping[str, tuple[int, ...]],
    *,
    connect_timeout: float = 3.0,
    banner_timeout: float = 2.0,
    per_address: int = 4,
    parallel: int = 4,
    budget: float = 900.0,
    cancel: threading.Event | None = None,
) -> dict[str, ConnectResult]:
    """Scan ``targets`` (address -> TCP ports; addresses already admitted by the scope)."""
    import asyncio

    return asyncio.run(
        _scan_all(
            targets,
            connect_timeout=connect_timeout,
            banner_timeout=banner_timeout,
            per_address=per_address,
            parallel=parallel,
            budget=budget,
            cancel=cancel,
        )
    )
