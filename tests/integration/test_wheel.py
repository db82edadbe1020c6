"""The wheel carries checks/ and profiles/: installed in a fresh venv, the demo runs from it."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
        check=True,
    )
    wheel = next(dist.glob("cyberscan-*.whl"))
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
    # dependencies come from this interpreter's site-packages (a plain path: its .pth files, and so
    # the editable install of cyberscan itself, are not processed)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def test_wheel_contains_catalogue_and_runs_demo(fresh_install: Path, tmp_path: Path) -> None:
    py = fresh_install / "bin" / "python"
    where = subprocess.run(
        [str(py), "-c", "import cyberscan.catalogue as c; print(c.data_root())"], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.strip()
    assert str(fresh_install) in where and where.endswith("_data")
    cli = fresh_install / "bin" / "cyberscan"
    listing = subprocess.run([str(cli), "checks"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "dns.ipv6" in listing.stdout
    profiles = subprocess.run([str(cli), "profiles"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "default" in profiles.stdout
    demo = subprocess.run([str(cli), "demo", "--output", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert demo.returncode == 0, demo.stderr
    written = [Path(line.split(": ", 1)[1]) for line in demo.stdout.splitlines() if ": " in line]
    assert any(p.suffix == ".html" for p in written) and any(p.suffix == ".json" for p in written)
    assert all(p.exists() for p in written)
