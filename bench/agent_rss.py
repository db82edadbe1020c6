"""Benchmark the agent's memory over many rounds: does the resident set stay flat for months of rounds?

    .venv/bin/python bench/agent_rss.py                     # 500 rounds
    .venv/bin/python bench/agent_rss.py --rounds 2000 --every 25

The agent's own loop (:func:`cyberscan.agent.runner.serve`) runs in this process with an interval of
almost nothing, against a zone served in-process on loopback (cyberscan.demo.localdns) whose DMARC
policy flips every ``--every`` rounds, so rounds alternate between quiet ones and ones with a
regression that is confirmed and alerted to a local webhook receiver (signed, through the outbox).
Every round is saved in an SQLite history. A sampler thread reads VmRSS from /proc/self/status; the
figures are printed per checkpoint (RSS, rounds, store size) with the growth after warm-up. Nothing
here asserts a number.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import hmac
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cyberscan.agent.config import parse_config
from cyberscan.agent.rounds import prepare
from cyberscan.agent.runner import serve
from cyberscan.agent.schedule import Every
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.history import open_store

DOMAIN = "museum.test"
ZONE = """$TTL 300
@ SOA ns1.museum.test. hostmaster.museum.test. 1 3600 600 86400 300
@ NS ns1.museum.test.
ns1 A 127.0.0.1
@ MX 0 .
@ TXT "v=spf1 -all"
_dmarc TXT "v=DMARC1; p={policy};"
"""
SECRET = "bench-key"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Receiver:
    def __init__(self) -> None:
        self.count = self.signed = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                outer.count += 1
                outer.signed += hmac.compare_digest(self.headers.get("X-Cyberscan-Signature-256", ""), expected)
                json.loads(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--every", type=int, default=25, help="flip the DMARC policy every N rounds")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cyberscan-agent-rss-"))
    zones = ZoneSet()
    zones.add_text(f"{DOMAIN}.", ZONE.format(policy="reject"))
    receiver = Receiver()
    (folder / "hook.key").write_text(SECRET)
    with LocalDnsServer(zones) as dns:
        text = f"""
domains: [{DOMAIN}]
options: {{timeout: 0.5, nameserver: ["{dns.nameserver}"], allow_private: true}}
db: history.sqlite
alerts: {{webhook: {{url: "{receiver.url}", secret_file: hook.key}}}}
rules: {{confirm_after: 0, cannot_check_rounds: 1000}}
"""
        config = parse_config(text, where="agent.yaml", base=folder)
        config = dataclasses.replace(config, schedule=Every(0.001))  # the file allows 1 s at least
        setup = prepare(config, "en")
        stop = threading.Event()
        samples: list[tuple[int, int, float]] = []  # (rounds, rss KiB, seconds)
        started = time.monotonic()

        def sampler() -> None:
            with open_store(folder / "history.sqlite") as store:
                flipped = 0
                while not stop.is_set():
                    done = store.agent.round_count()
                    samples.append((done, rss_kib(), time.monotonic() - started))
                    if done // args.every > flipped:
                        flipped = done // args.every
                        zones.add_text(f"{DOMAIN}.", ZONE.format(policy="none" if flipped % 2 else "reject"))
                    stop.wait(0.25)

        watcher = threading.Thread(target=sampler, daemon=True)
        with open_store(folder / "history.sqlite") as store:
            watcher.start()
            serve(store, setup, cancel=stop, max_rounds=args.rounds)
            stop.set()
            watcher.join()
            rounds = store.agent.round_count()
            saved = store.count()
    seconds = time.monotonic() - started
    size = sum(p.stat().st_size for p in folder.glob("history.sqlite*"))
    print(f"rounds {rounds}, assessments saved {saved}, messages received {receiver.count} "
          f"(signed {receiver.signed}), {seconds:.0f} s ({seconds / max(rounds, 1):.2f} s per round), "
          f"store {size / 1e6:.1f} MB")
    print("rounds   RSS (MiB)")
    marks = sorted({1, 10, 50, 100, 250, args.rounds // 2, args.rounds})
    for mark in marks:
        at = next((s for s in samples if s[0] >= mark), samples[-1] if samples else (0, 0, 0.0))
        print(f"{at[0]:>6}   {at[1] / 1024:8.1f}")
    warm = next((s for s in samples if s[0] >= min(50, args.rounds)), None)
    last = samples[-1] if samples else None
    if warm and last:
        print(f"growth from round {warm[0]} to {last[0]}: {(last[1] - warm[1]) / 1024:+.1f} MiB "
              f"({(last[1] - warm[1]) / max(last[0] - warm[0], 1):+.1f} KiB per round); "
              f"peak {max(s[1] for s in samples) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
