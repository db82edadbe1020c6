"""The anonymous summary: a scan of real zones (the demo museum: in-process DNS, HTTPS, SMTP on loopback)
exported with answers, and a search of the exported bytes for every name, address, certificate field,
banner, answer text and timestamp of that scan. Plus the identity file, submission ids, the schema."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cyberscan import catalogue as catalogue_mod
from cyberscan.cli import main
from cyberscan.errors import ConfigError, UsageError
from cyberscan.share import client, identity
from cyberscan.share.summary import Organisation, iso_week, quarter_of_week, schema, validate

ANSWERS = """cyberscan-answers: 1
lang: nl
answers:
  q.backup.offline: "yes"
  q.backup.offsite: "no"
  q.contact.coordinator: {name: "Wilhelmina Geheimhouder", phone: "+31 6 9876 5432", email: "wilhelmina@museum-demo.test", note: "Sleutel ligt onder de mat bij de achterdeur"}
"""


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("share-demo")
    result = CliRunner().invoke(main, ["demo", "--output", str(out)])
    assert result.exit_code == 0, result.output
    return next(out.glob("*.json"))


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CYBERSCAN_LANG", "en")
    return tmp_path / "xdg" / "cyberscan"


def _strings(value: Any, *, keys: bool = True) -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if keys:
                out.add(str(k))
            out |= _strings(v, keys=keys)
    elif isinstance(value, list):
        for v in value:
            out |= _strings(v, keys=keys)
    elif isinstance(value, str):
        out.add(value)
    return out


def _export(report: Path, tmp_path: Path, *extra: str) -> tuple[bytes, dict[str, Any]]:
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS, encoding="utf-8")
    target = tmp_path / "summary.json"
    result = CliRunner().invoke(main, ["export", "--anonymous", str(report), "--answers", str(answers), "--sector",
                                       "museum", "--size", "small", "--province", "utrecht", "-o", str(target), *extra])
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert json.loads(result.stdout) == json.loads(data)  # shown first, exactly what is written
    return data, json.loads(data)


def test_export_of_a_real_scan_holds_no_name_address_certificate_banner_answer_or_time(
        demo_report: Path, tmp_path: Path, data_home: Path) -> None:
    report = json.loads(demo_report.read_text(encoding="utf-8"))
    exported, summary = _export(demo_report, tmp_path)
    assert validate(summary) == []
    # the random ids are opaque hex: leave them out of the haystack so a short needle cannot match by chance
    haystack = exported.decode("ascii").replace(summary["submission_id"], "<id>").replace(summary["organisation"], "<org>")
    haystack_lower = haystack.lower()
    # 1. every string in the export is vocabulary: catalogue ids, statuses, classes, versions, the week, the ids
    cat = catalogue_mod.builtin()
    allowed = (set(schema()["properties"]) | set(cat.checks) | set(cat.frameworks) | set(cat.profiles)
               | {i.id for i in cat.items()} | {str(q["id"]) for q in cat.extras["questions"]["questions"]}
               | {"pass", "fail", "warn", "info", "error", "skipped", "manual", "gap", "ok", "ok-external", "unknown",
                  "cyberscan-submission", "museum", "small", "utrecht", "custom", "items", "score", "status", summary["week"], summary["tool_version"],
                  summary["catalogue_version"], summary["submission_id"], summary["organisation"]})
    assert _strings(summary) - allowed == set()
    # 2. no value the scan saw (names, addresses, certificate fields, banners, records, times) is in the bytes
    facts = (_strings(report["facts"], keys=False) | _strings(report["results"], keys=False)
             | _strings(report["addresses_probed"]))
    needles = {s for s in facts if len(s) >= 4 and any(c in s for c in ".:/@= 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
               and s not in allowed}
    explicit = {
        "museum-demo.test", "www.museum-demo.test", "mail.museum-demo.test", "mta-sts", "127.0.0.1",
        "Museum Demo", "fictief", "cyberscan demo CA", "nginx", "1.18.0", "PHP/7.4",
        "Wilhelmina", "Geheimhouder", "9876", "onder de mat", "wilhelmina@",
        report["started"], report["started"][:10], report["finished"], *report["targets"],
    }
    assert {"CN=museum-demo.test,O=Museum Demo (fictief),C=NL", "nginx/1.18.0"} <= facts  # the search sees them
    leaked = sorted({n for n in needles if n in haystack} | {n for n in explicit if n.lower() in haystack_lower})
    assert leaked == [], leaked
    assert summary["week"] == iso_week(datetime.fromisoformat(report["started"]))
    assert summary["answers"] == {"q.backup.offline": "pass", "q.backup.offsite": "fail"}  # statuses, not answers
    assert set(summary["checks"]) <= set(catalogue_mod.builtin().checks)


def test_resubmitting_the_same_assessment_gives_the_same_submission_id(demo_report: Path, tmp_path: Path,
                                                                       data_home: Path) -> None:
    _, first = _export(demo_report, tmp_path)
    _, second = _export(demo_report, tmp_path)
    assert first == second
    (tmp_path / "answers.yaml").write_text(ANSWERS.replace('q.backup.offsite: "no"', 'q.backup.offsite: "yes"'))
    other = CliRunner().invoke(main, ["export", "--anonymous", str(demo_report), "--answers",
                                      str(tmp_path / "answers.yaml")])
    assert other.exit_code == 0, other.output
    assert json.loads(other.stdout)["submission_id"] != first["submission_id"]  # other answers: another assessment
    _, rotated = _export(demo_report, tmp_path, "--rotate-id")
    assert rotated["organisation"] != first["organisation"]
    assert rotated["submission_id"] != first["submission_id"]


def test_identity_file_is_private_and_remembers_the_self_description(data_home: Path) -> None:
    made, changed = identity.obtain(organisation=Organisation("archive", "micro", None))
    assert changed and len(made.id) == 32 and len(made.secret) == 32
    path = data_home / identity.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, changed = identity.obtain()
    assert not changed and again == made
    rotated, _ = identity.obtain(rotate=True)
    assert rotated.id != made.id and rotated.secret != made.secret
    assert rotated.organisation == Organisation("archive", "micro", None)
    path.write_text("{broken", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        identity.load()
    assert "--rotate-id" in err.value.message("en")
    repaired, _ = identity.obtain(rotate=True)
    assert identity.load() == repaired


def test_export_needs_anonymous_and_a_self_description(demo_report: Path, data_home: Path) -> None:
    plain = CliRunner().invoke(main, ["export", str(demo_report)])
    assert plain.exit_code == 2 and "--anonymous" in plain.output
    unknown = CliRunner().invoke(main, ["export", "--anonymous", str(demo_report)])
    assert unknown.exit_code == 2 and "--sector" in unknown.output
    dutch = CliRunner().invoke(main, ["export", "--anonymous", str(demo_report)], env={"CYBERSCAN_LANG": ""})
    assert "geef de eerste keer --sector" in dutch.output
    empty = data_home / "empty-history.db"  # no scan saved yet: the newest assessment cannot be taken
    history = CliRunner().invoke(main, ["export", "--anonymous", "--sector", "museum", "--size", "small"],
                                 env={"CYBERSCAN_DB": str(empty), "CYBERSCAN_LANG": "en"})
    assert history.exit_code == 2 and "JSON report" in history.output


def test_published_schema_refuses_what_must_not_be_shared() -> None:
    assert schema()["additionalProperties"] is False
    good = {"submission_id": "a" * 64, "format": "cyberscan-submission", "version": 1, "organisation": "b" * 32,
            "sector": "museum", "size": "small", "province": None, "week": "2026-W05", "tool_version": "0.1.0",
            "catalogue_version": "2026.11.0", "profile": "default", "complete": True, "checks": {"mail.spf": "pass"},
            "answers": {}, "frameworks": {"den-checklist": {"score": 0.5, "items": {"den.check.1": {"status": "gap",
                                                                                                "score": 0.0}}}}}
    assert validate(good) == []
    for change in ({"domain": "museum.nl"}, {"province": "atlantis"}, {"week": "2026-02-03T10:00:00Z"},
                   {"checks": {"mail.spf": "pass", "museum.nl": "pass"}}, {"checks": {"mail.spf": "nginx/1.18"}},
                   {"organisation": "museum.nl"}, {"frameworks": {"x": {"score": 2, "items": {}}}}):
        assert validate({**good, **change}), change
    assert quarter_of_week("2026-W01") == "2026-Q1" and quarter_of_week("2025-W40") == "2025-Q4"


@pytest.mark.parametrize(("url", "ok"), [
    ("https://hub.den.test", True), ("https://hub.den.test/base/", True), ("http://127.0.0.1:8000", True),
    ("http://[::1]:8000", True), ("http://localhost:8000", True), ("http://hub.den.test", False),
    ("http://10.0.0.1", False), ("ftp://hub.den.test", False), ("https://user:pw@hub.den.test", False),
    ("https://hub.den.test/?token=x", False), ("hub.den.test", False),
])
def test_hub_url_rules(url: str, ok: bool) -> None:
    if ok:
        assert client.hub_base(url).startswith(("https://", "http://"))
    else:
        with pytest.raises(UsageError):
            client.hub_base(url)


def test_token_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert client.read_token(None, {"CYBERSCAN_HUB_TOKEN": " cst_abc \n"}) == "cst_abc"
    file = tmp_path / "token"
    file.write_text("cst_file\n")
    assert client.read_token(file, {"CYBERSCAN_HUB_TOKEN": "cst_env"}) == "cst_file"
    for bad in ({}, {"CYBERSCAN_HUB_TOKEN": "two words"}):
        with pytest.raises(UsageError) as err:
            client.read_token(None, bad)
        assert "two words" not in err.value.message("en")
    with pytest.raises(UsageError):
        client.read_token(tmp_path / "missing", {})


def test_compare_places_the_organisation_from_a_downloaded_aggregates_file(demo_report: Path, tmp_path: Path,
                                                                          data_home: Path) -> None:
    from cyberscan.hub import aggregates
    from tests.integration.hubdata import ITEMS, summary

    latest = {"2025-Q1": {}}
    for org in range(30):
        s = summary(org, 1, week="2025-W07", sector="museum", size="small", province=None, level=org / 30)
        latest["2025-Q1"][s["organisation"]] = s
    path = tmp_path / "aggregates.json"
    path.write_text(json.dumps(aggregates.build(latest, ["2025-Q1"], items=ITEMS, k=10)), encoding="utf-8")
    shown = CliRunner().invoke(main, ["compare", str(demo_report), "--aggregates", str(path), "--sector", "museum",
                                      "--size", "small"])
    assert shown.exit_code == 0, shown.output
    assert "2025-Q1" in shown.output and "tenth" in shown.output
    as_json = CliRunner().invoke(main, ["compare", str(demo_report), "--aggregates", str(path), "--format", "json"])
    data = json.loads(as_json.stdout)
    assert data["group"] == ["sector", "museum"] and data["items"]
    assert any(i["band"] for i in data["items"])
    neither = CliRunner().invoke(main, ["compare", str(demo_report)])
    assert neither.exit_code == 2
    (tmp_path / "x.json").write_text('{"not": "aggregates"}')
    wrong = CliRunner().invoke(main, ["compare", str(demo_report), "--aggregates", str(tmp_path / "x.json")])
    assert wrong.exit_code == 2
