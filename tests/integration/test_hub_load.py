"""The hub under load, on real PostgreSQL and on SQLite: 10,000 submissions from 50 concurrent clients,
with a restart in the middle (of PostgreSQL, or of the hub itself on SQLite). Every accepted
submission is stored exactly once, every rejected one gets a clear error, nothing is lost."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.fixtures.postgres import find_bin
from tests.integration.hubdata import summary
from tests.integration.hubserver import Hub, create_token

pytestmark = [pytest.mark.integration, pytest.mark.load]

CLIENTS = 50
TOTAL = 10_000


def _fresh_pg(dsn: str) -> str:
    import psycopg

    name = "hub_" + secrets.token_hex(6)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return dsn.rsplit("/", 1)[0] + "/" + name


def _stored_ids(database: str) -> list[str]:
    if database.startswith("sqlite"):
        with sqlite3.connect(database.removeprefix("sqlite:///")) as conn:
            return [r[0] for r in conn.execute("SELECT submission_id FROM hub_submission")]
    import psycopg

    with psycopg.connect(database) as conn:
        return [r[0] for r in conn.execute("SELECT submission_id FROM hub_submission")]


def _plan(tokens: list[str]) -> list[tuple[int, str, bytes, str]]:
    """(client, token, body, expectation) for every request: unique valid ones, exact resubmissions,
    invalid ones, conflicting ones and ones with an unknown token."""
    plan: list[tuple[int, str, bytes, str]] = []
    serial = 0
    for n in range(TOTAL):
        client = n % CLIENTS
        org = client * 10 + (n // CLIENTS) % 10  # ten organisations per client
        kind = (n // CLIENTS + client) % 50
        previous = next((p for p in reversed(plan) if p[3] == "stored" and p[0] == client), None)
        if kind == 7 and previous is not None:  # the same submission again: idempotent
            plan.append((client, tokens[client], previous[2], "again"))
            continue
        serial += 1
        body = summary(org, serial)
        if kind == 13:
            body["province"] = "atlantis"  # not in the schema
            plan.append((client, tokens[client], json.dumps(body).encode(), "invalid"))
        elif kind == 17:
            plan.append((client, tokens[client], b'{"submission_id": ', "invalid"))
        elif kind == 23:
            plan.append((client, "cst_unknown" + secrets.token_hex(8), json.dumps(body).encode(), "unauthorised"))
        else:
            plan.append((client, tokens[client], json.dumps(body).encode(), "stored"))
    return plan


BATCH = 20


def _post(url: str, token: str, body: bytes, session: requests.Session) -> tuple[int, Any]:
    """Post until the hub answers with something other than "not now" (restarts are expected)."""
    for _ in range(300):
        try:
            r = session.post(url, data=body, timeout=30,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        except requests.RequestException:
            time.sleep(0.2)
            continue
        if r.status_code in (502, 503, 429):
            time.sleep(0.2)
            continue
        return r.status_code, r.json()
    raise AssertionError("the hub never answered")


def _load(hub: Hub, database: str, folder: Path, restart: Callable[[], None]) -> None:
    tokens = create_token(database, folder, max_organisations=10, count=CLIENTS).split()
    plan = _plan(tokens)
    by_client: dict[int, list[tuple[int, str, bytes, str]]] = {}
    for item in plan:
        by_client.setdefault(item[0], []).append(item)
    answers: list[tuple[str, bytes, int, dict[str, Any]]] = []
    lock = threading.Lock()
    done = 0

    def client(items: list[tuple[int, str, bytes, str]]) -> None:
        nonlocal done
        session = requests.Session()
        batch: list[tuple[int, str, bytes, str]] = []

        def flush() -> None:
            nonlocal done
            if not batch:
                return
            body = b'{"submissions": [' + b",".join(b for _, _, b, _ in batch) + b"]}"
            status, data = _post(hub.url + "/api/submissions/batch", batch[0][1], body, session)
            assert status == 200, (status, data)
            with lock:
                for (_, _, b, expect), result in zip(batch, data["results"], strict=True):
                    answers.append((expect, b, result["status"], result))
                done += len(batch)
            batch.clear()

        for position, item in enumerate(items):
            _, token, body, expect = item
            broken = body.endswith(b": ")  # not JSON at all: it cannot travel inside a batch
            if expect == "unauthorised" or broken or position % 25 == 0:  # some one at a time, on the single endpoint
                flush()
                status, data = _post(hub.url + "/api/submissions", token, body, session)
                with lock:
                    answers.append((expect, body, status, data))
                    done += 1
                continue
            batch.append(item)
            if len(batch) == BATCH:
                flush()
        flush()

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, items) for items in by_client.values()]
        while done < TOTAL // 2 and not any(f.done() and f.exception() for f in futures):
            time.sleep(0.05)
        restart()
        for f in futures:
            f.result()

    assert len(answers) == TOTAL
    stored_expected = set()
    for expect, body, status, data in answers:
        if expect == "stored":
            # 201, or 200 when the first attempt was stored but its answer was lost in the restart
            assert status in (201, 200), (status, data)
            stored_expected.add(json.loads(body)["submission_id"])
        elif expect == "again":
            assert status == 200 and data["stored"] is False, (status, data)
        elif expect == "invalid":
            assert status == 400 and data["detail"] and data["errors"], (status, data)
        else:
            assert status == 401, (status, data)
    ids = _stored_ids(database)
    assert len(ids) == len(set(ids)), "a submission was stored twice"
    assert set(ids) == stored_expected, "accepted submissions are missing, or rejected ones were stored"
    lost_answers = sum(1 for e, _, s, _ in answers if e == "stored" and s == 200)
    assert lost_answers <= CLIENTS * BATCH  # only answers lost in the restart come back as "already stored"


@pytest.fixture
def hub_folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_load_on_postgresql_with_a_database_restart(postgres_dsn: str, hub_folder: Path) -> None:
    database = _fresh_pg(postgres_dsn)
    with Hub(database, hub_folder, workers=2) as hub:
        _load(hub, database, hub_folder, restart=lambda: _restart_postgres(postgres_dsn))


def _restart_postgres(dsn: str) -> None:
    """Stop PostgreSQL at once (as a crash would) and start it again on the same port."""
    import subprocess

    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    folder = Path(data_dir).parent
    where = urlsplit(dsn)
    host, port = where.hostname, where.port
    bindir = find_bin()
    assert bindir is not None
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # as tests/fixtures/postgres.py
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", data_dir, "-m", "immediate", "-w", "stop"],
                   check=True, capture_output=True, timeout=60)
    options = (f"-c listen_addresses={host} -c port={port} -c unix_socket_directories={folder} "
               "-c fsync=off -c max_connections=200")
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", data_dir, "-o", options, "-l", str(folder / "log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True, timeout=90)


def test_load_on_sqlite_with_a_hub_restart(hub_folder: Path) -> None:
    database = f"sqlite:///{hub_folder / 'hub.sqlite3'}"
    with Hub(database, hub_folder, workers=2) as hub:
        _load(hub, database, hub_folder, restart=hub.restart)
