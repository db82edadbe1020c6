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
    ("domains: [museum.test]\nshare: {submit: yes please}\n", 2, "agent.config.not-a-flag"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  hub: ftp://hub.den.test\n", 4, "agent.config.bad-hub"),
    ("domains: [museum.test]\nshare:\n  hub: https://hub.den.test/?org=1\n", 3, "agent.config.bad-hub"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  hub: http://hub.den.test\n", 4,
     "agent.config.hub-insecure"),
    ("domains: [museum.test]\nshare:\n  hub: https://den:pw@hub.den.test\n", 3, "agent.config.secret-in-url"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  hub: https://hub.den.test\n  sector: zoo\n", 5,
     "agent.config.bad-choice"),
    ("domains: [museum.test]\nshare:\n  sector: museum\n  size: huge\n", 4, "agent.config.bad-choice"),
    ("domains: [museum.test]\nshare:\n  sector: museum\n  size: small\n  province: atlantis\n", 5,
     "agent.config.bad-choice"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  hub: https://hub.den.test\n  size: small\n", 2,
     "agent.config.missing"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  sector: museum\n  size: small\n", 2, "agent.config.missing"),
    ("domains: [museum.test]\nshare:\n  submit: false\n  token: cst_hunter2\n", 4, "agent.config.secret-inline"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  hub: https://hub.den.test\n  sector: museum\n  size: small\n",
     2, "agent.config.hub-no-token"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  hub: https://hub.den.test\n  sector: museum\n  size: small\n"
     "  token_env: NOPE_NOT_SET\n", 7, "agent.config.secret-no-env"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  hub: https://hub.den.test\n  sector: museum\n  size: small\n"
     "  token_env: PW\n  token_file: hub.token\n", 8, "agent.config.secret-twice"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  hub: https://hub.den.test\n  sector: museum\n  size: small\n"
     "  token_file: absent.token\n", 7, "agent.config.no-such-file"),
    ("domains: [museum.test]\nshare:\n  ca_bundle: absent.pem\n", 3, "agent.config.no-such-file"),
    ("domains: [museum.test]\nshare:\n  identity_folder: no/such/folder\n", 3, "agent.config.no-such-folder"),
    ("domains: [museum.test]\nshare:\n  timeout: 0\n", 3, "agent.config.not-a-number"),
    ("domains: [museum.test]\nshare:\n  submit: true\n  token_secret: x\n", 4, "agent.config.unknown-field"),
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


SHARE = """\
domains: [museum.test]
share:
  submit: true
  hub: https://hub.den.test/sector/
  token_file: hub.token
  sector: archive
  size: micro
  province: fryslan
  ca_bundle: hub-ca.pem
  identity_folder: ids
  timeout: 20
"""


def test_a_share_section_reads_whole_and_never_shows_the_token(tmp_path: Path) -> None:
    (tmp_path / "hub.token").write_text("cst_Tok3nValue\n")
    (tmp_path / "hub.token").chmod(0o600)
    (tmp_path / "hub-ca.pem").write_text("-")
    (tmp_path / "ids").mkdir()
    config = parse_config(SHARE, where="agent.yaml", base=tmp_path, environ={})
    share = config.share
    assert share is not None
    assert share.hub == "https://hub.den.test/sector"  # as cyberscan submit's hub_base gives it
    assert share.token.value == "cst_Tok3nValue" and share.token.source == f"file {tmp_path / 'hub.token'}"
    assert not share.token.world_readable and share.token in config.secrets
    assert (share.organisation.sector, share.organisation.size, share.organisation.province) == (
        "archive", "micro", "fryslan")
    assert share.ca_bundle == str(tmp_path / "hub-ca.pem") and share.identity_folder == tmp_path / "ids"
    assert share.timeout == 20
    assert "cst_Tok3nValue" not in repr(config) + str(share.token) + repr(share)


def test_the_token_from_an_environment_variable_or_the_one_cyberscan_submit_reads(tmp_path: Path) -> None:
    base = "domains: [m.test]\nshare: {submit: true, hub: 'http://127.0.0.1:8000', sector: museum, size: small%s}\n"
    named = parse_config(base % ", token_env: DEN_TOKEN", where="agent.yaml", base=tmp_path,
                         environ={"DEN_TOKEN": " cst_a \n"})
    assert named.share is not None and named.share.token.value == "cst_a"
    assert named.share.token.source == "env DEN_TOKEN" and named.share.organisation.province is None
    default = parse_config(base % ", province: none", where="agent.yaml", base=tmp_path,
                           environ={"CYBERSCAN_HUB_TOKEN": "cst_b"})
    assert default.share is not None and default.share.token.value == "cst_b"
    assert default.share.organisation.province is None and default.share.hub == "http://127.0.0.1:8000"


def test_a_token_that_is_no_token_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "hub.token").write_text("cst_first half\n")
    (tmp_path / "hub.token").chmod(0o600)
    text = "domains: [m.test]\nshare:\n  submit: true\n  hub: https://hub.den.test\n  sector: museum\n" \
           "  size: small\n  token_file: hub.token\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, where="agent.yaml", base=tmp_path, environ={})
    assert err.value.key == "agent.config.hub-bad-token" and err.value.params["line"] == 7
    shown = str(err.value) + err.value.message("nl")
    assert "first half" not in shown and "hub.token" in shown


def test_a_token_file_readable_by_everyone_is_said(tmp_path: Path) -> None:
    (tmp_path / "hub.token").write_text("cst_x")
    (tmp_path / "hub.token").chmod(0o644)
    config = parse_config("domains: [m.test]\nshare: {submit: true, hub: 'https://h.test', sector: library, "
                          "size: large, token_file: hub.token}\n", where="agent.yaml", base=tmp_path, environ={})
    assert config.share is not None and config.share.token.world_readable


def test_sharing_off_reads_no_token_but_checks_the_rest(tmp_path: Path) -> None:
    text = "domains: [m.test]\nshare: {submit: false, hub: 'https://h.test', sector: museum, size: small, " \
           "token_env: NOT_SET_AT_ALL}\n"
    assert parse_config(text, where="agent.yaml", base=tmp_path, environ={}).share is None
    assert parse_config("domains: [m.test]\nshare:\n", where="agent.yaml", base=tmp_path).share is None


def test_the_contrib_example_reads_and_its_share_section_works_when_turned_on(tmp_path: Path) -> None:
    example = (Path(__file__).resolve().parents[2] / "contrib" / "agent.example.yaml").read_text(encoding="utf-8")
    for name in ("smtp.pass", "hub.token"):
        (tmp_path / name).write_text("cst_example\n")
        (tmp_path / name).chmod(0o600)
    text = example.replace("/etc/cyberscan/", f"{tmp_path}/")
    assert parse_config(text, where="agent.yaml", base=tmp_path, environ={}).share is None
    on = parse_config(text.replace("submit: false", "submit: true"), where="agent.yaml", base=tmp_path, environ={})
    assert on.share is not None and on.share.hub == "https://hub.den.nl" and on.share.token.value == "cst_example"
