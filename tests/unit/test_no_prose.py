"""No text in code: every sentence a person reads lives in a data file with nl and en.

Code holds text keys and parameters (``say("scan.saved", lang, path=...)``,
``ConfigError("answers.bad-lang", where=..., line=...)``); the words are in ``src/cyberscan/texts/*.yaml``
(interface) or ``checks/`` (check texts, notices, shared check messages). This test reads every module
under ``src/cyberscan`` with :mod:`ast` and fails on a string literal, or an f-string whose constant
parts, that reads as prose. Exempt are docstrings, the arguments of log calls (developer-facing, in
English) and the short allowlist below, each entry with its reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cyberscan.version import USER_AGENT, __version__

SRC = Path(__file__).resolve().parents[2] / "src" / "cyberscan"
HOME_PAGE = next(  # the demo museum's home page (long HTML), found by its opening
    n.value for n in ast.walk(ast.parse((SRC / "demo" / "museum.py").read_text(encoding="utf-8")))
    if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("<!DOCTYPE html>")
)

_WORD = r"[^\W\d_][^\W\d_'’-]*"
THREE_WORDS = re.compile(rf"{_WORD}(?: +{_WORD}){{2,}}")  # "is not valid", "geen geldige domeinnaam"
SENTENCE = re.compile(rf"^\s*{_WORD}(?:[ ,]+{_WORD})+\s*[.!?]\s*$")  # "Not found.", "Niet gevonden."
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
LOG_OWNERS = {"log", "logger", "logging", "_log", "LOG", "LOGGER"}
PLACEHOLDER = "{}"  # what an f-string's formatted parts count as: never a word

# (file under src/cyberscan, the literal or the f-string with {} for its formatted parts): reason.
ALLOWED: dict[tuple[str, str], str] = {
    # --- not interface text: protocol data, page content of the fictional demo museum, identifiers
    ("version.py", USER_AGENT.replace(__version__, PLACEHOLDER, 1)):
        "the HTTP User-Agent sent to scanned servers: it identifies the tool to server operators",
    ("demo/museum.py", HOME_PAGE): "the web page of the fictional demo museum: content the demo scan fetches",
    ("demo/pki.py", "cyberscan demo CA"): "the subject name of the demo's own test certificate authority",
    ("demo/servers.py", "220 2.0.0 Ready to start TLS"): "an SMTP protocol reply of the demo mail server (RFC 3207)",
    ("demo/servers.py", "502 5.5.2 Error: command not recognized"): "an SMTP protocol reply of the demo mail server",
    ("parsers/securitytxt.py", "-----BEGIN PGP SIGNED MESSAGE-----"): "OpenPGP armor line (RFC 4880) the parser looks for",
    ("parsers/securitytxt.py", "-----BEGIN PGP SIGNATURE-----"): "OpenPGP armor line (RFC 4880) the parser looks for",
    ("parsers/securitytxt.py", "-----END PGP SIGNATURE-----"): "OpenPGP armor line (RFC 4880) the parser looks for",
    ("parsers/nmap.py", "subject alternative name:"): "text nmap's ssl-cert script prints, which the parser reads",
    ("hub/serve.py", "cyberscan hub manage"): "the program name Django's management commands print in their usage",
    ("parsers/banner.py", "Microsoft IIS httpd"): "a product name as nmap reports it (the banner parser uses nmap's names)",
    ("parsers/banner.py", "OpenResty web app server"): "a product name as nmap reports it",
}


# SQL statements (the history store): keywords in capitals, as SQL is written, are not prose
SQL = re.compile(r"\b(SELECT|INSERT INTO|CREATE (TABLE|INDEX|UNIQUE INDEX)|UPDATE|DELETE FROM|ALTER TABLE|ORDER BY|"
                 r"GROUP BY|PRIMARY KEY|NOT NULL|REFERENCES|ON CONFLICT)\b")


def is_prose(value: str) -> bool:
    if SQL.search(value):
        return False
    return bool(THREE_WORDS.search(value) or SENTENCE.search(value))


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _is_log_call(node: ast.Call) -> bool:
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr not in LOG_METHODS:
        return False
    owner = func.value
    return (isinstance(owner, ast.Name) and owner.id in LOG_OWNERS) or (
        isinstance(owner, ast.Call) and isinstance(owner.func, ast.Attribute) and owner.func.attr == "getLogger"
    )


def _template(node: ast.JoinedStr) -> str:
    return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)


def findings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every prose literal in one module that no exemption covers."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    exempt = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_log_call(node):
            exempt.update(id(sub) for sub in ast.walk(node))
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    rel = path.relative_to(SRC).as_posix()
    out = []
    for node in ast.walk(tree):
        if id(node) in exempt:
            continue
        if isinstance(node, ast.JoinedStr):
            value = _template(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            value = node.value
        else:
            continue
        if is_prose(value) and (rel, value) not in ALLOWED:
            out.append((node.lineno, value))
    return out


# Django migrations are generated code (they copy the models' help texts, which come from texts/hub.yaml)
MODULES = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_prose_in_code(path: Path) -> None:
    found = findings(path)
    assert not found, "prose in code (move it to src/cyberscan/texts/*.yaml and use a key):\n" + "\n".join(
        f"  {path.relative_to(SRC)}:{line}: {value[:100]!r}" for line, value in found
    )


def test_every_allowlist_entry_is_still_needed() -> None:
    """An entry whose literal is gone must go too, so the list only ever shrinks."""
    present = set()
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                present.add((rel, _template(node)))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                present.add((rel, node.value))
    assert not [entry for entry in ALLOWED if entry not in present]


@pytest.mark.parametrize(
    ("value", "prose"),
    [
        ("is not a valid domain name", True),
        ("Klaar.", False),  # one word: a label, not a sentence
        ("Not found.", True),
        ("geen geldige domeinnaam", True),
        ("scan.saved", False),
        ("answers.bad-lang", False),
        ("%(levelname)s %(name)s: %(message)s", False),
        ("text/html; charset=utf-8", False),
        ("{} needs {} in {}", False),
        ("{} needs non-empty texts in {}", True),
        ("  # ---- {}", False),
        ("v=spf1 -all", False),
    ],
)
def test_the_prose_detector(value: str, prose: bool) -> None:
    assert is_prose(value) is prose


def test_the_scan_sees_f_strings_and_skips_docstrings_and_logs(tmp_path: Path) -> None:
    module = SRC / "_probe_for_test.py"  # parsed, never imported
    source = '''"""A docstring is free to say what it likes."""
import logging
log = logging.getLogger(__name__)


def f(where: str) -> str:
    """So is this one."""
    log.warning("a log line in plain English is fine: %s", where)
    return f"{where}: this needs a text key"
'''
    try:
        module.write_text(source, encoding="utf-8")
        assert findings(module) == [(9, "{}: this needs a text key")]
    finally:
        module.unlink()
