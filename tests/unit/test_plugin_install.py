"""A third-party plugin, installed for real, contributes a probe, an evaluator and a check to a scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cyberscan.demo.localdns import LocalDnsServer, ZoneSet

PLUGIN = Path(__file__).resolve().parents[1] / "fixtures" / "plugin_pkg"

ZONE = """
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
_museum IN TXT "collectie-open"
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    # copy so the build leaves no artefacts in the source tree
    subprocess.run(["cp", "-r", str(PLUGIN) + "/.", str(build)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(build)],
        check=True,
    )
    return target


def _cyberscan(args: list[str], site: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = str(site) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "cyberscan.cli", *args], capture_output=True, text=True, env=env, timeout=120)


def test_installed_plugin_check_appears_in_catalogue_and_scan(plugin_site: Path) -> None:
    listing = _cyberscan(["checks", "--area", "example", "--lang", "en"], plugin_site)
    assert listing.returncode == 0, listing.stderr
    assert "example.museumtag" in listing.stdout

    zones = ZoneSet()
    zones.add_text("plugin.test.", ZONE)
    with LocalDnsServer(zones) as dns:
        run = _cyberscan(["scan", "plugin.test", "--nameserver", dns.nameserver, "--format", "json", "--timeout", "3"], plugin_site)
    assert run.returncode == 0, run.stderr
    results = {r["check_id"]: r for r in json.loads(run.stdout)["results"]}
    assert results["example.museumtag"]["status"] == "pass"
    assert results["example.museumtag"]["params"] == {"value": "collectie-open"}


def test_without_the_plugin_its_check_is_absent() -> None:
    listing = _cyberscan(["checks", "--area", "example"], None)
    assert listing.returncode == 0
    assert "example.museumtag" not in listing.stdout
