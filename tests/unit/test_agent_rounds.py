"""Rounds of the agent in this process, against a zone served on loopback whose DMARC record the test
changes, and a webhook receiver: confirmation, a flap, a timeout at confirmation, a round without
network, a stop in the middle of a round."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cyberscan.agent.alerts import NEW_FAIL, NO_NETWORK, SCORE, SUMMARY
from cyberscan.agent.config import parse_config
from cyberscan.agent.rounds import FAILED, INTERRUPTED, OK, Round, RoundResult, Setup, prepare
from cyberscan.agent.runner import serve
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.history import Store, open_store
from cyberscan.options import Nameserver
from tests.fixtures.receivers import Webhook

DOMAIN = "museum.test"
DMARC_KEY = f"mail.dmarc.policy|{DOMAIN}||||"
ZONE = """$TTL 300
@ SOA ns1.museum.test. hostmaster.museum.test. 1 3600 600 86400 300
@ NS ns1.museum.test.
ns1 A 127.0.0.1
@ MX 10 mail.museum.test.
mail A 127.0.0.1
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p={policy}; rua=mailto:dmarc@museum.test"
"""


class Zone:
    def __init__(self) -> None:
        self.zones = ZoneSet()
        self.set_policy("reject")
        self.server = LocalDnsServer(self.zones)

    def set_policy(self, policy: str) -> None:
        self.zones.add_text(f"{DOMAIN}.", ZONE.format(policy=policy))


@pytest.fixture(scope="module")
def zone() -> Iterator[Zone]:
    z = Zone()
    with z.server:
        yield z


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with Webhook("k") as receiver:
        yield receiver


@pytest.fixture
def agent(zone: Zone, hook: Webhook, tmp_path: Path) -> Iterator[tuple[Store, Setup]]:
    zone.set_policy("reject")
    zone.zones.hang.clear()
    (tmp_path / "k").write_text("k")
    text = f"""
domains: [{DOMAIN}]
options: {{timeout: 0.5, nameserver: ["{zone.server.nameserver}"], allow_private: true}}
lang: en
alerts: {{webhook: {{url: "{hook.url}", secret_file: k}}}}
rules: {{confirm_after: 0, cannot_check_rounds: 10}}
"""
    setup = prepare(parse_config(text, where="agent.yaml", base=tmp_path), "en")
    with open_store(tmp_path / "history.sqlite") as store:
        yield store, setup


def _round(agent: tuple[Store, Setup], pause: Callable[[float], bool] | None = None,
           cancel: threading.Event | None = None) -> RoundResult:
    store, setup = agent
    return Round(store, setup, cancel=cancel or threading.Event(), pause=pause).run()


def _alerts(hook: Webhook) -> list[tuple[str, str]]:
    return [(i["kind"], i["key"]) for r in hook.received for i in r.body["items"] if i["kind"] not in (SUMMARY, SCORE)]


def test_a_confirmed_regression_is_alerted_once(agent: tuple[Store, Setup], zone: Zone, hook: Webhook) -> None:
    first = _round(agent)
    assert first.status == OK and [i.kind for i in first.items] == [SUMMARY]
    zone.set_policy("none")
    second = _round(agent)
    assert second.detail["domains"][DOMAIN]["confirmed"] == [DMARC_KEY]
    assert [(i.kind, i.key) for i in second.items if i.kind != SCORE] == [(NEW_FAIL, DMARC_KEY)]
    third = _round(agent)
    assert third.items == ()
    assert _alerts(hook) == [(NEW_FAIL, DMARC_KEY)]
    assert all(r.signed for r in hook.received) and len(hook.received) == 2
    store, _setup = agent
    assert store.count() == 3 and [r.status for r in store.agent.rounds()] == [OK, OK, OK]


def test_a_regression_gone_at_confirmation_is_a_flap(agent: tuple[Store, Setup], zone: Zone, hook: Webhook) -> None:
    _round(agent)
    zone.set_policy("none")

    def repaired(_seconds: float) -> bool:
        zone.set_policy("reject")
        return False

    flapped = _round(agent, pause=repaired)
    assert flapped.detail["domains"][DOMAIN]["flapped"] == [DMARC_KEY] and flapped.items == ()
    store, _setup = agent
    saved = store.get(flapped.detail["domains"][DOMAIN]["assessment"]).findings[DMARC_KEY]
    assert saved.status.value == "pass"  # the confirmed picture is what the history keeps
    assert _round(agent).items == ()
    assert _alerts(hook) == []


def test_a_timeout_never_alerts_and_a_timeout_at_confirmation_waits_for_the_next_round(
        agent: tuple[Store, Setup], zone: Zone, hook: Webhook) -> None:
    _round(agent)
    zone.zones.hang.add(f"_dmarc.{DOMAIN}")  # one round in which the DMARC lookup times out
    assert _round(agent).items == ()
    zone.zones.hang.clear()
    zone.set_policy("none")

    def times_out(_seconds: float) -> bool:
        zone.zones.hang.add(f"_dmarc.{DOMAIN}")
        return False

    held = _round(agent, pause=times_out)
    assert held.detail["domains"][DOMAIN]["unconfirmed"] == [DMARC_KEY] and not _alerts(hook)
    zone.zones.hang.clear()
    confirmed = _round(agent)  # still p=none, and now it answers: the regression holds
    assert [(i.kind, i.key) for i in confirmed.items if i.kind != SCORE] == [(NEW_FAIL, DMARC_KEY)]
    assert _alerts(hook) == [(NEW_FAIL, DMARC_KEY)]


def test_a_round_without_network_is_a_failed_round_not_a_round_of_errors(
        agent: tuple[Store, Setup], hook: Webhook, tmp_path: Path) -> None:
    store, setup = agent
    _round(agent)
    known = store.agent.states(DOMAIN)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # closed again when the socket is: no nameserver answers there
    blind = replace(setup, config=replace(setup.config, options=replace(
        setup.config.options, nameservers=(Nameserver.parse(f"127.0.0.1:{closed}"),)),
        rules=replace(setup.config.rules, cannot_check_rounds=2)))
    results = [Round(store, blind, cancel=threading.Event()).run() for _ in range(3)]
    assert [r.status for r in results] == [FAILED, FAILED, FAILED]
    assert [[i.kind for i in r.items] for r in results] == [[], [NO_NETWORK], []]  # said once
    assert store.count() == 1  # nothing stored for the failed rounds
    assert store.agent.states(DOMAIN) == known  # no check counted an error for those rounds
    assert _round(agent).status == OK


def test_a_stop_during_a_round_stores_nothing_half(agent: tuple[Store, Setup], zone: Zone) -> None:
    store, _setup = agent
    _round(agent)
    zone.set_policy("none")
    stop = threading.Event()

    def stopped(_seconds: float) -> bool:
        stop.set()
        return True

    result = _round(agent, pause=stopped, cancel=stop)
    assert result.status == INTERRUPTED and store.count() == 1
    assert store.agent.rounds()[-1].status == INTERRUPTED
    assert [(i.kind, i.key) for i in _round(agent).items if i.kind != SCORE] == [(NEW_FAIL, DMARC_KEY)]


def test_a_domain_that_cannot_be_scanned_while_others_can_is_alerted_once(zone: Zone, tmp_path: Path) -> None:
    text = f"""
