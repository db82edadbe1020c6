"""Framework files: the DEN checklist, stappenplan themes, incident-response checklist, continuity, NCSC basics."""

from __future__ import annotations

import pytest
import yaml

from cyberscan import catalogue as catalogue_mod
from cyberscan.catalogue import Catalogue, parse_framework
from cyberscan.errors import CatalogueError


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return catalogue_mod.load()


def test_den_checklist_numbers_1_to_6_and_provisional_items_unnumbered(cat: Catalogue) -> None:
    fw = cat.frameworks["den-checklist"]
    numbered = {item.id: item.number for item in fw.items if item.number}
    assert numbered == {f"den.check.{n}": str(n) for n in range(1, 7)}
    for item_id in ("den.check.backup", "den.check.incident", "den.check.report"):
        item = cat.item(item_id)
        assert item is not None and item.number is None and item.provisional
        assert item.confidence == "inferred"
    assert cat.item("den.check.6") is not None and cat.item("den.check.6").confidence == "partial"  # type: ignore[union-attr]


def test_stappenplan_themes_carry_no_den_step_numbers(cat: Catalogue) -> None:
    fw = cat.frameworks["den-stappenplan"]
    assert len(fw.items) == 8
    assert all(item.number is None and item.provisional for item in fw.items)
    assert all(item.note for item in fw.items), "each theme says its Dutch term is ours"


def test_incident_response_items_have_their_phase(cat: Catalogue) -> None:
    fw = cat.frameworks["incident-response"]
    assert len(fw.items) == 21
    for item in fw.items:
        assert item.phase == item.id.split(".")[1]
        assert item.phase in ("prepare", "detect", "respond", "recover", "learn")
        assert item.source.startswith("https://")
        assert item.confidence == "ours"


def test_crosswalks_are_not_scored_on_their_own(cat: Catalogue) -> None:
    assert cat.frameworks["ncsc-basics"].scored is False
    assert cat.frameworks["continuity"].scored is False
    assert {i.id for i in cat.frameworks["continuity"].items} == {
        "cont.information", "cont.accessibility", "cont.public", "cont.collection",
    }  # fmt: skip
    assert cat.item("bm.segmentation").confidence == "inferred"  # type: ignore[union-attr]


def test_items_no_scan_can_answer_are_manual(cat: Catalogue) -> None:
    for item_id in (
        "den.check.1",
        "den.check.2",
        "den.check.6",
        "den.check.backup",
        "ir.prepare.plan",
        "ir.respond.report_ap",
    ):
        assert cat.item(item_id).manual, item_id  # type: ignore[union-attr]
    for item_id in ("den.check.4", "den.check.5", "ir.detect.external_reports", "bm.protect_devices"):
        assert not cat.item(item_id).manual, item_id  # type: ignore[union-attr]


def test_an_editor_corrects_a_title_and_number_in_yaml_only(tmp_path: object) -> None:
    raw = yaml.safe_load(
        (catalogue_mod.data_root() / "checks" / "frameworks" / "den-checklist.yaml").read_text(encoding="utf-8")
    )
    for entry in raw["items"]:
        if entry["id"] == "den.check.backup":
            entry["number"] = 7
            entry["provisional"] = False
            entry["title"]["nl"] = "Maak back-ups (gecorrigeerd)"
    fw = parse_framework(raw, "den-checklist.yaml")
    item = next(i for i in fw.items if i.id == "den.check.backup")
    assert (item.number, item.provisional, item.title["nl"]) == ("7", False, "Maak back-ups (gecorrigeerd)")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"id": "x.1", "title": {"nl": "a"}}, "title needs non-empty texts"),
        ({"id": "x.1", "title": {"nl": "a", "en": "b"}, "confidence": "guess"}, "confidence must be one of"),
        ({"id": "x.1", "title": {"nl": "a", "en": "b"}, "note": {"nl": "alleen nl"}}, "note needs"),
        ({"title": {"nl": "a", "en": "b"}}, "needs an 'id'"),
    ],
)
def test_broken_framework_items_are_refused(entry: dict[str, object], problem: str) -> None:
    raw = {"id": "x", "title": {"nl": "X", "en": "X"}, "items": [entry]}
    with pytest.raises(CatalogueError, match=problem):
        parse_framework(raw, "x.yaml")
