"""Catalogue lint: the data in checks/ and profiles/ holds together (ids, languages, mappings, coverage)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.catalogue import CONFIDENCE, LANGUAGES, RELATIONS, Catalogue
from cyberscan.questionnaire import questionnaire, selected

ROOT = Path(__file__).resolve().parents[2]
CONTINUITY = {"cont.information", "cont.accessibility", "cont.public", "cont.collection"}

# Every framework item id named in shared/reference/mapping.md (sections 1, 5-8). Checks written in
# parallel map to these, so each must exist in checks/frameworks/.
MAPPING_ITEM_IDS = [
    *(f"den.check.{n}" for n in range(1, 7)),
    "den.check.backup", "den.check.incident", "den.check.report",
    "den.stap.governance", "den.stap.processes", "den.stap.risks", "den.stap.measures",
    "den.stap.people", "den.stap.prepare", "den.stap.respond_recover", "den.stap.improve",
    *(f"bp.{n}" for n in range(1, 6)),
    "bm.logging", "bm.mfa", "bm.passwords", "bm.backups", "bm.encryption", "bm.protect_devices",
    "bm.segmentation", "bm.patching",
    "ir.prepare.plan", "ir.prepare.roles", "ir.prepare.contacts", "ir.prepare.external_help",
    "ir.prepare.scenarios", "ir.prepare.assets", "ir.prepare.backup", "ir.prepare.exercise",
    "ir.prepare.comms", "ir.detect.logging", "ir.detect.external_reports", "ir.detect.staff_reporting",
    "ir.respond.contain", "ir.respond.evidence", "ir.respond.report_ap", "ir.respond.report_police",
    "ir.respond.report_ncsc", "ir.respond.inform_chain", "ir.recover.restore", "ir.recover.continuity",
    "ir.learn.review",
    *sorted(CONTINUITY),
]  # fmt: skip

# Question ids of mapping.md section 4 (the questionnaire may add more, never fewer).
MAPPING_QUESTION_IDS = [
    "q.gov.owner", "q.gov.board_agenda", "q.gov.budget", "q.risk.in_riskmgmt", "q.risk.process_inventory",
    "q.risk.chain", "q.risk.ot", "q.access.mfa_email", "q.access.mfa_remote", "q.access.passwords",
    "q.access.least_privilege", "q.access.leavers", "q.patch.auto", "q.patch.infra", "q.patch.website",
    "q.patch.eol", "q.aware.training", "q.aware.report_route", "q.backup.scope", "q.backup.frequency",
    "q.backup.offline", "q.backup.offsite", "q.backup.copies", "q.backup.restore_test", "q.backup.rto",
    "q.backup.credentials", "q.ir.plan", "q.ir.roles", "q.ir.contacts_offline", "q.ir.external",
    "q.ir.exercise", "q.ir.reporting", "q.ir.comms", "q.ir.continuity", "q.ir.warnings",
    "q.supplier.contracts", "q.supplier.list", "q.insurance.cyber", "q.log.enabled", "q.log.retention",
    "q.log.monitoring", "q.scope.nis2",
]  # fmt: skip


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return catalogue_mod.load(registry_mod.load().catalogues)


def _both(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(value.get(lang), str) and value[lang].strip() for lang in LANGUAGES
    )


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.yaml"))


# ------------------------------------------------------------------ checks


def test_check_ids_are_unique_and_mirror_their_path() -> None:
    seen: dict[str, Path] = {}
    for path in _files("checks"):
        rel = path.relative_to(ROOT / "checks")
        if rel.parts[0] in ("frameworks", "data") or rel.name == "catalogue.yaml":
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        check_id = raw["id"]
        assert check_id not in seen, f"{check_id} in {path} and {seen.get(check_id)}"
        seen[check_id] = path
        expected = str(rel.with_suffix("")).replace("/", ".", 1)
        assert check_id == expected, f"{path}: id {check_id} should be {expected}"


def test_checks_have_both_languages_everywhere(cat: Catalogue) -> None:
    for check in cat.checks.values():
        for name in ("title", "risk", "remediation"):
            assert _both(getattr(check, name)), f"{check.id}: {name}"
        for key, message in check.messages.items():
            assert _both(message), f"{check.id}: message {key}"


def test_every_evaluator_and_probe_is_registered(cat: Catalogue) -> None:
    registry = registry_mod.load()
    for check in cat.checks.values():
        assert check.evaluator in registry.evaluators, f"{check.id}: evaluator {check.evaluator} is not registered"
        for probe in check.needs:
            assert probe in registry.probes, f"{check.id}: probe {probe} is not registered"


def test_check_mappings_and_continuity_exist(cat: Catalogue) -> None:
    items = {item.id for item in cat.items()}
    for check in cat.checks.values():
        for item, relation in check.maps_to.items():
            assert item in items, f"{check.id} maps to unknown item {item}"
            assert relation in RELATIONS
            assert relation != "answer", f"{check.id}: 'answer' is for questionnaire answers only"
        assert set(check.continuity) <= CONTINUITY, f"{check.id}: unknown continuity area"
        assert check.who in ("volunteer", "supplier", "director"), check.id
        assert check.effort in ("low", "medium", "high"), check.id


# ------------------------------------------------------------------ frameworks


def test_every_mapping_md_item_exists(cat: Catalogue) -> None:
    items = {item.id for item in cat.items()}
    missing = [i for i in MAPPING_ITEM_IDS if i not in items]
    assert not missing, f"framework items missing: {missing}"


def test_framework_items_are_unique_and_complete(cat: Catalogue) -> None:
    seen: set[str] = set()
    for fw in cat.frameworks.values():
        assert _both(fw.title), fw.id
        assert fw.source, f"{fw.id}: no source"
        for item in fw.items:
            assert item.id not in seen, f"item {item.id} defined twice"
            seen.add(item.id)
            assert _both(item.title), item.id
            assert item.source or fw.source, f"{item.id}: no source"
            assert _both(item.description), f"{item.id}: description in both languages"
            assert item.confidence in CONFIDENCE, item.id
            assert set(item.continuity) <= CONTINUITY, item.id
            if item.note:
                assert _both(item.note), item.id


def test_every_scored_item_has_evidence_or_is_manual(cat: Catalogue) -> None:
    """Mapped by a check or a question, or marked manual (continuity areas are reached through `continuity:`)."""
    qn = questionnaire(cat)
    mapped = {item for check in cat.checks.values() for item in check.maps_to}
    mapped |= {item for q in qn.questions for item in q.maps_to}
    mapped |= {area for check in cat.checks.values() for area in check.continuity}
    mapped |= {area for q in qn.questions for area in q.continuity}
    orphans = [item.id for item in cat.items() if item.id not in mapped and not item.manual]
    assert not orphans, f"items neither mapped nor manual: {orphans}"
    unanswerable = [item.id for item in cat.items() if item.manual and item.id not in mapped]
    assert not unanswerable, f"manual items no question answers: {unanswerable}"


# ------------------------------------------------------------------ questions


def test_questions_cover_mapping_md_and_map_to_existing_items(cat: Catalogue) -> None:
    qn = questionnaire(cat)
    ids = qn.ids()
    assert [q for q in MAPPING_QUESTION_IDS if q not in ids] == []
    items = {item.id for item in cat.items()}
    for q in qn.questions:
        assert set(q.maps_to) <= items, f"{q.id} maps to unknown items {set(q.maps_to) - items}"
        assert set(q.continuity) <= CONTINUITY, q.id
        assert _both(q.text) and _both(q.why), q.id
        for option in (*q.options, *q.per):
            assert _both(option.label), f"{q.id} option {option.value}"
        if q.scored:
            assert q.maps_to, f"{q.id} gives evidence for nothing"
            assert _both(q.advice), f"{q.id}: advice"
        for other in q.when:
            assert qn.get(other) is not None, f"{q.id}: 'when' names unknown question {other}"
        if q.at_most:
            assert qn.get(q.at_most) is not None, q.id


def test_backup_policy_is_covered_in_depth(cat: Catalogue) -> None:
    qn = questionnaire(cat)
    scope = qn.get("q.backup.scope")
    assert scope is not None
    assert {o.value for o in scope.options} >= {"collection_db", "collection_files", "finance", "mail_saas", "website"}
    for qid in ("q.backup.frequency", "q.backup.copies", "q.backup.media", "q.backup.offline", "q.backup.offsite",
                "q.backup.credentials", "q.backup.restore_test", "q.backup.restore_duration", "q.backup.rto"):  # fmt: skip
        assert qn.get(qid) is not None, qid


def test_contact_questions_feed_the_incident_sheet(cat: Catalogue) -> None:
    roles = {q.role for q in questionnaire(cat).questions if q.type == "contact"}
    assert {"coordinator", "deputy", "it_supplier", "hosting", "insurer"} <= roles


# ------------------------------------------------------------------ profiles


def test_required_profiles_exist(cat: Catalogue) -> None:
    assert {"default", "klein-museum", "archief", "bibliotheek"} <= set(cat.profiles)


@pytest.mark.parametrize("name", ["default", "klein-museum", "archief", "bibliotheek"])
def test_profile_selections_exist(cat: Catalogue, name: str) -> None:
    profile = cat.profiles[name]
    qn = questionnaire(cat)
    assert _both(profile.title)
    for check_id in (*profile.include, *profile.exclude, *profile.overrides):
        assert check_id in cat.checks, f"{name}: unknown check {check_id}"
    for fw in profile.frameworks:
        assert fw in cat.frameworks, f"{name}: unknown framework {fw}"
    spec = profile.questions
    for pattern in (*(spec.get("include") or []), *(spec.get("exclude") or [])):
        assert any(fnmatch.fnmatchcase(q, pattern) for q in qn.ids()), f"{name}: {pattern} matches no question"
    for qid in spec.get("severity") or {}:
        assert qn.get(qid) is not None, f"{name}: severity for unknown question {qid}"
    assert selected(qn, profile), name


def test_small_museum_questionnaire_is_shorter(cat: Catalogue) -> None:
    qn = questionnaire(cat)
    assert len(selected(qn, cat.profiles["klein-museum"])) < len(selected(qn, cat.profiles["default"]))


def test_suppliers_data_is_consistent(cat: Catalogue) -> None:
    data = cat.extras["suppliers"]
    roles = set(data["roles"])
    assert roles == {"mail", "dns", "web"}
    ids = [s["id"] for s in data["suppliers"]]
    assert len(ids) == len(set(ids))
    for s in data["suppliers"]:
        assert s["role"] in roles and s["patterns"], s["id"]
        assert _both(s["settings"]) and _both(s["ask"]), s["id"]
    for rule in data["checks"]:
        assert set(rule["roles"]) <= roles
