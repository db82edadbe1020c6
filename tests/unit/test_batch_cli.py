"""``cyberscan scan --targets FILE`` through the real command line, against servers the tests start.

Every test runs the CLI in a subprocess (the batch forks scanning processes and handles Ctrl-C itself)
against an in-process DNS server on loopback and, for the web probes, TCP listeners on addresses of this
process's own loopback block that count how many connections each address has open at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cyberscan.batch.summary import read_csv, read_summary
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.history import open_store
from tests.fixtures import loopback
from tests.fixtures.terminal import run_in_terminal

ZONE = """$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 127.0.0.1
@ A {address}
www A {address}
shop A {shop}
@ TXT "v=spf1 -all"
"""

REFUSED_HOST = 200  # nothing listens here: every connection is refused at once (a fast domain)
CAP_HOST, SLOW_HOST, SHOP_HOST, CONTROL_HOST = 10, 11, 12, 13
PLAIN = [f"plain{i}.test" for i in range(5)]
CAPPED = [f"capped{i}.test" for i in range(6)]
CONTROL = [f"control{i}.test" for i in range(6)]
SLOW = [f"slow{i}.test" for i in range(6)]
SILENT = "silent.test"  # its nameserver never answers


class Listeners:
    """TCP listeners on ports 80 and 443 of some addresses; each connection is held ``hold`` seconds
    (or until the peer closes) and counted: how many each address had open at once, at most."""

    def __init__(self, addresses: dict[str, float]) -> None:
        self.lock = threading.Lock()
        self.conns: dict[str, set[socket.socket]] = {}
        self.most: Counter[str] = Counter()
        self.total: Counter[str] = Counter()
        self.hold = addresses
        self.sockets: list[socket.socket] = []
        self.closing = threading.Event()
        for address in addresses:
            for port in (80, 443):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((address, port))
                sock.listen(256)
                sock.settimeout(0.2)
                self.sockets.append(sock)
                threading.Thread(target=self._accept, args=(sock, address), daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.most.clear()
            self.total.clear()

    def _accept(self, sock: socket.socket, address: str) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                held = self.conns.setdefault(address, set())
                held.difference_update({c for c in held if _peer_closed(c)})  # the scanner let go of these
                held.add(conn)
                self.total[address] += 1
                self.most[address] = max(self.most[address], len(held))
            threading.Thread(target=self._hold, args=(conn, address), daemon=True).start()

    def _hold(self, conn: socket.socket, address: str) -> None:
        end = time.monotonic() + self.hold[address]
        try:
            while (left := end - time.monotonic()) > 0:
                conn.settimeout(left)
                try:
                    if not conn.recv(4096):
                        break  # the scanner gave up and closed
                except TimeoutError:
                    break
        except OSError:
            pass
        finally:
            with self.lock:
                self.conns[address].discard(conn)
            conn.close()

    def close(self) -> None:
        self.closing.set()
        for sock in self.sockets:
            sock.close()


def _peer_closed(conn: socket.socket) -> bool:
    """Whether the scanner closed its end: its FIN (or RST) reached this socket before its next connection
    did, whichever thread of this server runs first (the kernel knows at once; a holding thread may not)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        # (a socket with a timeout waits for data before any recv: look first, never wait here)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class Lab:
    def __init__(self, dns: LocalDnsServer, listeners: Listeners, block: loopback.Block) -> None:
        self.dns = dns
        self.listeners = listeners
        self.block = block

    def address(self, host: int) -> str:
        return self.block.address(host)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    block = loopback.block()
    addr = block.address
    zones = ZoneSet()
    for names, host in ((PLAIN, REFUSED_HOST), (CAPPED, CAP_HOST), (SLOW, SLOW_HOST), (CONTROL, CONTROL_HOST)):
        for name in names:
            zones.add_text(f"{name}.", ZONE.format(address=addr(host), shop=addr(SHOP_HOST)))
    zones.add_text(f"{SILENT}.", ZONE.format(address=addr(REFUSED_HOST), shop=addr(REFUSED_HOST)))
    zones.hang.add(SILENT)
    for host in (CAP_HOST, SLOW_HOST, SHOP_HOST, CONTROL_HOST):
        loopback.ensure_free(addr(host), tcp=(80, 443))
    listeners = Listeners({addr(CAP_HOST): 0.2, addr(CONTROL_HOST): 0.2, addr(SLOW_HOST): 0.3, addr(SHOP_HOST): 0.1})
    try:
        with LocalDnsServer(zones) as dns:
            yield Lab(dns, listeners, block)
    finally:
        listeners.close()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CYBERSCAN_LANG", "COLUMNS")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def command(lab: Lab, targets: Path, tmp: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cyberscan.cli", "scan", "--targets", str(targets), "--nameserver",
            lab.dns.nameserver, "--allow-private", "--timeout", "1", "--db", str(tmp / "history.sqlite"),
            "-o", str(tmp / "out") + "/", "--lang", "en", *extra]


