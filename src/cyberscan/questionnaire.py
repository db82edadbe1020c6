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

TYPES = ("yesno", "choice", "multi", "number", "date", "text", "contact")
SCORES = ("pass", "warn", "fail", "info")
WHO = ("volunteer", "supplier", "director")
EFFORT = ("low", "medium", "high")
YESNO = ("yes", "no", "partly")
DONT_KNOW = "dont-know"
NEVER = "never"
FORMAT_KEY = "cyberscan-answers"
FORMAT_VERSION = 1

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
    """An answer that does not fit its question; ``key`` names the problem, ``params`` the details."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


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
        raise CatalogueError(f"{where}: {name} needs non-empty texts in {' and '.join(LANGUAGES)}")
    return {str(k): str(v) for k, v in raw.items()}


def _score(value: Any, where: str) -> str:
    score = _canon(value)
    if score not in SCORES:
        raise CatalogueError(f"{where}: score {score!r} must be one of {', '.join(SCORES)}")
    return score


def _options(raw: Any, where: str, *, scored: bool) -> tuple[Option, ...]:
    out = []
    for entry in raw or []:
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise CatalogueError(f"{where}: every option needs a 'value'")
        value = _canon(entry["value"])
        out.append(
            Option(
                value=value,
                label=_texts(entry.get("label"), where, f"label of option {value!r}"),
                score=_score(entry.get("score", "info"), f"{where} option {value!r}") if scored else "info",
            )
        )
    return tuple(out)


def parse_question(raw: Any, where: str) -> Question:
    if not isinstance(raw, Mapping) or "id" not in raw:
        raise CatalogueError(f"{where}: every question needs an 'id'")
    qid = str(raw["id"])
    where = f"{where} question {qid}"
    if not re.fullmatch(r"q\.[a-z0-9_]+\.[a-z0-9_.]+", qid):
        raise CatalogueError(f"{where}: question ids look like q.<section>.<slug>")
    qtype = str(raw.get("type", ""))
    if qtype not in TYPES:
        raise CatalogueError(f"{where}: type must be one of {', '.join(TYPES)}")
    options = _options(raw.get("options"), where, scored=True)
    if qtype in ("choice", "multi") and not options:
        raise CatalogueError(f"{where}: a {qtype} question needs options")
    rules = tuple(dict(r) for r in raw.get("score") or [])
    for rule in rules:
        _score(rule.get("result"), f"{where} score rule")
    who, effort = str(raw.get("who", "volunteer")), str(raw.get("effort", "low"))
    if who not in WHO:
        raise CatalogueError(f"{where}: who must be one of {', '.join(WHO)}")
    if effort not in EFFORT:
        raise CatalogueError(f"{where}: effort must be one of {', '.join(EFFORT)}")
    scores = {_canon(k): _score(v, where) for k, v in (raw.get("scores") or {}).items()}
    if any(k not in YESNO for k in scores):
        raise CatalogueError(f"{where}: scores may only name {', '.join(YESNO)}")
    when = raw.get("when") or {}
    if not isinstance(when, Mapping):
        raise CatalogueError(f"{where}: 'when' must map a question id to values")
    try:
        severity = Severity(raw.get("severity", "medium"))
    except ValueError:
        raise CatalogueError(f"{where}: unknown severity {raw.get('severity')!r}") from None
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
        raise CatalogueError(f"{where}: must be a mapping with 'questions'")
    sections = {str(k): _texts(v, where, f"section {k!r}") for k, v in (raw.get("sections") or {}).items()}
    questions = tuple(parse_question(q, where) for q in raw.get("questions") or [])
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise CatalogueError(f"{where}: question {q.id!r} is defined twice")
        seen.add(q.id)
        if sections and q.section not in sections:
            raise CatalogueError(f"{where}: question {q.id!r} is in unknown section {q.section!r}")
    return Questionnaire(int(raw.get("version", 1)), sections, questions)


def questionnaire(catalogue: Catalogue) -> Questionnaire:
    """The catalogue's questionnaire (an empty one when the catalogue has none)."""
    return parse_questionnaire(catalogue.extras.get("questions"))


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


