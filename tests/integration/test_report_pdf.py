"""The director's summary prints to exactly one A4 page, and --format pdf writes the full report as an
A4 PDF, both through headless Chromium (checked with pdfinfo and pdftoppm from poppler-utils)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from cyberscan import registry as registry_mod
from cyberscan.assessment import Assessment, build
from cyberscan.cli import main
from cyberscan.demo import scan_demo
from cyberscan.models import Result, Status, Subject
from cyberscan.render import Report, render
from cyberscan.render.pdf import ENV_BROWSER, print_to_pdf
from tests.conftest import require_binary

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo() -> Assessment:
    return scan_demo()


def _pages(pdf: Path) -> tuple[int, tuple[int, int]]:
    info = subprocess.run([require_binary("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True,
                          timeout=60).stdout  # fmt: skip
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    assert size is not None
    return pages, (round(float(size.group(1))), round(float(size.group(2))))


def _ink(pdf: Path, folder: Path) -> float:
    """Share of dark pixels on the last page (a blank or cut-off page has almost none)."""
    subprocess.run([require_binary("pdftoppm"), "-r", "30", "-gray", str(pdf), str(folder / "page")], check=True, timeout=60)
    last = sorted(folder.glob("page*.pgm"))[-1].read_bytes()
    match = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", last)
    assert match
    pixels = last[match.end():]
    return sum(1 for b in pixels if b < 160) / len(pixels)


def _crowded(assessment: Assessment) -> Assessment:
    """The worst case for one page: long observations and advice on many hosts, every action filled."""
    cat = assessment.catalogue
    long_host = "een-heel-lange-subdomeinnaam-voor-de-collectie-online.museum-demo.test"
    extra = tuple(
        Result(check_id, cat.checks[check_id].version, assessment.targets[0], Status.FAIL, cat.checks[check_id].severity,
               "end-of-life", params={"software": "Joomla 1.5.26, PHP 5.2.17, Apache 2.2.3 " * 4},
               subject=Subject(assessment.targets[0], host=f"h{i}.{long_host}"), maps_to=tuple(cat.checks[check_id].maps_to))
        for i, check_id in enumerate(["web.cms.version", "web.software.banner"] * 6)
    )  # fmt: skip
    return build(replace(assessment.scan, results=(*assessment.scan.results, *extra)), catalogue=cat)


@pytest.mark.parametrize(("lang", "crowded"), [("nl", False), ("en", False), ("nl", True)])
def test_summary_prints_to_exactly_one_a4_page(demo: Assessment, tmp_path: Path, lang: str, crowded: bool) -> None:
    require_binary("chromium", "chromium-browser")
    assessment = _crowded(demo) if crowded else demo
    html = render("summary", Report(assessment, lang, {"demo": True}), registry_mod.load())
    assert isinstance(html, str) and "<script" not in html
    pdf = tmp_path / "summary.pdf"
    pdf.write_bytes(print_to_pdf(html))
    pages, size = _pages(pdf)
    assert pages == 1
    assert size == (595, 842)  # A4 portrait
    assert 0.02 < _ink(pdf, tmp_path) < 0.5
    for word in ("%", "DEN"):
        assert word in html


def test_format_pdf_writes_the_full_report(demo: Assessment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chromium = require_binary("chromium", "chromium-browser")
    monkeypatch.setenv(ENV_BROWSER, chromium)
    registry = registry_mod.load()
    stored = tmp_path / "scan.json"
    stored.write_text(render("json", Report(demo, "nl"), registry), encoding="utf-8")  # type: ignore[arg-type]
    out = tmp_path / "rapport.pdf"
    result = CliRunner().invoke(main, ["report", str(stored), "--format", "pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    pages, size = _pages(out)
    assert pages >= 2 and size == (595, 842)
    assert _ink(out, tmp_path) > 0.005
    # the summary as a file of its own next to the full report
    result = CliRunner().invoke(main, ["report", str(stored), "--format", "summary", "--format", "html", "-o", str(tmp_path / "out/")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "cyberscan-museum-demo.test.html", "cyberscan-museum-demo.test.summary.html"]  # fmt: skip