def run(args: list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    # a generous guard only: a hang fails the test instead of blocking the run
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=_env())


def targets_file(tmp: Path, lines: list[str], name: str = "targets.txt") -> Path:
    path = tmp / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def history(tmp: Path) -> dict[str, int]:
    """Assessments per domain in the history of the test."""
    with open_store(tmp / "history.sqlite") as store:
        return {d: len(store.list(d)) for d in store.domains()}


def summary(tmp: Path) -> tuple[list[dict[str, str]], dict[str, object]]:
    return read_csv(tmp / "out" / "cyberscan-batch.csv"), read_summary(tmp / "out" / "cyberscan-batch.json")


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


# ----------------------------------------------------------------------------- a batch runs


def test_each_domain_gets_one_assessment_in_history_and_one_row_in_csv_and_json(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, ["# museums of one province", PLAIN[0], f"https://{PLAIN[1]}/contact",
                                   "", PLAIN[2], PLAIN[0], f"info@{PLAIN[3]}"])
    proc = run(command(lab, path, tmp_path))
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    expected = PLAIN[:4]
    assert history(tmp_path) == dict.fromkeys(expected, 1)
    rows, data = summary(tmp_path)
    assert [r["domain"] for r in rows] == expected  # targets-file order, the duplicate once
    assert [r["domain"] for r in data["rows"]] == expected  # type: ignore[index, union-attr]
    assert data["total"] == data["done"] == 4 and data["complete"] is True
    with open_store(tmp_path / "history.sqlite") as store:
        for row, raw in zip(rows, data["rows"], strict=True):  # type: ignore[call-overload]
            assert row["state"] == raw["state"] == "assessed"
            number = int(row["assessment"])
            assert raw["assessment"] == number and store.get(number).summary.targets == (row["domain"],)
            results = store.results(number)
            for status in ("pass", "fail", "error", "skipped"):
                n = sum(1 for r in results if r["status"] == status)
                assert int(row[status]) == raw["counts"][status] == n  # errors counted apart from pass and fail
    assert "4 domains assessed, 0 could not be scanned, 0 with an error" in proc.stderr


