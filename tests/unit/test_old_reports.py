"""`cyberscan report` keeps reading the JSON reports of the previous schema (1.0, cyberscan 0.1.0).

tests/fixtures/reports/demo-schema-1.0.json is the demo museum's report as cyberscan 0.1.0 wrote it
(commit 0d0fc64): its facts are migrated forward and judged again under today's rules.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cyberscan import registry as registry_mod
from cyberscan.cli import main
from cyberscan.facts.tls import TlsScan
from cyberscan.facts.web import HttpSite
from cyberscan.serialize import scan_from_dict

OLD = Path(__file__).resolve().parents[1] / "fixtures" / "reports" / "demo-schema-1.0.json"


def test_every_fact_of_a_schema_1_report_is_migrated_not_refused() -> None:
    data = json.loads(OLD.read_text(encoding="utf-8"))
    assert data["schema_version"] == "1.0" and "fact_versions" not in data
    stored = scan_from_dict(data, registry_mod.load())
    assert not stored.notices or all(n.key != "stored.fact-unreadable" for n in stored.notices)
    facts = {o.probe: o.fact for o in stored.outcomes if o.fact is not None}
    assert isinstance(facts["http.site"], HttpSite) and isinstance(facts["tls.scan"], TlsScan)
    assert all(e.error is None for e in facts["tls.scan"].endpoints)  # v1 "ok" became "no error"


def test_report_judges_an_old_report_again_under_todays_rules(tmp_path: Path) -> None:
    out = tmp_path / "again.json"
    result = CliRunner().invoke(main, ["report", str(OLD), "--format", "json", "-o", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["schema_version"].startswith("2.")
    assert len(data["results"]) > 50 and all("key" in r and "subject" in r for r in data["results"])
    assert not [r for r in data["results"] if r["error_reason"] in ("unreadable", "bug")]
    keys = [r["key"] for r in data["results"]]
    assert len(keys) == len(set(keys))
    html = CliRunner().invoke(main, ["report", str(OLD), "--format", "html", "-o", str(tmp_path / "r.html")])
    assert html.exit_code == 0 and "museum-demo.test" in (tmp_path / "r.html").read_text(encoding="utf-8")
