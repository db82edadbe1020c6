"""The agent shares anonymised scores with DEN's hub: rounds in this process, against a zone served on
loopback and a small hub on loopback that stores what it accepts (by submission id, valid against the
published schema, as the real hub does; the real hub is in tests/integration/test_agent_share.py).

The hub goes down, answers 503 and 429, refuses the token, then recovers: no round fails, each
failure is logged once per try, and every summary that waited arrives exactly once."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cyberscan.agent import sharing
from cyberscan.agent.config import parse_config
from cyberscan.agent.deliver import HUB_CHANNEL
from cyberscan.agent.rounds import (
    FAILED,
    INTERRUPTED,
    OK,
    Round,
    RoundResult,
    Setup,
    deliver_due,
    next_delivery,
    prepare,
)
from cyberscan.assessment import reassess
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.history import Store, open_store
from cyberscan.options import Nameserver
from cyberscan.share import identity
from cyberscan.share.summary import validate

DOMAINS = ("museum.test", "archief.test")
TOKEN = "cst_unit-Tok3n-9f1b7c"
ZONE = """$TTL 300
@ SOA ns1.{d}. hostmaster.{d}. 1 3600 600 86400 300
@ NS ns1.{d}.
ns1 A 127.0.0.1
@ MX 10 mail.{d}.
mail A 127.0.0.1
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p={policy}; rua=mailto:dmarc@{d}"
"""


class Zone:
    def __init__(self) -> None:
        self.zones = ZoneSet()
        self.set_policy("reject")
        self.server = LocalDnsServer(self.zones)

    def set_policy(self, policy: str) -> None:
        for domain in DOMAINS:
            self.zones.add_text(f"{domain}.", ZONE.format(d=domain, policy=policy))


class Hub:
    """A hub on loopback: ``POST /api/submissions`` with the bearer token, a summary valid against the
    published schema, stored once per submission id (201, then 200; 409 for another summary under the
    same id). ``answers`` are answered first, one per request: a status, or ``"store-then-503"`` (the
    summary is stored but the answer is lost). ``down()`` closes the port, ``up()`` opens it again."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.answers: list[int | str] = []
        self.requests = 0
        self.headers: list[dict[str, str]] = []
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.up()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any], retry: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry:
                    self.send_header("Retry-After", retry)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                outer.requests += 1
                outer.headers.append(dict(self.headers))
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                planned = outer.answers.pop(0) if outer.answers else None
                if self.path != "/api/submissions":
                    return self._answer(404, {"detail": "not found"})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"detail": "token"})
                if isinstance(planned, int):
                    return self._answer(planned, {"detail": "planned"}, retry="1" if planned == 429 else None)
                summary = json.loads(raw)
                problems = validate(summary)
                if problems:
                    return self._answer(400, {"detail": "invalid", "errors": problems})
                sid = summary["submission_id"]
                if sid in outer.stored:
                    same = outer.stored[sid] == summary
                    return self._answer(200 if same else 409, {"submission_id": sid, "stored": False})
                outer.stored[sid] = summary
                if planned == "store-then-503":
                    return self._answer(503, {"detail": "lost"})
                return self._answer(201, {"submission_id": sid, "stored": True})

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class Lines(logging.Handler):
    """The agent's log lines (its own handler: another test may have turned propagation off)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def about_the_hub(self, word: str) -> list[str]:
        return [line for line in self.lines if line.startswith("hub ") and word in line]


@pytest.fixture(scope="module")
def zone() -> Iterator[Zone]:
    z = Zone()
    with z.server:
        yield z


@pytest.fixture
def hub() -> Iterator[Hub]:
    running = Hub()
    yield running
    running.down()


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("cyberscan")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


class Clock:
    """The agent's clock: now, plus whatever the test lets pass (so a back-off runs out at once)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.offset

    def later(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def agent(zone: Zone, hub: Hub, tmp_path: Path) -> Iterator[tuple[Store, Setup]]:
    zone.set_policy("reject")
    (tmp_path / "hub.token").write_text(TOKEN + "\n")
    (tmp_path / "hub.token").chmod(0o600)
    (tmp_path / "ids").mkdir()
    text = f"""
domains: [{", ".join(DOMAINS)}]
options: {{timeout: 0.5, nameserver: ["{zone.server.nameserver}"], allow_private: true}}
lang: en
rules: {{confirm_after: 0, retry_first: 60s, retry_max: 1h}}
share:
  submit: true
  hub: {hub.url}
  token_file: hub.token
  sector: museum
  size: small
  province: utrecht
  identity_folder: ids
  timeout: 5
"""
    setup = prepare(parse_config(text, where="agent.yaml", base=tmp_path, environ={}), "en")
    with open_store(tmp_path / "history.sqlite") as store:
        yield store, setup


def _round(agent: tuple[Store, Setup], clock: Clock, **kwargs: Any) -> RoundResult:
    store, setup = agent
    return Round(store, setup, cancel=kwargs.pop("cancel", threading.Event()), clock=clock, **kwargs).run()


def _waiting(store: Store) -> list[str]:
    return [row.message["summary"]["submission_id"] for row in store.agent.pending() if row.channel == HUB_CHANNEL]


def test_each_domain_s_summary_reaches_the_hub_as_cyberscan_submit_would_send_it(
        agent: tuple[Store, Setup], hub: Hub, tmp_path: Path, lines: Lines) -> None:
    store, _setup = agent
    result = _round(agent, Clock())
    assert result.status == OK
    assert result.detail["hub"] == {"queued": 2, "stored": 2, "already": 0, "waiting": 0, "gave_up": 0}
    assert len(hub.stored) == 2 and _waiting(store) == []
    ident = identity.load(tmp_path / "ids")
    assert ident is not None and ident.organisation is not None and ident.organisation.sector == "museum"
    for summary in hub.stored.values():
        assert validate(summary) == []
        assert summary["organisation"] == ident.id and summary["complete"] is True
        assert (summary["sector"], summary["size"], summary["province"]) == ("museum", "small", "utrecht")
        sent = json.dumps(summary)
        assert not any(d in sent for d in DOMAINS) and "127.0.0.1" not in sent
    # the first domain of the configuration goes last: the hub keeps an organisation's latest summary
    order = [row.message["domain"] for row in store.agent.sent() if row.channel == HUB_CHANNEL]
    assert order == list(reversed(DOMAINS))
    assert hub.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert lines.about_the_hub("stored") and not any(TOKEN in line for line in lines.lines)


def test_a_hub_that_is_down_answers_503_429_or_refuses_the_token_never_fails_a_round(
        agent: tuple[Store, Setup], hub: Hub, tmp_path: Path, lines: Lines) -> None:
    store, setup = agent
    clock = Clock()
    hub.down()
    down = _round(agent, clock)
    assert down.status == OK and down.detail["hub"]["waiting"] == 2
    assert len(lines.about_the_hub("not sent")) == 1  # once for the round, not once per summary
    assert "hub.unreachable" in lines.about_the_hub("not sent")[0]
    assert store.count() == 2 and len(_waiting(store)) == 2

    hub.up()
    clock.later(seconds=61)  # the back-off ran out
    hub.answers = [503]
    assert _round(agent, clock).status == OK and len(_waiting(store)) == 4 and hub.stored == {}
    assert hub.requests == 1  # the hub failed on the first: the others wait with it

    clock.later(minutes=3)
    hub.answers = [429]
    assert _round(agent, clock).status == OK and len(_waiting(store)) == 6

    good = setup.config.share
    assert good is not None
    wrong = replace(setup, config=replace(setup.config, share=replace(good, token=replace(good.token, value="cst_revoked"))))
    clock.later(minutes=10)
    assert Round(store, wrong, cancel=threading.Event(), clock=clock).run().status == OK
    assert len(_waiting(store)) == 8 and hub.stored == {}
    failures = lines.about_the_hub("not sent")
    assert len(failures) == 4
    assert ["hub.unreachable" in failures[0], "503" in failures[1], "hub.rate-limited" in failures[2],
            "hub.token-refused" in failures[3]] == [True] * 4

    # the rounds while the hub was away each made their summaries; one round while it is back sends them all
    waited = _waiting(store)
    clock.later(hours=2)
    back = _round(agent, clock)
    assert back.detail["hub"] == {"queued": 2, "stored": 10, "already": 0, "waiting": 0, "gave_up": 0}
    assert set(waited) <= set(hub.stored) and len(hub.stored) == 10 and _waiting(store) == []
    assert [r.status for r in store.agent.rounds()] == [OK] * 5
    everything = "\n".join(lines.lines) + (tmp_path / "history.sqlite").read_bytes().decode("latin-1")
    assert TOKEN not in everything and "cst_revoked" not in everything


def test_while_the_hub_waits_new_summaries_wait_with_it_and_are_retried_between_rounds(
        agent: tuple[Store, Setup], hub: Hub, lines: Lines) -> None:
    store, setup = agent
    clock = Clock()
    hub.answers = [503]
    _round(agent, clock)
    retry = next_delivery(store, setup)
    assert retry is not None and retry > clock().isoformat()
    _round(agent, clock)  # in back-off: the new summaries join the waiting ones, nothing is tried
    assert hub.requests == 1 and len(_waiting(store)) == 4 and len(lines.about_the_hub("not sent")) == 1
    assert {row.next_attempt for row in store.agent.pending()} == {retry}
    clock.later(seconds=61)
    deliver_due(store, setup, clock=clock)  # what the long-running agent does between rounds
    assert len(hub.stored) == 4 and _waiting(store) == [] and next_delivery(store, setup) is None


def test_a_resubmission_is_already_stored_not_an_error(agent: tuple[Store, Setup], hub: Hub, lines: Lines) -> None:
    store, _setup = agent
    clock = Clock()
    hub.answers = ["store-then-503"]  # the hub stored the first summary, its answer got lost
    first = _round(agent, clock)
    assert first.detail["hub"]["waiting"] == 2 and len(hub.stored) == 1
    clock.later(seconds=61)
    second = _round(agent, clock)
    assert second.detail["hub"] == {"queued": 2, "stored": 3, "already": 1, "waiting": 0, "gave_up": 0}
    assert len(hub.stored) == 4 and _waiting(store) == []
    assert lines.about_the_hub("1 already stored")


def test_a_summary_refused_for_good_is_given_up_and_the_others_still_go(
        agent: tuple[Store, Setup], hub: Hub, lines: Lines) -> None:
    store, _setup = agent
    hub.answers = [422]  # e.g. a quarter the hub has closed
    result = _round(agent, Clock())
    assert result.status == OK
    assert result.detail["hub"] == {"queued": 2, "stored": 1, "already": 0, "waiting": 0, "gave_up": 1}
    assert len(hub.stored) == 1 and _waiting(store) == []
    assert len(lines.about_the_hub("given up")) == 1


def test_an_interrupted_round_or_a_round_without_network_shares_nothing(
        agent: tuple[Store, Setup], zone: Zone, hub: Hub, tmp_path: Path) -> None:
    store, setup = agent
    clock = Clock()
    _round(agent, clock)
    assert len(hub.stored) == 2
    zone.set_policy("none")  # a regression: the round pauses to confirm it, and is stopped meanwhile
    stop = threading.Event()

    def stopped(_seconds: float) -> bool:
        stop.set()
        return True

    assert _round(agent, clock, pause=stopped, cancel=stop).status == INTERRUPTED
    assert len(hub.stored) == 2 and _waiting(store) == [] and store.count() == 2
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # closed again when the socket is: no nameserver answers there
    blind = replace(setup, config=replace(setup.config, options=replace(
        setup.config.options, nameservers=(Nameserver.parse(f"127.0.0.1:{closed}"),))))
    assert Round(store, blind, cancel=threading.Event(), clock=clock).run().status == FAILED
    assert len(hub.stored) == 2 and _waiting(store) == []
    zone.set_policy("reject")


def test_an_incomplete_assessment_is_never_summarised(agent: tuple[Store, Setup], hub: Hub) -> None:
    store, setup = agent
    _round(agent, Clock())
    assert setup.config.share is not None
    whole = reassess(store.scan(store.list()[0].id or 0, setup.registry), catalogue=setup.catalogue,
                     registry=setup.registry)
    cut = replace(whole, scan=replace(whole.scan, complete=False))  # as a scan stopped half-way is
    assert whole.complete and not cut.complete
    found = sharing.summaries({"museum.test": whole, "archief.test": cut}, setup.config.share, "en")
    assert [domain for domain, _ in found] == ["museum.test"]


def test_sharing_turned_off_leaves_waiting_summaries_alone_and_never_wakes_the_agent(
        agent: tuple[Store, Setup], hub: Hub) -> None:
    store, setup = agent
    hub.down()
    _round(agent, Clock())
    assert len(_waiting(store)) == 2 and next_delivery(store, setup) is not None
    off = replace(setup, config=replace(setup.config, share=None))
    assert next_delivery(store, off) is None  # no alert channel, no hub: nothing to wake for
    deliver_due(store, off, clock=lambda: datetime.now(UTC) + timedelta(days=1))
    assert len(_waiting(store)) == 2  # kept for when sharing is on again


def test_the_agent_remembers_what_it_queued_and_sent_and_never_queues_it_twice(
        agent: tuple[Store, Setup], hub: Hub, lines: Lines) -> None:
    store, setup = agent
    assert setup.config.share is not None
    _round(agent, Clock())
    assert len(hub.stored) == 2 and hub.requests == 2
    assessment = reassess(store.scan(store.list()[0].id or 0, setup.registry), catalogue=setup.catalogue,
                          registry=setup.registry)
    found = sharing.summaries({"museum.test": assessment}, setup.config.share, "en")
    assert len(found) == 1 and found[0][1]["submission_id"] in hub.stored  # that summary went this round
    now = datetime.now(UTC)
    assert sharing.queue(store.agent, found, now, "en") == 0  # sent already: not again
    assert _waiting(store) == []
    hub.down()
    other = replace(assessment, scan=replace(assessment.scan, started=(now - timedelta(days=1)).isoformat()))
    fresh = sharing.summaries({"museum.test": other}, setup.config.share, "en")
    assert fresh[0][1]["submission_id"] not in hub.stored
    assert sharing.queue(store.agent, fresh, now, "en") == 1
    assert sharing.queue(store.agent, fresh, now, "en") == 0  # waiting already: not twice
    assert _waiting(store) == [fresh[0][1]["submission_id"]]
    assert hub.requests == 2