def test_progress_without_a_terminal_is_plain_lines(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, PLAIN)
    proc = run(command(lab, path, tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if " of 5 domains (" in line]
    assert lines and lines[-1].startswith("5 of 5 domains (100%)"), proc.stderr
    assert all(" a minute, " in line and " left, " in line for line in lines)
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr  # no bar, no colours in a log
    quiet = run(command(lab, path, tmp_path, "--no-progress"))
    assert quiet.returncode == 0 and " of 5 domains (" not in quiet.stderr


def test_progress_on_a_terminal_is_a_bar_with_rate_and_time_left(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, PLAIN)
    done = run_in_terminal(command(lab, path, tmp_path)[3:], keys=[], cwd=tmp_path, timeout=120, grace=60,
                           env={**_env(), "COLUMNS": "160"})
    assert not done.hung and done.code == 0, done.output
    text = done.output.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert "domains" in text and "5/5" in text and " a minute, " in text and " left, " in text, text
    assert " of 5 domains (" not in text  # the bar, not the plain lines of a log
    assert history(tmp_path) == dict.fromkeys(PLAIN, 1)


def test_csv_targets_carry_organisation_sector_and_extra_hosts(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, [
        "domain;organisation;sector;hosts;notes",
        f"{PLAIN[0]};Museum Nul;museum;shop.{PLAIN[0]};ignored",
        f'{PLAIN[1]};"Archief Een; Zuid";archief;;',
    ], name="targets.csv")
    lab.listeners.reset()
    proc = run(command(lab, path, tmp_path))
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    rows, data = summary(tmp_path)
    assert [(r["domain"], r["organisation"], r["sector"]) for r in rows] == [
        (PLAIN[0], "Museum Nul", "museum"), (PLAIN[1], "Archief Een; Zuid", "archief")]
    raw = data["rows"]
    assert [(r["organisation"], r["sector"]) for r in raw] == [  # type: ignore[union-attr, index, attr-defined]
        ("Museum Nul", "museum"), ("Archief Een; Zuid", "archief")]
    assert lab.listeners.total[lab.address(SHOP_HOST)] > 0  # the extra host was scanned
    with open_store(tmp_path / "history.sqlite") as store:
        facts = json.dumps(store.facts(int(rows[0]["assessment"])))
        assert f"shop.{PLAIN[0]}" in facts
        assert f"shop.{PLAIN[1]}" not in json.dumps(store.facts(int(rows[1]["assessment"])))


def test_a_domain_whose_nameserver_is_silent_is_an_error_row_and_the_others_complete(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, [PLAIN[0], SILENT, PLAIN[1]])
    proc = run(command(lab, path, tmp_path))
    no_traceback(proc)
    assert proc.returncode == 3, proc.stderr  # a domain could not be scanned
    assert "2 domains assessed, 1 could not be scanned" in proc.stderr
    assert history(tmp_path) == {PLAIN[0]: 1, PLAIN[1]: 1}
    rows, data = summary(tmp_path)
    by_domain = {r["domain"]: r for r in rows}
    silent = by_domain[SILENT]
    assert silent["state"] == "not-scanned" and silent["assessment"] == "" and silent["complete"] == "no"
    assert silent["failure"] == "target.no-answer" and "no answer" in silent["failure_text"]
    assert all(silent[s] == "" for s in ("pass", "fail", "warn", "error"))  # neither a pass nor a fail
    assert silent["score_den-checklist"] == ""
    raw = {r["domain"]: r for r in data["rows"]}  # type: ignore[union-attr, index, attr-defined]
    assert raw[SILENT]["counts"] == {} and raw[SILENT]["scores"] == {} and raw[SILENT]["fail_rank"] == -1
    assert by_domain[PLAIN[0]]["state"] == by_domain[PLAIN[1]]["state"] == "assessed"
    assert data["complete"] is True  # an error row is done: --resume would not scan it again


# ----------------------------------------------------------------------------- politeness


def test_the_per_address_cap_holds_across_processes(lab: Lab, tmp_path: Path) -> None:
    capped, control = lab.address(CAP_HOST), lab.address(CONTROL_HOST)
    lab.listeners.reset()
    # one process per domain: each has its own cache of facts per address, so each walks the address
    proc = run(command(lab, targets_file(tmp_path, CAPPED), tmp_path, "--per-address", "2", "--parallel", "6",
                       "--processes", "6", "--pace", "0"))
    assert proc.returncode == 0, proc.stderr
    assert lab.listeners.total[capped] >= len(CAPPED)
    assert lab.listeners.most[capped] <= 2, lab.listeners.most
    # the same listeners do see more at once when the cap allows it: the count above can fail
    other = tmp_path / "control"
    other.mkdir()
    proc = run(command(lab, targets_file(other, CONTROL), other, "--per-address", "8", "--parallel", "6",
                       "--processes", "6", "--pace", "0"))
    assert proc.returncode == 0, proc.stderr
    assert 2 < lab.listeners.most[control] <= 8, lab.listeners.most


# ----------------------------------------------------------------------------- interruption and resume


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        assert time.monotonic() < end, "the batch made no progress"
        time.sleep(0.05)


def _rows_written(tmp: Path) -> int:
    with contextlib.suppress(OSError):
        return (tmp / "out" / "cyberscan-batch.rows.jsonl").read_bytes().count(b'"domain":')
    return 0


def _interrupt(lab: Lab, path: Path, tmp: Path, sig: signal.Signals) -> tuple[int, str]:
    args = command(lab, path, tmp, "--parallel", "2", "--processes", "1")
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                          start_new_session=True) as proc:
        try:
            _wait_for(lambda: _rows_written(tmp) >= 2, proc)
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its scanning processes too (its own session)
    return proc.returncode, err


def _done_in_journal(tmp: Path) -> int:
    with open_store(tmp / "history.sqlite") as store:
        return sum(len(store.batch_items(b)) for b in _batches(store))


def _batches(store: object) -> list[str]:
    db = store._db  # type: ignore[attr-defined]  # the test reads the journal table itself
    return [str(r[0]) for r in db.query("SELECT id FROM batches")]


def _resume_finishes_everything_once(lab: Lab, path: Path, tmp: Path, before: int) -> None:
    proc = run(command(lab, path, tmp, "--parallel", "2", "--processes", "1", "--resume"))
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert f"{before} of {len(SLOW)} domains were already done" in proc.stderr
    assert history(tmp) == dict.fromkeys(SLOW, 1)  # none twice, none skipped
    rows, data = summary(tmp)
    assert [r["domain"] for r in rows] == SLOW
    assert all(r["state"] == "assessed" and r["assessment"] for r in rows)
    assert len({r["assessment"] for r in rows}) == len(SLOW)
    assert data["complete"] is True and data["done"] == len(SLOW)
    again = run(command(lab, path, tmp, "--resume"))
    assert again.returncode == 2 and "no interrupted batch" in again.stderr  # finished: nothing to resume


