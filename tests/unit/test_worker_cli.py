"""`cyberscan worker`, `worker submit` and `worker status` on the command line: refusals with a one-line
message in Dutch or English and the right exit code, and a base install that never imports Celery."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cyberscan.batch import parse_targets
from cyberscan.commands.worker import enqueue

from . import worker_fixtures as fixtures
from .history_fixtures import postgres_url

redis_server = fixtures.redis_server  # shared fixture


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*fixtures.CYBERSCAN, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def targets(tmp_path: Path) -> Path:
    path = tmp_path / "targets.csv"
    path.write_text("domain,organisation\nmuseum.test,Museum\narchief.test,Archief\n", encoding="utf-8")
    return path


def test_a_worker_refuses_an_sqlite_history_in_both_languages(tmp_path: Path) -> None:
    db = str(tmp_path / "history.sqlite")
    dutch = run("worker", "--broker", "redis://127.0.0.1:1/0", "--db", db)
    assert dutch.returncode == 2 and "meerdere machines kunnen geen SQLite-bestand delen" in dutch.stderr
    english = run("--lang", "en", "worker", "--broker", "redis://127.0.0.1:1/0", "--db", db)
    assert english.returncode == 2
    assert english.stderr.strip() == (f"cyberscan: workers need a shared history in PostgreSQL (--db postgresql://...); "
                                      f"{db} is a file, and several machines cannot share an SQLite file")


def test_without_a_db_the_worker_names_the_default_file_it_will_not_use() -> None:
    """tests/conftest.py points CYBERSCAN_DB at an SQLite file: that is what --db falls back to."""
    done = run("--lang", "en", "worker", "--broker", "redis://127.0.0.1:1/0")
    assert done.returncode == 2 and "history.sqlite is a file" in done.stderr


def test_a_worker_needs_a_broker() -> None:
    done = run("--lang", "en", "worker", "--db", "postgresql://x@127.0.0.1/x")
    assert done.returncode == 2 and "give the broker with --broker" in done.stderr


def test_a_broker_without_redis_needs_a_limiter_url() -> None:
    done = run("--lang", "en", "worker", "--broker", "amqp://guest:secret@127.0.0.1//", "--db",
               "postgresql://x@127.0.0.1/x")
    assert done.returncode == 2 and "needs Redis" in done.stderr and "secret" not in done.stderr


def test_an_unreachable_history_stops_the_worker_before_it_takes_a_task(redis_server: fixtures.RedisServer) -> None:
    gone = f"postgresql://cyberscan:pw@127.0.0.1:{fixtures.free_port()}/cyberscan"
    done = run("--lang", "en", "worker", "--broker", redis_server.url, "--db", gone)
    assert done.returncode == 4 and "cannot open the history" in done.stderr and ":pw@" not in done.stderr


def test_an_unreachable_limiter_stops_the_worker_before_it_takes_a_task(postgres_dsn: str) -> None:
    done = run("--lang", "en", "worker", "--broker", f"redis://127.0.0.1:{fixtures.free_port()}/0",
               "--db", postgres_url(postgres_dsn))
    assert done.returncode == 4 and "cannot reach Redis for the per-address limit" in done.stderr


def test_submit_refuses_sqlite_a_broken_targets_file_and_a_port_scan_without_consent(tmp_path: Path,
                                                                                    targets: Path) -> None:
    broker = ["--broker", "redis://127.0.0.1:1/0"]
    sqlite = run("--lang", "en", "worker", "submit", str(targets), *broker, "--db", str(tmp_path / "h.sqlite"))
    assert sqlite.returncode == 2 and "workers need a shared history in PostgreSQL" in sqlite.stderr
    broken = tmp_path / "broken.txt"
    broken.write_text("museum.test\nnot a domain\n", encoding="utf-8")
    bad = run("--lang", "en", "worker", "submit", str(broken), *broker, "--db", "postgresql://x@127.0.0.1/x")
    assert bad.returncode == 2 and "2:" in bad.stderr
    ports = run("--lang", "en", "worker", "submit", str(targets), *broker, "--db", "postgresql://x@127.0.0.1/x",
                "--ports")
    assert ports.returncode == 2 and "--i-am-authorised" in ports.stderr
    unknown = run("--lang", "en", "worker", "submit", str(targets), *broker, "--db", "postgresql://x@127.0.0.1/x",
                  "--profile", "nonesuch")
    assert unknown.returncode == 2


def test_submit_without_waiting_and_status_of_the_batch(targets: Path, redis_server: fixtures.RedisServer,
                                                        postgres_dsn: str) -> None:
    db = postgres_url(postgres_dsn)
    sent = run("--lang", "en", "worker", "submit", str(targets), "--broker", redis_server.url, "--db", db, "--no-wait")
    assert sent.returncode == 0, sent.stderr
    assert "2 of 2 domains queued in cyberscan" in sent.stderr
    batch = sent.stderr.split("batch ", 1)[1].split(":", 1)[0]
    status = run("--lang", "en", "worker", "status", batch, "--db", db)
    assert status.returncode == 0 and f"batch {batch}" in status.stdout and "0/2 domains done, still running" in status.stdout
    again = run("--lang", "en", "worker", "submit", str(targets), "--broker", redis_server.url, "--db", db, "--no-wait",
                "--resume")
    assert again.returncode == 0 and f"batch {batch} resumed: 0 of 2 domains were done, 2 queued again" in again.stderr
    missing = run("--lang", "en", "worker", "status", "worker-nonesuch", "--db", db)
    assert missing.returncode == 2 and "there is no batch worker-nonesuch" in missing.stderr


def test_enqueue_is_what_scan_targets_broker_calls(redis_server: fixtures.RedisServer, postgres_dsn: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`cyberscan scan --targets FILE --broker URL --db URL` hands its parsed targets to enqueue()."""
    rows = parse_targets("museum.test\narchief.test\n")
    code = enqueue(rows, broker=redis_server.url, db=postgres_url(postgres_dsn), wait=False, lang="en")
    assert code == 0 and "2 of 2 domains queued" in capsys.readouterr().err


def test_help_in_dutch_and_english() -> None:
    dutch = run("worker", "--help")
    assert dutch.returncode == 0 and "Celery-worker" in dutch.stdout and "submit" in dutch.stdout
    english = run("--lang", "en", "worker", "submit", "--help")
    assert english.returncode == 0 and "Hand the domains of a targets file" in english.stdout
    listed = run("--lang", "en", "--help")
    assert "worker" in listed.stdout


def test_the_base_install_imports_no_celery() -> None:
    """Only running a worker (or enqueuing for one) imports Celery: the rest of cyberscan stays light."""
    code = ("import sys, cyberscan, cyberscan.cli, cyberscan.worker, cyberscan.worker.wire, cyberscan.commands.worker;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu', 'redis')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
