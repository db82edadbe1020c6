from __future__ import annotations

import json
from typing import Any

import pytest

from cyberscan import registry as registry_mod
from cyberscan.catalogue import Catalogue, Profile, parse_check
from cyberscan.engine import Nameserver, ScanOptions, rejudge, scan
from cyberscan.errors import CatalogueError
from cyberscan.models import ErrorReason, Status
from cyberscan.serialize import scan_from_dict, scan_to_dict

from . import engine_plugins

TEXT = {"nl": "tekst", "en": "text"}


def _check(check_id: str, evaluator: str, needs: list[str], **extra: Any) -> Any:
    raw = {
        "id": check_id,
        "severity": "high",
        "evaluator": evaluator,
        "needs": needs,
        "title": TEXT,
        "risk": TEXT,
        "remediation": TEXT,
        "tags": ["t"],
        **extra,
    }
    return parse_check(raw, f"test:{check_id}")


@pytest.fixture
def setup() -> tuple[Catalogue, Profile, registry_mod.Registry]:
    engine_plugins.CALLS.clear()
    checks = [
        _check("t.one", "t.even", ["t.slow"]),
        _check("t.two", "t.even", ["t.derived", "t.slow"], params={"probe": "t.derived"}),
        _check("t.three", "t.even", ["t.timeout"], params={"probe": "t.timeout"}),
        _check("t.four", "t.broken", ["t.slow"]),
        _check("t.five", "t.even", ["t.crash"], params={"probe": "t.crash"}),
        _check("t.six", "t.even", ["t.slow"], active=True),
    ]
    cat = Catalogue("test-1", {c.id: c for c in checks}, {}, {})
    profile = Profile("p", TEXT, TEXT, include_tags=("t",))
    reg = registry_mod.build(["tests.unit.engine_plugins"])
    return cat, profile, reg


def _by_id(results: Any) -> dict[str, Any]:
    return {r.check_id: r for r in results}


def test_engine_judges_collects_each_fact_once_and_never_turns_errors_into_verdicts(setup: Any) -> None:
    cat, profile, reg = setup
    result = scan(["abc.test", "abcd.test"], catalogue=cat, profile=profile, registry=reg, options=ScanOptions())
    assert engine_plugins.CALLS == {"t.slow": 2, "t.derived": 2}  # once per target, shared by three checks
    first = _by_id(r for r in result.results if r.target == "abc.test")
    assert first["t.one"].status is Status.PASS  # len("abc.test") == 8
    assert first["t.two"].status is Status.PASS  # derived: 16
    second = _by_id(r for r in result.results if r.target == "abcd.test")
    assert second["t.one"].status is Status.FAIL and second["t.one"].params == {"value": 9}
    assert second["t.two"].status is Status.PASS


def test_statuses(setup: Any) -> None:
    cat, profile, reg = setup
    result = scan(["abcd.test"], catalogue=cat, profile=profile, registry=reg, options=ScanOptions())
    got = _by_id(result.results)
    assert got["t.one"].status is Status.FAIL and got["t.one"].message == "odd"  # len("abcd.test") == 9
    assert got["t.three"].status is Status.ERROR
    assert got["t.three"].error_reason is ErrorReason.TIMEOUT
    assert got["t.four"].status is Status.ERROR and got["t.four"].error_reason is ErrorReason.BUG
    assert got["t.five"].status is Status.ERROR and got["t.five"].error_reason is ErrorReason.BUG
    assert got["t.six"].status is Status.SKIPPED and got["t.six"].message == "skipped.active-not-requested"


def test_active_checks_run_only_with_ports_and_authorisation(setup: Any) -> None:
    cat, profile, reg = setup
    not_authorised = scan(["abcd.test"], catalogue=cat, profile=profile, registry=reg, options=ScanOptions(ports=True))
    assert _by_id(not_authorised.results)["t.six"].message == "skipped.not-authorised"
    allowed = scan(["abcd.test"], catalogue=cat, profile=profile, registry=reg, options=ScanOptions(ports=True, authorised=True))
    assert _by_id(allowed.results)["t.six"].status in (Status.PASS, Status.FAIL)


def test_stored_scan_round_trips_and_can_be_judged_again(setup: Any) -> None:
    cat, profile, reg = setup
    original = scan(["abcd.test"], catalogue=cat, profile=profile, registry=reg, options=ScanOptions())
    stored = json.loads(json.dumps(scan_to_dict(original)))
    restored = scan_from_dict(stored, reg)
    assert isinstance(restored.outcomes[0].fact, engine_plugins.Number | type(None))
    again = rejudge(restored, catalogue=cat, profile=profile, registry=reg)
    before = {(r.check_id, r.status) for r in original.results if r.check_id != "t.six"}
    after = {(r.check_id, r.status) for r in again.results if r.check_id != "t.six"}
    assert before == after
    assert engine_plugins.CALLS["t.slow"] == 1  # rejudging touched no network


def test_duplicate_plugin_names_are_refused() -> None:
    with pytest.raises(CatalogueError, match="registered twice"):
        registry_mod.build(["tests.unit.engine_plugins", "tests.unit.engine_plugins"])


@pytest.mark.parametrize(
    ("raw", "address", "port"),
    [("127.0.0.1", "127.0.0.1", 53), ("127.0.0.1:5353", "127.0.0.1", 5353), ("::1", "::1", 53), ("[::1]:5300", "::1", 5300)],
)
def test_nameserver_parse(raw: str, address: str, port: int) -> None:
    assert Nameserver.parse(raw) == Nameserver(address, port)


@pytest.mark.parametrize("raw", ["dns.example", "1.2.3.4:0", "1.2.3.4:70000", "[::1", ""])
def test_nameserver_parse_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        Nameserver.parse(raw)
