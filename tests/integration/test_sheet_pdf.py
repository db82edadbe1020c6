"""The incident-response sheet prints to exactly one clean A4 page (headless Chromium, poppler-utils)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import cyberscan
from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.assessment import Assessment
from cyberscan.demo import scan_demo
from cyberscan.questionnaire import parse_answers
from cyberscan.render import Report, render
from tests.conftest import require_binary

pytestmark = pytest.mark.integration

FULL = """\
answers:
  q.scope.nis2: dont-know
  q.contact.coordinator: {name: "Johanna Wilhelmina van den Berg-Hoogendoorn", phone: "+31 6 1234 5678"}
  q.contact.deputy: {name: "Pieter-Jan de Vries", phone: "06-87654321"}
  q.contact.decision: {name: "Directeur M. Bakker", phone: "030-1234567"}
  q.contact.communication: {name: "A. Yilmaz (communicatie)", phone: "06-11112222"}
  q.contact.it_supplier: {name: "ICT Beheer Utrecht B.V. (servicedesk 24/7)", phone: "088-1234567"}
  q.contact.hosting: {name: "Webbureau De Kunstkamer", phone: "020-7654321"}
  q.contact.ir_firm: {name: "Incidentrespons Nederland B.V.", phone: "0800-1234"}
  q.contact.insurer: {name: "Cultuurverzekeringen, polis 2026-CY-000123", phone: "0800-5555"}
  q.contact.privacy: {name: "Functionaris gegevensbescherming (extern)", phone: "06-99990000"}
"""


def _print_pdf(html: Path, pdf: Path, profile_dir: Path) -> None:
    chromium = require_binary("chromium", "chromium-browser")
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-pdf-header-footer", f"--user-data-dir={profile_dir}",
            f"--print-to-pdf={pdf}", html.resolve().as_uri(),
        ],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip


def _ppm(path: Path) -> tuple[int, int, bytes]:
    """Width, height and RGB bytes of a binary PPM (P6) as pdftoppm writes it."""
    data = path.read_bytes()
    match = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert match, "not a binary PPM"
    width, height, maxval = (int(g) for g in match.groups())
    assert maxval == 255
    return width, height, data[match.end() :]


@pytest.fixture(scope="module")
def demo() -> Assessment:
    return scan_demo()


@pytest.mark.parametrize(("lang", "answers"), [("nl", FULL), ("en", FULL), ("nl", "answers: {}\n")])
def test_sheet_prints_to_one_clean_a4_page(demo: Assessment, tmp_path: Path, lang: str, answers: str) -> None:
    pdfinfo = require_binary("pdfinfo")
    pdftoppm = require_binary("pdftoppm")
    cat = catalogue_mod.builtin()
    # the demo's facts, judged again with these answers (contact details come from the answers only)
    result = cyberscan.reassess(demo.scan, catalogue=cat, answers=parse_answers(answers, cat))
    report = Report(result, lang)
    html = tmp_path / "sheet.html"
    html.write_text(render("incident-sheet", report, registry_mod.load()), encoding="utf-8")
    assert "<script" not in html.read_text(encoding="utf-8")  # self-contained: no scripts, no outside assets
    assert not re.search(r'(src|href)="(https?:)?//', html.read_text(encoding="utf-8"))
    assert ("Pieter-Jan de Vries" in html.read_text(encoding="utf-8")) is (answers == FULL)  # from the answers only

    pdf = tmp_path / "sheet.pdf"
    _print_pdf(html, pdf, tmp_path / "chromium-profile")
    info = subprocess.run([pdfinfo, str(pdf)], check=True, capture_output=True, text=True, timeout=60).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    assert pages == 1, info
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    assert size is not None
    assert (round(float(size.group(1))), round(float(size.group(2)))) == (595, 842)

    subprocess.run([pdftoppm, "-r", "40", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    images = sorted(tmp_path.glob("page*.ppm"))
    assert len(images) == 1
    width, height, pixels = _ppm(images[0])
    assert width < height  # portrait
    dark = sum(1 for i in range(0, len(pixels), 3) if sum(pixels[i : i + 3]) < 600)
    red = sum(1 for i in range(0, len(pixels), 3) if pixels[i] > 140 and pixels[i + 1] < 80 and pixels[i + 2] < 80)
    total = width * height
    assert 0.03 < dark / total < 0.6, f"page looks blank or smeared: {dark / total:.3f} dark"
    assert red > 0, "the red title bar did not render"