domains: [{DOMAIN}, gone.test]
options: {{timeout: 0.5, nameserver: ["{zone.server.nameserver}"], allow_private: true}}
rules: {{confirm_after: 0}}
"""
    setup = prepare(parse_config(text, where="agent.yaml", base=tmp_path), "en")
    with open_store(tmp_path / "history.sqlite") as store:
        rounds = [Round(store, setup, cancel=threading.Event()).run() for _ in range(3)]
    kinds = [[(i.kind, i.domain) for i in r.items] for r in rounds]
    assert kinds[0] == [(SUMMARY, DOMAIN), ("unscannable", "gone.test")]
    assert kinds[1] == kinds[2] == []  # said once, while it stays so
    assert rounds[0].detail["unscannable"]["gone.test"]["confirmed"]


def test_the_schedule_counts_from_the_last_round_that_ran_and_an_interrupted_one_is_run_again(
        agent: tuple[Store, Setup]) -> None:
    store, setup = agent
    stop = threading.Event()
    recent = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
    number = store.agent.start_round(recent)
    store.agent.finish_round(number, INTERRUPTED, recent, {})
    assert serve(store, setup, cancel=stop, max_rounds=1) == 1  # due at once: the interrupted one did nothing
    assert [r.status for r in store.agent.rounds()] == [INTERRUPTED, OK]
    timer = threading.Timer(1.0, stop.set)  # the next round is a day away: serve waits until stopped
    timer.start()
    began = time.monotonic()
    assert serve(store, setup, cancel=stop) == 0
    assert 0.9 < time.monotonic() - began < 10
    timer.cancel()


def test_a_round_marks_one_left_running_by_a_dead_process_as_abandoned(agent: tuple[Store, Setup]) -> None:
    store, _setup = agent
    store.agent.start_round("2026-01-01T00:00:00+00:00")  # its process was killed
    _round(agent)
    assert [r.status for r in store.agent.rounds()] == ["abandoned", OK]
