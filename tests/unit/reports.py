"""Helpers for renderer tests: an Assessment (and Report) from hand-made scan results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cyberscan.assessment import build
from cyberscan.catalogue import Catalogue
from cyberscan.models import AcceptedRisk, Scan
from cyberscan.questionnaire import Answers
from cyberscan.render import Report


def report_of(
    scan: Scan,
    catalogue: Catalogue,
    lang: str = "nl",
    extra: Mapping[str, Any] | None = None,
    answers: Answers | None = None,
    accepted: Sequence[AcceptedRisk] = (),
) -> Report:
    return Report(build(scan, catalogue=catalogue, answers=answers, accepted=accepted), lang, dict(extra or {}))
