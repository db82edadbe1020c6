"""A `cyberscan worker` killed (SIGKILL) mid-task loses nothing: two real workers (Celery, prefork) on a
real Redis and a real PostgreSQL; the task of the killed worker was never acknowledged (late ack), so
once its visibility timeout has passed the broker hands it to the other worker, which stores it.

slow.test's MX query is never answered by the DNS server (so its assessment takes a few seconds) and
the worker that took it is killed while assessing it. In the integration suite because the broker only
looks for such tasks every so often (kombu 5.7: every ``unacked_restore_interval`` seconds, which the
worker sets to a quarter of the visibility timeout; older kombu: about every 100 s), so the redelivery
can take a minute or two. The measured time is printed (``-s``), never asserted.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from cyberscan.history import open_store
from tests.unit import worker_fixtures as fixtures
from tests.unit.history_fixtures import postgres_url

pytestmark = pytest.mark.integration

redis_server = fixtures.redis_server  # shared fixture


def test_a_worker_killed_mid_task_loses_nothing(tmp_path: Path, redis_server: fixtures.RedisServer,
                                                postgres_dsn: str) -> None:
    fixtures.need_root("the kill test")
    db = postgres_url(postgres_dsn)
    domains = ["slow.test", *(f"quick{i}.test" for i in range(5))]
    scan_timeout = 4.0  # slow.test then takes some 5 s: time enough to kill its worker mid-task on a loaded machine
    visibility = 15.0  # longer than the slowest task here; the production default is 3600 s
    with fixtures.CountingServer(hold=0.05) as web, \
            fixtures.zones_on(domains, web.address, hang=["slow.test MX"]) as dns, \
            fixtures.workers(2, ["--broker", redis_server.url, "--db", db, "--allow-private", "--concurrency", "1",
                                 "--per-address", "8", "--visibility-timeout", str(visibility)], tmp_path) as running:
        sent = fixtures.submit(fixtures.targets_file(tmp_path, domains), redis_server.url, db, dns.nameserver,
                               "--no-wait", scan_timeout=scan_timeout)
        assert sent.returncode == 0, sent.stderr
        batch = fixtures.batch_id(sent.stderr)
        victim = fixtures.wait_for(lambda: next((w for w in running if "assessing slow.test" in w.text()), None), 120)
        victim.kill()
        killed = time.monotonic()
        with open_store(db) as store:
            assert store.batch_item(batch, "slow.test") is None  # killed before it could store anything
        survivor = next(w for w in running if w is not victim)
        fixtures.wait_for(lambda: "assessing slow.test" in survivor.text() or None, visibility + 240)
        redelivered = time.monotonic() - killed
        watch = fixtures.status(batch, db, "--wait")
        survivor_log = survivor.text()
    assert watch.returncode == 0, watch.stderr + survivor_log[-3000:]
    numbers = fixtures.assert_exactly_once(db, batch, domains)
    assert re.search(r"slow\.test \(batch \S+\) stored as no\. " + str(numbers["slow.test"]) + r"\b", survivor_log)
    assert "slow.test (batch" not in victim.text().split("assessing slow.test", 1)[1]  # the victim stored nothing
    print(f"\nredelivered {redelivered:.1f} s after the kill (visibility timeout {visibility:.0f} s)")
