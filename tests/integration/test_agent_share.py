"""The agent shares anonymised scores with a real hub: ``cyberscan agent --once`` processes, round after
round, against a zone on loopback (in this process) and ``cyberscan hub serve`` (gunicorn, SQLite) on a
free loopback port, which the test stops and starts in between. What counts is what the hub stored,
read from its database.

 1. the hub is up: the round's summary is stored; it is exactly what ``cyberscan submit`` sends for
    the same assessment (same organisation id and submission id: the hub answers "already stored")
 2. the hub is down: the round is ok all the same, one log line says so, the summary waits
 3. the hub is back: the waiting summary and the new one are both stored, once each
 4. a summary sent again (its answer lost): "already stored", not an error
 5. SIGTERM while the round waits to confirm a regression: nothing is shared
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cyberscan.agent.deliver import HUB_CHANNEL
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.history import open_store
from cyberscan.share import identity
from tests.integration.hubserver import Hub, create_token

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("cyberscan"))
DOMAIN = "museum.test"
ZONE = """$TTL 300
@ SOA ns1.museum.test. hostmaster.museum.test. 1 3600 600 86400 300
@ NS ns1.museum.test.
ns1 A 127.0.0.1
@ MX 10 mail.museum.test.
mail A 127.0.0.1
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p={policy}; rua=mailto:dmarc@museum.test"
"""


@dataclass
class Setting:
    folder: Path
    hub: Hub
    database: str
    token: str
    zones: ZoneSet

    @property
    def db(self) -> Path:
        return self.folder / "history.sqlite"

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CYBERSCAN")}
        return {**base, "XDG_DATA_HOME": str(self.folder / "xdg"), "CYBERSCAN_DB": str(self.db)}

    def once(self, *, stop_at_pause: bool = False) -> list[dict[str, Any]]:
        proc = subprocess.Popen([CLI, "agent", "--config", str(self.folder / "agent.yaml"), "--log-format", "json",
                                 "--once"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env())
        assert proc.stderr is not None
        lines = []
        for raw in proc.stderr:
            assert "Traceback" not in raw, raw + proc.stderr.read()
            assert self.token not in raw
            entry = json.loads(raw)
            lines.append(entry)
            if stop_at_pause and "checking again in" in entry["message"]:
                proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=300) == 0, lines
        return lines

    def stored(self) -> dict[str, dict[str, Any]]:
        """What the hub stored: submission id -> the row."""
        with sqlite3.connect(self.database.removeprefix("sqlite:///")) as conn:
            rows = conn.execute("SELECT submission_id, organisation, sector, size, province, payload "
                                "FROM hub_submission").fetchall()
        return {r[0]: {"organisation": r[1], "sector": r[2], "size": r[3], "province": r[4],
                       "payload": json.loads(r[5])} for r in rows}


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setting]:
    pytest.importorskip("django")
    folder = tmp_path_factory.mktemp("agent-share")
    zones = ZoneSet()
    zones.add_text(f"{DOMAIN}.", ZONE.format(policy="reject"))
    database = f"sqlite:///{folder / 'hub.sqlite3'}"
    token = create_token(database, folder)
    (folder / "hub.token").write_text(token + "\n")
    (folder / "hub.token").chmod(0o600)
    with LocalDnsServer(zones) as dns, Hub(database, folder) as hub:
        (folder / "agent.yaml").write_text(f"""
domains: [{DOMAIN}]
options: {{timeout: 1, nameserver: ["{dns.nameserver}"], allow_private: true}}
lang: en
rules: {{confirm_after: 5s, retry_first: 1s}}
share:
  submit: true
  hub: {hub.url}
  token_file: hub.token
  sector: archive
  size: medium
  province: zeeland
""")
        yield Setting(folder, hub, database, token, zones)


def _hub_lines(lines: list[dict[str, Any]], word: str) -> list[dict[str, Any]]:
    return [e for e in lines if e["message"].startswith("hub ") and word in e["message"]]


def _rounds(setting: Setting) -> list[str]:
    with open_store(setting.db) as store:
        return [r.status for r in store.agent.rounds()]


def _waiting(setting: Setting) -> list[dict[str, Any]]:
    with open_store(setting.db) as store:
        return [dict(r.message["summary"]) for r in store.agent.pending() if r.channel == HUB_CHANNEL]


def test_the_agent_shares_each_round_with_a_real_hub_through_its_downtime(setting: Setting) -> None:
    # 1. the hub is up
    lines = setting.once()
    stored = setting.stored()
    assert len(stored) == 1 and len(_hub_lines(lines, "1 summary(ies) stored")) == 1
    ident = identity.load(setting.folder / "xdg" / "cyberscan")  # where cyberscan submit keeps it
    assert ident is not None
    (row,) = stored.values()
    assert (row["organisation"], row["sector"], row["size"], row["province"]) == (ident.id, "archive", "medium",
                                                                                    "zeeland")
    assert row["payload"]["complete"] is True and DOMAIN not in json.dumps(row["payload"])
    year, week, _ = datetime.now(UTC).isocalendar()
    assert row["payload"]["week"] == f"{year}-W{week:02d}"
    # ... and it is what `cyberscan submit` sends for the same assessment: the hub already has it
    again = subprocess.run([CLI, "submit", "--hub", setting.hub.url, "--token-file", str(setting.folder / "hub.token"),
                            "--lang", "en"], env=setting.env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "already had this submission" in again.stdout + again.stderr and setting.token not in again.stdout
    assert setting.stored().keys() == stored.keys()

    # 2. the hub is down: the round is ok all the same, the summary waits
    setting.hub.stop()
    lines = setting.once()
    (failed,) = _hub_lines(lines, "not sent")
    assert failed["level"] == "warning" and "hub.unreachable" in failed["message"]
    assert _rounds(setting) == ["ok", "ok"] and len(_waiting(setting)) == 1

    # 3. the hub is back: the waiting summary (at the start of the round) and the new one (at its end)
    waiting = _waiting(setting)[0]["submission_id"]
    time.sleep(1.5)  # retry_first
    setting.hub.start()
    lines = setting.once()
    stored = setting.stored()
    assert len(stored) == 3 and waiting in stored and _waiting(setting) == []
    assert _rounds(setting) == ["ok", "ok", "ok"]
    with open_store(setting.db) as store:
        sent = {r.message["summary"]["submission_id"]: r.message["summary"] for r in store.agent.sent()
                if r.channel == HUB_CHANNEL}
    assert sent.keys() == stored.keys()
    assert all(stored[sid]["payload"] == summary for sid, summary in sent.items())  # stored as sent

    # 4. a summary sent again, as when the hub's answer was lost: "already stored", not an error
    with open_store(setting.db) as store:
        store.agent.enqueue(HUB_CHANNEL, {"domain": DOMAIN, "summary": sent[waiting]},
                            datetime.now(UTC).isoformat(timespec="seconds"))
    lines = setting.once()
    assert len(setting.stored()) == 4 and _waiting(setting) == []
    assert _hub_lines(lines, "1 already stored") and not _hub_lines(lines, "not sent")

    # 5. SIGTERM while the round waits to confirm a regression: an interrupted round shares nothing
    setting.zones.add_text(f"{DOMAIN}.", ZONE.format(policy="none"))
    lines = setting.once(stop_at_pause=True)
    assert _rounds(setting)[-1] == "interrupted"
    assert len(setting.stored()) == 4 and _waiting(setting) == []
    assert setting.token.encode() not in setting.db.read_bytes()
