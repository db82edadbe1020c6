"""A user-space packet delayer on an NFQUEUE: the round-trip time of the bench estate.

This kernel has no ``sch_netem`` (``tc qdisc add ... netem delay`` fails), so the estate delays
packets itself: an iptables rule in the server namespace hands every packet that arrives from the
client side to NFQUEUE ``--queue-num N``; this process holds each one for ``--delay-ms`` and then
accepts it. Packets only wait in the kernel: the process never copies them (copy mode META), it reads
their queue ids and later accepts them with one *batch* verdict ("every id up to K"), which works
because the delay is the same for every packet, so they leave in the order they came.

Pure Python over a raw ``NETLINK_NETFILTER`` socket: no compiled package. Run it inside the namespace
of the iptables rule (queues belong to a network namespace):

    ip netns exec csb-srv python -m bench.estate.delay --queue 0 --delay-ms 20

SIGHUP re-reads ``--delay-file`` (one number, milliseconds) when given, so the round-trip time can be
changed without ever dropping the queue (packets queued while no process listens are dropped).
"""

from __future__ import annotations

import argparse
import collections
import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 4
NF_ACCEPT = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NLMSG_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid (host order)
NFGEN = struct.Struct("!BBH")  # family, version, queue number (network order)


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _message(msg_type: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    body = NFGEN.pack(socket.AF_UNSPEC, 0, queue) + attrs
    return NLMSG_HDR.pack(NLMSG_HDR.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + body


class Queue:
    """One bound NFQUEUE: ``ids()`` gives the ids of newly queued packets, ``accept_upto(id)`` releases."""

    def __init__(self, number: int, *, maxlen: int = 200_000) -> None:
        self.number = number
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        for option in (33, socket.SO_RCVBUF):  # 33: SO_RCVBUFFORCE (root); the plain one if not allowed
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, 64 * 1024 * 1024)
                break
            except OSError:
                continue
        self.sock.bind((0, 0))
        self._seq = 0
        self._buffer = bytearray(1 << 16)  # packet notifications carry no payload (copy mode META): a few hundred bytes
        self._request(NFQNL_MSG_CONFIG, _attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
        params = _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
        params += _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen))
        # GSO: hand large segments over whole (the kernel does not cut them up for us)
        params += _attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_GSO))
        params += _attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_GSO))
        self._request(NFQNL_MSG_CONFIG, params)
        self.sock.setblocking(False)

    def _request(self, msg_type: int, attrs: bytes) -> None:
        self._seq += 1
        self.sock.send(_message(msg_type, self.number, attrs, self._seq, NLM_F_REQUEST | NLM_F_ACK))
        while True:
            data = self.sock.recv(65536)
            _length, kind, _, seq, _ = NLMSG_HDR.unpack_from(data, 0)
            if kind == NLMSG_ERROR and seq == self._seq:
                error = struct.unpack_from("=i", data, NLMSG_HDR.size)[0]
                if error:
                    raise OSError(-error, f"nfqueue config: {os.strerror(-error)}")
                return

    def ids(self, *, block: bool = False) -> list[int]:
        """Ids of the packets queued since the last call; with ``block``, waits for at least one."""
        found: list[int] = []
        data = self._buffer  # one buffer for every read: recv(1 MB) allocated (and freed) a megabyte a packet
        while True:
            try:
                size = self.sock.recv_into(data, 0, 0 if block and not found else socket.MSG_DONTWAIT)
            except BlockingIOError:
                return found
            except OSError as exc:  # ENOBUFS: notifications were lost; the packets still wait in the
                if exc.errno == 105:  # kernel and a later batch verdict (all ids <= K) releases them
                    continue
                raise
            offset = 0
            while offset + NLMSG_HDR.size <= size:
                length, kind, _, _, _ = NLMSG_HDR.unpack_from(data, offset)
                if length < NLMSG_HDR.size:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    pos = offset + NLMSG_HDR.size + NFGEN.size
                    end = offset + length
                    while pos + 4 <= end:
                        alen, atype = struct.unpack_from("=HH", data, pos)
                        if alen < 4:
                            break
                        if atype & 0x7FFF == NFQA_PACKET_HDR:
                            found.append(struct.unpack_from("!I", data, pos + 4)[0])
                            break
                        pos += (alen + 3) & ~3
                offset += (length + 3) & ~3

    def accept_upto(self, packet_id: int) -> None:
        self._seq += 1
        attrs = _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))
        self.sock.send(_message(NFQNL_MSG_VERDICT_BATCH, self.number, attrs, self._seq))


def run(number: int, delay: float, delay_file: Path | None) -> None:
    """One thread: wait (``poll``) for new packets or the next release, whichever comes first; stamp
    every packet read with its release time; release everything due with one batch verdict.

    ``poll`` counts whole milliseconds, so it is asked to wake one or two milliseconds early and the
    rest is slept with ``time.sleep`` (sub-millisecond precise); a packet that arrives in those last
    milliseconds is stamped when it is read, at most that much late (measured: ping and TCP connect
    still within 0.3 ms of the delay, ``bench.scale --only rtt``). An earlier version had a
    reader and a releaser thread: 76 us of CPU a packet (two threads handing the GIL back and forth,
    a condition per batch), about 20 ms of the estate's CPU per scanned domain on the scanner's cores."""
    queue = Queue(number)
    try:  # real-time priority: a busy scanner on the same cores must not postpone a release
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
    except (AttributeError, PermissionError, OSError) as exc:
        print(f"delayer: no real-time priority ({exc}); releases may be late under load", flush=True)
    waiting: collections.deque[tuple[float, int]] = collections.deque()
    state = {"delay": delay, "stop": False}

    def on_hup(*_: object) -> None:
        if delay_file is None:
            return
        try:
            state["delay"] = float(delay_file.read_text().strip()) / 1000
        except (OSError, ValueError) as exc:
            print(f"delayer: cannot read {delay_file}: {exc}", flush=True)
        else:
            print(f"delayer: delay {state['delay'] * 1000:.1f} ms", flush=True)

    def on_term(*_: object) -> None:
        state["stop"] = True

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    poller = select.poll()
    poller.register(queue.sock, select.POLLIN)
    monotonic = time.monotonic
    print(f"delayer: queue {number}, delay {delay * 1000:.1f} ms", flush=True)
    while not state["stop"]:
        pause = waiting[0][0] - monotonic() if waiting else 1.0
        if pause >= 0.002:  # poll's whole milliseconds, at least one (poll(0) would spin)
            try:
                poller.poll(int(pause * 1000) - 1 if pause < 1.0 else 1000)
            except InterruptedError:  # a signal (SIGHUP: new delay; SIGTERM: stop)
                continue
        elif pause > 0:
            time.sleep(pause)
        ids = queue.ids()
        if ids:
            release = monotonic() + float(state["delay"])
            waiting.extend((release, packet_id) for packet_id in ids)
        now = monotonic()
        last = -1
        while waiting and waiting[0][0] <= now:
            last = waiting.popleft()[1]
        if last >= 0:
            queue.accept_upto(last)
    if waiting:  # release whatever still waits, so no connection hangs on the way out
        queue.accept_upto(waiting[-1][1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queue", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--delay-file", type=Path, default=None)
    args = parser.parse_args(argv)
    delay = args.delay_ms / 1000
    if args.delay_file is not None and args.delay_file.exists():
        delay = float(args.delay_file.read_text().strip()) / 1000
    try:
        run(args.queue, delay, args.delay_file)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
