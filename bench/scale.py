"""Sector-scale measurements of today's cyberscan against the bench estate (issue 13).

    sudo .venv/bin/python -m bench.estate up --domains 5000 --rtt 20
    sudo .venv/bin/python -m bench.scale --out bench/results/baseline.json            # everything
    sudo .venv/bin/python -m bench.scale --only rtt,startup,one --out /tmp/quick.json
    sudo .venv/bin/python -m bench.estate down

Sections (``--only``): ``rtt`` (ping, DNS query and TCP connect timing through the delayer),
``startup`` (``cyberscan --version``/``checks`` and ``-X importtime``), ``one`` (one domain, whole
process, against its critical path; also at 0 and 40 ms for the slope), ``tls`` (the TLS part against
sslyze and testssl.sh), ``mail`` (the mail-DNS part against checkdmarc), ``batch`` (N domains in one
``cyberscan scan``: rate, peak RSS, CPU), ``profile`` (py-spy over one 100-domain run).

Every figure is printed and written to ``--out`` (JSON). Nothing here asserts a time. Other tools
come from their own virtual environments under /tmp (``--sslyze``, ``--checkdmarc``, ``--py-spy``);
see bench/README.md for how to make them.

On an estate someone else keeps up (and measures with at the same time): ``--keep-rtt`` never changes
the delay (the one-domain section then measures at the current RTT only, no slope; the batch section
skips its 0 ms runs), ``--no-renice`` leaves the estate's processes alone, and ``--lock FILE`` holds an
exclusive ``flock`` on FILE during every timed run (not while waiting for a quiet moment).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import fcntl
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.critical import critical_path
from bench.estate import control, net, plan

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv" / "bin"
NS = plan.RESOLVER
SECTIONS = ("rtt", "startup", "one", "tls", "mail", "batch", "profile")


def log(message: str) -> None:
    print(message, flush=True)


NICE = -15  # this machine is shared with other sessions: measured processes and the estate go first


def client(*args: str) -> list[str]:
    return ["nice", "-n", str(NICE), *net.in_client(*args)]


def renice_estate() -> int:
    """Give every process of the server namespace (and the children they start) NICE."""
    target = os.stat(f"/run/netns/{net.SERVER_NS}").st_ino
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(entry / "ns" / "net").st_ino == target:
                    os.setpriority(os.PRIO_PROCESS, int(entry.name), NICE)
                    count += 1
            except OSError:
                continue
    return count


LOCK: Path | None = None  # --lock: held during every timed run


@contextlib.contextmanager
def measuring() -> Any:
    """Hold ``--lock`` (if given) for the duration of one timed run."""
    if LOCK is None:
        yield
        return
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 3600) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return time.perf_counter() - start, done.returncode, done.stdout + done.stderr


def machine_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over ``seconds`` (other sessions may share this machine)."""
    busy0, total0 = _cpu_busy()
    time.sleep(seconds)
    busy1, total1 = _cpu_busy()
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0


def wait_quiet(limit: float = 20.0, threshold: float = 0.3) -> float:
    """Wait (at most ``limit`` seconds) until the machine is mostly idle for 3 s; return the last share.

    The figures are only worth something when nothing else competes for the two cores; what the
    machine was doing is recorded with every measurement."""
    deadline = time.monotonic() + limit
    calm = 0
    share = 1.0
    while time.monotonic() < deadline:
        share = machine_busy(1.0)
        calm = calm + 1 if share < threshold else 0
        if calm >= 3:
            break
    return share


def repeat(label: str, cmd: list[str], runs: int, **kw: Any) -> dict[str, Any]:
    times = []
    cpu = []
    busy = []
    rc = 0
    idle_before = wait_quiet()
    loads = []
    for _ in range(runs):
        with measuring():
            loads.append(round(os.getloadavg()[0], 1))
            b0, t0 = _cpu_busy()
            c0 = _children_cpu()
            elapsed, rc, out = timed_run(cmd, **kw)
            cpu.append(round(_children_cpu() - c0, 3))
            b1, t1 = _cpu_busy()
        busy.append(round((b1 - b0) / (t1 - t0), 2) if t1 > t0 else 0.0)
        times.append(elapsed)
        if rc not in (0, 1):  # cyberscan exits 1 when it found problems (--fail-on), tools likewise
            log(f"  {label}: exit {rc}: {out[-500:]}")
    result = {"median_s": statistics.median(times), "min_s": min(times), "runs": [round(t, 3) for t in times],
              "cpu_s": cpu, "cpu_median_s": statistics.median(cpu), "exit": rc,
              "machine_busy_before": round(idle_before, 2), "machine_busy_during": busy, "load_avg_1min": loads}
    log(f"  {label}: median {result['median_s']:.2f} s (min {result['min_s']:.2f}, {runs} runs; CPU median "
        f"{result['cpu_median_s']:.2f} s; machine busy {idle_before:.0%} before, {statistics.median(busy):.0%} during, "
        f"load {statistics.median(loads):g})")
    return result


