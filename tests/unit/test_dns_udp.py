"""The resolver's own UDP exchange (``runtime.UdpNameserver``): it takes only the datagram that answers
its query from the nameserver asked, as dnspython's ``dns.query.udp`` does, and waits no longer than
its timeout. A loopback server sends noise before (or instead of) the real answer."""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dns.exception
import dns.message
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from cyberscan.options import Nameserver, ScanOptions
from cyberscan.runtime import QUERY_IDS, QueryIds, UdpNameserver, make_resolver

Reply = Callable[[dns.message.Message, socket.socket, tuple[str, int]], None]


def answer_of(query: dns.message.Message, text: str = "v=spf1 -all") -> dns.message.Message:
    response = dns.message.make_response(query)
    q = query.question[0]
    response.answer.append(dns.rrset.from_text(q.name, 60, "IN", "TXT", f'"{text}"'))
    return response


@contextmanager
def server(reply: Reply) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(65535)
            except OSError:
                continue
            reply(dns.message.from_wire(wire), sock, peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def resolver(port: int, timeout: float = 1.0) -> dns.resolver.Resolver:
    res = make_resolver(ScanOptions(timeout=timeout, nameservers=(Nameserver("127.0.0.1", port),)))
    assert all(isinstance(ns, UdpNameserver) for ns in res.nameservers)
    return res


def test_noise_before_the_answer_is_ignored_and_the_answer_taken() -> None:
    def noisy(query: dns.message.Message, sock: socket.socket, peer: tuple[str, int]) -> None:
        sock.sendto(b"\x00\x01garbage", peer)  # does not parse
        wrong = answer_of(query, "v=spf1 +all")
        wrong.id = (query.id + 1) % 65536  # not a response to this query
        sock.sendto(wrong.to_wire(), peer)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:  # the right id from another address
            other.bind(("127.0.0.2", 0))
            other.sendto(answer_of(query, "v=spf1 ?all").to_wire(), peer)
        time.sleep(0.05)
        sock.sendto(answer_of(query).to_wire(), peer)

    with server(noisy) as port:
        answer = resolver(port).resolve("noise.test.", "TXT", search=False)
    assert [r.to_text() for r in answer] == ['"v=spf1 -all"']


def test_only_noise_is_a_timeout_never_an_answer() -> None:
    def only_noise(query: dns.message.Message, sock: socket.socket, peer: tuple[str, int]) -> None:
        wrong = answer_of(query, "v=spf1 +all")
        wrong.id = (query.id + 1) % 65536
        sock.sendto(wrong.to_wire(), peer)

    started = time.monotonic()
    with server(only_noise) as port, pytest.raises(dns.resolver.LifetimeTimeout):
        resolver(port, timeout=0.3).resolve("noise.test.", "TXT", search=False)
    assert time.monotonic() - started < 30  # generous: the lifetime is 0.3 s


def test_a_silent_nameserver_times_out() -> None:
    with server(lambda query, sock, peer: None) as port:
        ns = UdpNameserver("127.0.0.1", port)
        query = dns.message.make_query("silent.test.", dns.rdatatype.TXT)
        with pytest.raises(dns.exception.Timeout):
            ns.query(query, 0.2, None, 0, False)


# ------------------------------------------------------------------------------------------ query ids


def test_query_ids_cover_the_whole_range_and_do_not_repeat_in_a_row() -> None:
    ids = QueryIds()
    drawn = [ids.next() for _ in range(20_000)]  # ten buffers' worth
    assert all(0 <= i <= 0xFFFF for i in drawn)
    assert min(drawn) < 0x0400 and max(drawn) > 0xFC00  # the whole 16-bit range, both ends
    assert len(set(drawn)) > 15_000  # 20,000 draws from 65,536 values: about 17,400 distinct
    assert sum(a == b for a, b in itertools.pairwise(drawn)) < 10


def test_a_resolver_s_queries_take_their_ids_from_the_buffer() -> None:
    make_resolver(ScanOptions(nameservers=(Nameserver("127.0.0.1", 53),)))
    while not QUERY_IDS._buffer or QUERY_IDS._at + 4 > len(QUERY_IDS._buffer):
        QUERY_IDS.next()  # two ids left in the buffer: no refill between the two queries
    first = dns.message.make_query("a.test.", "A").id
    second = dns.message.make_query("a.test.", "A").id
    ahead = QUERY_IDS._buffer[QUERY_IDS._at - 4:QUERY_IDS._at]  # the two ids just handed out
    assert ahead == first.to_bytes(2, "big") + second.to_bytes(2, "big")


def test_a_forked_process_does_not_send_its_parent_s_next_ids() -> None:
    ids = QueryIds()
    ids.next()  # the buffer is filled: the parent's next ids are known in advance
    parent_next = ids._buffer[ids._at:ids._at + 64]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, b"".join(ids.next().to_bytes(2, "big") for _ in range(32)))
        os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 64):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 64
    assert child != parent_next
