"""Load benchmark of DEN's hub: submissions per second and request latency on this machine.

    .venv/bin/python bench/hub.py --submissions 5000 --clients 50 [--batch 20] [--database URL]

Starts ``cyberscan hub serve`` (2 gunicorn workers) on a free loopback port with a fresh SQLite
database in a temporary folder (or the ``--database`` given, e.g. a throwaway PostgreSQL), sends
valid synthetic summaries from concurrent clients and prints throughput and latency percentiles.
Traffic goes to 127.0.0.1 only; the run is bounded by ``--submissions``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.hubdata import summary
from tests.integration.hubserver import Hub, create_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--batch", type=int, default=1, help="summaries per request (1: the single endpoint)")
    parser.add_argument("--database", default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cyberscan-bench-hub-") as tmp:
        folder = Path(tmp)
        database = args.database or f"sqlite:///{folder / 'hub.sqlite3'}"
        tokens = create_token(database, folder, max_organisations=1000, count=args.clients).split()
        per_client = args.submissions // args.clients
        bodies = [[json.dumps(summary(c * 1000 + i % 20, c * 1_000_000 + i)).encode() for i in range(per_client)]
                  for c in range(args.clients)]
        latencies: list[float] = []
        lock = threading.Lock()
        with Hub(database, folder, workers=args.workers) as hub:
            def client(index: int) -> None:
                session = requests.Session()
                headers = {"Authorization": f"Bearer {tokens[index]}", "Content-Type": "application/json"}
                mine = bodies[index]
                for start in range(0, len(mine), args.batch):
                    chunk = mine[start:start + args.batch]
                    if args.batch == 1:
                        url, body = hub.url + "/api/submissions", chunk[0]
                    else:
                        url, body = hub.url + "/api/submissions/batch", b'{"submissions": [' + b",".join(chunk) + b"]}"
                    began = time.perf_counter()
                    response = session.post(url, data=body, headers=headers, timeout=60)
                    took = time.perf_counter() - began
                    if response.status_code not in (200, 201):
                        raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")
                    with lock:
                        latencies.append(took)

            began = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(client, range(args.clients)))
            elapsed = time.perf_counter() - began
        sent = per_client * args.clients
        cuts = statistics.quantiles(latencies, n=100)
        print(f"database        {database.split(':', 1)[0]}")
        print(f"submissions     {sent} from {args.clients} clients, {args.batch} per request")
        print(f"elapsed         {elapsed:.1f} s")
        print(f"throughput      {sent / elapsed:.0f} submissions/s")
        print(f"latency p50     {cuts[49] * 1000:.0f} ms per request")
        print(f"latency p95     {cuts[94] * 1000:.0f} ms per request")


if __name__ == "__main__":
    main()