def scan_cmd(domains: list[str], out: Path, ca: str, fmt: str = "json") -> list[str]:
    return client(str(VENV / "cyberscan"), "scan", *domains, "--nameserver", NS, "--ca-bundle", ca,
                  "--allow-private", "--format", fmt, "-o", str(out), "--no-progress")


def drive_cmd(domains: list[str], out: Path, ca: str, checks: list[str]) -> list[str]:
    args = [str(VENV / "python"), "-m", "bench.drive", *domains, "--nameserver", NS, "--ca-bundle", ca,
            "--out", str(out)]
    for pattern in checks:
        args += ["--checks", pattern]
    return client(*args)


# ----------------------------------------------------------------------------------------- rtt


def section_rtt(state: control.State, args: argparse.Namespace) -> dict[str, Any]:
    log(f"RTT (delayer set to {state.rtt_ms:g} ms)")
    done = subprocess.run(client("ping", "-c", "20", "-i", "0.05", "-q", plan.HOSTING[0]), capture_output=True,
                          text=True, check=False)
    match = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", done.stdout)
    ping = dict(zip(("min_ms", "avg_ms", "max_ms", "mdev_ms"), map(float, match.groups()), strict=True)) if match else {}
    probe = (
        "import json, socket, statistics, time, dns.message, dns.query\n"
        "q = dns.message.make_query('museum00000.test', 'MX')\n"
        "dnst, tcpt = [], []\n"
        "for _ in range(40):\n"
        f"    t = time.perf_counter(); dns.query.udp(q, {NS!r}, timeout=2); dnst.append(time.perf_counter() - t)\n"
        f"    t = time.perf_counter(); socket.create_connection(({plan.HOSTING[0]!r}, 443), timeout=2).close()\n"
        "    tcpt.append(time.perf_counter() - t); time.sleep(0.01)\n"
        "print(json.dumps({'dns_median_ms': statistics.median(dnst) * 1000, 'dns_min_ms': min(dnst) * 1000,\n"
        "                  'tcp_connect_median_ms': statistics.median(tcpt) * 1000, 'tcp_min_ms': min(tcpt) * 1000}))\n"
    )
    done = subprocess.run(client(str(VENV / "python"), "-c", probe), capture_output=True, text=True, check=True)
    timing = json.loads(done.stdout)
    result = {"set_ms": state.rtt_ms, "ping": ping, **timing}
    log(f"  ping avg {ping.get('avg_ms', 0):.2f} ms (min {ping.get('min_ms', 0):.2f}, max {ping.get('max_ms', 0):.2f}); "
        f"DNS query median {timing['dns_median_ms']:.2f} ms; TCP connect median {timing['tcp_connect_median_ms']:.2f} ms")
    return result


# ------------------------------------------------------------------------------------- startup


