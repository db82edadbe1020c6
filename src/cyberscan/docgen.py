"""Reference documentation generated from the catalogue (never kept by hand).

``cyberscan docs docs/`` writes ``checks.md`` (every check) and ``coverage.md`` (every framework
item with the checks and questions that give evidence for it). A test keeps the files current.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .catalogue import Catalogue, text
from .questionnaire import questionnaire


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def checks_markdown(catalogue: Catalogue) -> str:
    lines = [
        "# Check reference",
        "",
        f"Generated from the catalogue (version {catalogue.version}) by `cyberscan docs docs/`; do not edit by hand.",
        "",
    ]
    for area in sorted({c.area for c in catalogue.checks.values()}):
        lines += [f"## {area}", ""]
        for check in (c for c in catalogue.checks.values() if c.area == area):
            lines += [
                f"### `{check.id}` (v{check.version}, {check.severity.value}{', active' if check.active else ''})",
                "",
                f"**{_md(text(check.title, 'en'))}** / *{_md(text(check.title, 'nl'))}*",
                "",
                f"- Why: {_md(text(check.risk, 'en'))}",
                f"- What to do ({check.who}, effort {check.effort}): {_md(text(check.remediation, 'en'))}",
                f"- Facts: {', '.join(f'`{n}`' for n in check.needs) or '-'}; evaluator `{check.evaluator}`",
                f"- Maps to: {', '.join(f'`{k}` ({v})' for k, v in check.maps_to.items()) or '-'}",
                f"- Continuity: {', '.join(check.continuity) or '-'}",
            ]
            if check.references:
                lines.append(f"- References: {', '.join(check.references)}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def coverage_markdown(catalogue: Catalogue) -> str:
    qn = questionnaire(catalogue)
    evidence: dict[str, list[str]] = {}
    for check in catalogue.checks.values():
        for item_id, relation in check.maps_to.items():
            evidence.setdefault(item_id, []).append(f"`{check.id}` ({relation})")
        for area in check.continuity:
            evidence.setdefault(area, []).append(f"`{check.id}` (threatens)")
    for question in qn.questions:
        for item_id in question.maps_to:
            evidence.setdefault(item_id, []).append(f"`{question.id}` (answer)")
        for area in question.continuity:
            evidence.setdefault(area, []).append(f"`{question.id}` (threatens)")
    lines = [
        "# Framework coverage",
        "",
        "Which checks and questions give evidence for each framework item. Generated from the catalogue",
        f"(version {catalogue.version}) by `cyberscan docs docs/`; do not edit by hand.",
        "",
    ]
    for fw in catalogue.frameworks.values():
        lines += [f"## {_md(text(fw.title, 'en'))} (`{fw.id}`)", "", "| item | title | confidence | evidence |", "| --- | --- | --- | --- |"]
        for item in fw.items:
            found = evidence.get(item.id, [])
            shown = ", ".join(found) if found else ("manual (no scan can answer)" if item.manual else "**none**")
            label = f"{item.number}. " if item.number else ""
            lines.append(f"| `{item.id}` | {label}{_md(text(item.title, 'en'))} | {item.confidence} | {shown} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def documents(catalogue: Catalogue) -> Iterator[tuple[str, str]]:
    yield "checks.md", checks_markdown(catalogue)
    yield "coverage.md", coverage_markdown(catalogue)


def write(catalogue: Catalogue, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in documents(catalogue):
        path = folder / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
