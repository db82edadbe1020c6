"""Fixtures shared by the integration tests: one real BIND9 for the whole session, on addresses of this
test process's own loopback block (tests/fixtures/loopback.py), so that test runs side by side never meet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI, require_binary
from tests.integration.bind9 import NS1, NS2, WEB_UNTRUSTED, Bind9, loopback_addresses, policy_server


@pytest.fixture(scope="session")
def bind9(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bind9, Path]]:
    named = require_binary("named")
    require_binary("dnssec-signzone")
    if os.geteuid() != 0:
        message = f"BIND9 integration tests put {NS1} and {NS2} on lo and use port 53: they need root"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("bind9")
    with (
        loopback_addresses(NS1, NS2),  # BIND listens only on interface addresses; the HTTPS servers need none
        Bind9(folder, named=named) as server,
        policy_server(folder) as ca_file,
        policy_server(folder / "untrusted", address=WEB_UNTRUSTED, names=("mta-sts.badsts.test",)),
    ):
        yield server, ca_file
