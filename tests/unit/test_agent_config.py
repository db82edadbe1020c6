"""agent.yaml: every mistake names its line; secrets only from files or the environment, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyberscan.agent.config import Every, load_config, parse_config
from cyberscan.agent.schedule import Cron
from cyberscan.errors import ConfigError
from cyberscan.models import Severity

GOOD = """\
domains: [museum.test, Collectie.Museum.Test]
options:
  profile: klein-museum
  timeout: 3
  nameserver: ["127.0.0.1:5353"]
  allow_private: true
  host: [intranet.museum.test]
schedule: {cron: "0 6 * * 1", timezone: Europe/Amsterdam}
lang: en
alerts:
  webhook: {url: "https://hooks.museum.test/cyberscan", secret_file: hook.key}
  email:
    to: [it@museum.test]
    smtp: {host: smtp.museum.test, user: agent, password_env: AGENT_SMTP_PASSWORD}
rules: {score_drop: 10, confirm_after: 30s, reminders: {high: 2d, low: never}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "hook.key").write_text("hook-secret-123\n")
    (tmp_path / "hook.key").chmod(0o600)
    return path


def test_a_good_config_reads_whole(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD), environ={"AGENT_SMTP_PASSWORD": "smtp-secret-456"})
    assert config.domains == ("museum.test", "collectie.museum.test")
    assert config.profile == "klein-museum" and config.options.timeout == 3
    assert str(config.options.nameservers[0]) == "127.0.0.1:5353" and config.options.allow_private
    assert config.options.extra_hosts == ("intranet.museum.test",)
    assert isinstance(config.schedule, Cron) and config.schedule.zone is not None
    assert config.lang == "en" and config.channels == ("email", "webhook")
    assert config.webhook is not None and config.webhook.secret is not None
    assert config.webhook.secret.value == "hook-secret-123"
    assert config.email is not None and config.email.sender == "cyberscan@museum.test"
    assert config.email.smtp.password is not None and config.email.smtp.password.value == "smtp-secret-456"
    assert config.rules.score_drop == pytest.approx(0.10) and config.rules.confirm_after == 30
    assert config.rules.reminders[Severity.HIGH] == 2 * 86400 and config.rules.reminders[Severity.LOW] is None
    # secrets never in a repr or str
    shown = repr(config) + str(config.webhook.secret) + repr(config.email)
    assert "hook-secret-123" not in shown and "smtp-secret-456" not in shown


def test_the_defaults(tmp_path: Path) -> None:
    config = parse_config("domains: museum.test\n", where="agent.yaml", base=tmp_path)
    assert config.domains == ("museum.test",) and config.channels == ()
    assert isinstance(config.schedule, Every) and config.schedule.seconds == 86400
    assert config.lang is None and config.db is None and config.profile == "default"


