"""Delivery through the outbox: retried with back-off, given up after a while, never a secret stored;
the webhook is signed (HMAC-SHA256 over the exact body) and the e-mail says what it is."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cyberscan.agent.config import Email, Rules, Secret, Smtp, Webhook
from cyberscan.agent.deliver import backoff, enqueue, flush, senders
from cyberscan.agent.messages import Message
from cyberscan.history import open_store
from tests.fixtures.receivers import SmtpSink
from tests.fixtures.receivers import Webhook as Receiver

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
RULES = Rules(retry_first=60, retry_max=600, give_up_after=3600)
SECRET = "webhook-signing-key-0451"


def _message() -> Message:
    payload = {"type": "cyberscan.agent", "id": "abc123", "items": [{"kind": "new-fail", "key": "k"}], "text": "hallo"}
    return Message("abc123", "cyberscan: 1 wijziging", "Er is iets veranderd.\n", payload)


def test_backoff_doubles_up_to_the_maximum() -> None:
    assert [backoff(n, RULES) for n in range(1, 7)] == [60, 120, 240, 480, 600, 600]


def test_a_webhook_that_is_down_is_retried_with_backoff_then_delivered_signed(tmp_path: Path) -> None:
    with Receiver(SECRET) as hook, open_store(tmp_path / "h.sqlite") as store:
        channels = senders(None, Webhook(hook.url, Secret(SECRET, "test")))
        hook.status = 503
        enqueue(store.agent, _message(), channels, T0, "nl")
        assert flush(store.agent, channels, RULES, T0, "nl") == (0, 1)
        assert flush(store.agent, channels, RULES, T0 + timedelta(seconds=30), "nl") == (0, 0)  # not due yet
        assert hook.attempts == 1
        assert flush(store.agent, channels, RULES, T0 + timedelta(seconds=60), "nl") == (0, 1)
        (row,) = store.agent.pending()
        assert row.attempts == 2 and row.last_error == "HTTP 503 Service Unavailable"
        assert row.next_attempt == (T0 + timedelta(seconds=180)).isoformat()  # 60 + 120
        hook.status = 204
        assert flush(store.agent, channels, RULES, T0 + timedelta(seconds=180), "nl") == (1, 0)
        assert hook.attempts == 3 and store.agent.pending() == []
        (got,) = hook.received
        assert got.signed and got.body["id"] == "abc123" and got.headers["X-Cyberscan-Delivery"] == "abc123"
    assert SECRET.encode() not in (tmp_path / "h.sqlite").read_bytes()


def test_a_message_that_cannot_be_delivered_is_given_up_and_stays_on_record(tmp_path: Path) -> None:
    with Receiver(SECRET) as hook, open_store(tmp_path / "h.sqlite") as store:
        channels = senders(None, Webhook(hook.url, Secret(SECRET, "test")))
        hook.status = 500
        enqueue(store.agent, _message(), channels, T0, "nl")
        moment = T0
        for _ in range(20):
            flush(store.agent, channels, RULES, moment, "nl")
            if not store.agent.pending():
                break
            moment = datetime.fromisoformat(store.agent.pending()[0].next_attempt)
        assert store.agent.pending() == []
        assert moment - T0 <= timedelta(seconds=RULES.give_up_after)
        assert 3 <= hook.attempts <= 10


def test_a_wrong_signature_key_is_detected_by_the_receiver(tmp_path: Path) -> None:
    with Receiver(SECRET) as hook, open_store(tmp_path / "h.sqlite") as store:
        channels = senders(None, Webhook(hook.url, Secret("another-key", "test")))
        enqueue(store.agent, _message(), channels, T0, "nl")
        flush(store.agent, channels, RULES, T0, "nl")
        (got,) = hook.received
        assert not got.signed


def test_email_through_a_mail_server_that_refuses_for_a_while(tmp_path: Path) -> None:
    with SmtpSink() as sink, open_store(tmp_path / "h.sqlite") as store:
        mail = Email(("it@museum.test", "dir@museum.test"), "agent@museum.test",
                     Smtp("127.0.0.1", sink.port, security="none", timeout=5))
        channels = senders(mail, None)
        sink.refuse = True
        enqueue(store.agent, _message(), channels, T0, "nl")
        assert flush(store.agent, channels, RULES, T0, "nl") == (0, 1)
        assert "451" in (store.agent.pending()[0].last_error or "")
        sink.refuse = False
        assert flush(store.agent, channels, RULES, T0 + timedelta(minutes=1), "nl") == (1, 0)
        (got,) = sink.messages
        assert got["Subject"] == "cyberscan: 1 wijziging" and got["To"] == "it@museum.test, dir@museum.test"
        assert got["Auto-Submitted"] == "auto-generated" and got["X-Cyberscan-Message"] == "abc123"
        assert got.get_content().strip() == "Er is iets veranderd."


def test_an_unreachable_mail_server_is_a_failed_attempt_not_an_exception(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        port = sink.port  # closed again once the sink is gone
    with open_store(tmp_path / "h.sqlite") as store:
        channels = senders(Email(("it@museum.test",), "a@museum.test", Smtp("127.0.0.1", port, security="starttls",
                                                                              timeout=2)), None)
        enqueue(store.agent, _message(), channels, T0, "en")
        assert flush(store.agent, channels, replace(RULES), T0, "en") == (0, 1)
        assert "ConnectionRefusedError" in (store.agent.pending()[0].last_error or "")
