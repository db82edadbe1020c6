"""The hub's API against a running hub (gunicorn, SQLite): fuzzed and malformed submissions never crash
it or reach the database; size and rate limits, token limits and revocation, conflicts, closed
periods; HTTPS with a verified certificate; the token never shows in output."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyberscan.demo.pki import DemoCA
from tests.integration.hubdata import summary
from tests.integration.hubserver import Hub, create_token, hub_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, str, Path]]:
    folder = tmp_path_factory.mktemp("hubapi")
    database = f"sqlite:///{folder / 'hub.sqlite3'}"
    with Hub(database, folder, rate=1_000_000) as running:
        yield running, database, folder


def _rows(database: str, table: str) -> int:
    with sqlite3.connect(database.removeprefix("sqlite:///")) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _post(hub: Hub, token: str, body: bytes | str, path: str = "/api/submissions") -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(hub.url + path, data=data, timeout=30,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)


def _mutate(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    target: Any = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


FIELDS = [["sector"], ["size"], ["province"], ["week"], ["organisation"], ["submission_id"], ["version"],
          ["checks"], ["frameworks"], ["frameworks", "den-checklist", "score"], ["answers"], ["complete"],
          ["frameworks", "den-checklist", "items"], ["tool_version"], ["profile"], ["extra"]]


_SESSION = requests.Session()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=json_values, whole=json_values, raw=st.binary(max_size=200))
def test_fuzzed_submissions_never_crash_the_hub_or_reach_the_database(hub: tuple[Hub, str, Path], field: list[str],
                                                                      value: Any, whole: Any, raw: bytes) -> None:
    running, database, folder = hub
    token = _token(database, folder)
    before = _rows(database, "hub_submission")
    mutated = _mutate(summary(1, 1), field, value)
    accepted = 0
    for body, path in ((json.dumps(mutated), "/api/submissions"), (json.dumps(whole), "/api/submissions"),
                       (raw, "/api/submissions"), (raw, "/api/submissions/batch"),
                       (json.dumps({"submissions": [mutated, whole]}), "/api/submissions/batch"),
                       (json.dumps(whole), "/api/submissions/batch")):
        r = _SESSION.post(running.url + path, data=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert r.status_code < 500, r.text
        data = r.json()
        if r.status_code == 201:
            accepted += 1
        elif r.status_code == 200 and path.endswith("batch"):
            accepted += sum(1 for item in data["results"] if item["status"] == 201)
            assert all(item["status"] in (200, 201, 400, 403, 409, 422) for item in data["results"]), data
        elif r.status_code != 200:
            assert r.status_code in (400, 403, 409, 413, 422), r.text
            assert data["detail"]
    # what was refused never reached the database: only the accepted ones were added
    assert _rows(database, "hub_submission") == before + accepted


_TOKENS: dict[str, str] = {}


def _token(database: str, folder: Path) -> str:
    if database not in _TOKENS:
        _TOKENS[database] = create_token(database, folder, max_organisations=1)
    return _TOKENS[database]


def test_size_limit_is_refused_before_reading(hub: tuple[Hub, str, Path]) -> None:
    running, database, folder = hub
    r = _post(running, _token(database, folder), b"{" + b" " * (70 * 1024) + b"}")
    assert r.status_code == 413 and "at most" in r.json()["detail"]


def test_token_rules(hub: tuple[Hub, str, Path]) -> None:
    running, database, folder = hub
    assert _post(running, "", json.dumps(summary(2, 1))).status_code == 401
    assert _post(running, "cst_nope", json.dumps(summary(2, 1))).status_code == 401
    one = create_token(database, folder, max_organisations=1)
    first = _post(running, one, json.dumps(summary(20, 1)))
    assert first.status_code == 201, first.text
    assert _post(running, one, json.dumps(summary(20, 2))).status_code == 201  # the same organisation again
    refused = _post(running, one, json.dumps(summary(21, 1)))  # a second organisation with a one-organisation token
    assert refused.status_code == 403 and "rotate-id" in refused.json()["detail"]
    again = _post(running, one, json.dumps(summary(20, 1)))
    assert again.status_code == 200 and again.json()["stored"] is False
    changed = summary(20, 1)
    changed["sector"] = "library" if changed["sector"] != "library" else "museum"
    conflict = _post(running, one, json.dumps(changed))
    assert conflict.status_code == 409 and conflict.json()["detail"]
    with sqlite3.connect(database.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE hub_enrolmenttoken SET revoked = 1")
    assert _post(running, one, json.dumps(summary(20, 3))).status_code == 401
    with sqlite3.connect(database.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE hub_enrolmenttoken SET revoked = 0")
        stored = [r[0] for r in conn.execute("SELECT submission_id FROM hub_submission WHERE organisation = ?",
                                             (summary(20, 1)["organisation"],))]
        digests = [r[0] for r in conn.execute("SELECT digest FROM hub_enrolmenttoken")]
    assert sorted(stored) == sorted([summary(20, 1)["submission_id"], summary(20, 2)["submission_id"]])
    assert one not in digests and all(len(d) == 64 for d in digests)  # stored hashed


def test_closed_and_future_periods_are_refused(hub: tuple[Hub, str, Path]) -> None:
    running, database, folder = hub
    token = create_token(database, folder, max_organisations=5)
    old = _post(running, token, json.dumps(summary(30, 1, week="2020-W10")))
    assert old.status_code == 422 and "closed" in old.json()["detail"]
    future = _post(running, token, json.dumps(summary(30, 2, week=f"{datetime.now(UTC).year + 2}-W10")))
    assert future.status_code == 422 and "future" in future.json()["detail"]
    no_such_week = _post(running, token, json.dumps(summary(30, 3, week="2026-W53")))
    assert no_such_week.status_code in (400, 422)


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    token = create_token(database, tmp_path, max_organisations=5)
    with Hub(database, tmp_path, rate=3, workers=1) as running:
        codes = [_post(running, token, json.dumps(summary(40, n))) for n in range(6)]
    assert [c.status_code for c in codes[:3]] == [201, 201, 201]
    limited = [c for c in codes if c.status_code == 429]
    assert limited and all(int(c.headers["Retry-After"]) >= 1 for c in limited)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cyberscan.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_https_submit_with_a_verified_certificate_and_no_token_in_any_output(tmp_path: Path) -> None:
    ca = DemoCA(tmp_path, datetime.now(UTC))
    cert = ca.issue("hub", ["localhost"], valid_days=30)
    database = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    token = create_token(database, tmp_path, max_organisations=2)
    demo = _cli(["demo", "--output", str(tmp_path / "demo")], hub_env(tmp_path))
    assert demo.returncode == 0, demo.stderr
    report = next((tmp_path / "demo").glob("*.json"))
    # on 127.0.0.1: the certificate names localhost, and that is where localhost is
    hub = Hub(database, tmp_path, extra=("--certfile", str(cert.cert_file), "--keyfile", str(cert.key_file)),
              host="127.0.0.1")
    with hub:
        url = f"https://localhost:{hub.port}"
        env = {**hub_env(tmp_path), "CYBERSCAN_HUB_TOKEN": token}
        unverified = _cli(["-vv", "submit", "--hub", url, str(report), "--sector", "museum", "--size", "micro"], env)
        assert unverified.returncode == 5 and "certificate" in unverified.stderr
        sent = _cli(["-vv", "submit", "--hub", url, str(report), "--ca-bundle", str(ca.ca_file)], env)
        assert sent.returncode == 0, sent.stderr
        again = _cli(["-vv", "submit", "--hub", url, str(report), "--ca-bundle", str(ca.ca_file)], env)
        assert again.returncode == 0 and "already" in again.stdout
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        env_no_token = {k: v for k, v in env.items() if k != "CYBERSCAN_HUB_TOKEN"}
        by_file = _cli(["-vv", "submit", "--hub", url, str(report), "--ca-bundle", str(ca.ca_file),
                        "--token-file", str(token_file)], env_no_token)
        assert by_file.returncode == 0, by_file.stderr
        missing = _cli(["submit", "--hub", url, str(report)], env_no_token)
        assert missing.returncode == 2 and "CYBERSCAN_HUB_TOKEN" in missing.stderr
        wrong = _cli(["-vv", "submit", "--hub", url, str(report), "--ca-bundle", str(ca.ca_file)],
                     {**env, "CYBERSCAN_HUB_TOKEN": token + "x"})
        assert wrong.returncode == 5
    for done in (unverified, sent, again, by_file, missing, wrong):
        assert token not in done.stdout + done.stderr
    assert token not in (tmp_path / "hub.log").read_text(errors="replace")
    assert _rows(database, "hub_submission") == 1


def test_plain_http_only_to_loopback(tmp_path: Path) -> None:
    env = {**hub_env(tmp_path), "CYBERSCAN_HUB_TOKEN": "cst_x"}
    done = _cli(["submit", "--hub", "http://hub.den.test", str(tmp_path / "missing.json")], env)
    assert done.returncode == 2 and "HTTPS" in done.stderr


def test_hub_commands_say_when_the_extra_is_missing(tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "django").mkdir()
    (blocker / "django" / "__init__.py").write_text("raise ImportError('no django here', name='django')\n")
    env = {**hub_env(tmp_path), "PYTHONPATH": str(blocker) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = _cli(["hub", "token", "create", "--database", f"sqlite:///{tmp_path / 'x.sqlite3'}"], env)
    assert done.returncode == 2 and "cyberscan[hub]" in done.stderr and "Traceback" not in done.stderr
    base = subprocess.run([sys.executable, "-c", "import sys, cyberscan.cli; "
                           "print(any(m.startswith(('django', 'ninja', 'gunicorn')) for m in sys.modules))"],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    assert base.stdout.strip() == "False"  # the base install never imports the hub's framework


def test_den_staff_issue_and_revoke_tokens_in_the_admin(tmp_path: Path) -> None:
    import re

    database = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    env = {**hub_env(tmp_path), "DJANGO_SUPERUSER_PASSWORD": "correct horse battery", "DJANGO_SUPERUSER_USERNAME": "den",
           "DJANGO_SUPERUSER_EMAIL": "den@den.test"}
    create_token(database, tmp_path)  # migrates
    made = _cli(["hub", "manage", "--database", database, "createsuperuser", "--noinput"], env)
    assert made.returncode == 0, made.stderr
    with Hub(database, tmp_path) as running:
        web = requests.Session()
        login = web.get(running.url + "/admin/login/", timeout=30)
        assert web.get(running.url + "/static/admin/css/base.css", timeout=30).status_code == 200
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert csrf
        web.post(running.url + "/admin/login/?next=/admin/", timeout=30, headers={"Referer": running.url + "/admin/login/"},
                 data={"csrfmiddlewaretoken": csrf.group(1), "username": "den", "password": "correct horse battery"})
        form = web.get(running.url + "/admin/hub/enrolmenttoken/add/", timeout=30)
        assert form.status_code == 200
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert csrf
        saved = web.post(running.url + "/admin/hub/enrolmenttoken/add/", timeout=30,
                         headers={"Referer": running.url + "/admin/hub/enrolmenttoken/add/"},
                         data={"csrfmiddlewaretoken": csrf.group(1), "label": "pilot", "max_organisations": "2",
                               "_save": "Save"})
        token = re.search(r"(cst_[A-Za-z0-9_-]{20,})", saved.text)
        assert token, saved.text[-2000:]
        assert _post(running, token.group(1), json.dumps(summary(50, 1))).status_code == 201
        listing = web.get(running.url + "/admin/hub/enrolmenttoken/", timeout=30)
        assert token.group(1) not in listing.text  # shown once, when made
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', listing.text)
        assert csrf
        with sqlite3.connect(database.removeprefix("sqlite:///")) as conn:
            pk = conn.execute("SELECT id FROM hub_enrolmenttoken WHERE label = 'pilot'").fetchone()[0]
        web.post(running.url + "/admin/hub/enrolmenttoken/", timeout=30,
                 headers={"Referer": running.url + "/admin/hub/enrolmenttoken/"},
                 data={"csrfmiddlewaretoken": csrf.group(1), "action": "revoke", "_selected_action": str(pk)})
        assert _post(running, token.group(1), json.dumps(summary(50, 2))).status_code == 401


def test_openapi_page_uses_only_the_hubs_own_assets(hub: tuple[Hub, str, Path]) -> None:
    import re

    running, _, _ = hub
    page = requests.get(running.url + "/api/docs", timeout=30)
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(r.startswith("/") for r in refs), refs
    assert all(requests.get(running.url + r, timeout=30).status_code == 200 for r in refs)
    spec = requests.get(running.url + "/api/openapi.json", timeout=30).json()
    assert {"/api/submissions", "/api/submissions/batch", "/api/aggregates", "/api/aggregates.csv"} <= set(spec["paths"])