def label(question: Question, value: Any, lang: str) -> str:
    """A canonical answer in words, in ``lang``."""
    words = {
        "nl": {"yes": "ja", "no": "nee", "partly": "deels", DONT_KNOW: "weet niet", NEVER: "nooit"},
        "en": {"yes": "yes", "no": "no", "partly": "partly", DONT_KNOW: "don't know", NEVER: "never"},
    }[lang if lang in LANGUAGES else "nl"]
    if isinstance(value, str) and value in words and question.type in ("yesno", "date", "choice", "multi", "number"):
        option = question.option(value) if question.type == "choice" else None
        return text(option.label, lang) if option else words[value]
    if question.type in ("choice", "multi"):
        chosen = value if isinstance(value, list) else [value]
        if not chosen:
            return "geen" if lang == "nl" else "none"
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


def _lines(text_: str) -> dict[str, int]:
    """Line (1-based) of every question id key in an answers document."""
    found: dict[str, int] = {}
    root = safeyaml.compose(text_, where="answers")
    if not isinstance(root, yaml.MappingNode):
        return found
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "answers" and isinstance(value, yaml.MappingNode):
            for k, _v in value.value:
                if isinstance(k, yaml.ScalarNode):
                    found[str(k.value)] = k.start_mark.line + 1
        elif isinstance(key, yaml.ScalarNode) and str(key.value).startswith("q."):
            found[str(key.value)] = key.start_mark.line + 1
    return found


