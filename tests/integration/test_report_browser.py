"""The HTML report in a real browser (headless Chromium through Playwright, the system's /usr/bin/chromium):
the demo report at desktop (1280x800) and phone (390x844) width, and a report built from hostile data.

Playwright never downloads a browser here: it launches the Chromium that Debian installed
(.ci/run installs it). Missing Chromium skips on a developer machine and fails in CI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.demo import scan_demo
from cyberscan.models import Notice, ProbeOutcome, Result, Scan, Severity, Status, Subject
from cyberscan.render import Report, render
from cyberscan.render.view import vocabulary
from tests.conftest import IN_CI, require_binary
from tests.unit.reports import report_of

pytestmark = pytest.mark.integration

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    if IN_CI:
        raise
    pytest.skip("playwright is not installed (pip install -e '.[dev]')", allow_module_level=True)

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium = require_binary("chromium", "chromium-browser")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=FLAGS, timeout=60_000)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("demo-report")
    registry = registry_mod.load()
    assessment = scan_demo(registry=registry)
    pages = {}
    for lang in ("nl", "en"):
        path = folder / f"demo-{lang}.html"
        path.write_text(render("html", Report(assessment, lang, {"demo": True}), registry), encoding="utf-8")  # type: ignore[arg-type]
        pages[lang] = path
    return pages


def _open(browser: Browser, path: Path, size: tuple[int, int]) -> Page:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(path.as_uri())
    return page


BROKEN_HEADERS = """() => {
  const broken = [];
  for (const th of document.querySelectorAll('th')) {
    if (!th.offsetParent) continue;  // hidden (closed details, visually hidden table heads)
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g; let m;
      while ((m = re.exec(node.data)) !== null) {
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const lines = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def _overflow(page: Page) -> int:
    result: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return result


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_first_screen_of_the_demo_report(browser: Browser, demo_pages: dict[str, Path], size: str, lang: str) -> None:
    page = _open(browser, demo_pages[lang], SIZES[size])
    width, height = SIZES[size]
    try:
        assert _overflow(page) <= 0, "the page scrolls sideways"
        # every technical detail is folded away until asked for
        details: list[bool] = page.evaluate("Array.from(document.querySelectorAll('details')).map(d => d.open)")
        assert details and not any(details)

        def box(selector: str) -> dict[str, float]:
            found: dict[str, float] | None = page.locator(selector).first.bounding_box()
            assert found is not None, selector
            return found

        picture = box("#picture")
        assert picture["y"] >= 0 and picture["y"] + picture["height"] <= height, "status picture not on the first screen"
        assert picture["x"] >= 0 and picture["x"] + picture["width"] <= width
        lamps = page.locator("#picture svg.lamp")
        assert lamps.count() == 9 and all(lamps.nth(i).get_attribute("aria-label") for i in range(9))
        score = box("#score")
        assert score["y"] + score["height"] <= height
        first = box("ol.actions > li:first-child .action-head")
        assert first["y"] + first["height"] <= height, "the first action is not on the first screen"
        if size == "desktop":
            actions = page.locator("ol.actions > li")
            assert actions.count() == 5
            last = actions.nth(4).locator(".action-head").bounding_box()
            assert last is not None and last["y"] + 20 <= height, "the fifth action starts below the first screen"
        counts = box("#counts")
        assert counts["y"] < height
        # one vocabulary for every status word on the page
        words = set(vocabulary(lang).values())
        badges: list[str] = page.evaluate(
            "Array.from(document.querySelectorAll('.badge')).map(b => b.textContent.replace(/^[✓✗!i?–…≈]\\s/, '').trim())"
        )
        badges = [b for b in badges if not re.match(r"(Geaccepteerd|Niet van toepassing|Accepted|Not applicable) (tot|until) ", b)]
        assert badges and set(badges) <= words, set(badges) - words
        # table headers never break inside a word, also with every detail unfolded; still no sideways scroll
        assert page.evaluate(BROKEN_HEADERS) == []
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert _overflow(page) <= 0, "an unfolded detail makes the page scroll sideways"
        assert page.evaluate(BROKEN_HEADERS) == []
        if size == "phone":
            page.screenshot(path=str(demo_pages[lang].with_suffix(".phone.png")))
    finally:
        page.close()


# ------------------------------------------------------------------------------- hostile data

PAYLOADS = [
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned='img'\">",
    "<svg onload=\"window.__pwned='svg'\"></svg>",
    "\"><script>window.__pwned='attr'</script>",
    "javascript:window.__pwned='url'",
    "<a href=\"javascript:window.__pwned='link'\">klik</a>",
    "<iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>",
    "</style><script>window.__pwned='style'</script>",
    "</textarea><details open ontoggle=\"window.__pwned='toggle'\">",
    "{{ 7*7 }}{% raw %}",
]
HOSTILE = " ".join(PAYLOADS)


def _hostile_scan() -> Scan:
    cat = catalogue_mod.builtin()

    def r(check_id: str, status: Status, message: str, **kw: Any) -> Result:
        check = cat.checks[check_id]
        return Result(check_id, check.version, "museum.test", status, check.severity, message,
                      maps_to=tuple(check.maps_to), **kw)  # fmt: skip

    results = (
        r("mail.spf", Status.FAIL, "invalid", params={"errors": HOSTILE, "record": PAYLOADS[4]},
          evidence={"record": HOSTILE, PAYLOADS[1]: PAYLOADS[4], "nested": {"url": PAYLOADS[4], "list": PAYLOADS}}),
        r("web.hsts", Status.FAIL, "missing", subject=Subject("museum.test", host=PAYLOADS[2]),
          evidence={"location": PAYLOADS[4], "header": HOSTILE}),
        r("web.headers.basic", Status.WARN, HOSTILE, params={"missing": HOSTILE}),  # an unknown message key
        Result(PAYLOADS[0], 1, "museum.test", Status.FAIL, Severity.HIGH, "m", params={"x": HOSTILE},
               evidence={"a": HOSTILE}),  # an unknown check
    )  # fmt: skip
    return Scan("9.9", "1", "default", "2026-11-28T10:00:00+00:00", "2026-11-28T10:00:05+00:00", ("museum.test",),
                results, (ProbeOutcome("dns.txt", "museum.test", None),),
                notices=(Notice("scope.private-address", {"address": PAYLOADS[3], "names": PAYLOADS}),),
                addresses_probed={PAYLOADS[1]: (PAYLOADS[0],)})  # fmt: skip


@pytest.mark.parametrize("strip_csp", [False, True], ids=["as-written", "without-csp"])
def test_a_report_of_hostile_data_runs_no_script(browser: Browser, tmp_path: Path, strip_csp: bool) -> None:
    cat = catalogue_mod.builtin()
    html = render("html", report_of(_hostile_scan(), cat, "nl"), registry_mod.load())
    assert isinstance(html, str)
    if strip_csp:  # the escaping alone must hold: take the Content-Security-Policy away
        html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
        assert 'http-equiv="Content-Security-Policy"' not in html
    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(path.as_uri())
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        for link in page.locator("a").all():  # follow nothing, but a javascript: link would run on click
            href = link.get_attribute("href") or ""
            assert href.startswith(("#", "https://", "http://")), href
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned === undefined"), page.evaluate("window.__pwned")
        assert not dialogs
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("document.querySelectorAll('iframe, img, object, embed').length") == 0
        handlers = page.evaluate(
            "Array.from(document.querySelectorAll('*')).flatMap(e => Array.from(e.attributes)"
            ".filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))"
        )
        assert handlers == []
        # the hostile text is there, visibly, as text
        body = page.inner_text("body")
        assert "<script>window.__pwned = 'script'</script>" in body and "javascript:window.__pwned='url'" in body
        assert "{{ 7*7 }}" in body and "49" not in body.split("{{ 7*7 }}")[0][-5:]
    finally:
        page.close()
