"""Two `cyberscan worker` processes against the real BIND9 test zones (tests/fixtures/zones/bind9): every
zone assessed exactly once, and each stored judgement is what `cyberscan.assess` finds for that domain in
this process: the same engine, whichever machine runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

import cyberscan
from cyberscan.history import open_store
from cyberscan.options import Nameserver, ScanOptions
from tests.integration.bind9 import NS1, Bind9, child_zones
from tests.unit import worker_fixtures as fixtures
from tests.unit.history_fixtures import postgres_url

pytestmark = pytest.mark.integration

redis_server = fixtures.redis_server  # shared fixture
TIMEOUT = 3.0


def test_workers_store_what_a_local_assessment_finds(bind9: tuple[Bind9, Path], tmp_path: Path,
                                                     redis_server: fixtures.RedisServer, postgres_dsn: str) -> None:
    _server, ca_file = bind9
    db = postgres_url(postgres_dsn)
    domains = child_zones()
    with fixtures.workers(2, ["--broker", redis_server.url, "--db", db, "--allow-private", "--concurrency", "2",
                              "--ca-bundle", str(ca_file)], tmp_path) as running:
        done = fixtures.submit(fixtures.targets_file(tmp_path, domains), redis_server.url, db, NS1, "--no-progress",
                               scan_timeout=TIMEOUT, timeout=600)
        logs = [w.text() for w in running]
    assert done.returncode == 0, done.stderr + "\n".join(log[-3000:] for log in logs)
    numbers = fixtures.assert_exactly_once(db, fixtures.batch_id(done.stderr), domains)
    options = ScanOptions(timeout=TIMEOUT, nameservers=(Nameserver.parse(NS1),), allow_private=True,
                          ca_bundle=str(ca_file))
    with open_store(db) as store:
        for domain in domains:
            stored = {key: f.status for key, f in store.get(numbers[domain]).findings.items()}
            results = {r.key: r for r in cyberscan.assess([domain], options=options).results}
            local = {key: r.status for key, r in results.items()}
            assert stored == local, (domain, {k: (stored.get(k), local.get(k), k in results and results[k].message,
                                                  k in results and results[k].params)
                                              for k in stored.keys() | local.keys() if stored.get(k) != local.get(k)})
