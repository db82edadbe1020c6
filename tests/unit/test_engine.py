from __future__ import annotations

import json
from typing import Any

import pytest

from cyberscan import registry as registry_mod
from cyberscan.catalogue import Catalogue, Profile, parse_check
from cyberscan.engine import rejudge, scan
from cyberscan.errors import CatalogueError
from cyberscan.models import ErrorReason, Status
from cyberscan.options import Nameserver, ScanOptions
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


# ------------------------------------------------------------------------------- cancellation


@pytest.fixture
def silent_server() -> Any:
    """A TCP server that accepts connections and never sends a byte."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def _hang_setup(setup: Any, address: tuple[str, int]) -> tuple[Catalogue, Profile, Any]:
    _, profile, reg = setup
    engine_plugins.HANG_ADDRESS = (address[0], address[1])
    checks = [_check("t.one", "t.even", ["t.slow"]), _check("t.hung", "t.even", ["t.hang"], params={"probe": "t.hang"})]
    return Catalogue("test-1", {c.id: c for c in checks}, {}, {}), profile, reg


def test_cancel_stops_a_scan_within_a_second_and_keeps_what_was_judged(setup: Any, silent_server: Any) -> None:
    import threading
    import time

    cat, profile, reg = _hang_setup(setup, silent_server)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    began = time.monotonic()
    result = scan(["abc.test"], catalogue=cat, profile=profile, registry=reg,
                  options=ScanOptions(timeout=60, allow_private=True), cancel=cancel)
    took = time.monotonic() - began
    assert took < 2.0  # the read would otherwise wait up to 8 x 60 s
    assert result.complete is False
    got = _by_id(result.results)
    assert got["t.one"].status is Status.PASS  # judged before the stop: kept
    assert got["t.hung"].status is Status.ERROR and got["t.hung"].error_reason is ErrorReason.INTERRUPTED
    assert any(n.key == "scan.interrupted" for n in result.notices)


def test_the_endpoint_deadline_cuts_a_silent_server_and_gives_an_error(setup: Any, silent_server: Any) -> None:
    import time

    cat, profile, reg = _hang_setup(setup, silent_server)
    began = time.monotonic()
    result = scan(["abc.test"], catalogue=cat, profile=profile, registry=reg,
                  options=ScanOptions(timeout=0.2, allow_private=True))
    assert time.monotonic() - began < 8 * 0.2 + 2  # BUDGETS["tls"] x timeout, plus slack
    hung = _by_id(result.results)["t.hung"]
    assert hung.status is Status.ERROR and hung.error_reason is ErrorReason.TIMEOUT
    assert result.complete is True


# ------------------------------------------------------------------------------- finding identity


def test_verdicts_about_one_subject_become_one_result_led_by_the_worst(setup: Any) -> None:
    _, profile, reg = setup
    cat = Catalogue("test-1", {"t.m": _check("t.m", "t.twice", ["t.slow"])}, {}, {})
    result = scan(["abc.test"], catalogue=cat, profile=profile, registry=reg, options=ScanOptions())
    assert len(result.results) == 2
    keys = [r.key for r in result.results]
    assert len(set(keys)) == 2
    merged = next(r for r in result.results if r.subject.address)
    assert merged.status is Status.FAIL and merged.message == "odd"
    assert merged.evidence["also"] == [{"status": "pass", "message": "even", "params": {"value": 1}}]
    assert merged.subject.domain == "abc.test" and merged.key == "t.m|abc.test|www.abc.test|192.0.2.1|443|https"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"host": "WWW.Museum.test.", "address": "2001:DB8::0:1"}, {"host": "www.museum.test", "address": "2001:db8::1"}),
        ({"address": "192.0.2.5", "port": 22, "names": ("b.test", "a.test")},
         {"address": "192.0.2.5", "port": 22, "names": ("a.test", "c.test")}),
    ],
)
def test_a_finding_key_does_not_depend_on_spelling_order_or_aliases(a: dict[str, Any], b: dict[str, Any]) -> None:
    from cyberscan.models import Subject, finding_key

    first = Subject(**a).with_domain("Museum.test")
    second = Subject(**b).with_domain("museum.test")
    assert finding_key("x.y", first) == finding_key("x.y", second)


# ------------------------------------------------------------------------------- versioned facts


def _stored_with(fact: dict[str, Any], version: int) -> dict[str, Any]:
    return {
        "schema_version": "2.0", "tool_version": "0", "catalogue_version": "0", "profile": "p",
        "started": "2026-11-30T10:00:00+00:00", "finished": "2026-11-30T10:00:01+00:00", "targets": ["a.test"],
        "fact_versions": {"http.site": version},
        "facts": [{"probe": "http.site", "subject": "a.test", "error": None, "detail": "", "fact": fact}],
    }


V1_SITE = {
    "domain": "a.test",
    "endpoints": [{
        "name": "a.test", "address": "192.0.2.1",
        "http": {"status": "refused", "detail": "x", "hops": []},
        "https": {"status": "ok", "detail": "", "hops": [{"url": "https://a.test/", "status": 200, "headers": [],
                                                          "body": "", "truncated": False, "content_type": ""}]},
        "securitytxt": {"status": "timeout", "detail": "slow", "hops": []},
        "generators": [],
    }],
    "unresolved": [],
}


def test_an_older_stored_fact_is_migrated_and_judged_again() -> None:
    from cyberscan.facts.web import HttpSite

    reg = registry_mod.load()
    stored = scan_from_dict(_stored_with(json.loads(json.dumps(V1_SITE)), 1), reg)
    site = stored.outcomes[0].fact
    assert isinstance(site, HttpSite)
    endpoint = site.endpoints[0]
    assert endpoint.http.error is ErrorReason.REFUSED and endpoint.https.error is None
    assert endpoint.securitytxt.error is ErrorReason.TIMEOUT
    assert not stored.notices


@pytest.mark.parametrize("version", [99, 0])
def test_a_stored_fact_that_cannot_be_read_is_refused_by_name_not_judged(version: int) -> None:
    reg = registry_mod.load()
    stored = scan_from_dict(_stored_with(V1_SITE, version), reg)
    outcome = stored.outcomes[0]
    assert outcome.fact is None and outcome.error is ErrorReason.UNREADABLE and "http.site" in outcome.detail
    assert [n.key for n in stored.notices] == ["stored.fact-unreadable"]
    assert stored.notices[0].params["probe"] == "http.site"


def test_a_report_from_a_newer_schema_is_refused_with_a_clear_error() -> None:
    from cyberscan.errors import StoredScanError

    data = _stored_with(V1_SITE, 2)
    data["schema_version"] = "3.0"
    with pytest.raises(StoredScanError) as info:
        scan_from_dict(data, registry_mod.load())
    assert "newer cyberscan" in str(info.value)
    assert "nieuwere cyberscan" in info.value.message("nl")
