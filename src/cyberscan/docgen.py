"""Reference documentation generated from the catalogue (never kept by hand).

``cyberscan docs docs/`` writes ``checks.md`` (every check) and ``coverage.md`` (every framework
item with the checks and questions that give evidence for it). A test keeps the files current.
Their wording is in ``texts/docs.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .catalogue import Catalogue, text
from .questionnaire import questionnaire
from .texts import say

DOC_LANG = "en"  # the docs folder is written in English, like all project documentation


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def checks_markdown(catalogue: Catalogue, lang: str = DOC_LANG) -> str:
    lines = [say("docs.checks-title", lang), "", say("docs.generated", lang, version=catalogue.version), ""]
    for area in sorted({c.area for c in catalogue.checks.values()}):
        lines += [f"## {area}", ""]
        for check in (c for c in catalogue.checks.values() if c.area == area):
            heading = "docs.check-heading-active" if check.active else "docs.check-heading"
            lines += [
                say(heading, lang, id=check.id, version=check.version, severity=check.severity.value),
                "",
                f"**{_md(text(check.title, 'en'))}** / *{_md(text(check.title, 'nl'))}*",
                "",
                say("docs.why", lang, risk=_md(text(check.risk, lang))),
                say("docs.what-to-do", lang, who=check.who, effort=check.effort,
                    remediation=_md(text(check.remediation, lang))),
                say("docs.facts", lang, facts=", ".join(f"`{n}`" for n in check.needs) or "-", evaluator=check.evaluator),
                say("docs.maps-to", lang, items=", ".join(f"`{k}` ({v})" for k, v in check.maps_to.items()) or "-"),
                say("docs.continuity", lang, areas=", ".join(check.continuity) or "-"),
            ]
            if check.references:
                lines.append(say("docs.references", lang, references=", ".join(check.references)))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def coverage_markdown(catalogue: Catalogue, lang: str = DOC_LANG) -> str:
    qn = questionnaire(catalogue)
    threatens, answer = say("docs.threatens", lang), say("docs.answer", lang)
    evidence: dict[str, list[str]] = {}
    for check in catalogue.checks.values():
        for item_id, relation in check.maps_to.items():
            evidence.setdefault(item_id, []).append(f"`{check.id}` ({relation})")
        for area in check.continuity:
            evidence.setdefault(area, []).append(f"`{check.id}` {threatens}")
    for question in qn.questions:
        for item_id in question.maps_to:
            evidence.setdefault(item_id, []).append(f"`{question.id}` {answer}")
        for area in question.continuity:
            evidence.setdefault(area, []).append(f"`{question.id}` {threatens}")
    lines = [say("docs.coverage-title", lang), "", say("docs.coverage-intro", lang, version=catalogue.version), ""]
    for fw in catalogue.frameworks.values():
        lines += [f"## {_md(text(fw.title, lang))} (`{fw.id}`)", "", say("docs.coverage-head", lang), "| --- | --- | --- | --- |"]
        for item in fw.items:
            found = evidence.get(item.id, [])
            shown = ", ".join(found) if found else say("docs.manual" if item.manual else "docs.no-evidence", lang)
            label = f"{item.number}. " if item.number else ""
            lines.append(f"| `{item.id}` | {label}{_md(text(item.title, lang))} | {item.confidence} | {shown} |")
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