def section_startup(state: control.State, args: argparse.Namespace) -> dict[str, Any]:
    log("Start-up")
    nice = ["nice", "-n", str(NICE)]
    result = {
        "version": repeat("cyberscan --version", [*nice, str(VENV / "cyberscan"), "--version"], 7),
        "checks": repeat("cyberscan checks", [*nice, str(VENV / "cyberscan"), "checks"], 5),
        "import_cli": repeat("python -c 'import cyberscan.cli'",
                             [*nice, str(VENV / "python"), "-c", "import cyberscan.cli"], 5),
        "python_bare": repeat("python -c pass", [*nice, str(VENV / "python"), "-c", "pass"], 5),
        "first_packet": first_packet(state, 7),
    }
    done = subprocess.run([*nice, str(VENV / "python"), "-X", "importtime", "-c", "import cyberscan.cli"],
                          capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    total = max((r[1] for r in rows), default=0)
    top_level = sorted((r for r in rows if r[3] != "cyberscan.cli"), key=lambda r: -r[1])[:15]
    top_self = sorted(rows, key=lambda r: -r[0])[:12]
    result["importtime"] = {
        "total_ms": total / 1000,
        "top_cumulative": [{"module": r[3], "depth": r[2], "cumulative_ms": r[1] / 1000, "self_ms": r[0] / 1000}
                           for r in top_level],
        "top_self": [{"module": r[3], "self_ms": r[0] / 1000} for r in top_self],
    }
    log(f"  import cyberscan.cli: {total / 1000:.0f} ms in all; biggest: "
        + ", ".join(f"{r[3]} {r[1] / 1000:.0f} ms" for r in top_level[:10]))
    return result


def first_packet(state: control.State, runs: int) -> dict[str, Any]:
    """Process start to the first packet of ``cyberscan scan`` (bench/firstpacket.py), outside the client
    namespace: the first packet (the preflight SOA query) has no route there and the scan ends at once,
    so this loads nobody's estate and needs no lock."""
    stamp = Path(tempfile.mkdtemp(prefix="csb-fp-")) / "stamp"
    cmd = ["nice", "-n", str(NICE), str(VENV / "python"), "-m", "bench.firstpacket", str(stamp), "--", "scan",
           "museum00008.test", "--nameserver", NS, "--ca-bundle", state.ca_file, "--allow-private", "--format",
           "json", "-o", str(stamp.parent / "r.json"), "--no-progress", "--no-save"]
    times = []
    wait_quiet()
    for _ in range(runs):
        stamp.unlink(missing_ok=True)
        start = time.monotonic()
        subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
        if stamp.exists():
            times.append(float(stamp.read_text()) - start)
    shutil.rmtree(stamp.parent, ignore_errors=True)
    if not times:
        log("  first packet: no packet seen")
        return {}
    result = {"median_s": statistics.median(times), "min_s": min(times), "runs": [round(t, 3) for t in times]}
    log(f"  cyberscan scan, process start to first packet: median {result['median_s']:.3f} s (min {result['min_s']:.3f})")
    return result


# ----------------------------------------------------------------------------------------- one


def _facts(report: Path) -> dict[str, Any]:
    data = json.loads(report.read_text())
    return {f["probe"]: f["fact"] for f in data["facts"] if f.get("fact") is not None}


def _statuses(report: Path) -> dict[str, int]:
    data = json.loads(report.read_text())
    return dict(Counter(r["status"] for r in data["results"]))


def section_one(state: control.State, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="csb-one-"))
    for label, domain in (("typical", args.domain), ("legacy-tls", args.legacy_domain)):
        log(f"One domain, full passive scan: {domain} ({label})")
        report = work / f"{domain}.json"
        figures: dict[str, Any] = {"domain": domain}
        for rtt in ((args.rtt,) if args.keep_rtt else (args.rtt, 0.0, 2 * args.rtt)):
            if not args.keep_rtt:
                control.set_rtt(rtt)
            runs = args.repeats_one if rtt == args.rtt else 3
            figures[f"wall_at_{rtt:g}ms"] = repeat(f"cyberscan scan (RTT {rtt:g} ms)", scan_cmd([domain], report,
                                                                                              state.ca_file), runs)
            if rtt == args.rtt:
                figures["statuses"] = _statuses(report)
                cp = critical_path(_facts(report), domain)
                figures["critical_path"] = cp
        if not args.keep_rtt:
            control.set_rtt(args.rtt)
        cp = figures["critical_path"]
        wall = figures[f"wall_at_{args.rtt:g}ms"]["median_s"]
        figures["critical_path_s"] = cp["rtts"] * args.rtt / 1000
        figures["ratio_to_critical_path"] = wall / figures["critical_path_s"]
        slope_text = ""
        if not args.keep_rtt:
            slope = (figures[f"wall_at_{2 * args.rtt:g}ms"]["median_s"] - figures["wall_at_0ms"]["median_s"]) / (2 * args.rtt)
            figures["observed_round_trips"] = slope * 1000  # seconds per ms of RTT -> serial round trips
            slope_text = f"; wall grows {slope * 1000:.0f} ms per ms of RTT (observed serial round trips)"
        log(f"  critical path: {cp['rtts']} round trips ({cp['longest']}) = {figures['critical_path_s']:.2f} s at "
            f"{args.rtt:g} ms; wall {wall:.2f} s = {figures['ratio_to_critical_path']:.1f}x{slope_text}")
        drive = work / f"{domain}-drive.json"
        with measuring():
            subprocess.run(drive_cmd([domain], drive, state.ca_file, []), check=True, capture_output=True)
        timing = json.loads(drive.read_text())
        figures["in_process"] = {"startup_s": timing["startup_s"], "assess_s": timing["assess_s"],
                                 "spans": [s for s in timing["spans"] if s[1] == domain]}
        log(f"  in process: start-up {timing['startup_s']:.2f} s, assess {timing['assess_s']:.2f} s; probes: "
            + ", ".join(f"{s[0]} {s[3] - s[2]:.2f}" for s in sorted(timing["spans"], key=lambda s: s[2] - s[3])[:5]))
        out[label] = figures
    shutil.rmtree(work, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------------------- tls


def _endpoints(state: control.State, domain: str) -> list[tuple[str, str]]:
    d = plan.domain(int(domain.removeprefix("museum").removesuffix(".test")))
    names = [n for n in d.web_names if not n.startswith("mta-sts.")] + (
        [f"mta-sts.{d.name}"] if f"mta-sts.{d.name}" in d.web_names else [])
    return [(n, d.hoster.address) for n in names]


def section_tls(state: control.State, args: argparse.Namespace) -> dict[str, Any]:
    domain = args.tls_domain
    endpoints = _endpoints(state, domain)
    log(f"TLS part: {domain}, endpoints {', '.join(f'{n} ({a})' for n, a in endpoints)}")
    work = Path(tempfile.mkdtemp(prefix="csb-tls-"))
    runs = args.repeats
    result: dict[str, Any] = {"domain": domain, "endpoints": [f"{n}:443 ({a})" for n, a in endpoints]}
    cyber = repeat("cyberscan, TLS checks only (process)", drive_cmd([domain], work / "c.json", state.ca_file,
                                                                    ["web.tls.*"]), runs)
    timing = json.loads((work / "c.json").read_text())
    cyber["tls_scan_probe_s"] = timing["probes"].get("tls.scan", {}).get("max_s")
    cyber["assess_s"] = timing["assess_s"]
    log(f"  cyberscan tls.scan probe itself: {cyber['tls_scan_probe_s']:.2f} s (assess {cyber['assess_s']:.2f} s)")
    result["cyberscan"] = cyber
    sslyze = args.sslyze
    if sslyze and Path(sslyze).exists():
        targets = [f"{n}:443{{{a}}}" for n, a in endpoints]
        matched = ["--certinfo", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3",
                   "--elliptic_curves", f"--certinfo_ca_file={state.ca_file}"]
        result["sslyze_matched"] = repeat("sslyze, same coverage (versions, suites, certificate, curves)",
                                          client(sslyze, "--quiet", *matched, "--json_out", str(work / "s.json"),
                                                 *targets), runs)
        result["sslyze_default"] = repeat("sslyze, default scan", client(
            sslyze, "--quiet", f"--certinfo_ca_file={state.ca_file}", "--json_out", str(work / "s2.json"), *targets),
            runs)
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    if testssl:
        def each(extra: list[str]) -> list[str]:
            script = " && ".join(
                " ".join([testssl, "--quiet", "--color", "0", "--warnings", "off", "--ip", a, "--add-ca",
                          state.ca_file, *extra, f"https://{n}"]) + " >/dev/null" for n, a in endpoints)
            return client("bash", "-c", script)
        result["testssl_matched"] = repeat("testssl.sh -p -E -S (protocols, suites per protocol, certificate)",
                                           each(["-p", "-E", "-S"]), runs)
        if not args.skip_testssl_default:  # about three minutes a run
            result["testssl_default"] = repeat("testssl.sh, default run", each([]), args.repeats_testssl)
    base = cyber["median_s"]
    for key in ("sslyze_matched", "sslyze_default", "testssl_matched", "testssl_default"):
        if key in result:
            result[f"ratio_cyberscan_to_{key}"] = base / result[key]["median_s"]
            log(f"  cyberscan / {key}: {base / result[key]['median_s']:.3f}")
    shutil.rmtree(work, ignore_errors=True)
    return result


# ---------------------------------------------------------------------------------------- mail

# what checkdmarc covers without --check-mx-tls: SOA/NS, MX and their addresses, SPF, DMARC, DNSSEC, TLSA,
# MTA-STS (with the policy over HTTPS), TLS-RPT, BIMI; cyberscan also asks 39 DKIM selectors
MAIL_CHECKS = ["mail.spf", "mail.dmarc.*", "mail.dkim", "mail.mta_sts", "mail.tlsrpt", "mail.mx", "mail.nonsending",
               "mail.dane", "dns.dnssec"]


def section_mail(state: control.State, args: argparse.Namespace) -> dict[str, Any]:
    domain = args.mail_domain
    log(f"Mail-DNS part: {domain}")
    work = Path(tempfile.mkdtemp(prefix="csb-mail-"))
    result: dict[str, Any] = {"domain": domain, "cyberscan_checks": MAIL_CHECKS}
    cyber = repeat("cyberscan, mail DNS checks only (process)", drive_cmd([domain], work / "c.json", state.ca_file,
                                                                         MAIL_CHECKS), args.repeats)
    timing = json.loads((work / "c.json").read_text())
    cyber["assess_s"] = timing["assess_s"]
    cyber["probes"] = sorted(timing["probes"])
    result["cyberscan"] = cyber
    checkdmarc = args.checkdmarc
    if checkdmarc and Path(checkdmarc).exists():
        env = {**os.environ, "REQUESTS_CA_BUNDLE": state.ca_file, "SSL_CERT_FILE": state.ca_file}
        result["checkdmarc"] = repeat("checkdmarc (SOA, NS, MX, SPF, DMARC, DNSSEC, TLSA, MTA-STS, TLS-RPT, BIMI)",
                                      client(checkdmarc, domain, "-o", str(work / "d.json"), "-n", NS),
                                      args.repeats, env=env)
        result["ratio_cyberscan_to_checkdmarc"] = cyber["median_s"] / result["checkdmarc"]["median_s"]
        log(f"  cyberscan / checkdmarc: {result['ratio_cyberscan_to_checkdmarc']:.2f}")
    shutil.rmtree(work, ignore_errors=True)
    return result


# --------------------------------------------------------------------------------------- batch


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def estate_cpu() -> float:
    """CPU seconds used so far by every process in the server namespace (BIND, nginx, Postfix and its
    exited children, the delayer)."""
    try:
        target = os.stat(f"/run/netns/{net.SERVER_NS}").st_ino
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(entry / "ns" / "net").st_ino != target:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def _count_errors(report: Path) -> dict[str, int]:
    """Result statuses counted while streaming (a 5,000-domain JSON report does not fit in memory twice)."""
    pattern = re.compile(rb'"status": "(pass|fail|warn|info|error|skipped|manual)"')
    counts: Counter[str] = Counter()
    tail = b""
    with report.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            data = tail + chunk
            cut = data.rfind(b"\n")
            body, tail = (data[: cut + 1], data[cut + 1 :]) if cut >= 0 else (b"", data)
            counts.update(m.group(1).decode() for m in pattern.finditer(body))
    counts.update(m.group(1).decode() for m in pattern.finditer(tail))
    return dict(counts)


class TreeMemory:
    """Samples, every ``every`` seconds, the memory of a process and all its descendants (the batch
    forks its scanning processes): the sum of their RSS (shared pages counted once per process: an
    upper bound) and of their PSS (shared pages split between the processes that share them: what the
    tree really holds), from /proc/PID/smaps_rollup. /usr/bin/time -v reports only the largest single
    process. The peaks and the most processes seen at once are kept."""

    def __init__(self, root: int, every: float = 0.25) -> None:
        self.root = root
        self.every = every
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.max_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, ()))
        return out

    def sample(self) -> None:
        rss = pss = count = 0
        for pid in self._tree():
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            m_rss = re.search(r"^Rss:\s+(\d+) kB", text, re.M)
            m_pss = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
            if m_rss:
                count += 1
                rss += int(m_rss.group(1))
                pss += int(m_pss.group(1)) if m_pss else 0
        self.samples += 1
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_pss_kb = max(self.peak_pss_kb, pss)
        self.max_processes = max(self.max_processes, count)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()


