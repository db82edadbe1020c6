"""A tiny driver around ``cyberscan.assess`` for the benchmarks: a subset of checks, probe timings.

    python -m bench.drive museum00000.test --nameserver 10.80.0.53 --ca-bundle ca.pem \\
        --checks 'web.tls.*' --out timings.json

Runs the default profile restricted to the check ids matching ``--checks`` (fnmatch; all when not
given), with every probe wrapped to record when it started and ended (relative to the process start,
``time.perf_counter``), and writes the figures as JSON: process start-up until ``assess`` was called,
the assessment's wall time, per-probe totals, spans for the first targets, result counts by status.
Nothing here changes what cyberscan does; it only times it.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402 - the clock starts before the imports, as a user's process does
import dataclasses  # noqa: E402
import fnmatch  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import cyberscan  # noqa: E402
from cyberscan import catalogue as catalogue_mod  # noqa: E402
from cyberscan import registry as registry_mod  # noqa: E402
from cyberscan.options import Nameserver, ScanOptions  # noqa: E402

SPAN_TARGETS = 3  # keep spans of the first few targets only (a 5,000-domain run would be huge)


def timed(name: str, func: Callable[..., Any], spans: list[tuple[str, str, float, float, str]],
          keep: set[str]) -> Callable[..., Any]:
    lock = threading.Lock()

    def wrapper(ctx: Any, subject: str) -> Any:
        start = time.perf_counter()
        outcome = "ok"
        try:
            return func(ctx, subject)
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            end = time.perf_counter()
            if subject in keep:
                with lock:
                    spans.append((name, subject, start - T0, end - T0, outcome))
            with lock:
                totals = TOTALS.setdefault(name, [0, 0.0, 0.0])
                totals[0] += 1
                totals[1] += end - start
                totals[2] = max(totals[2], end - start)

    return wrapper


TOTALS: dict[str, list[float]] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("domains", nargs="*")
    parser.add_argument("--targets", type=Path, help="a file with one domain a line")
    parser.add_argument("--nameserver", required=True)
    parser.add_argument("--ca-bundle")
    parser.add_argument("--checks", action="append", default=[], help="fnmatch pattern over check ids")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    targets = list(args.domains)
    if args.targets:
        targets += [line.strip() for line in args.targets.read_text().splitlines() if line.strip()]
    catalogue = catalogue_mod.builtin()
    profile = catalogue_mod.profile(catalogue, "default")
    if args.checks:
        chosen = tuple(c.id for c in catalogue.select(profile) if any(fnmatch.fnmatch(c.id, p) for p in args.checks))
        profile = dataclasses.replace(profile, include_tags=(), include=chosen)
    registry = registry_mod.load()
    spans: list[tuple[str, str, float, float, str]] = []
    keep = set(targets[:SPAN_TARGETS])
    for name, reg in list(registry.probes.items()):
        registry.probes[name] = dataclasses.replace(reg, func=timed(name, reg.func, spans, keep))
    options = ScanOptions(timeout=args.timeout, nameservers=(Nameserver.parse(args.nameserver),),
                          ca_bundle=args.ca_bundle, allow_private=True, workers=args.workers)
    ready = time.perf_counter()
    result = cyberscan.assess(targets, profile=profile, options=options, catalogue=catalogue, registry=registry)
    done = time.perf_counter()
    statuses = Counter(r.status.value for r in result.results)
    errors = Counter(f"{r.check_id}:{r.error_reason}" for r in result.results if r.status.value == "error")
    report = {
        "targets": len(targets),
        "checks": sorted({c.id for c in catalogue.select(profile)}),
        "startup_s": ready - T0,
        "assess_s": done - ready,
        "process_s_until_done": done - T0,
        "statuses": dict(statuses),
        "errors": dict(errors.most_common(20)),
        "failures": [f.domain for f in result.failures],
        "probes": {name: {"count": int(v[0]), "total_s": v[1], "max_s": v[2]} for name, v in sorted(TOTALS.items())},
        "spans": sorted(spans, key=lambda s: s[2]),
        "facts": [dataclasses.asdict(o) if dataclasses.is_dataclass(o) else str(o)
                  for o in result.scan.outcomes if o.subject in keep and o.probe in ("tls.scan", "smtp.starttls")],
    }
    args.out.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # as the cyberscan command ends (cyberscan.cli.run): no object-by-object teardown
