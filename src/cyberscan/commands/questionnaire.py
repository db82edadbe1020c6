"""``cyberscan questionnaire``: ask the organisation questions in the terminal and write an answers file.

Every answer is saved at once, so stopping (``stop``, Ctrl-C, end of input) loses nothing; running the
command again with the same file continues at the first open question. Contact details are written
only to the answers file (mode 0600), never logged.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from ..catalogue import Catalogue, text
from ..questionnaire import (
    DONT_KNOW,
    AnswerError,
    Answers,
    Question,
    Questionnaire,
    applies,
    describe_error,
    dump_answers,
    label,
    normalize,
    questionnaire,
    selected,
)
from ..texts import say
from .common import (
    EXIT_IO,
    EXIT_OK,
    EXIT_USAGE,
    LANGS,
    echo,
    fail,
    lang_of,
    load_catalogue,
    os_detail,
    pick_profile,
    read_answers,
)
from .help import h
from .output import write_atomic
from .prompt import ask

DEFAULT_FILE = "antwoorden.yaml"

BACK = {"b", "back", "t", "terug", "<"}
SKIP = {"s", "skip", "o", "overslaan", ">"}
STOP = {"stop", "q", "quit"}
WHY = {"?", "waarom", "why"}
HELP = {"h", "help", "hulp"}
SHORT = {
    "nl": {"w": DONT_KNOW, "j": "yes", "n": "no", "d": "partly"},
    "en": {"d": DONT_KNOW, "dk": DONT_KNOW, "y": "yes", "n": "no", "p": "partly"},
}


class _Back(Exception):
    pass


class _Stop(Exception):
    pass


class _Skip(Exception):
    pass


@click.command("questionnaire", help=h("questionnaire.help"), options_metavar=h("metavar.options"))
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path), metavar=h("metavar.file"),
              help=h("opt.questionnaire-output"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.questionnaire-lang"))
@click.option("--profile", "profile_name", default=None, metavar=h("metavar.profile"),
              help=h("opt.questionnaire-profile"))
@click.option("--template", is_flag=True, help=h("opt.template"))
@click.option("--review", is_flag=True, help=h("opt.review"))
def command(output: Path | None, lang: str | None, profile_name: str | None, template: bool, review: bool) -> None:
    lang = lang_of(lang)
    cat, _ = load_catalogue(lang=lang)
    qn = questionnaire(cat)
    if template:
        profile = pick_profile(cat, profile_name or "default", lang=lang)
        answers = Answers(lang=lang, profile=profile.id)
        content = dump_answers(
            qn, selected(qn, profile), answers, lang=lang, file_name=output.name if output else DEFAULT_FILE
        )
        if output is None:
            click.echo(content, nl=False)
            return
        if output.exists():
            fail("questionnaire.template-exists", EXIT_USAGE, lang, path=str(output))
        _save(output, content, lang)
        echo("questionnaire.template-written", lang, path=str(output))
        return
    path = output or Path(DEFAULT_FILE)
    answers = Answers(lang=lang)
    if path.exists():
        answers = read_answers(path, cat, lang=lang)
    answers.lang = lang
    profile = pick_profile(cat, profile_name or answers.profile or "default", lang=lang)
    answers.profile = profile.id
    Session(cat, qn, selected(qn, profile), answers, path, lang).run(review=review)


def _save(path: Path, content: str, lang: str) -> None:
    """Answers are written atomically and readable by the owner only (contact details are personal data)."""
    try:
        write_atomic(path, content, mode=0o600)
    except OSError as exc:
        fail("file.unwritable", EXIT_IO, lang, path=str(path), detail=os_detail(exc, lang))


class Session:
    """One interactive run over the selected questions."""

    def __init__(
        self, cat: Catalogue, qn: Questionnaire, questions: list[Question], answers: Answers, path: Path, lang: str
    ) -> None:
        self.cat, self.qn, self.questions, self.answers, self.path, self.lang = cat, qn, questions, answers, path, lang

    # -- persistence

    def save(self) -> None:
        self.answers.updated = date.today().isoformat()
        wanted = {q.id for q in self.questions} | set(self.answers.data)
        keep = [q for q in self.qn.questions if q.id in wanted]
        _save(self.path, dump_answers(self.qn, keep, self.answers, lang=self.lang, file_name=self.path.name), self.lang)

    def t(self, key: str, **params: Any) -> str:
        return say(f"questionnaire.{key}", self.lang, **params)

    def say(self, key: str, **params: Any) -> None:
        click.echo(self.t(key, **params))

    # -- the loop

    def _open(self, q: Question) -> bool:
        return q.id not in self.answers.data and q.id not in self.answers.skipped

    def run(self, *, review: bool) -> None:
        n = len(self.questions)
        done = sum(1 for q in self.questions if q.id in self.answers.data)
        start = (
            0
            if review
            else next((i for i, q in enumerate(self.questions) if self._open(q) and applies(q, self.answers.data)), n)
        )
        if start >= n:
            skipped = sum(1 for q in self.questions if q.id in self.answers.skipped and q.id not in self.answers.data)
            self.say("all-done", file=self.path, skipped=skipped)
            return
        self.say("intro", n=n, file=self.path)
        if done and not review:
            self.say("resume", done=done, n=n)
        self.say("controls")
        history: list[int] = []
        i = start
        try:
            while i < n:
                q = self.questions[i]
                if not applies(q, self.answers.data):
                    i += 1
                    continue
                try:
                    self.ask(q, i + 1, n)
                except _Back:
                    if history:
                        i = history.pop()
                    else:
                        self.say("first")
                    continue
                except _Skip:
                    if q.id not in self.answers.skipped:
                        self.answers.skipped.append(q.id)
                self.save()
                history.append(i)
                i += 1
        except (_Stop, click.Abort, KeyboardInterrupt):  # Ctrl-C between two prompts counts too
            self.save()
            click.echo("")
            self.say("saved", file=self.path)
            sys.exit(EXIT_OK)
        self.save()
        skipped = sum(1 for q in self.questions if q.id in self.answers.skipped and q.id not in self.answers.data)
        answered = sum(1 for q in self.questions if q.id in self.answers.data)
        self.say("done", answered=answered, skipped=skipped, file=self.path)
        self.say("next", file=self.path)

    # -- one question

    def prompt(self, prompt_text: str) -> str:
        return ask(f"{prompt_text}: ")

    def command_of(self, raw: str) -> None:
        word = raw.lower()
        if word in BACK:
            raise _Back
        if word in SKIP:
            raise _Skip
        if word in STOP:
            raise _Stop

    def ask(self, q: Question, i: int, n: int) -> None:
        lang = self.lang
        section = text(self.qn.sections.get(q.section, {}), lang) or q.section
        click.echo("")
        click.secho(self.t("progress", i=i, n=n, section=section), bold=True)
        click.echo(text(q.text, lang))
        click.secho(self.t("why", why=text(q.why, lang)), dim=True)
        current = self.answers.data.get(q.id)
        if current is not None:
            click.echo(f"  ({self.t('current', value=label(q, current, lang))})")
        if q.type == "contact":
            self._contact(q, current)
            return
        if q.type == "number" and q.per:
            self._per(q, current)
            return
        choices = self._show_options(q)
        while True:
            raw = self.prompt(self.t("answer"))
            if not raw:
                if current is not None:
                    return
                self.say("empty")
                continue
            if raw.lower() in WHY:
                click.echo(text(q.why, lang))
                continue
            if raw.lower() in HELP:
                self.say("controls")
                continue
            self.command_of(raw)
            try:
                value = normalize(q, self._expand(q, raw, choices))
            except AnswerError as exc:
                click.echo("  " + describe_error(exc, lang))
                continue
            if value is None:
                self.say("empty")
                continue
            self.answers.data[q.id] = value
            if q.id in self.answers.skipped:
                self.answers.skipped.remove(q.id)
            return

    def _show_options(self, q: Question) -> list[str]:
        """Print numbered options; return the canonical value per number (1-based)."""
        lang = self.lang
        if q.type == "yesno":
            values = ["yes", "no", "partly", DONT_KNOW]
            labels = [self.t(f"option-{value}") for value in values]
            click.echo("   " + "   ".join(f"{k}) {lab}" for k, lab in enumerate(labels, 1)))
            return values
        if q.type in ("choice", "multi"):
            values = [o.value for o in q.options] + [DONT_KNOW]
            for k, option in enumerate(q.options, 1):
                click.echo(f"   {k}) {text(option.label, lang)}")
            click.echo(f"   {len(values)}) {self.t('option-dont-know')}")
            if q.type == "multi":
                self.say("choose-multi")
            return values
        if q.type == "number":
            if q.unit:
                self.say("number-unit", unit=text(q.unit, lang))
            else:
                self.say("number")
        elif q.type == "date":
            self.say("date")
        return []

    def _expand(self, q: Question, raw: str, choices: list[str]) -> Any:
        """Numbers and one-letter shortcuts to canonical values."""
        short = SHORT[self.lang]
        word = raw.lower()
        if q.type == "multi":
            parts = [p for p in raw.replace(";", ",").replace(" ", ",").split(",") if p]
            if parts == ["0"]:
                return []
            out: list[str] = []
            for part in parts:
                if part.isdigit() and 1 <= int(part) <= len(choices):
                    out.append(choices[int(part) - 1])
                elif part.lower() in short and short[part.lower()] == DONT_KNOW:
                    out.append(DONT_KNOW)
                else:
                    out.append(part)
            return DONT_KNOW if DONT_KNOW in out else out
        if choices and word.isdigit() and 1 <= int(word) <= len(choices):
            return choices[int(word) - 1]
        if word in short and (q.type == "yesno" or short[word] == DONT_KNOW):
            return short[word]
        return raw

    def _dont_know(self, raw: str) -> bool:
        word = raw.lower()
        return SHORT[self.lang].get(word) == DONT_KNOW or word in ("weet niet", "dont-know", "don't know")

    def _sub(self, prompt_text: str, default: str | None) -> str | None:
        suffix = f" [{default}]" if default else ""
        raw = self.prompt(prompt_text + suffix)
        if raw.lower() in BACK | SKIP | STOP:
            self.command_of(raw)
        return raw or default

    def _per(self, q: Question, current: Any) -> None:
        lang = self.lang
        values: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
        for part in q.per:
            while True:
                old = values.get(part.value)
                prompt_text = (self.t("part-unit", part=text(part.label, lang), unit=text(q.unit, lang)) if q.unit
                               else self.t("part", part=text(part.label, lang)))
                raw = self._sub(prompt_text, None if old is None else str(old))
                if raw is None or self._dont_know(raw):
                    values.pop(part.value, None)
                    break
                try:
                    values[part.value] = normalize(q, {part.value: raw})[part.value]
                except AnswerError as exc:
                    click.echo("  " + describe_error(exc, lang))
                    continue
                break
        if values:
            self.answers.data[q.id] = values
        else:
            self.answers.data[q.id] = DONT_KNOW
        if q.id in self.answers.skipped:
            self.answers.skipped.remove(q.id)

    def _contact(self, q: Question, current: Any) -> None:
        old = dict(current) if isinstance(current, dict) else {}
        name = self._sub(self.t("name"), old.get("name"))
        phone = self._sub(self.t("phone"), old.get("phone"))
        contact = {k: v for k, v in {**old, "name": name, "phone": phone}.items() if v}
        if not contact:
            raise _Skip
        self.answers.data[q.id] = contact
        if q.id in self.answers.skipped:
            self.answers.skipped.remove(q.id)
