"""The agent as a volunteer runs it: a real ``cyberscan agent`` process, round after round, against real
servers whose configuration the test changes in between, with its alerts caught by a real Postfix
(STARTTLS + SASL AUTH, delivered to a Maildir) and a local webhook receiver that checks the signature.

The servers: the session's BIND9 serving agent.test (tests/fixtures/zones/bind9/agent.test.zone;
rewritten and BIND restarted to change it), nginx serving its website with a certificate the test
swaps, small listeners for a remote desktop and VNC on the same address, Postfix on port 587 of an
address of the test process's own loopback block.
nmap is kept off the agent's PATH, so the built-in connect scan looks at the ports (quick and
deterministic).

Rounds (``--once``, as cron or a systemd timer runs it):

 1. first round: one overview, not an alert per finding
 2. nothing changed: nothing
 3. DMARC switched back to p=none: one message (two findings: the DMARC policy, and a domain
    without mail that no longer rejects spoofing)
 4. the certificate swapped for one that expires in 5 days (of 30): one alert
 5. a remote desktop opened: one alert
 6. the website does not answer for one round (nginx stopped): nothing
 7. VNC opened, and closed again while the agent waits to confirm: a flap, nothing
 8. the remote desktop closed; 9. opened again: it cleared two rounds ago, so it is not new: nothing
10. the mail server is down and SPF becomes +all: the webhook has the alert, the e-mail waits in the
    outbox, the round and its assessment are saved all the same
11. the mail server is back: the waiting e-mail is delivered, nothing new is said

Besides: SIGTERM in the middle of a round (exit 0, nothing half saved, a second agent meanwhile finds
the lock taken), and a broken configuration (exit 2, the line named, nothing started).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cyberscan.history import open_store
from tests.conftest import require_binary
from tests.fixtures.certs import TestPki
from tests.fixtures.receivers import Webhook
from tests.integration import mailbox as mailbox_mod
from tests.integration import nginx as nginx_mod
from tests.integration.bind9 import NS1, Bind9
from tests.integration.exposed_listeners import RDP, VNC, Listeners

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("cyberscan"))
DOMAIN = "agent.test"
WEB = nginx_mod.ADDRESSES["good"]
SECRET = "hook-key-7f3a9c"
SMTP_PASSWORD = "smtp-pass-51d2e8"
SMTP_USER = "agent@agent.test"
DMARC = f"mail.dmarc.policy|{DOMAIN}||||"
NONSENDING = f"mail.nonsending|{DOMAIN}||||"  # a domain without mail should reject spoofing: DMARC none fails it too
SPF = f"mail.spf|{DOMAIN}||||"
RDP_KEY = f"net.exposed.rdp|{DOMAIN}||{WEB}|3389|"  # then the service name
QUIET = {"summary", "score"}  # items that are not an alert about one change


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.create(tmp_path_factory.mktemp("agent-pki"))


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, pki: TestPki) -> Iterator[nginx_mod.Nginx]:
    server = nginx_mod.start(require_binary("nginx"), tmp_path_factory.mktemp("agent-nginx"), pki, {"good": DOMAIN})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mailbox(pki: TestPki) -> Iterator[mailbox_mod.Mailbox]:
    require_binary("saslpasswd2")
    box = mailbox_mod.start(require_binary("postfix"), pki, user=SMTP_USER, password=SMTP_PASSWORD)
    yield box
    box.remove()


@pytest.fixture
def zone(bind9: tuple[Bind9, Path]) -> Iterator[Callable[[str, str], None]]:
    server, _ca = bind9
    source = server.folder / f"{DOMAIN}.db"
    original = source.read_text(encoding="utf-8")

    def change(old: str, new: str) -> None:
        text = source.read_text(encoding="utf-8")
        assert old in text
        source.write_text(text.replace(old, new), encoding="utf-8")
        server.stop()
        server.start()

    yield change
    if source.read_text(encoding="utf-8") != original:
        source.write_text(original, encoding="utf-8")
        server.stop()
        server.start()


@dataclass
class Agent:
    folder: Path
    config: Path
    db: Path

    def env(self) -> dict[str, str]:
        empty = self.folder / "bin"  # no nmap here: the built-in connect scan looks at the ports
        empty.mkdir(exist_ok=True)
        return {**{k: v for k, v in os.environ.items() if not k.startswith("CYBERSCAN")}, "PATH": str(empty)}

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([CLI, "agent", "--config", str(self.config), "--log-format", "json", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env())

    def once(self, *, during_pause: Callable[[], None] | None = None, code: int = 0) -> list[dict[str, Any]]:
        """One round; ``during_pause`` runs while the agent waits to confirm a regression."""
        proc = self.start("--once")
        assert proc.stderr is not None
        lines: list[dict[str, Any]] = []
        for raw in proc.stderr:
            assert "Traceback" not in raw, raw + proc.stderr.read()
            assert SECRET not in raw and SMTP_PASSWORD not in raw
            entry = json.loads(raw)
            lines.append(entry)
            if during_pause is not None and "opnieuw controleren" in entry["message"]:
                during_pause()
                during_pause = None
        assert proc.wait(timeout=300) == code, lines
        return lines


def _config(folder: Path, pki: TestPki, mailbox: mailbox_mod.Mailbox, hook: Webhook, *, timeout: float = 2,
            **rules: Any) -> Path:
    (folder / "hook.key").write_text(SECRET + "\n")
    (folder / "smtp.pass").write_text(SMTP_PASSWORD + "\n")
    for name in ("hook.key", "smtp.pass"):
        (folder / name).chmod(0o600)
    settings = {"confirm_after": "3s", "retry_first": "1s", "flapping_rounds": 3, "cannot_check_rounds": 50, **rules}
    config = folder / "agent.yaml"
    config.write_text(f"""
