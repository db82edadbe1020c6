"""Benchmark the history store: bytes per assessment, `cyberscan history` and `cyberscan diff` wall
time with N stored assessments, and how both grow with N.

    .venv/bin/python bench/history.py                       # N = 10, 100, 1000 on SQLite
    .venv/bin/python bench/history.py --sizes 1000 5000 --db-url postgresql://user@127.0.0.1:5432/db

The assessments are real: two scans of the demo museum (its DNS, web, TLS and mail servers run on
loopback), one with a finding fixed, saved alternately with their dates moved a day apart, so
`diff` compares two real judgements. The whole-command figures run the installed `cyberscan` as a
new process (start-up included), the median of --repeats runs; "own work" runs the same command
inside this process (no interpreter start-up, no imports); "start-up" is `python -c "import
cyberscan.cli"`. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.assessment import Assessment, build
from cyberscan.commands.history import diff_cmd, history_cmd
from cyberscan.demo import DOMAIN, scan_demo
from cyberscan.history import open_store
from cyberscan.models import Status

CLI = str(Path(sys.executable).with_name("cyberscan"))


def two_assessments() -> tuple[Assessment, Assessment]:
    """The demo museum scanned once, and the same judgement with one failing finding fixed."""
    first = scan_demo()
    cat = catalogue_mod.builtin()
    results = list(first.scan.results)
    for i, r in enumerate(results):
        if r.status is Status.FAIL:
            results[i] = dataclasses.replace(r, status=Status.PASS, message="ok")
            break
    second = build(dataclasses.replace(first.scan, results=tuple(results)), catalogue=cat)
    return first, second


def shifted(a: Assessment, when: datetime) -> Assessment:
    stamp = when.isoformat(timespec="seconds")
    return dataclasses.replace(a, scan=dataclasses.replace(a.scan, started=stamp, finished=stamp))


def fill(target: str, pair: tuple[Assessment, Assessment], count: int, already: int) -> float:
    """Save assessments until the store holds ``count``; returns seconds per save."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with open_store(target) as store:
        began = time.perf_counter()
        for n in range(already, count):
            store.save(shifted(pair[n % 2], start + timedelta(days=n)))
        spent = time.perf_counter() - began
    return spent / max(1, count - already)


def size_of(target: str) -> int | None:
    if target.startswith("postgres"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            row = conn.execute("SELECT sum(pg_total_relation_size(quote_ident(table_name)::regclass)) FROM "
                               "information_schema.tables WHERE table_schema = current_schema()").fetchone()
        return int(row[0]) if row and row[0] is not None else None
    import sqlite3

    conn = sqlite3.connect(target)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return Path(target).stat().st_size


def wall(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
    return statistics.median(times)


def own_work(command: Any, args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        sink = io.StringIO()
        began = time.perf_counter()
        with redirect_stdout(sink), redirect_stderr(sink):
            command.main(args, standalone_mode=False)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db-url", help="a postgresql:// URL of an empty database or schema (default: SQLite)")
    args = parser.parse_args()

    registry_mod.load()
    pair = two_assessments()
    print(f"assessment: {len(pair[0].results)} results, {len(pair[0].scan.outcomes)} facts (demo museum)")
    startup = wall([sys.executable, "-c", "import cyberscan.cli"], args.repeats)
    print(f"start-up (python -c 'import cyberscan.cli'): {startup * 1000:.0f} ms")
    with tempfile.TemporaryDirectory(prefix="cyberscan-bench-") as tmp:
        target = args.db_url or str(Path(tmp) / "history.sqlite")
        print(f"store: {'PostgreSQL' if args.db_url else 'SQLite'}")
        print(f"{'N':>6}  {'bytes/assessment':>16}  {'save ms':>8}  {'history ms':>10}  {'(own work)':>10}  "
              f"{'diff ms':>8}  {'(own work)':>10}")
        have = 0
        for count in sorted(args.sizes):
            per_save = fill(target, pair, count, have)
            have = count
            size = size_of(target)
            per = f"{size / count:,.0f}" if size else "?"
            hist = wall([CLI, "history", DOMAIN, "--db", target], args.repeats)
            hist_own = own_work(history_cmd, [DOMAIN, "--db", target], args.repeats)
            diff = wall([CLI, "diff", DOMAIN, "--db", target], args.repeats)
            diff_own = own_work(diff_cmd, [DOMAIN, "--db", target], args.repeats)
            print(f"{count:>6}  {per:>16}  {per_save * 1000:>8.1f}  {hist * 1000:>10.0f}  {hist_own * 1000:>10.0f}  "
                  f"{diff * 1000:>8.0f}  {diff_own * 1000:>10.0f}")


if __name__ == "__main__":
    main()