def batch_cmd(targets: Path, work: Path, ca: str, *extra: str) -> list[str]:
    """``cyberscan scan --targets FILE``: the batch mode (forked scanning processes, one writer to the
    history database, the summary streamed to ``work/cyberscan-batch.{csv,json}``)."""
    return client(str(VENV / "cyberscan"), "scan", "--targets", str(targets), "--nameserver", NS, "--ca-bundle", ca,
                  "--allow-private", "-o", f"{work}/", "--db", str(work / "history.db"), "--no-progress", *extra)


def _summary_counts(summary: Path) -> dict[str, Any]:
    """States of the summary's rows and result statuses summed over the assessed domains."""
    data = json.loads(summary.read_text())
    states: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    incomplete = 0
    for row in data.get("rows", []):
        states[row.get("state", "")] += 1
        statuses.update(row.get("counts") or {})
        incomplete += 0 if row.get("complete", True) else 1
    return {"states": dict(states), "statuses": dict(statuses), "incomplete": incomplete,
            "complete": data.get("complete"), "done": data.get("done"), "total": data.get("total")}


def run_batch(state: control.State, count: int, work: Path, *, mode: str = "targets",
              extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """One batch of the first ``count`` domains: ``mode`` "targets" (``scan --targets FILE``, the batch
    mode) or "args" (every domain on the command line, one process, a JSON report: the old way)."""
    domains = state.names[:count]
    run_dir = work / f"{mode}-{count}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    timing = run_dir / "time.txt"
    report = run_dir / "report.json"
    if mode == "targets":
        targets = run_dir / "targets.txt"
        targets.write_text("\n".join(domains) + "\n")
        scan = batch_cmd(targets, run_dir, state.ca_file, *extra)
    else:
        scan = scan_cmd(domains, report, state.ca_file)
    cmd = ["/usr/bin/time", "-v", "-o", str(timing), *scan]
    loads: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(2):
            loads.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    before = wait_quiet(limit=60)
    with measuring():
        load_start = os.getloadavg()
        estate0 = estate_cpu()
        busy0, total0 = _cpu_busy()
        sampler.start()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with TreeMemory(proc.pid) as memory:
            output, _ = proc.communicate()
        wall = time.perf_counter() - start
        stop.set()
        busy1, total1 = _cpu_busy()
        estate1 = estate_cpu()
        load_end = os.getloadavg()
    text = timing.read_text()

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", text)
        return m.group(1).strip() if m else ""

    # user and system time of the process and every descendant it waited for (the scanning processes)
    user, system = float(field("User time (seconds)") or 0), float(field("System time (seconds)") or 0)
    largest_mb = int(field("Maximum resident set size (kbytes)") or 0) / 1024
    cores = os.cpu_count() or 1
    machine_cpu = (busy1 - busy0) / (total1 - total0) * cores * wall if total1 > total0 else 0.0
    result: dict[str, Any] = {
        "mode": mode,
        "domains": count,
        "wall_s": wall,
        "domains_per_minute": count / wall * 60,
        "cpu_user_s": user,
        "cpu_system_s": system,
        "cpu_s": user + system,
        "cpu_per_domain_ms": (user + system) / count * 1000,
        "peak_rss_tree_mb": memory.peak_rss_kb / 1024,  # sum over the process tree (shared pages per process)
        "peak_pss_tree_mb": memory.peak_pss_kb / 1024,  # sum of proportional set sizes (shared pages split)
        "largest_process_rss_mb": largest_mb,  # /usr/bin/time -v: the largest single process
        "processes_max": memory.max_processes,
        "memory_samples": memory.samples,
        "machine_cpu_s": machine_cpu,
        "estate_cpu_s": estate1 - estate0,  # BIND, nginx, Postfix, the delayer
        "other_cpu_s": machine_cpu - user - system,  # the estate and anything else on the machine
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in load_end],
        "load_avg_max": max(loads, default=os.getloadavg()[0]),
        "load_avg_median": statistics.median(loads) if loads else load_start[0],
        "machine_busy_before": round(before, 2),
        "exit": proc.returncode,
        "extra_args": list(extra),
    }
    if mode == "targets":
        summary = run_dir / "cyberscan-batch.json"
        result["summary"] = _summary_counts(summary) if summary.exists() else {}
        result["statuses"] = result["summary"].get("statuses", {})
        history = run_dir / "history.db"
        result["history_mb"] = history.stat().st_size / 1e6 if history.exists() else 0
        result["summary_mb"] = sum(p.stat().st_size for p in run_dir.glob("cyberscan-batch.*")) / 1e6
    else:
        result["report_mb"] = report.stat().st_size / 1e6 if report.exists() else 0
        result["statuses"] = _count_errors(report) if report.exists() else {}
    if proc.returncode not in (0, 1):
        result["output"] = output[-2000:]
    log(f"  {count} domains ({mode}): {wall:.1f} s, {result['domains_per_minute']:.0f} a minute, CPU {user + system:.1f} s "
        f"({result['cpu_per_domain_ms']:.0f} ms a domain), peak tree RSS {result['peak_rss_tree_mb']:.0f} MB "
        f"(PSS {result['peak_pss_tree_mb']:.0f} MB, {memory.max_processes} processes; largest one "
        f"{largest_mb:.0f} MB), estate {result['estate_cpu_s']:.0f} CPU s, all others "
        f"{result['other_cpu_s']:.0f} CPU s, load {load_start[0]:.1f} at start, max {result['load_avg_max']:.1f}, "
        f"errors {result['statuses'].get('error', 0)}, exit {proc.returncode}")
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