def test_ctrl_c_mid_batch_then_resume_scans_every_domain_exactly_once(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, SLOW)
    code, err = _interrupt(lab, path, tmp_path, signal.SIGINT)
    assert code == 130, err
    assert "Traceback" not in err and "--resume" in err
    done = _done_in_journal(tmp_path)
    assert 2 <= done < len(SLOW)
    saved = history(tmp_path)
    assert sum(saved.values()) == done and set(saved.values()) == {1}
    rows, data = summary(tmp_path)  # the summary of what is done is written on the way out
    assert data["complete"] is False and len(rows) == done
    # the targets file changed since: --resume refuses, and says why
    changed = targets_file(tmp_path, [*SLOW, PLAIN[0]])
    refused = run(command(lab, changed, tmp_path, "--parallel", "2", "--processes", "1", "--resume"))
    no_traceback(refused)
    assert refused.returncode == 2 and "changed" in refused.stderr, refused.stderr
    assert history(tmp_path) == saved
    targets_file(tmp_path, SLOW)
    other = [a if a != "1" else "2" for a in command(lab, path, tmp_path, "--resume")]  # --timeout 2
    refused = run(other)
    no_traceback(refused)
    assert refused.returncode == 2 and "settings" in refused.stderr and "differ" in refused.stderr, refused.stderr
    _resume_finishes_everything_once(lab, path, tmp_path, done)


def test_a_batch_killed_outright_resumes_with_nothing_twice_and_nothing_skipped(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, SLOW)
    code, _ = _interrupt(lab, path, tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    done = _done_in_journal(tmp_path)
    assert 2 <= done < len(SLOW)
    assert sum(history(tmp_path).values()) == done
    _resume_finishes_everything_once(lab, path, tmp_path, done)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the scanning processes in /proc")
def test_a_scanning_process_killed_mid_batch_is_replaced_and_no_domain_is_lost(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, SLOW)
    args = command(lab, path, tmp_path, "--parallel", "2", "--processes", "2")
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                          start_new_session=True) as proc:
        try:
            _wait_for(lambda: _rows_written(tmp_path) >= 1 and len(_children(proc.pid)) >= 2, proc)
            os.kill(_children(proc.pid)[0], signal.SIGKILL)  # as the OOM killer would
            _, err = proc.communicate(timeout=180)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    assert history(tmp_path) == dict.fromkeys(SLOW, 1)  # its domain in flight was scanned again, once
    rows, data = summary(tmp_path)
    assert [r["domain"] for r in rows] == SLOW and all(r["state"] == "assessed" for r in rows)
    assert data["complete"] is True


def test_resume_with_nothing_to_resume_is_refused(lab: Lab, tmp_path: Path) -> None:
    proc = run(command(lab, targets_file(tmp_path, PLAIN[:1]), tmp_path, "--resume"))
    no_traceback(proc)
    assert proc.returncode == 2 and "no interrupted batch" in proc.stderr
    assert history(tmp_path) == {}


# ----------------------------------------------------------------------------- bad targets files


@pytest.mark.parametrize(("content", "needle"), [
    (None, "does not exist"),
    (b"", "lists no domain"),
    (b"# only a comment\n\n", "lists no domain"),
    (b"museum.test\nnot a domain!\n", "line"),
    (b"domain,organisation\n,Museum zonder domein\n", "line"),
    (b"museum.test\n\xff\xfe broken\n", "UTF-8"),
    ("folder", "not a targets file"),
])
def test_a_broken_targets_file_is_refused_with_a_clear_message(lab: Lab, tmp_path: Path, content: bytes | str | None,
                                                               needle: str) -> None:
    path = tmp_path / "targets.txt"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    proc = run(command(lab, path, tmp_path))
    no_traceback(proc)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3, proc.stderr
    assert not (tmp_path / "out").exists()  # nothing scanned, nothing written


def test_a_broken_targets_file_is_told_in_dutch_by_default(lab: Lab, tmp_path: Path) -> None:
    path = targets_file(tmp_path, ["museum.test", "geen domein!"])
    args = [a for a in command(lab, path, tmp_path) if a not in ("--lang", "en")]
    proc = run(args)
    assert proc.returncode == 2 and "regel" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(("extra", "needle"), [
    (("--format", "html"), "--format"),
    (("--no-save",), "--no-save"),
    (("--host", "shop.museum.test"), "--host"),
    (("extra.test",), "not both"),
])
def test_options_that_do_not_go_with_targets_are_refused(lab: Lab, tmp_path: Path, extra: tuple[str, ...],
                                                         needle: str) -> None:
    proc = run(command(lab, targets_file(tmp_path, PLAIN[:1]), tmp_path, *extra))
    no_traceback(proc)
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
