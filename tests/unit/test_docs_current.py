"""docs/checks.md and docs/coverage.md are generated from the catalogue and must be current."""

from __future__ import annotations

from pathlib import Path

from cyberscan import catalogue
from cyberscan.docgen import documents

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_generated_docs_are_current() -> None:
    for name, content in documents(catalogue.builtin()):
        on_disk = (DOCS / name).read_text(encoding="utf-8") if (DOCS / name).exists() else ""
        assert on_disk == content, f"docs/{name} is out of date: run `cyberscan docs docs/`"


def test_every_framework_item_has_evidence_or_is_manual() -> None:
    coverage = dict(documents(catalogue.builtin()))["coverage.md"]
    assert "**none**" not in coverage