def section_batch(state: control.State, args: argparse.Namespace) -> dict[str, Any]:
    log(f"Batch: {args.batch} domains in one cyberscan scan ({args.batch_mode}; RTT {state.rtt_ms:g} ms)")
    work = Path(tempfile.mkdtemp(prefix="csb-batch-"))
    out: dict[str, Any] = {"rtt_ms": state.rtt_ms, "mode": args.batch_mode, "runs": []}
    for count in args.batch:
        if count > state.domains:
            log(f"  {count}: the estate has only {state.domains} domains")
            continue
        out["runs"].append(run_batch(state, count, work, mode=args.batch_mode, extra=tuple(args.batch_args)))
    if args.batch_zero_rtt and not args.keep_rtt:
        control.set_rtt(0)
        out["runs_at_0ms"] = [run_batch(state, count, work, mode=args.batch_mode, extra=tuple(args.batch_args))
                              for count in args.batch_zero_rtt if count <= state.domains]
        control.set_rtt(args.rtt)
    runs = out["runs"]
    if len(runs) >= 2:
        a, b = runs[0], runs[-1]
        factor = b["domains"] / a["domains"]
        out["growth"] = {
            "n_factor": factor,
            "wall_factor": b["wall_s"] / a["wall_s"],
            "cpu_factor": b["cpu_s"] / a["cpu_s"],
            "rss_factor": b["peak_rss_tree_mb"] / a["peak_rss_tree_mb"],
            "rss_mb_per_1000_domains": (b["peak_rss_tree_mb"] - a["peak_rss_tree_mb"]) / (b["domains"] - a["domains"]) * 1000,
        }
        log(f"  growth {a['domains']} -> {b['domains']} (x{factor:g}): wall x{out['growth']['wall_factor']:.1f}, "
            f"CPU x{out['growth']['cpu_factor']:.1f}, RSS x{out['growth']['rss_factor']:.1f} "
            f"({out['growth']['rss_mb_per_1000_domains']:.0f} MB per 1,000 domains)")
    shutil.rmtree(work, ignore_errors=True)
    return out


