"""The questionnaire: questions as data, answers files, and answers as self-reported results.

Questions live in ``checks/data/questions.yaml`` (``Catalogue.extras["questions"]``); a profile picks
which apply (``questions: {include: [patterns], exclude: [...], severity: {id: level}}``). An answers
file is YAML that a volunteer can also fill in by hand::

    cyberscan-answers: 1
    lang: nl
    answers:
      q.backup.offline: "yes"
      q.backup.scope: [collection_db, website]
      q.contact.coordinator: {name: "...", phone: "..."}

Contact details are personal data: they stay in the answers file (written with mode 0600) and on the
printed incident sheet, never in results, logs or the JSON report.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from . import safeyaml
from .catalogue import LANGUAGES, Catalogue, Profile, Text, text
from .errors import CatalogueError, ConfigError
from .models import Result, Severity, Status
from .texts import say

TYPES = ("yesno", "choice", "multi", "number", "date", "text", "contact")
SCORES = ("pass", "warn", "fail", "info")
WHO = ("volunteer", "supplier", "director")
EFFORT = ("low", "medium", "high")
YESNO = ("yes", "no", "partly")
DONT_KNOW = "dont-know"
NEVER = "never"
FORMAT_KEY = "cyberscan-answers"
FORMAT_VERSION = 1
MAX_NUMBER = 1_000_000_000  # copies, hours, days: anything larger is a typing error

_DEFAULT_YESNO = {"yes": "pass", "partly": "warn", "no": "fail"}
_STATUS = {"pass": Status.PASS, "warn": Status.WARN, "fail": Status.FAIL, "info": Status.INFO}

# Words people type or write for the yes/no/partly/don't-know answers, in both languages.
_SYNONYMS = {
    "yes": "yes", "ja": "yes", "y": "yes", "j": "yes", "true": "yes",
    "no": "no", "nee": "no", "n": "no", "false": "no",
    "partly": "partly", "deels": "partly", "gedeeltelijk": "partly", "partial": "partly", "partially": "partly",
    "dont-know": DONT_KNOW, "don't know": DONT_KNOW, "dont know": DONT_KNOW, "weet niet": DONT_KNOW,
    "weet-niet": DONT_KNOW, "unknown": DONT_KNOW, "onbekend": DONT_KNOW, "?": DONT_KNOW,
    "never": NEVER, "nooit": NEVER,
}  # fmt: skip


class AnswerError(ValueError):
    """An answer that does not fit its question; ``key`` names the problem (a text key), ``params`` the
    details. Values are shortened: a wrong answer is quoted back, never a whole file."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = {k: (v[:60] + "…" if isinstance(v, str) and len(v) > 60 else v) for k, v in params.items()}


