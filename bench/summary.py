"""Markdown tables from a ``bench/scale.py`` results file (for docs/scale.md and issue notes).

    .venv/bin/python -m bench.summary bench/results/baseline-2026-12-02.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _s(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary(data: dict[str, Any]) -> str:
    out: list[str] = []
    m = data.get("machine", {})
    out.append(f"Measured {m.get('date', '?')} on `{m.get('host', '?')}`: {m.get('cpus')} vCPUs ({m.get('cpu_model')}), "
               f"{m.get('memory_gb')} GB, Linux {m.get('kernel')}, Python {m.get('python')}, cyberscan at "
               f"{m.get('cyberscan_commit')}; estate of {m.get('estate_domains')} domains; {m.get('priority', '')}.")
    out.append("")
    if "rtt" in data:
        r = data["rtt"]
        p = r.get("ping", {})
        out.append(f"RTT set to {r['set_ms']:g} ms: ping avg {_s(p.get('avg_ms'))} ms (min {_s(p.get('min_ms'))}, "
                   f"max {_s(p.get('max_ms'))}), TCP connect median {_s(r['tcp_connect_median_ms'])} ms, DNS query "
                   f"median {_s(r['dns_median_ms'])} ms.")
        out.append("")
    if "one" in data:
        out.append("| one domain, whole process | wall at 20 ms (median, min) | at 0 ms | at 40 ms | critical path | "
                   "wall / critical path | round trips waited in a row (slope) |")
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for label, f in data["one"].items():
            if not isinstance(f, dict) or "critical_path" not in f:
                continue
            w20, w0, w40 = f["wall_at_20ms"], f["wall_at_0ms"], f["wall_at_40ms"]
            cp = f["critical_path"]
            out.append(f"| {f['domain']} ({label}) | {_s(w20['median_s'])} s, {_s(w20['min_s'])} s | "
                       f"{_s(w0['median_s'])} s | {_s(w40['median_s'])} s | {cp['rtts']} RTT = "
                       f"{_s(f['critical_path_s'])} s ({cp['longest'].split(' (')[0]}) | "
                       f"{_s(f['ratio_to_critical_path'], 1)}x | {f['observed_round_trips']:.0f} |")
        out.append("")
    if "tls" in data:
        t = data["tls"]
        out.append(f"TLS part, {', '.join(t['endpoints'])}:")
        out.append("")
        out.append("| tool | median | runs | cyberscan / tool |")
        out.append("| --- | --- | --- | --- |")
        c = t["cyberscan"]
        out.append(f"| cyberscan, `web.tls.*` checks (whole process; the `tls.scan` probe itself "
                   f"{_s(c.get('tls_scan_probe_s'))} s) | {_s(c['median_s'])} s | {c['runs']} | 1 |")
        names = {"sslyze_matched": "sslyze, same coverage", "sslyze_default": "sslyze, default scan",
                 "testssl_matched": "testssl.sh -p -E -S", "testssl_default": "testssl.sh, default run"}
        for key, name in names.items():
            if key in t:
                out.append(f"| {name} | {_s(t[key]['median_s'])} s | {t[key]['runs']} | "
                           f"{_s(t[f'ratio_cyberscan_to_{key}'], 3)} |")
        out.append("")
    if "mail" in data:
        mm = data["mail"]
        out.append(f"Mail-DNS part, {mm['domain']}: cyberscan {_s(mm['cyberscan']['median_s'])} s "
                   f"(runs {mm['cyberscan']['runs']}), checkdmarc {_s(mm.get('checkdmarc', {}).get('median_s'))} s "
                   f"(runs {mm.get('checkdmarc', {}).get('runs')}): ratio {_s(mm.get('ratio_cyberscan_to_checkdmarc'))}.")
        out.append("")
    if "batch" in data:
        b = data["batch"]
        out.append(f"| domains in one run (RTT {b['rtt_ms']:g} ms) | wall | domains/min | CPU (user+sys) | CPU/domain | "
                   "peak RSS | estate CPU | machine load max | error results | report or history |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        rows = [(r, b["rtt_ms"]) for r in b.get("runs", [])] + [(r, 0) for r in b.get("runs_at_0ms", [])]
        for r, rtt in rows:
            label = f"{r['domains']:,}" + ("" if rtt == b["rtt_ms"] else f" (at {rtt:g} ms)")
            out.append(f"| {label} | {r['wall_s']:.1f} s | {r['domains_per_minute']:.0f} | {r['cpu_s']:.1f} s | "
                       f"{r['cpu_per_domain_ms']:.0f} ms | {r.get('peak_rss_tree_mb', r.get('peak_rss_mb', 0)):.0f} MB | {r['estate_cpu_s']:.0f} s | "
                       f"{r['load_avg_max']:.1f} | {r['statuses'].get('error', 0)} | {r.get('report_mb', r.get('history_mb', 0)):.0f} MB |")
        g = b.get("growth")
        if g:
            out.append("")
            out.append(f"Growth x{g['n_factor']:g} in N: wall x{g['wall_factor']:.1f}, CPU x{g['cpu_factor']:.1f}, "
                       f"peak RSS x{g['rss_factor']:.1f} ({g['rss_mb_per_1000_domains']:.0f} MB per 1,000 domains).")
        out.append("")
    if "startup" in data:
        s = data["startup"]
        out.append(f"Start-up: `cyberscan --version` {_s(s['version']['median_s'])} s (min {_s(s['version']['min_s'])}), "
                   f"`cyberscan checks` {_s(s['checks']['median_s'])} s (min {_s(s['checks']['min_s'])}), "
                   f"`import cyberscan.cli` {_s(s['import_cli']['median_s'])} s (min {_s(s['import_cli']['min_s'])}), "
                   f"bare `python -c pass` {_s(s['python_bare']['median_s'])} s. `-X importtime`: "
                   f"{s['importtime']['total_ms']:.0f} ms in all; " + ", ".join(
                       f"{r['module']} {r['cumulative_ms']:.0f} ms" for r in s["importtime"]["top_cumulative"][:10]) + ".")
        out.append("")
    if "profile" in data:
        p = data["profile"]
        for mode in ("gil", "cpu", "wall"):
            if mode in p:
                out.append(f"py-spy, {mode} mode, {p['domains']} domains ({p[mode]['samples']} samples), top self: "
                           + "; ".join(f"{r['frame']} {r['share']:.0%}" for r in p[mode]["self"][:12]) + ".")
                out.append("")
    return "\n".join(out)


def main() -> None:
    print(summary(json.loads(Path(sys.argv[1]).read_text())))


if __name__ == "__main__":
    main()