# ------------------------------------------------------------------------------------- profile


def section_profile(state: control.State, args: argparse.Namespace) -> dict[str, Any]:
    pyspy = args.py_spy
    if not pyspy or not Path(pyspy).exists():
        log("Profile: py-spy not found (--py-spy)")
        return {}
    log(f"Profile: py-spy over {args.profile_domains} domains")
    work = Path(tempfile.mkdtemp(prefix="csb-prof-"))
    out: dict[str, Any] = {"domains": args.profile_domains}
    # gil: only the thread holding the GIL, i.e. where Python spends CPU; wall: every thread, waiting too
    for mode, extra in (("gil", ["--gil"]), ("wall", ["--idle"])):
        raw = work / f"{mode}.txt"
        targets = work / "targets.txt"
        targets.write_text("\n".join(state.names[: args.profile_domains]) + "\n")
        batch_dir = work / f"batch-{mode}"
        batch_dir.mkdir()
        scan = batch_cmd(targets, batch_dir, state.ca_file)
        # --subprocesses: the batch's scanning processes are forked children of the writer
        cmd = client(pyspy, "record", "--format", "raw", "-r", "200", "--subprocesses", "-o", str(raw), *extra, "--",
                     *scan[scan.index(net.CLIENT_NS) + 1 :])
        subprocess.run(cmd, capture_output=True, text=True, check=False)
        if not raw.exists():
            continue
        out[mode] = summarise_stacks(raw.read_text())
        log(f"  {mode}: {out[mode]['samples']} samples; top self: "
            + "; ".join(f"{r['frame']} {r['share']:.0%}" for r in out[mode]["self"][:8]))
        keep = Path(args.out).with_suffix(f".{mode}.collapsed.txt")
        shutil.copy(raw, keep)
        out[f"{mode}_stacks_file"] = str(keep)
    shutil.rmtree(work, ignore_errors=True)
    return out