class AnswersFileError(ConfigError):
    """A problem in an answers file, naming the file, the line and the question; the wrong answer
    itself (``problem``) is told in the reader's language too."""

    def __init__(self, key: str, /, *, problem: AnswerError | None = None, **params: Any) -> None:
        super().__init__(key, **params)
        self.problem = problem

    def message(self, lang: str = "en") -> str:
        if self.problem is None:
            return super().message(lang)
        return say(self.key, lang, **{**self.params, "problem": describe_error(self.problem, lang)})


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: Text
    score: str = "info"


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    type: str
    text: Text
    why: Text
    section: str
    options: tuple[Option, ...] = ()
    scores: Mapping[str, str] = field(default_factory=dict)
    dont_know: str = "info"
    rules: tuple[Mapping[str, Any], ...] = ()
    never: str = "fail"
    per: tuple[Option, ...] = ()
    at_most: str | None = None
    maps_to: tuple[str, ...] = ()
    continuity: tuple[str, ...] = ()
    who: str = "volunteer"
    severity: Severity = Severity.MEDIUM
    effort: str = "low"
    advice: Text = field(default_factory=dict)
    when: Mapping[str, Any] = field(default_factory=dict)
    unit: Text = field(default_factory=dict)
    role: str | None = None

    @property
    def scored(self) -> bool:
        return self.type not in ("text", "contact")

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True, slots=True)
class Questionnaire:
    version: int
    sections: Mapping[str, Text]
    questions: tuple[Question, ...]

    def get(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def ids(self) -> list[str]:
        return [q.id for q in self.questions]


def _canon(value: Any) -> str:
    """A YAML scalar as the canonical string: YAML 1.1 reads ``yes``/``no`` as booleans."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _texts(raw: Any, where: str, name: str, *, required: bool = True) -> Text:
    if raw is None and not required:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(raw.get(lang), str) and raw.get(lang) for lang in LANGUAGES):
        raise CatalogueError("catalogue.needs-texts", where=where, field=name)
    return {str(k): str(v) for k, v in raw.items()}


def _score(value: Any, where: str) -> str:
    score = _canon(value)
    if score not in SCORES:
        raise CatalogueError("questions.bad-score", where=where, score=score[:40], choices=", ".join(SCORES))
    return score


def _options(raw: Any, where: str, *, scored: bool) -> tuple[Option, ...]:
    out = []
    for entry in raw or []:
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise CatalogueError("questions.option-needs-value", where=where)
        value = _canon(entry["value"])
        out.append(
            Option(
                value=value,
                label=_texts(entry.get("label"), where, f"options.{value}.label"),
                score=_score(entry.get("score", "info"), f"{where} options.{value}") if scored else "info",
            )
        )
    return tuple(out)


def parse_question(raw: Any, where: str) -> Question:
    if not isinstance(raw, Mapping) or "id" not in raw:
        raise CatalogueError("questions.needs-id", where=where)
    qid = str(raw["id"])
    where = f"{where} {qid}"
    if not re.fullmatch(r"q\.[a-z0-9_]+\.[a-z0-9_.]+", qid):
        raise CatalogueError("questions.bad-id", where=where)
    qtype = str(raw.get("type", ""))
    if qtype not in TYPES:
        raise CatalogueError("questions.bad-field", where=where, field="type", choices=", ".join(TYPES))
    options = _options(raw.get("options"), where, scored=True)
    if qtype in ("choice", "multi") and not options:
        raise CatalogueError("questions.needs-options", where=where, type=qtype)
    rules = tuple(dict(r) for r in raw.get("score") or [])
    for rule in rules:
        _score(rule.get("result"), f"{where} score")
    who, effort = str(raw.get("who", "volunteer")), str(raw.get("effort", "low"))
    if who not in WHO:
        raise CatalogueError("questions.bad-field", where=where, field="who", choices=", ".join(WHO))
    if effort not in EFFORT:
        raise CatalogueError("questions.bad-field", where=where, field="effort", choices=", ".join(EFFORT))
    scores = {_canon(k): _score(v, where) for k, v in (raw.get("scores") or {}).items()}
    if any(k not in YESNO for k in scores):
        raise CatalogueError("questions.bad-scores", where=where, choices=", ".join(YESNO))
    when = raw.get("when") or {}
    if not isinstance(when, Mapping):
        raise CatalogueError("questions.bad-when", where=where)
    try:
        severity = Severity(raw.get("severity", "medium"))
    except ValueError:
        raise CatalogueError("questions.bad-severity", where=where, value=str(raw.get("severity"))[:40]) from None
    return Question(
        id=qid,
        type=qtype,
        text=_texts(raw.get("text"), where, "text"),
        why=_texts(raw.get("why"), where, "why"),
        section=qid.split(".")[1],
        options=options,
        scores=scores,
        dont_know=_score(raw.get("dont_know", "info"), where),
        rules=rules,
        never=_score(raw.get("never", "fail"), where),
        per=_options(raw.get("per"), where, scored=False),
        at_most=str(raw["at_most"]) if raw.get("at_most") else None,
        maps_to=tuple(str(x) for x in raw.get("maps_to") or ()),
        continuity=tuple(str(x) for x in raw.get("continuity") or ()),
        who=who,
        severity=severity,
        effort=effort,
        advice=_texts(raw.get("advice"), where, "advice", required=qtype not in ("text", "contact")),
        when={str(k): v for k, v in when.items()},
        unit=_texts(raw.get("unit"), where, "unit", required=False),
        role=str(raw["role"]) if raw.get("role") else None,
    )


def parse_questionnaire(raw: Any, where: str = "data/questions.yaml") -> Questionnaire:
    if raw is None:
        return Questionnaire(1, {}, ())
    if not isinstance(raw, Mapping):
        raise CatalogueError("questions.not-a-mapping", where=where)
    sections = {str(k): _texts(v, where, f"sections.{k}") for k, v in (raw.get("sections") or {}).items()}
    questions = tuple(parse_question(q, where) for q in raw.get("questions") or [])
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise CatalogueError("questions.duplicate", where=where, id=q.id)
        seen.add(q.id)
        if sections and q.section not in sections:
            raise CatalogueError("questions.unknown-section", where=where, id=q.id, section=q.section)
    return Questionnaire(int(raw.get("version", 1)), sections, questions)


_PARSED: dict[int, tuple[Any, Questionnaire]] = {}  # id(raw) -> (raw, its questionnaire); raw kept, so no id reuse
_PARSED_MAX = 16


def questionnaire(catalogue: Catalogue) -> Questionnaire:
    """The catalogue's questionnaire (an empty one when the catalogue has none), parsed once per loaded
    catalogue (every scan's actions ask for it: a batch would parse it again for every domain)."""
    raw = catalogue.extras.get("questions")
    hit = _PARSED.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    parsed = parse_questionnaire(raw)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[id(raw)] = (raw, parsed)
    return parsed


def selected(qn: Questionnaire, profile: Profile | None) -> list[Question]:
    """The questions ``profile`` asks, in questionnaire order."""
    spec = profile.questions if profile is not None else {}
    include = [str(p) for p in spec.get("include") or ["q.*"]]
    exclude = [str(p) for p in spec.get("exclude") or []]
    return [
        q
        for q in qn.questions
        if any(fnmatch.fnmatchcase(q.id, p) for p in include) and not any(fnmatch.fnmatchcase(q.id, p) for p in exclude)
    ]


def severity_for(question: Question, profile: Profile | None) -> Severity:
    override = (profile.questions.get("severity") or {}).get(question.id) if profile is not None else None
    return Severity(override) if override else question.severity


# --------------------------------------------------------------------------- answers


@dataclass(slots=True)
class Answers(Mapping[str, Any]):
    """Canonical answers by question id, plus the file's metadata. Contacts are answers too."""

    data: dict[str, Any] = field(default_factory=dict)
    lang: str = "nl"
    profile: str | None = None
    skipped: list[str] = field(default_factory=list)
    updated: str | None = None
    lines: dict[str, int] = field(default_factory=dict)  # question id -> line in the file (for messages)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def contacts(self) -> dict[str, Mapping[str, str]]:
        """Contact answers by question id (personal data: only for the printed sheet)."""
        return {k: v for k, v in self.data.items() if k.startswith("q.contact.") and isinstance(v, Mapping)}

    def public(self) -> dict[str, Any]:
        """The answers without contact details, e.g. for a machine-readable report."""
        return {k: v for k, v in self.data.items() if not k.startswith("q.contact.")}


def normalize(question: Question, raw: Any) -> Any:
    """Turn a raw answer (from a file or typed in) into its canonical form; ``None`` means unanswered.

    Raises :class:`AnswerError` when the answer does not fit the question.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str | bool) and _word(raw) == DONT_KNOW and question.type != "text":
        return DONT_KNOW
    kind = question.type
    if kind == "yesno":
        word = _word(raw)
        if word not in YESNO:
            raise AnswerError("answer.bad-yesno", value=_canon(raw))
        return word
    if kind == "choice":
        return _choice(question, raw)
    if kind == "multi":
        if isinstance(raw, str) and _word(raw) in ("none", "geen", "nothing", "niets"):
            return []
        items = raw if isinstance(raw, list) else [raw]
        chosen: list[str] = []
        for item in items:
            value = _choice(question, item)
            if value not in chosen:
                chosen.append(value)
        return [o.value for o in question.options if o.value in chosen]
    if kind == "number":
        if question.per:
            if not isinstance(raw, Mapping):
                raise AnswerError("answer.bad-per", parts=", ".join(o.value for o in question.per))
            out: dict[str, float | int] = {}
            for part, value in raw.items():
                key = _canon(part)
                if key not in {o.value for o in question.per}:
                    raise AnswerError("answer.bad-part", part=key, parts=", ".join(o.value for o in question.per))
                if value is None or (isinstance(value, str) and _word(value) in ("", DONT_KNOW)):
                    continue
                out[key] = _number(value)
            return out or None
        return _number(raw)
    if kind == "date":
        if isinstance(raw, str) and _word(raw) == NEVER:
            return NEVER
        return _date(raw).isoformat()
    if kind == "text":
        if not isinstance(raw, str | int | float):
            raise AnswerError("answer.bad-text")
        return str(raw).strip()
    # contact
    if isinstance(raw, str):
        return {"name": raw.strip()}
    if not isinstance(raw, Mapping):
        raise AnswerError("answer.bad-contact")
    contact = {str(k): str(v).strip() for k, v in raw.items() if v is not None and str(v).strip()}
    unknown = set(contact) - {"name", "phone", "email", "note"}
    if unknown:
        raise AnswerError("answer.bad-contact-field", field=sorted(unknown)[0])
    return contact or None


def _word(raw: Any) -> str:
    word = _canon(raw).strip().lower().replace("’", "'")
    return _SYNONYMS.get(word, word)


def _choice(question: Question, raw: Any) -> str:
    value = _canon(raw).strip()
    if question.option(value):
        return value
    lowered = value.lower()
    for option in question.options:
        if lowered in (option.value.lower(), *(label.lower() for label in option.label.values())):
            return option.value
    raise AnswerError("answer.bad-choice", value=value, choices=", ".join(o.value for o in question.options))


def _number(raw: Any) -> float | int:
    if isinstance(raw, bool):
        raise AnswerError("answer.bad-number", value=_canon(raw))
    if isinstance(raw, int | float):
        value: float | int = raw
    else:
        try:
            value = float(str(raw).strip().replace(",", "."))
        except ValueError:
            raise AnswerError("answer.bad-number", value=str(raw)) from None
        if value.is_integer():
            value = int(value)
    if value != value or value < 0 or value in (float("inf"), float("-inf")):
        raise AnswerError("answer.bad-number", value=str(raw))
    if value > MAX_NUMBER:
        raise AnswerError("answer.number-too-large", value=str(raw), limit=MAX_NUMBER)
    return value


def _date(raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    value = str(raw).strip()
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y-%m", "%m-%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise AnswerError("answer.bad-date", value=value)


def applies(question: Question, values: Mapping[str, Any]) -> bool:
    """Whether ``question`` is asked, given its ``when`` conditions and the answers so far."""
    for other, condition in question.when.items():
        value = values.get(other)
        if isinstance(condition, Mapping):
            excluded = {_canon(v) for v in condition.get("not") or []}
            if value is None or (isinstance(value, str) and value in excluded):
                return False
        else:
            wanted = {_canon(v) for v in (condition if isinstance(condition, list) else [condition])}
            if not isinstance(value, str) or value not in wanted:
                return False
    return True


def score(question: Question, value: Any, values: Mapping[str, Any], *, today: date) -> str:
    """pass / warn / fail / info for a canonical answer."""
    if value == DONT_KNOW:
        return question.dont_know
    kind = question.type
    if kind == "yesno":
        return {**_DEFAULT_YESNO, **question.scores}.get(value, "info")
    if kind == "choice":
        option = question.option(value)
        return option.score if option else "info"
    if kind == "multi":
        return _by_rules(question.rules, "min", len(value))
    if kind == "number":
        number = min(value.values()) if isinstance(value, Mapping) else value
        if question.at_most:
            limit = values.get(question.at_most)
            limits = list(limit.values()) if isinstance(limit, Mapping) else [limit]
            numeric = [x for x in limits if isinstance(x, int | float) and not isinstance(x, bool)]
            if numeric:
                return "pass" if number <= min(numeric) else "warn"
        return _by_rules(question.rules, "min", number)
    if kind == "date":
        if value == NEVER:
            return question.never
        age = max(0, (today - date.fromisoformat(value)).days)
        return _by_rules(question.rules, "max_days", age)
    return "info"


def _by_rules(rules: Sequence[Mapping[str, Any]], bound: str, value: float) -> str:
    for rule in rules:
        limit = rule.get(bound)
        if limit is None or (value >= limit if bound == "min" else value <= limit):
            return _canon(rule.get("result", "info"))
    return "info"


def _word_of(value: str, lang: str) -> str:
    return say(f"answer.word.{value}", lang)


def label(question: Question, value: Any, lang: str) -> str:
    """A canonical answer in words, in ``lang``."""
    words = ("yes", "no", "partly", DONT_KNOW, NEVER)
    if isinstance(value, str) and value in words and question.type in ("yesno", "date", "choice", "multi", "number"):
        option = question.option(value) if question.type == "choice" else None
        return text(option.label, lang) if option else _word_of(value, lang)
    if question.type in ("choice", "multi"):
        chosen = value if isinstance(value, list) else [value]
        if not chosen:
            return _word_of("none", lang)
        return ", ".join(text(o.label, lang) if (o := question.option(v)) else str(v) for v in chosen)
    unit = f" {text(question.unit, lang)}" if question.unit else ""
    if question.type == "number" and isinstance(value, Mapping):
        parts = {o.value: text(o.label, lang) for o in question.per}
        return "; ".join(f"{parts.get(k, k)}: {_num(v)}{unit}" for k, v in value.items())
    if question.type == "number":
        return f"{_num(value)}{unit}"
    if question.type == "contact" and isinstance(value, Mapping):
        return ", ".join(str(v) for v in value.values())
    return str(value)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- results


def answer_results(
    catalogue: Catalogue, profile: Profile | None, answers: Mapping[str, Any], *, target: str, today: date | None = None
) -> list[Result]:
    """Every answered, applicable, scored question of ``profile`` as a self-reported result."""
    qn = questionnaire(catalogue)
    values = answers.data if isinstance(answers, Answers) else dict(answers)
    today = today or date.today()
    results = []
    for question in selected(qn, profile):
        value = values.get(question.id)
        if value is None or not question.scored or not applies(question, values):
            continue
        status = _STATUS[score(question, value, values, today=today)]
        results.append(
            Result(
                check_id=question.id,
                check_version=qn.version,
                target=target,
                status=status,
                severity=severity_for(question, profile),
                message="answer.given",
                params={
                    "question_nl": text(question.text, "nl"),
                    "question_en": text(question.text, "en"),
                    "answer_nl": label(question, value, "nl"),
                    "answer_en": label(question, value, "en"),
                },
                evidence={"answer": value},
                maps_to=question.maps_to,
                source="self-reported",
            )
        )
    return results


# --------------------------------------------------------------------------- answers files


_TOP_FIELDS = (FORMAT_KEY, "lang", "profile", "updated", "skipped", "answers")


@dataclass(frozen=True, slots=True)
class _Lines:
    """Lines (1-based) of the top-level keys and of the question ids of an answers document."""

    top: dict[str, int]
    answers: dict[str, int]

    def of(self, qid: str) -> int:
        return self.answers.get(qid) or self.top.get("answers") or self.top.get(qid) or 1


def _lines(text_: str, where: str) -> _Lines:
    top: dict[str, int] = {}
    answers: dict[str, int] = {}
    root = safeyaml.compose(text_, where=where)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            top.setdefault(str(key.value), key.start_mark.line + 1)
            if key.value == "answers" and isinstance(value, yaml.MappingNode):
                for k, _v in value.value:
                    if isinstance(k, yaml.ScalarNode):
                        answers.setdefault(str(k.value), k.start_mark.line + 1)
            elif str(key.value).startswith("q."):
                answers.setdefault(str(key.value), key.start_mark.line + 1)
    return _Lines(top, answers)


def parse_answers(text_: str, catalogue: Catalogue, *, where: str = "answers") -> Answers:
    """Read an answers document: total on any YAML, so every problem is an :class:`AnswersFileError`
    (a ConfigError) naming the file, the line and, for an answer, the question id."""
    raw = safeyaml.load(text_, where=where)
    lines = _lines(text_, where)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise AnswersFileError("answers.not-a-mapping", where=where, line=1)

    def line(field: str) -> int:
        return lines.top.get(field, 1)

    for key in raw:
        name = _canon(key)
        if name not in _TOP_FIELDS and not name.startswith("q."):
            raise AnswersFileError("answers.unknown-field", where=where, line=line(name), field=name[:60])
    version = raw.get(FORMAT_KEY, FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise AnswersFileError("answers.bad-format", where=where, line=line(FORMAT_KEY))
    if version > FORMAT_VERSION:
        raise AnswersFileError("answers.newer-format", where=where, line=line(FORMAT_KEY), version=str(version)[:20])
    lang = raw.get("lang") or "nl"
    if not isinstance(lang, str) or lang.strip().lower() not in LANGUAGES:
        raise AnswersFileError("answers.bad-lang", where=where, line=line("lang"))
    profile = raw.get("profile")
    if profile is not None and (not isinstance(profile, str) or not 0 < len(profile.strip()) <= 100):
        raise AnswersFileError("answers.bad-profile", where=where, line=line("profile"))
    updated = raw.get("updated")
    if updated is not None and safeyaml.iso_date(updated) is None:
        raise AnswersFileError("answers.bad-updated", where=where, line=line("updated"))
    skipped_raw = raw.get("skipped") or []
    if not isinstance(skipped_raw, list) or not all(isinstance(s, str) for s in skipped_raw):
        raise AnswersFileError("answers.bad-skipped", where=where, line=line("skipped"))
    body = raw.get("answers", {}) if "answers" in raw else {k: v for k, v in raw.items() if _canon(k).startswith("q.")}
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise AnswersFileError("answers.bad-body", where=where, line=line("answers"))
    qn = questionnaire(catalogue)
    known = qn.ids()
    values: dict[str, Any] = {}
    for key, value in body.items():
        qid = _canon(key)
        at = lines.of(qid)
        question = qn.get(qid)
        if question is None:
            close = difflib.get_close_matches(qid[:100], known, n=1)
            if close:
                raise AnswersFileError("answers.unknown-question-close", where=where, line=at, question=qid[:100],
                                       close=close[0])
            raise AnswersFileError("answers.unknown-question", where=where, line=at, question=qid[:100])
        try:
            canonical = normalize(question, value)
        except AnswerError as exc:
            raise AnswersFileError("answers.bad-answer", problem=exc, where=where, line=at, question=qid) from None
        if canonical is not None:
            values[qid] = canonical
    return Answers(
        data=values,
        lang=lang.strip().lower(),
        profile=profile.strip() if isinstance(profile, str) else None,
        skipped=[s for s in skipped_raw if s in known],
        updated=safeyaml.iso_date(updated) if updated is not None else None,
        lines=dict(lines.answers),
    )


def describe_error(exc: AnswerError, lang: str) -> str:
    """What is wrong with an answer, in ``lang``."""
    return say(exc.key, lang, **exc.params)


# --------------------------------------------------------------------------- writing


def _comment(line: str, width: int = 98) -> list[str]:
    return [f"  # {part}" for part in textwrap.wrap(line, width - 4)] or ["  #"]


def _choices(question: Question, lang: str) -> str:
    if question.type in ("choice", "multi"):
        sep = " | " if question.type == "choice" else ", "
        opts = sep.join(f"{o.value} ({text(o.label, lang)})" for o in question.options)
        return say(f"answers-file.{question.type}", lang, options=opts)
    if question.type == "number" and question.per:
        parts = ", ".join(f"{o.value} ({text(o.label, lang)})" for o in question.per)
        return say("answers-file.per", lang, unit=text(question.unit, lang), parts=parts)
    if question.type == "number" and question.unit:
        return say("answers-file.number-unit", lang, unit=text(question.unit, lang))
    return say(f"answers-file.{question.type}", lang)


def dump_answers(
    qn: Questionnaire,
    questions: Sequence[Question],
    answers: Answers,
    *,
    lang: str,
    file_name: str = "antwoorden.yaml",
) -> str:
    """The answers document: every question as a comment, the answer (or nothing) after its id."""
    lines = [f"# {h}" for h in say("answers-file.head", lang, file=file_name).splitlines()]
    lines += ["", f"{FORMAT_KEY}: {FORMAT_VERSION}", f"lang: {lang}"]
    if answers.profile:
        lines.append(f"profile: {json.dumps(answers.profile)}")
    lines.append(f"updated: {json.dumps(answers.updated or date.today().isoformat())}")
    if answers.skipped:
        lines.append(f"skipped: {json.dumps(answers.skipped)}")
    lines.append("answers:")
    section = None
    for q in questions:
        if q.section != section:
            section = q.section
            title = text(qn.sections.get(section, {}), lang) or section
            lines += ["", f"  # ---- {title}"]
        lines.append("")
        lines += _comment(text(q.text, lang))
        lines += _comment(say("answers-file.why", lang, why=text(q.why, lang)))
        lines += _comment(_choices(q, lang))
        value = answers.data.get(q.id)
        lines.append(f"  {q.id}:" + ("" if value is None else f" {json.dumps(value, ensure_ascii=False)}"))
    return "\n".join(lines) + "\n"
