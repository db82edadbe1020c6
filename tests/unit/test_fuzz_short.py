"""A short coverage-guided fuzz run over every parser target in one process (longer runs: see
tests/fuzz/fuzz_parsers.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

HERE = Path(__file__).resolve().parents[1] / "fuzz"


def test_a_short_fuzz_run_finds_no_crash(tmp_path: Path) -> None:
    targets = sorted(p.name for p in (HERE / "corpus").iterdir() if p.is_dir())
    assert len(targets) >= 10
    corpus = tmp_path / "corpus"  # libFuzzer adds what it finds here: never to the repository
    corpus.mkdir()
    for index, target in enumerate(targets):
        for seed in (HERE / "corpus" / target).iterdir():
            (corpus / f"{target}-{seed.name}").write_bytes(bytes([index]) + seed.read_bytes())
    done = subprocess.run(
        [sys.executable, str(HERE / "fuzz_parsers.py"), "all", "-runs=20000", "-max_total_time=60",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", str(corpus)],
        capture_output=True, text=True, timeout=240, check=False, cwd=tmp_path,
    )
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-")))
    assert done.returncode == 0 and not crashes, (crashes, done.stderr[-3000:])
    assert "stat::number_of_executed_units" in done.stderr  # it really ran