# the agent of the acceptance test
domains: [{DOMAIN}]
options:
  timeout: {timeout}
  nameserver: ["{NS1}"]
  allow_private: true
  ca_bundle: {pki.ca_path}
  ports: true
  i_am_authorised: true
db: history.sqlite
schedule: {{every: 1h}}
alerts:
  webhook: {{url: "{hook.url}", secret_file: hook.key}}
  email:
    to: [it@museum.test]
    from: agent@agent.test
    smtp: {{host: {mailbox.address}, port: {mailbox.port}, user: {SMTP_USER}, password_file: smtp.pass,
            ca_file: {pki.ca_path}}}
rules: {json.dumps(settings)}
""", encoding="utf-8")
    return config


def _alerts(hook: Webhook) -> list[tuple[str, str]]:
    return [(i["kind"], i["key"]) for r in hook.received for i in r.body["items"] if i["kind"] not in QUIET]


def _said(lines: list[dict[str, Any]]) -> str:
    return "\n".join(str(line["message"]) for line in lines)


def test_rounds_against_changing_servers_alert_once_per_confirmed_change(
        zone: Callable[[str, str], None], web: nginx_mod.Nginx, mailbox: mailbox_mod.Mailbox, pki: TestPki,
        tmp_path: Path) -> None:
    with Webhook(SECRET) as hook:
        agent = Agent(tmp_path, _config(tmp_path, pki, mailbox, hook), tmp_path / "history.sqlite")

        # 1. the first round: one overview
        agent.once()
        assert [[i["kind"] for i in r.body["items"]] for r in hook.received] == [["summary"]]
        assert len(mailbox.messages(wait=20, count=1)) == 1
        # 2. nothing changed
        agent.once()
        assert len(hook.received) == 1

        # 3. DMARC back to p=none
        zone('"v=DMARC1; p=reject;"', '"v=DMARC1; p=none;"')
        agent.once()
        assert sorted(_alerts(hook)) == [("new-fail", DMARC), ("new-fail", NONSENDING)]  # two findings, one message
        assert len(hook.received) == 2

        # 4. the certificate swapped for one that expires in five days (it lives 30)
        now = datetime.now(UTC)
        pki.issue(DOMAIN, f"www.{DOMAIN}", file_stem="nginx-good", not_before=now - timedelta(days=25),
                  not_after=now + timedelta(days=5, hours=1))
        web.process.send_signal(signal.SIGHUP)  # nginx reads its certificate again
        time.sleep(1.5)
        agent.once()
        expiry = [a for a in _alerts(hook) if a[0] == "expiry"]
        assert len(expiry) == 1 and len(_alerts(hook)) == 3, _alerts(hook)  # one certificate, on apex and www

        # 5. a remote desktop opened on the web server
        with Listeners(WEB, {3389: RDP}):
            agent.once()
            kind, key = _alerts(hook)[-1]
            assert kind == "exposed" and key.startswith(RDP_KEY) and len(_alerts(hook)) == 4

            # 6. the website does not answer for one round
            os.killpg(web.process.pid, signal.SIGSTOP)
            try:
                timeout_round = agent.once(during_pause=lambda: os.killpg(web.process.pid, signal.SIGCONT))
            finally:
                os.killpg(web.process.pid, signal.SIGCONT)
            assert len(_alerts(hook)) == 4, _said(timeout_round)

            # 7. VNC opened, closed again before the confirmation
            vnc = Listeners(WEB, {5900: VNC}).__enter__()
            flap = agent.once(during_pause=lambda: vnc.__exit__(None, None, None))
            assert "verdwenen 1" in _said(flap) and len(_alerts(hook)) == 4

        # 8. the remote desktop closed (fixed) ...
        agent.once()
        # 9. ... and open again two rounds later: not new
        with Listeners(WEB, {3389: RDP}):
            back = agent.once()
        assert "terug na herstel 1" in _said(back) and len(_alerts(hook)) == 4

        # 10. the mail server is down and SPF becomes +all
        delivered = len(mailbox.messages())
        mailbox.stop()
        try:
            zone('"v=spf1 -all"', '"v=spf1 +all"')
            down = agent.once()
            assert _alerts(hook)[-1] == ("new-fail", SPF) and len(_alerts(hook)) == 5
            assert "niet afgeleverd" in _said(down)
            with open_store(agent.db) as store:
                (waiting,) = store.agent.pending()
                assert waiting.channel == "email" and waiting.attempts == 1
                assert store.agent.rounds()[-1].status == "ok"
                assert store.count() == 10
        finally:
            mailbox.start()
        # 11. the mail server is back: the message that waited goes out; nothing new is said
        time.sleep(1.2)
        agent.once()
        with open_store(agent.db) as store:
            assert store.agent.pending() == [] and store.count() == 11

    # what arrived, by e-mail and by webhook: the same messages, each change exactly once
    mails = mailbox.messages(wait=20, count=delivered + 1)
    assert len(mails) == len(hook.received) == 5, [m["Subject"] for m in mails]
    assert all(r.signed for r in hook.received)
    keys = [k for _, k in _alerts(hook)]
    assert len(keys) == len(set(keys)) == 5  # DMARC (and non-sending), the certificate, RDP, SPF
    assert [m["Subject"] for m in mails] == [r.body["subject"] for r in hook.received]
    first, dmarc, cert, rdp, _spf_hook = hook.received[0], hook.received[1], hook.received[2], hook.received[3], \
        hook.received[4]
    assert first.body["subject"] == f"cyberscan: eerste overzicht van {DOMAIN}"
    assert "DMARC" in dmarc.body["text"] and "Wat te doen:" in dmarc.body["text"]
    assert "verloopt over 5 dag(en)" in cert.body["text"] and "30 dagen geldig" in cert.body["text"]
    assert "3389" in rdp.body["text"]
    assert mails[-1]["Subject"] == hook.received[4].body["subject"]  # SPF: delivered a round late
    for mail in mails:
        assert mail["Auto-Submitted"] == "auto-generated" and mail["From"] == "agent@agent.test"
    # no secret anywhere: not in the store, not in what was sent
    stored = agent.db.read_bytes()
    for secret in (SECRET, SMTP_PASSWORD):
        assert secret.encode() not in stored
        assert all(secret not in m.as_string() for m in mails)
        assert all(secret not in json.dumps(r.body) for r in hook.received)
    listed = subprocess.run([CLI, "history", DOMAIN, "--db", str(agent.db), "--lang", "en"], capture_output=True,
                            text=True, timeout=60, env=agent.env())
    assert listed.returncode == 0 and f"History of {DOMAIN}" in listed.stdout


def test_sigterm_during_a_round_finishes_cleanly_and_a_second_agent_finds_the_lock(
        bind9: tuple[Bind9, Path], web: nginx_mod.Nginx, mailbox: mailbox_mod.Mailbox, pki: TestPki,
        tmp_path: Path) -> None:
    with Webhook(SECRET) as hook:
        # the website hangs and every read may wait 20 s: the round takes a while
        agent = Agent(tmp_path, _config(tmp_path, pki, mailbox, hook, timeout=20), tmp_path / "history.sqlite")
        os.killpg(web.process.pid, signal.SIGSTOP)
        try:
            proc = agent.start()
            assert proc.stderr is not None
            for raw in proc.stderr:
                if "ronde 1 begint" in json.loads(raw)["message"]:
                    break
            second = agent.once()  # a --once from cron while the service is in its round
            assert "een andere agent is al bezig" in _said(second)
            began = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rest = proc.stderr.read()
            assert proc.wait(timeout=30) == 0, rest
            assert time.monotonic() - began < 15
            assert "Traceback" not in rest and "SIGTERM" in rest
        finally:
            os.killpg(web.process.pid, signal.SIGCONT)
        with open_store(agent.db) as store:
            assert store.count() == 0  # nothing half saved
            assert [r.status for r in store.agent.rounds()] == ["interrupted"]
        assert hook.received == []


def test_a_broken_configuration_names_its_line_and_starts_nothing(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("domains: [agent.test]\nalerts:\n  webhook:\n    url: https://hooks.test/x\n"
                      "    secret: plain-text-secret\n", encoding="utf-8")
    done = subprocess.run([CLI, "agent", "--config", str(config), "--once"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert "regel 5" in done.stderr and "secret_file" in done.stderr and "Traceback" not in done.stderr
    assert "plain-text-secret" not in done.stderr
    assert not (tmp_path / "history.sqlite").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["agent.yaml"]