@pytest.mark.parametrize(("text", "line", "key"), [
    ("domains: [museum.test]\nfrequency: daily\n", 2, "agent.config.unknown-field"),
    ("options: {timeout: 3}\n", 1, "agent.config.no-domains"),
    ("domains:\n  - museum.test\n  - 'not a domain!'\n", 3, "agent.config.bad-domain"),
    ("domains: [museum.test]\noptions:\n  timeout: 500\n", 3, "agent.config.bad-timeout"),
    ("domains: [museum.test]\noptions:\n  ca-bundle: x.pem\n", 3, "agent.config.option-underscores"),
    ("domains: [museum.test]\noptions:\n  format: html\n", 3, "agent.config.option-not-used"),
    ("domains: [museum.test]\noptions:\n  ports: true\n", 3, "agent.config.ports-need-consent"),
    ("domains: [museum.test]\noptions:\n  nameserver: [1.2.3.4, nonsense]\n", 3, "agent.config.bad-nameserver"),
    ("domains: [museum.test]\nschedule: {every: 24h, cron: '0 6 * * 1'}\n", 2, "agent.config.schedule-one"),
    ("domains: [museum.test]\nschedule:\n  cron: '61 6 * * 1'\n", 3, "agent.config.bad-cron"),
    ("domains: [museum.test]\nschedule:\n  cron: '* * * * * *'\n", 3, "agent.config.bad-cron"),
    ("domains: [museum.test]\nschedule:\n  every: often\n", 3, "agent.config.bad-duration"),
    ("domains: [museum.test]\nschedule:\n  cron: '0 6 * * 1'\n  timezone: Mars/Olympus\n", 4, "agent.config.bad-timezone"),
    ("domains: [museum.test]\nalerts:\n  webhook:\n    url: https://h.test/x\n    secret: hunter2\n", 5,
     "agent.config.secret-inline"),
    ("domains: [museum.test]\nalerts:\n  webhook:\n    url: https://me:pw@h.test/x\n", 4, "agent.config.secret-in-url"),
    ("domains: [museum.test]\nalerts:\n  webhook:\n    url: ftp://h.test/x\n", 4, "agent.config.bad-url"),
    ("domains: [museum.test]\nalerts:\n  email:\n    to: [it@museum.test]\n    smtp:\n      host: s.test\n"
     "      password: hunter2\n", 7, "agent.config.secret-inline"),
    ("domains: [museum.test]\nalerts:\n  email:\n    to: [not-an-address]\n    smtp: {host: s.test}\n", 4,
     "agent.config.bad-address"),
    ("domains: [museum.test]\nalerts:\n  email:\n    to: [\"it@museum.test\\r\\nBcc: x@evil.test\"]\n"
     "    smtp: {host: s.test}\n", 4, "agent.config.not-text"),
    ("domains: [museum.test]\nalerts:\n  email:\n    to: [it@museum.test]\n    smtp:\n      host: s.test\n"
     "      user: agent\n", 5, "agent.config.user-and-password"),
    ("domains: [museum.test]\nalerts:\n  email:\n    to: [it@museum.test]\n    smtp:\n      host: s.test\n"
     "      user: agent\n      password_env: NOPE_NOT_SET\n", 8, "agent.config.secret-no-env"),
    ("domains: [museum.test]\nalerts:\n  email:\n    to: [it@museum.test]\n    smtp:\n      host: s.test\n"
     "      security: none\n      user: agent\n      password_env: PW\n", 7, "agent.config.password-in-the-clear"),
    ("domains: [museum.test]\nalerts:\n  email:\n    to: [it@museum.test]\n    smtp:\n      host: s.test\n"
     "      password_file: missing.pass\n      user: a\n", 7, "agent.config.no-such-file"),
    ("domains: [museum.test]\ndb: postgresql://agent:pw@db.test/cyberscan\n", 2, "agent.config.secret-in-url"),
    ("domains: [museum.test]\nrules:\n  score_drop: -3\n", 3, "agent.config.not-a-number"),
    ("domains: [museum.test]\nrules:\n  reminders: {urgent: 1d}\n", 3, "agent.config.unknown-field"),
    ("domains: [museum.test]\nlang: fr\n", 2, "agent.config.bad-choice"),
    ("domains: [museum.test]\nshare: {submit: true}\n", 2, "agent.config.share-unavailable"),
    ("domains: [museum.test]\noptions: [timeout]\n", 2, "agent.config.not-a-mapping"),
    ("domains: &a [museum.test]\nlist: *a\n", 2, "yaml.alias"),
    ("domains: [museum.test\n", 2, "yaml.invalid"),
    ("", 1, "agent.config.empty"),
])
def test_every_mistake_names_its_line(tmp_path: Path, text: str, line: int, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, where="agent.yaml", base=tmp_path, environ={"PW": "x"})
    assert err.value.key == key, err.value
    assert err.value.params.get("line") == line, err.value
    assert f"line {line}" in str(err.value) and f"regel {line}" in err.value.message("nl")


def test_a_secret_in_the_config_is_never_repeated_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("domains: [m.test]\nalerts:\n  webhook: {url: 'https://h.test', secret: 'Sup3rS3cret'}\n",
                     where="agent.yaml", base=tmp_path)
    assert "Sup3rS3cret" not in str(err.value) and "Sup3rS3cret" not in err.value.message("nl")
    assert "secret_file" in str(err.value)


def test_a_secret_file_readable_by_everyone_is_said(tmp_path: Path) -> None:
    (tmp_path / "open.key").write_text("k")
    (tmp_path / "open.key").chmod(0o644)
    config = parse_config("domains: [m.test]\nalerts:\n  webhook: {url: 'https://h.test', secret_file: open.key}\n",
                          where="agent.yaml", base=tmp_path)
    assert config.webhook is not None and config.webhook.secret is not None
    assert config.webhook.secret.world_readable


def test_a_config_file_that_is_too_large_or_not_text(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"domains: [m.test]\n#" + b"x" * 300_000)
    with pytest.raises(ConfigError) as err:
        load_config(big)
    assert err.value.key == "yaml.too-large"
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError) as err:
        load_config(binary)
    assert err.value.key == "agent.config.not-utf8"
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "absent.yaml")
    assert err.value.key == "agent.config.unreadable"
