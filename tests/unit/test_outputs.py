"""Reports are written atomically, never through a link, and their paths are checked before a scan."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cyberscan.cli import main
from cyberscan.commands.output import Planned, check_writable, plan, write_atomic
from cyberscan.errors import UsageError

SUFFIXES = {"terminal": "txt", "json": "json", "html": "html", "markdown": "md"}


def test_a_write_replaces_the_old_file_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_a_link_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(victim)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere.txt")
    for path in (link, dangling):
        with pytest.raises(UsageError):
            check_writable(path)
        with pytest.raises(UsageError):
            write_atomic(path, "evil")
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "nowhere.txt").exists()


@pytest.mark.parametrize(
    ("formats", "output", "expected"),
    [
        (["terminal"], None, [("terminal", None)]),
        (["json"], None, [("json", None)]),
        (["json", "html"], "out/", [("json", "out/cyberscan-x.test.json"), ("html", "out/cyberscan-x.test.html")]),
        (["html"], "r.html", [("html", "r.html")]),
        (["json"], "-", [("json", None)]),
        (["terminal", "json"], None, [("terminal", None), ("json", "cyberscan-x.test.json")]),
    ],
)
def test_where_reports_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, formats: list[str], output: str | None,
                          expected: list[tuple[str, str | None]]) -> None:
    monkeypatch.chdir(tmp_path)
    got = plan(formats, output, SUFFIXES, stem="cyberscan-x.test")
    assert [(p.fmt, str(p.path) if p.path else None) for p in got] == expected
    assert all(isinstance(p, Planned) for p in got)


def test_standard_output_takes_one_format_and_no_folder_named_dash_appears(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError):
        plan(["json", "html"], "-", SUFFIXES, stem="x")
    result = CliRunner().invoke(main, ["scan", "museum.test", "--format", "json", "--format", "html", "-o", "-",
                                       "--lang", "en"])
    assert result.exit_code == 2 and "standard output" in result.output
    assert not (tmp_path / "-").exists()


def test_a_bad_output_path_is_refused_before_any_scan(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    began = time.monotonic()
    # the nameserver is a closed port: a scan would take time and fail differently
    result = CliRunner().invoke(main, ["scan", "museum.test", "--nameserver", "127.0.0.1:9", "--format", "json",
                                       "-o", str(blocker / "sub" / "r.json"), "--lang", "en"])
    assert result.exit_code == 2, result.output
    assert "cannot be written" in result.output
    assert time.monotonic() - began < 5


WRITER = """
import sys
from pathlib import Path
from cyberscan.commands.output import write_atomic
print("ready", flush=True)
write_atomic(Path(sys.argv[1]), "x" * (200 * 1024 * 1024))
"""


def test_kill_9_during_a_write_leaves_the_previous_report_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"previous": true}', encoding="utf-8")
    for delay in (0.05, 0.2, 0.5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        content = target.read_text(encoding="utf-8")
        assert content == '{"previous": true}' or content == "x" * (200 * 1024 * 1024)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "report.json"]
    assert all(name.startswith(".report.json.") for name in leftovers)  # only temporary files, never the target


@pytest.fixture
def small_disk() -> object:
    """A 1 MB tmpfs mounted for the test (root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder = Path(tempfile.mkdtemp(prefix="cyberscan-full-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode()[:200]}")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_full_disk_keeps_the_previous_report_and_leaves_no_half_file(small_disk: Path) -> None:
    target = small_disk / "report.json"
    write_atomic(target, '{"previous": true}')
    with pytest.raises(OSError):
        write_atomic(target, "y" * (4 * 1024 * 1024))
    assert target.read_text(encoding="utf-8") == '{"previous": true}'
    assert [p.name for p in small_disk.iterdir()] == ["report.json"]


def test_a_full_disk_is_a_clear_message_with_exit_4(small_disk: Path) -> None:
    (small_disk / "filler").write_bytes(b"\0" * (1024 * 1024 - 4096))
    result = CliRunner().invoke(main, ["demo", "-o", str(small_disk / "demo"), "--lang", "en"])
    assert result.exit_code == 4, result.output
    assert "cannot write" in result.output and "Traceback" not in result.output