def _frame(text: str) -> str:
    m = re.match(r"(.+?) \((.+?)(?::\d+)?\)$", text.strip())
    if not m:
        return text.strip()
    func, path = m.groups()
    for marker in ("site-packages/", "/src/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{func} ({path})"


def summarise_stacks(collapsed: str, top: int = 20) -> dict[str, Any]:
    self_counts: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    files: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ") and
                  not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
        leaf_file = frames[-1].rsplit("(", 1)[-1].rstrip(")")
        files[leaf_file] += count

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"frame": k, "samples": v, "share": v / total if total else 0} for k, v in counter.most_common(top)]

    return {"samples": total, "self": rows(self_counts), "inclusive": rows(incl), "self_by_file": rows(files)}


# ---------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--out", type=Path, default=Path("/tmp/cyberscan-bench-results.json"))
    parser.add_argument("--rtt", type=float, default=20.0)
    parser.add_argument("--domain", default="museum00008.test", help="the one-domain scan (a typical museum)")
    parser.add_argument("--legacy-domain", default="museum00003.test", help="one on a legacy TLS hoster")
    parser.add_argument("--tls-domain", default="museum00005.test")
    parser.add_argument("--mail-domain", default="museum00008.test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeats-one", type=int, default=5)
    parser.add_argument("--repeats-testssl", type=int, default=3)
    parser.add_argument("--batch", type=int, nargs="*", default=[100, 1000, 5000])
    parser.add_argument("--batch-zero-rtt", type=int, nargs="*", default=[100])
    parser.add_argument("--skip-testssl-default", action="store_true", help="only testssl.sh with sslyze's coverage")
    parser.add_argument("--batch-mode", choices=("targets", "args"), default="targets",
                        help="targets: cyberscan scan --targets FILE (the batch mode); args: the domains on the "
                             "command line, one process and a JSON report (the baseline's way)")
    parser.add_argument("--batch-args", type=shlex.split, default=[],
                        help="more options for the batch's cyberscan scan, in one string: --batch-args='--processes 3'")
    parser.add_argument("--profile-domains", type=int, default=100)
    parser.add_argument("--sslyze", default="/tmp/cs-bench-sslyze/bin/sslyze")
    parser.add_argument("--py-spy", default="/tmp/cs-bench-sslyze/bin/py-spy")
    parser.add_argument("--checkdmarc", default="/tmp/cs-bench-checkdmarc/bin/checkdmarc")
    parser.add_argument("--keep-rtt", action="store_true", help="never change the estate's delay (shared estate)")
    parser.add_argument("--no-renice", action="store_true", help="leave the estate's process priorities alone")
    parser.add_argument("--lock", type=Path, help="hold an exclusive flock on this file during every timed run")
    args = parser.parse_args()
    global LOCK  # one setting for the whole run
    LOCK = args.lock
    state = control.State.load()
    if state.rtt_ms != args.rtt:
        if args.keep_rtt:
            raise SystemExit(f"the estate runs at {state.rtt_ms:g} ms, not {args.rtt:g} (--keep-rtt)")
        control.set_rtt(args.rtt)
        state = control.State.load()
    reniced = 0 if args.no_renice else renice_estate()
    # An installed cyberscan has its bytecode (pip compiles it at install); a source checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile ~80 modules at every start (0.1 s of each one-domain run).
    compileall.compile_dir(str(REPO / "src" / "cyberscan"), quiet=1)
    results: dict[str, Any] = {}
    if args.out.exists():
        results = json.loads(args.out.read_text())
    results["machine"] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name")), ""),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "cyberscan_commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True, check=False).stdout.strip(),
        "estate_domains": state.domains,
        "priority": f"measured processes and {reniced} estate processes at nice {NICE} (shared machine)",
    }
    sections: dict[str, Callable[[control.State, argparse.Namespace], dict[str, Any]]] = {
        "rtt": section_rtt, "startup": section_startup, "one": section_one, "tls": section_tls,
        "mail": section_mail, "batch": section_batch, "profile": section_profile,
    }
    for name in args.only.split(","):
        name = name.strip()
        if name not in sections:
            raise SystemExit(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
        results[name] = sections[name](state, args)
        results[name]["measured"] = datetime.now(UTC).isoformat(timespec="seconds")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, default=str))
    log(f"written to {args.out}")


if __name__ == "__main__":
    main()
