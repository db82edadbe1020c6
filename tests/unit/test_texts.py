"""The interface texts (src/cyberscan/texts/*.yaml): unique keys, both languages, the same placeholders,
and every key the code uses exists (a static scan of src/, so a typo fails here, not in front of a user)."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from cyberscan import errors
from cyberscan.commands import clicktext
from cyberscan.questionnaire import DONT_KNOW, NEVER, TYPES, AnswerError, AnswersFileError
from cyberscan.texts import LANGUAGES, say, table

SRC = Path(__file__).resolve().parents[2] / "src" / "cyberscan"
TEXTS = sorted((SRC / "texts").glob("*.yaml"))
TEMPLATE = SRC / "render" / "templates" / "incident_sheet.html"

KEY_FUNCTIONS = {"say", "fail", "echo", "h"}  # say(key, lang, ...), fail(key, code, lang, ...), echo(key, lang), h(key)
ERROR_TYPES = {
    name for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, errors.CyberscanError)
} | {AnswersFileError.__name__, AnswerError.__name__}
PREFIXED = {"commands/questionnaire.py": {"say": "questionnaire.", "t": "questionnaire."}}  # Session.say/t


def _entries(path: Path) -> Iterator[tuple[str, Any, int]]:
    """(key, value, line) of one texts file, duplicates within the file included (safe_load hides them)."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode), f"{path.name} must be a mapping"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key_node, _value in root.value:
        yield str(key_node.value), data[key_node.value], key_node.start_mark.line + 1


def _fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0].split("!")[0] for _, name, _, _ in string.Formatter().parse(template)
            if name}


def test_every_key_is_unique_across_all_texts_files() -> None:
    seen: dict[str, str] = {}
    clashes = []
    for path in TEXTS:
        for key, _value, line in _entries(path):
            if key in seen:
                clashes.append(f"{key}: {seen[key]} and {path.name}:{line}")
            seen[key] = f"{path.name}:{line}"
    assert not clashes


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: p.name)
def test_every_text_has_dutch_and_english_with_the_same_placeholders(path: Path) -> None:
    for key, value, line in _entries(path):
        where = f"{path.name}:{line} {key}"
        assert isinstance(value, dict) and set(value) == set(LANGUAGES), f"{where}: needs exactly nl and en"
        for lang in LANGUAGES:
            assert isinstance(value[lang], str) and value[lang].strip(), f"{where}: empty {lang}"
        if key.startswith(clicktext.PREFIX):
            continue  # click fills these with %-style or {}-style names of its own; checked below
        assert _fields(value["nl"]) == _fields(value["en"]), f"{where}: nl and en name different {{placeholders}}"


def _keys_used(path: Path) -> Iterator[tuple[int, str]]:
    rel = path.relative_to(SRC).as_posix()
    prefixes = PREFIXED.get(rel, {})
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = node.func
        if isinstance(func, ast.Name) and (func.id in KEY_FUNCTIONS or func.id in ERROR_TYPES):
            yield node.lineno, first.value
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self" \
                and func.attr in prefixes:
            yield node.lineno, prefixes[func.attr] + first.value


def test_every_key_used_in_the_code_exists() -> None:
    known = table()
    missing = [f"{path.relative_to(SRC)}:{line}: {key}" for path in sorted(SRC.rglob("*.py"))
               for line, key in _keys_used(path) if key not in known]
    assert not missing


def test_every_error_is_raised_with_a_text_key() -> None:
    """``SomeError("key", **params)``: never a sentence, never a key computed at run time."""
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ERROR_TYPES:
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    wrong.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert not wrong


def test_the_static_scan_finds_keys() -> None:
    """A guard for the scan above: it does see the keys of the main paths."""
    used = {key for path in sorted(SRC.rglob("*.py")) for _, key in _keys_used(path)}
    assert {"scan.saved", "domain.invalid", "answers.bad-lang", "questionnaire.saved", "opt.profile",
            "catalogue.missing", "yaml.bad-date"} <= used


@pytest.mark.parametrize(
    "key",
    [
        *(f"answer.word.{w}" for w in ("yes", "no", "partly", DONT_KNOW, NEVER, "none")),
        *(f"answers-file.{t}" for t in TYPES),  # _choices(): one comment per question type
        *(f"questionnaire.option-{w}" for w in ("yes", "no", "partly", DONT_KNOW)),
    ],
)
def test_keys_built_from_data_exist(key: str) -> None:
    assert key in table()


def test_every_word_of_the_incident_sheet_template_exists() -> None:
    used = set(re.findall(r"\bt\.([a-z_0-9]+)", TEMPLATE.read_text(encoding="utf-8")))
    assert used and not {f"sheet.{name}" for name in used} - set(table())


def test_an_unknown_key_shows_itself_rather_than_nothing() -> None:
    assert say("no.such.key", "nl", x=1) == "no.such.key {'x': 1}"


def _click_messages() -> set[str]:
    found = set()
    for source in Path(click.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "ngettext"):
                found.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return found


def test_click_texts_are_click_messages() -> None:
    """Each `en` of texts/click.yaml is a message id of the installed click (an upgrade that rewords one
    must update the file), and the Dutch keeps click's placeholders."""
    messages = _click_messages()
    for key, value in table().items():
        if not key.startswith(clicktext.PREFIX):
            continue
        assert value["en"] in messages, f"{key}: {value['en']!r} is no longer a click message"
        if "%(" in value["en"]:
            assert set(re.findall(r"%\(\w+\)s", value["nl"])) == set(re.findall(r"%\(\w+\)s", value["en"])), key
        else:
            assert _fields(value["nl"]) == _fields(value["en"]), key
