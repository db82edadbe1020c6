"""How the console entry point ends the process (cyberscan.cli.run and its fast exit).

After a command, ``run`` leaves with ``os._exit`` instead of the interpreter's object-by-object
teardown: these tests hold it to the promises that makes. What the command printed is all there
(also through a pipe), exit codes stay as documented, handlers registered to run at exit still run,
a thread that is not a daemon is still waited for, and ``SystemExit("text")`` is Python's own.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cyberscan.cli import main


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=60)


def test_everything_a_command_prints_reaches_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    # `checks` prints a long table: with stdout a pipe it is block-buffered, so a missing flush would lose its end
    monkeypatch.setenv("CYBERSCAN_LANG", "en")  # `--lang` sets it for the process: undone after the test
    proc = subprocess.run([sys.executable, "-m", "cyberscan.cli", "--lang", "en", "checks"], capture_output=True,
                          text=True, timeout=60)
    expected = CliRunner().invoke(main, ["--lang", "en", "checks"])
    assert proc.returncode == 0, proc.stderr
    assert expected.exit_code == 0
    assert proc.stdout == expected.output
    assert len(proc.stdout.splitlines()) > 40


def test_exit_codes_are_kept() -> None:
    usage = subprocess.run([sys.executable, "-m", "cyberscan.cli", "scan"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2, usage.stderr
    assert usage.stderr.strip()
    version = subprocess.run([sys.executable, "-m", "cyberscan.cli", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0
    assert version.stdout.strip()


def test_exit_handlers_run_and_output_is_flushed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    proc = python("""
        import atexit, sys
        from pathlib import Path
        from cyberscan import cli
        atexit.register(lambda: Path(sys.argv[1]).write_text("yes"))
        sys.stdout.write("x" * 100_000)  # more than a pipe's buffer: still in Python's buffer at exit
        cli._exit_now(3)
        print("not reached")
        """, str(marker))
    assert proc.returncode == 3
    assert proc.stdout == "x" * 100_000
    assert marker.read_text() == "yes"


def test_a_running_thread_that_is_no_daemon_is_waited_for(tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    proc = python("""
        import sys, threading, time
        from pathlib import Path
        from cyberscan import cli
        def late():
            time.sleep(0.3)
            Path(sys.argv[1]).write_text("done")
        threading.Thread(target=late).start()
        cli._exit_now(4)
        """, str(marker))
    assert proc.returncode == 4
    assert marker.read_text() == "done"


def test_a_text_given_to_system_exit_is_printed_with_status_1() -> None:
    proc = python("""
        from cyberscan import cli
        cli._exit_now("something is wrong")
        """)
    assert proc.returncode == 1
    assert "something is wrong" in proc.stderr
