"""Stress: SIGKILL real `cyberscan scan` processes at random moments and prove the history survives.

    .venv/bin/python bench/stress_history_kill.py               # 200 kills
    .venv/bin/python bench/stress_history_kill.py --kills 1000 --seed 7

Serves museum.test from an in-process DNS server on loopback, times one full scan, then starts scan
after scan (each saving into the same SQLite history) and kills each with SIGKILL at a random moment
between its start and a little after a full scan would end: during start-up, scanning, writing the
report or saving. After every kill it checks with SQLite's ``PRAGMA integrity_check`` that the file
is sound, that every assessment a process reported saved ("saved in the history as no. N") is still
there and whole (one finding row per result), and that at most one assessment per kill was committed
without being reported. Exits 1 at the first violation. The unit suite does the same 120 times with
forked writers (tests/unit/test_history_kill.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cyberscan.demo.localdns import LocalDnsServer, ZoneSet

CLI = str(Path(sys.executable).with_name("cyberscan"))
DOMAIN = "museum.test"
ZONE = """$TTL 300
@ SOA ns1.museum.test. hostmaster.museum.test. 1 3600 600 86400 300
@ NS ns1.museum.test.
ns1 A 127.0.0.1
@ A 127.0.0.1
www A 127.0.0.1
@ MX 10 mail.museum.test.
mail A 127.0.0.1
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p=none; rua=mailto:dmarc@museum.test"
"""
SAVED = re.compile(r"saved in the history as no\. (\d+)")


def check(db: Path, reported: set[int], kills: int) -> int:
    """Raise AssertionError when anything was lost or damaged; return how many assessments are stored."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity check failed"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "assessments" not in tables:
            assert not reported, "the store lost its tables"
            return 0
        counts = {i: json.loads(c) for i, c in conn.execute("SELECT id, counts FROM assessments")}
        assert reported <= set(counts), f"lost: {sorted(reported - set(counts))}"
        assert len(set(counts) - reported) <= kills, "more unreported saves than kills"
        rows = dict(conn.execute("SELECT assessment_id, COUNT(*) FROM findings GROUP BY assessment_id").fetchall())
        for number, c in counts.items():
            results = sum(v for k, v in c.items() if k != "accepted")
            assert rows.get(number) == results, f"assessment {number} is not whole"
        return len(counts)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--db", type=Path, default=None, help="the SQLite file (default: a temporary one)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    rng = random.Random(seed)
    zones = ZoneSet()
    zones.add_text(f"{DOMAIN}.", ZONE)
    env = {**os.environ, "CYBERSCAN_LANG": "en"}
    with LocalDnsServer(zones) as dns, tempfile.TemporaryDirectory(prefix="cyberscan-kill-") as tmp:
        db = args.db or Path(tmp) / "history.sqlite"
        command = [CLI, "scan", DOMAIN, "--nameserver", dns.nameserver, "--timeout", "0.5", "--no-progress",
                   "--format", "json", "-o", "-", "--db", str(db)]
        began = time.perf_counter()
        first = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        full = time.perf_counter() - began
        reported = {int(n) for n in SAVED.findall(first.stderr)}
        if first.returncode not in (0, 1) or not reported:
            raise SystemExit(f"the first scan failed: {first.stderr}")
        print(f"one full scan takes {full:.2f} s; killing {args.kills} scans at random moments (seed {seed})")
        started = time.perf_counter()
        finished = 0
        for kill in range(1, args.kills + 1):
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
            time.sleep(rng.uniform(0.0, full * 1.2))
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate()
            if proc.returncode != -signal.SIGKILL:
                finished += 1  # it ended before the kill
            reported |= {int(n) for n in SAVED.findall(err)}
            try:
                stored = check(db, reported, kill + 1)
            except AssertionError as exc:
                print(f"kill {kill}: {exc} (seed {seed})")
                raise SystemExit(1) from None
            if kill % 25 == 0:
                print(f"  {kill} kills: {stored} assessments stored, {len(reported)} reported saved, all whole")
        stored = check(db, reported, args.kills + 1)
        print(f"{args.kills} kills in {time.perf_counter() - started:.0f} s ({finished} scans finished first): "
              f"{stored} assessments stored, {len(reported)} reported saved, none lost, integrity ok")


if __name__ == "__main__":
    main()
