"""The agent's command without a network: --check, a broken file, texts in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from cyberscan.cli import main
from cyberscan.models import Severity
from cyberscan.texts import table

SRC = Path(__file__).resolve().parents[2] / "src" / "cyberscan"


def test_check_says_what_it_read(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    (tmp_path / "hook.key").write_text("k")
    (tmp_path / "hook.key").chmod(0o600)
    config.write_text("domains: [museum.test]\nschedule: {cron: '0 6 * * 1'}\n"
                      "alerts: {webhook: {url: 'https://hooks.test/x', secret_file: hook.key}}\n")
    result = CliRunner().invoke(main, ["agent", "--config", str(config), "--check", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "fine (1 domain(s), cron '0 6 * * 1', messages through webhook)" in result.output
    assert not (tmp_path / "history.sqlite").exists()


def test_a_broken_file_is_exit_2_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("domains: [museum.test]\nrules:\n  flapping_rounds: many\n")
    result = CliRunner().invoke(main, ["agent", "--config", str(config), "--once"])
    assert result.exit_code == 2
    assert "regel 3" in result.output and "flapping_rounds" in result.output
    missing = CliRunner().invoke(main, ["agent", "--config", str(tmp_path / "nope.yaml"), "--lang", "en"])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_every_agent_text_key_exists_in_dutch_and_english() -> None:
    code = "\n".join(p.read_text() for p in [*(SRC / "agent").glob("*.py"), SRC / "commands" / "agent.py"])
    used = set(re.findall(r'"(agent\.[a-z0-9.-]+)"', code))
    used |= {f"agent.config.{k}" for k in re.findall(r'\bfail\("([a-z-]+)"', code)}
    kinds = ("new-fail", "worse", "exposed", "expiry", "score", "unscannable", "cannot-check", "reminder", "summary",
             "no-network")
    used |= {f"agent.kind.{k}" for k in kinds} | {f"agent.severity.{s.value}" for s in Severity}
    used |= {f"agent.expiry.{w}{x}" for w in ("certificate", "securitytxt", "signature") for x in ("", "-expired")}
    used |= {f"agent.todo.{w}" for w in ("certificate", "securitytxt", "signature")}
    texts = table()
    missing = sorted(k for k in used if k not in texts)
    assert not missing
    for key, value in texts.items():
        if key.startswith("agent."):
            assert value.get("nl") and value.get("en"), key
