"""Threads or asyncio for the batch engine: the CPU one DNS lookup and one TLS handshake cost each way.

Run inside the estate's client namespace (``python -m bench.estate exec -- .venv/bin/python -m
bench.concurrency``). For each operation it does the same ``--count`` operations at the same
concurrency three ways and prints wall time and the process's CPU time per operation:

- ``threads``: blocking calls on the engine's shared :class:`cyberscan.runtime.Pool` (caller runs), one
  shared resolver and cache, as a batch scan does them today;
- ``threads-fresh``: a new thread per item and a resolver per thread (the old ``ctx.map`` way);
- ``asyncio``: dnspython's ``dns.asyncresolver`` / ``asyncio.open_connection(ssl=...)`` in one event
  loop, ``--concurrency`` tasks at a time.

The DNS names are the estate's zones' TXT records (uncached: each name asked once); the handshakes go
to the estate's nginx hosting addresses (verifying, with the estate's CA). The figures decide whether
the probes are worth rewriting for asyncio (docs/scale.md, "After: the batch").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import dns.asyncresolver
import dns.resolver

from bench.estate import plan
from cyberscan.options import Nameserver, ScanOptions
from cyberscan.runtime import Pool, ResolverCache, make_resolver

CA = "/tmp/cyberscan-bench/pki/ca.pem"


def measure(label: str, fn: Callable[[], Any], count: int) -> dict[str, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    out = {"label": label, "count": count, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
           "cpu_per_op_us": round(cpu / count * 1e6), "ops_per_s": round(count / wall)}
    print(f"  {label:28s} wall {wall:6.2f} s  CPU {cpu:6.2f} s  {out['cpu_per_op_us']:6d} us CPU/op  "
          f"{out['ops_per_s']:6d} ops/s", flush=True)
    return out


def names(count: int, offset: int) -> list[str]:
    return [f"museum{(i + offset) % 5000:05d}.test" for i in range(count)]


# ------------------------------------------------------------------------------------------- DNS

def dns_threads(qnames: list[str], width: int) -> None:
    options = ScanOptions(nameservers=(Nameserver(plan.RESOLVER),))
    res = make_resolver(options, ResolverCache())
    pool = Pool(width, name="bench")
    pool.map(lambda n: res.resolve(n, "TXT", raise_on_no_answer=False), qnames, width=width)
    pool.close()


def dns_threads_fresh(qnames: list[str], width: int) -> None:
    options = ScanOptions(nameservers=(Nameserver(plan.RESOLVER),))
    cache = dns.resolver.LRUCache()
    chunks = [qnames[i::width] for i in range(width)]

    def work(chunk: list[str]) -> None:
        res = make_resolver(options, cache)
        for n in chunk:
            res.resolve(n, "TXT", raise_on_no_answer=False)

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def dns_asyncio(qnames: list[str], width: int) -> None:
    async def main() -> None:
        res = dns.asyncresolver.Resolver(configure=False)
        res.nameservers = [plan.RESOLVER]
        res.use_edns(0, dns.flags.DO, 1232)
        res.cache = dns.resolver.LRUCache()
        gate = asyncio.Semaphore(width)

        async def one(n: str) -> None:
            async with gate:
                await res.resolve(n, "TXT", raise_on_no_answer=False)

        await asyncio.gather(*(one(n) for n in qnames))

    asyncio.run(main())


# ------------------------------------------------------------------------------------------- TLS

def tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=CA)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_targets(count: int) -> list[tuple[str, str]]:
    return [(plan.HOSTING[i % 64], f"museum{i:05d}.test") for i in range(count)]


def tls_threads(targets: list[tuple[str, str]], width: int) -> None:
    ctx = tls_context()
    pool = Pool(width, name="bench")

    def one(t: tuple[str, str]) -> None:
        with socket.create_connection((t[0], 443), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname=t[1]) as s:
            s.version()

    pool.map(one, targets, width=width)
    pool.close()


def tls_asyncio(targets: list[tuple[str, str]], width: int) -> None:
    async def main() -> None:
        ctx = tls_context()
        gate = asyncio.Semaphore(width)

        async def one(t: tuple[str, str]) -> None:
            async with gate:
                _reader, writer = await asyncio.open_connection(t[0], 443, ssl=ctx, server_hostname=t[1])
                writer.close()
                await writer.wait_closed()

        await asyncio.gather(*(one(t) for t in targets))

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--tls-count", type=int, default=500)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[16, 64, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    offset = 0
    for width in args.concurrency:
        print(f"concurrency {width} (load {os.getloadavg()[0]:.1f})", flush=True)
        for label, fn in (("dns threads (shared pool)", dns_threads), ("dns threads (fresh)", dns_threads_fresh),
                          ("dns asyncio", dns_asyncio)):
            runs = []
            for _ in range(args.repeats):
                qnames = names(args.count, offset)
                offset += args.count  # every name new to BIND's answer path and to our caches
                runs.append(measure(label, lambda q=qnames, f=fn, w=width: f(q, w), args.count))
            results.append({"op": "dns", "how": label, "concurrency": width, "load": os.getloadavg()[0],
                            "cpu_per_op_us_median": statistics.median(r["cpu_per_op_us"] for r in runs),
                            "ops_per_s_median": statistics.median(r["ops_per_s"] for r in runs), "runs": runs})
        for label, tfn in (("tls threads (shared pool)", tls_threads), ("tls asyncio", tls_asyncio)):
            runs = []
            for _ in range(args.repeats):
                targets = tls_targets(args.tls_count)
                runs.append(measure(label, lambda t=targets, f=tfn, w=width: f(t, w), args.tls_count))
            results.append({"op": "tls", "how": label, "concurrency": width, "load": os.getloadavg()[0],
                            "cpu_per_op_us_median": statistics.median(r["cpu_per_op_us"] for r in runs),
                            "ops_per_s_median": statistics.median(r["ops_per_s"] for r in runs), "runs": runs})
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
