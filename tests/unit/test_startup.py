"""Start-up work (issue 13): what a command imports, the registry's built-in packages imported when a
table is first asked for, and the catalogue's parse cache. Each import check runs in a fresh
interpreter; nothing here measures time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod

HEAVY = ("cyberscan.probes.tls", "cyberscan.evaluators.tls", "cyberscan.render.html", "cyberscan.assessment",
         "cyberscan.engine", "dns.resolver", "jinja2", "cryptography.x509")


def imported_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded once ``code`` ran in a new interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})})
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def cli(*args: str) -> str:
    return f"import sys\nfrom cyberscan.cli import main\nmain({list(args)!r}, standalone_mode=False)"


def test_version_imports_no_catalogue_registry_or_scanner() -> None:
    loaded = imported_after(cli("--version").replace("main(", "import contextlib\nwith contextlib.suppress(SystemExit):\n    main("))
    assert "cyberscan.cli" in loaded
    for name in (*HEAVY, "cyberscan.catalogue", "cyberscan.registry", "cyberscan.questionnaire"):
        assert name not in loaded, name


def test_checks_imports_no_probe_evaluator_or_renderer(tmp_path: Path) -> None:
    loaded = imported_after(cli("checks"), env={"CYBERSCAN_CACHE": str(tmp_path / "cache.json")})
    assert "cyberscan.catalogue" in loaded and "cyberscan.commands.catalogue" in loaded
    for name in HEAVY:
        assert name not in loaded, name


def test_built_in_tables_are_imported_when_first_asked_for() -> None:
    code = """
import sys
from cyberscan import registry
reg = registry.load()
steps = [sorted(m for m in ("cyberscan.probes.tls", "cyberscan.render.html", "cyberscan.evaluators.tls")
                if m in sys.modules)]
reg.catalogues
steps.append(sorted(m for m in ("cyberscan.probes.tls", "cyberscan.render.html") if m in sys.modules))
assert "json" in reg.renderers
steps.append(sorted(m for m in ("cyberscan.probes.tls", "cyberscan.render.html") if m in sys.modules))
assert "tls.scan" in reg.probes
assert "web.tls_version" in reg.evaluators  # waits for the warm-up thread, or imports itself
steps.append(sorted(m for m in ("cyberscan.probes.tls", "cyberscan.render.html", "cyberscan.evaluators.tls")
                    if m in sys.modules))
print(steps)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str([[], [], ["cyberscan.render.html"],
                                       ["cyberscan.evaluators.tls", "cyberscan.probes.tls", "cyberscan.render.html"]])


def test_renderers_import_jinja2_only_to_render_a_template() -> None:
    loaded = imported_after("from cyberscan import registry\nassert 'json' in registry.load().renderers")
    assert {"cyberscan.render.html", "cyberscan.render.incident_sheet"} <= loaded
    assert "jinja2" not in loaded  # a JSON or terminal report needs no template engine


def test_probes_and_evaluators_leave_port_scan_and_dnssec_libraries_until_used() -> None:
    loaded = imported_after("from cyberscan import registry\nreg = registry.load()\nreg.probes\nreg.evaluators")
    assert {"cyberscan.probes.portscan_fallback", "cyberscan.evaluators.dns"} <= loaded
    assert "asyncio" not in loaded  # only a port scan (--ports) needs it
    assert "dns.dnssec" not in loaded  # only judging DNSSEC needs it


def test_lazy_registry_has_what_importing_everything_has() -> None:
    lazy = registry_mod.load()
    eager = registry_mod.build(sorted(registry_mod.BUILTIN))
    for kind in ("probes", "evaluators", "renderers", "sections"):
        assert {k: v.origin for k, v in getattr(lazy, kind).items()} == \
            {k: v.origin for k, v in getattr(eager, kind).items()}, kind


@pytest.mark.parametrize("package", sorted(registry_mod.BUILTIN))
def test_each_built_in_package_provides_only_the_kinds_declared_for_it(package: str) -> None:
    alone = registry_mod.build([package])
    provided = {kind for kind in registry_mod.KINDS if getattr(alone, {"probe": "probes", "evaluator": "evaluators",
                                                                      "renderer": "renderers",
                                                                      "section": "sections"}[kind])}
    assert provided <= set(registry_mod.BUILTIN[package])
    assert alone.catalogues == []  # so `cyberscan checks` need not import it


# ----------------------------------------------------------------------------- parse cache


def same(a: catalogue_mod.Catalogue, b: catalogue_mod.Catalogue) -> None:
    assert a.version == b.version
    assert a.checks == b.checks
    assert a.frameworks == b.frameworks
    assert a.profiles == b.profiles
    assert a.extras == b.extras


def test_the_parse_cache_gives_the_catalogue_the_yaml_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalogue_mod.CACHE_ENV, "off")
    plain = catalogue_mod.load()
    cache = tmp_path / "c" / "catalogue.json"
    monkeypatch.setenv(catalogue_mod.CACHE_ENV, str(cache))
    first = catalogue_mod.load()
    assert cache.exists() and oct(cache.stat().st_mode & 0o777) == "0o600"
    second = catalogue_mod.load()  # from the cache: dates and `yes:` keys (questions, eol) as the YAML has them
    same(plain, first)
    same(plain, second)
    stored = json.loads(cache.read_text())
    assert stored["format"] == catalogue_mod.CACHE_FORMAT and len(stored["entries"]) >= len(plain.checks)


def test_an_edited_file_is_parsed_again_whatever_its_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalogue_mod.CACHE_ENV, str(tmp_path / "cache.json"))
    extra = tmp_path / "extra"
    (extra / "web").mkdir(parents=True)
    source = catalogue_mod.data_root() / "checks" / "web" / "hsts.yaml"
    target = extra / "web" / "hsts-copy.yaml"
    copy = source.read_text().replace("id: web.hsts\n", "id: web.hsts-copy\n")
    target.write_text(copy)
    before = catalogue_mod.load([extra])
    stat = target.stat()
    target.write_text(copy.replace("severity: medium", "severity: high  "))  # the same size, too
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same modification time
    after = catalogue_mod.load([extra])
    assert target.stat().st_size == stat.st_size and target.stat().st_mtime_ns == stat.st_mtime_ns
    assert before.checks["web.hsts-copy"].severity.value == "medium"
    assert after.checks["web.hsts-copy"].severity.value == "high"


@pytest.mark.parametrize(("mode", "used"), [(0o600, True), (0o644, True), (0o664, False), (0o666, False)])
def test_only_a_cache_nobody_else_can_write_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int,
                                                    used: bool) -> None:
    cache = tmp_path / "cache.json"
    monkeypatch.setenv(catalogue_mod.CACHE_ENV, str(cache))
    catalogue_mod.load()
    stored = json.loads(cache.read_text())
    meta = catalogue_mod.data_root() / "checks" / "catalogue.yaml"
    digest = next(k for k, v in stored["entries"].items() if isinstance(v, dict) and "version" in v and len(v) <= 3
                  and catalogue_mod._read_yaml(meta) == v)
    stored["entries"][digest] = {"version": "planted"}
    cache.write_text(json.dumps(stored))
    cache.chmod(mode)
    version = catalogue_mod.load().version
    assert version == ("planted" if used else catalogue_mod._read_yaml(meta)["version"])
