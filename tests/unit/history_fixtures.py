"""Shared by the history tests: real assessments of a zone served on loopback, and stores on SQLite
and on a real PostgreSQL (one schema per test, so tests never see each other's rows)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cyberscan.assessment import Assessment, assess
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.options import Nameserver, ScanOptions

DOMAIN = "museum.test"

ZONE = """$TTL 300
@ SOA ns1.museum.test. hostmaster.museum.test. 1 3600 600 86400 300
@ NS ns1.museum.test.
ns1 A 127.0.0.1
@ A 127.0.0.1
www A 127.0.0.1
@ MX 10 mail.museum.test.
mail A 127.0.0.1
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p={policy}; rua=mailto:dmarc@museum.test"
"""


class Zone:
    """museum.test on an in-process DNS server; its DMARC policy can be changed between scans."""

    def __init__(self) -> None:
        self.zones = ZoneSet()
        self.set_policy("none")
        self.server = LocalDnsServer(self.zones)

    def set_policy(self, policy: str) -> None:
        self.zones.add_text(f"{DOMAIN}.", ZONE.format(policy=policy))

    @property
    def nameserver(self) -> str:
        return self.server.nameserver

    def assess(self, *, interrupted: bool = False) -> Assessment:
        options = ScanOptions(timeout=0.5, nameservers=(Nameserver.parse(self.nameserver),))
        cancel = threading.Event()
        if interrupted:
            cancel.set()
        return assess([DOMAIN], options=options, cancel=cancel)


@pytest.fixture(scope="module")
def zone() -> Iterator[Zone]:
    z = Zone()
    with z.server:
        yield z


@pytest.fixture(scope="module")
def assessments(zone: Zone) -> dict[str, Assessment]:
    """``before`` (p=none: DMARC fails), ``after`` (p=reject: it passes), ``interrupted`` (incomplete)."""
    zone.set_policy("none")
    before = zone.assess()
    zone.set_policy("reject")
    after = zone.assess()
    interrupted = zone.assess(interrupted=True)
    zone.set_policy("none")
    assert not interrupted.complete and before.complete and after.complete
    return {"before": before, "after": after, "interrupted": interrupted}


def postgres_url(dsn: str) -> str:
    """A fresh schema on the test PostgreSQL, and a URL whose connections use it."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{dsn}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives: a new SQLite file, or a new schema on the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    return postgres_url(request.getfixturevalue("postgres_dsn"))
