"""Stress test: Ctrl-C at a questionnaire prompt in a real terminal, N times, under CPU load.

    .venv/bin/python bench/stress_ctrl_c.py               # 50 runs, 6 busy loops per CPU
    .venv/bin/python bench/stress_ctrl_c.py --runs 200 --load 8

Each run is the scenario of tests/unit/test_questionnaire_cli.py::test_ctrl_c_in_a_real_terminal_saves_and_resumes:
answer two questions, press Ctrl-C at the third prompt (the program must save, say so and exit 0),
then run again, answer one more and type ``stop``. A run passes when both sessions end as expected
and the answers file holds the three answers. A program still running 30 s after the terminal went
quiet counts as hung. The busy loops are this script's own child processes and are ended at the end.

Not part of the test suite (it takes minutes); the pass count goes into the issue note.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fixtures.terminal drives the pseudo-terminal

from tests.fixtures.terminal import CTRL_C, run_in_terminal  # noqa: E402

from cyberscan import catalogue as catalogue_mod  # noqa: E402
from cyberscan.questionnaire import parse_answers  # noqa: E402

EXPECTED_FIRST = {"q.gov.owner": "director", "q.gov.board_agenda": "yearly"}
EXPECTED_SECOND = {**EXPECTED_FIRST, "q.gov.budget": "no"}


def _busy() -> None:  # pragma: no cover - runs in a child process until terminated
    while True:
        pass


def one_run(folder: Path, timeout: float) -> str:
    """"" when the scenario passed, else what went wrong."""
    path = folder / "antwoorden.yaml"
    cat = catalogue_mod.builtin()
    args = ["questionnaire", "-o", str(path)]
    first = run_in_terminal(args, [b"1\r", b"2\r"], CTRL_C, cwd=folder, timeout=timeout)
    if first.hung:
        return f"hung after Ctrl-C ({first.problem or 'no exit'}): {first.output[-200:]!r}"
    if first.problem or first.code != 0 or b"Opgeslagen" not in first.output:
        return f"first session: code {first.code}, {first.problem}: {first.output[-200:]!r}"
    if dict(parse_answers(path.read_text(encoding="utf-8"), cat).data) != EXPECTED_FIRST:
        return "first session: answers not saved"
    second = run_in_terminal(args, [b"3\r"], b"stop\r", cwd=folder, timeout=timeout)
    if second.hung or second.problem or second.code != 0:
        return f"second session: code {second.code}, hung {second.hung}, {second.problem}: {second.output[-200:]!r}"
    if dict(parse_answers(path.read_text(encoding="utf-8"), cat).data) != EXPECTED_SECOND:
        return "second session: answers not resumed"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--load", type=int, default=6 * (os.cpu_count() or 1), help="busy-loop processes")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each prompt")
    opts = parser.parse_args()
    busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(opts.load)]
    for proc in busy:
        proc.start()
    passed, failures = 0, []
    started = time.monotonic()
    try:
        for i in range(1, opts.runs + 1):
            with tempfile.TemporaryDirectory(prefix="cyberscan-ctrl-c-") as folder:
                problem = one_run(Path(folder), opts.timeout)
            if problem:
                failures.append(f"run {i}: {problem}")
                print(f"run {i}: FAIL {problem}", flush=True)
            else:
                passed += 1
                print(f"run {i}: ok", flush=True)
    finally:
        for proc in busy:
            proc.terminate()
        for proc in busy:
            proc.join()
    elapsed = time.monotonic() - started
    print(f"{opts.runs} runs under {opts.load} busy loops on {os.cpu_count()} CPUs in {elapsed:.0f} s")
    print(f"{passed} passed, {len(failures)} failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