def parse_answers(text_: str, catalogue: Catalogue, *, where: str = "answers") -> Answers:
    """Read an answers document; any problem is a ConfigError naming the line and the question id."""
    raw = safeyaml.load(text_, where=where)
    lines = _lines(text_)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} line 1: an answers file is a list of 'question id: answer' lines")
    body = raw.get("answers", {}) if "answers" in raw else {k: v for k, v in raw.items() if str(k).startswith("q.")}
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise ConfigError(f"{where} line {lines.get('answers', 1)}: 'answers' must hold 'question id: answer' lines")
    qn = questionnaire(catalogue)
    known = qn.ids()
    values: dict[str, Any] = {}
    for key, value in body.items():
        qid = str(key)
        line = lines.get(qid, 0)
        at = f"{where} line {line}" if line else where
        question = qn.get(qid)
        if question is None:
            close = difflib.get_close_matches(qid, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{at}: unknown question id {qid!r}{hint}")
        try:
            canonical = normalize(question, value)
        except AnswerError as exc:
            raise ConfigError(f"{at}: {qid}: {describe_error(exc, 'en')}") from None
        if canonical is not None:
            values[qid] = canonical
    lang = str(raw.get("lang", "nl"))
    skipped = [str(s) for s in raw.get("skipped") or [] if str(s) in known]
    updated = raw.get("updated")
    return Answers(
        data=values,
        lang=lang if lang in LANGUAGES else "nl",
        profile=str(raw["profile"]) if raw.get("profile") else None,
        skipped=skipped,
        updated=str(updated) if updated else None,
        lines=lines,
    )


_ERRORS = {
    "answer.bad-yesno": {
        "nl": "'{value}' is geen ja, nee, deels of weet niet",
        "en": "'{value}' is not yes, no, partly or dont-know",
    },
    "answer.bad-choice": {"nl": "'{value}' is geen van: {choices}", "en": "'{value}' is not one of: {choices}"},
    "answer.bad-number": {"nl": "'{value}' is geen getal (0 of meer)", "en": "'{value}' is not a number (0 or more)"},
    "answer.bad-date": {
        "nl": "'{value}' is geen datum (zoals 2026-03-31) of 'nooit'",
        "en": "'{value}' is not a date (such as 2026-03-31) or 'never'",
    },
    "answer.bad-per": {"nl": "geef per onderdeel een getal ({parts})", "en": "give a number per part ({parts})"},
    "answer.bad-part": {
        "nl": "onbekend onderdeel '{part}' (kies uit {parts})",
        "en": "unknown part '{part}' (choose from {parts})",
    },
    "answer.bad-text": {"nl": "hier hoort tekst", "en": "text expected here"},
    "answer.bad-contact": {
        "nl": "geef naam en telefoon, zoals {{name: ..., phone: ...}}",
        "en": "give name and phone, such as {{name: ..., phone: ...}}",
    },
    "answer.bad-contact-field": {
        "nl": "onbekend veld '{field}' (name, phone, email, note)",
        "en": "unknown field '{field}' (name, phone, email, note)",
    },
}


def describe_error(exc: AnswerError, lang: str) -> str:
    template = _ERRORS.get(exc.key)
    if template is None:
        return exc.key
    return text(template, lang).format(**exc.params)


# --------------------------------------------------------------------------- writing


_HEAD = {
    "nl": [
        "Antwoorden voor cyberscan. Vul achter elke vraag uw antwoord in en bewaar het bestand.",
        "Leeg laten mag: dan telt de vraag als niet beantwoord. 'weet niet' mag altijd.",
        "Gebruik daarna: cyberscan scan uwdomein.nl --answers {file}",
        "LET OP: contactgegevens zijn persoonsgegevens. Deel dit bestand niet verder dan nodig.",
    ],
    "en": [
        "Answers for cyberscan. Write your answer after each question and save the file.",
        "Leaving one empty is fine: it counts as unanswered. 'dont-know' is always allowed.",
        "Then use: cyberscan scan yourdomain.nl --answers {file}",
        "NOTE: contact details are personal data. Share this file no further than needed.",
    ],
}
_CHOOSE = {
    "yesno": {
        "nl": "kies: yes (ja) | no (nee) | partly (deels) | dont-know (weet niet)",
        "en": "choose: yes | no | partly | dont-know",
    },
    "number": {"nl": "een getal", "en": "a number"},
    "date": {"nl": "een datum (JJJJ-MM-DD) of never (nooit)", "en": "a date (YYYY-MM-DD) or never"},
    "text": {"nl": "vrije tekst", "en": "free text"},
    "contact": {
        "nl": 'zoals {name: "Naam", phone: "06-12345678"}',
        "en": 'such as {name: "Name", phone: "+31 6 12345678"}',
    },
}


def _comment(line: str, width: int = 98) -> list[str]:
    return [f"  # {part}" for part in textwrap.wrap(line, width - 4)] or ["  #"]


def _choices(question: Question, lang: str) -> str:
    if question.type == "choice":
        opts = " | ".join(f"{o.value} ({text(o.label, lang)})" for o in question.options)
        return ("kies: " if lang == "nl" else "choose: ") + opts
    if question.type == "multi":
        opts = ", ".join(f"{o.value} ({text(o.label, lang)})" for o in question.options)
        return ("lijst, bijvoorbeeld [a, b], uit: " if lang == "nl" else "a list, e.g. [a, b], of: ") + opts
    if question.type == "number" and question.per:
        parts = ", ".join(f"{o.value} ({text(o.label, lang)})" for o in question.per)
        unit = text(question.unit, lang)
        return (f"per onderdeel een getal in {unit}: " if lang == "nl" else f"a number in {unit} per part: ") + parts
    if question.type == "number" and question.unit:
        return text(_CHOOSE["number"], lang) + f" ({text(question.unit, lang)})"
    return text(_CHOOSE[question.type], lang)


def dump_answers(
    qn: Questionnaire,
    questions: Sequence[Question],
    answers: Answers,
    *,
    lang: str,
    file_name: str = "antwoorden.yaml",
) -> str:
    """The answers document: every question as a comment, the answer (or nothing) after its id."""
    lines = [f"# {h.format(file=file_name)}" for h in _HEAD[lang if lang in _HEAD else "nl"]]
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
        lines += _comment(("Waarom: " if lang == "nl" else "Why: ") + text(q.why, lang))
        lines += _comment(_choices(q, lang))
        value = answers.data.get(q.id)
        lines.append(f"  {q.id}:" + ("" if value is None else f" {json.dumps(value, ensure_ascii=False)}"))
    return "\n".join(lines) + "\n"
