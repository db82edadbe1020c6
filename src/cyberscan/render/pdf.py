"""The full report as PDF (``--format pdf``), printed by headless Chromium where it is installed.

The HTML report is written to a private temporary folder with its details unfolded, and a headless
Chromium with a fresh profile, no network features and a time limit prints it to A4. Without a
browser the format says so (``pdf.no-browser``) instead of writing anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import UsageError
from ..plugin import renderer
from . import Report
from .html import render_html

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
ENV_BROWSER = "CYBERSCAN_CHROMIUM"  # a path to the browser, when it is not on PATH
TIMEOUT = 120.0  # seconds for one print
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pdf-header-footer",
)


def find_browser() -> str | None:
    """The path of a Chromium-like browser: ``CYBERSCAN_CHROMIUM``, else the first on PATH."""
    chosen = os.environ.get(ENV_BROWSER, "").strip()
    if chosen:
        return chosen if os.path.isfile(chosen) and os.access(chosen, os.X_OK) else None
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_to_pdf(html: str, *, browser: str | None = None, timeout: float = TIMEOUT) -> bytes:
    """``html`` printed to PDF by headless Chromium. Raises UsageError when there is no browser or it fails."""
    browser = browser or find_browser()
    if browser is None:
        raise UsageError("pdf.no-browser", variable=ENV_BROWSER)
    with tempfile.TemporaryDirectory(prefix="cyberscan-pdf-") as tmp:
        folder = Path(tmp)
        page, pdf = folder / "report.html", folder / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [browser, *FLAGS, f"--user-data-dir={folder / 'profile'}", f"--print-to-pdf={pdf}", page.as_uri()]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)  # noqa: S603
        except subprocess.TimeoutExpired:
            raise UsageError("pdf.browser-failed", browser=browser, detail=f"timeout {timeout:g} s") from None
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            text = detail.decode("utf-8", "replace").strip().splitlines()[-1:] if detail else [str(exc)]
            raise UsageError("pdf.browser-failed", browser=browser, detail=(text[0] if text else "")[:200]) from None
        if not pdf.is_file() or pdf.stat().st_size == 0:
            raise UsageError("pdf.browser-failed", browser=browser, detail="0 bytes")
        return pdf.read_bytes()


@renderer("pdf", suffix="pdf", binary=True)
def render_pdf(report: Report) -> bytes:
    return print_to_pdf(render_html(report.with_extra(expand=True)))
