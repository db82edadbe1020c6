"""commands/prompt.py: yes/no in the user's language; Ctrl-C and end of input are click.Abort."""

from __future__ import annotations

import io
import sys

import click
import pytest

from cyberscan.commands.prompt import ask, ask_yes_no


@pytest.mark.parametrize(
    ("lang", "typed", "expected"),
    [
        ("nl", "ja\n", True),
        ("nl", "J\n", True),
        ("nl", "nee\n", False),
        ("nl", "\n", False),  # Enter: the safe default
        ("en", "yes\n", True),
        ("en", "n\n", False),
        ("nl", "misschien\nj\n", True),  # asked again after a word it does not know
    ],
)
def test_yes_no(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lang: str, typed: str,
                expected: bool) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    assert ask_yes_no("Doorgaan?", lang) is expected
    err = capsys.readouterr().err
    assert ("[j/N]" if lang == "nl" else "[y/N]") in err
    if "misschien" in typed:
        assert "Antwoord met j (ja) of n (nee)." in err


def test_end_of_input_is_abort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(click.Abort):
        ask("Antwoord: ")
    with pytest.raises(click.Abort):
        ask_yes_no("Doorgaan?", "nl")


def test_ctrl_c_is_abort(monkeypatch: pytest.MonkeyPatch) -> None:
    class Interrupting(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", Interrupting())
    with pytest.raises(click.Abort):
        ask("Antwoord: ")
