"""``cyberscan rescore``: judge stored facts again under the installed catalogue and store that judgement.

It runs the whole assessment core (:func:`cyberscan.assessment.reassess`), so it lives apart from
``history`` and ``diff``, which read only stored rows and start fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..assessment import reassess
from ..errors import ConfigError, CyberscanError
from ..history import HistoryError, record_of
from ..history.diff import compare
from ..history.record import answers_from
from .common import EXIT_IO, EXIT_OK, EXIT_USAGE, LANGS, echo, fail, fail_with, lang_of, load_catalogue
from .help import h
from .history import _USAGE_KEYS, _same, db_option, open_or_fail


@click.command("rescore", help=h("rescore.help"))
@click.argument("number", type=int, required=False)
@click.option("--all", "every", is_flag=True, help=h("opt.rescore-all"))
@click.option("--force", is_flag=True, help=h("opt.rescore-force"))
@click.option("--catalogue", "catalogue_dirs", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help=h("opt.catalogue"))
@click.option("--lang", type=LANGS, default=None, help=h("opt.lang"))
@db_option
def rescore_cmd(number: int | None, every: bool, force: bool, catalogue_dirs: tuple[Path, ...], lang: str | None,
                db: str | None) -> None:
    language = lang_of(lang)
    if (number is None) == (not every):
        fail("rescore.what", EXIT_USAGE, language)
    cat, registry = load_catalogue(catalogue_dirs, lang=language)
    done = current = 0
    code = EXIT_OK
    with open_or_fail(db, language) as store:
        try:
            chosen = [s.id or 0 for s in store.list()] if every else [store.get(number or 0).summary.id or 0]
            for stored_id in chosen:
                old = store.get(stored_id)
                profile = cat.profiles.get(old.summary.profile)
                if profile is None:
                    echo("rescore.no-profile", language, id=stored_id, profile=old.summary.profile)
                    code = max(code, EXIT_USAGE)
                    continue
                try:
                    stored_scan = store.scan(stored_id, registry)
                except CyberscanError as exc:
                    if isinstance(exc, HistoryError) and exc.key != "history.no-such-id":
                        raise
                    echo("rescore.unreadable", language, id=stored_id, detail=exc.message(language))
                    code = max(code, EXIT_IO)
                    continue
                try:
                    judged = reassess(stored_scan, profile=profile, answers=answers_from(old.answers, cat),
                                      accepted=old.accepted, catalogue=cat, registry=registry)
                except ConfigError as exc:
                    fail_with(exc, EXIT_USAGE, language)
                fresh = record_of(judged)
                if not force and _same(old, fresh):
                    echo("rescore.current", language, id=stored_id)
                    current += 1
                    continue
                new_id = store.save(judged, rescored_from=stored_id)
                change = compare(old, fresh)
                counts = change.counts
                echo("rescore.done", language, old=stored_id, new=new_id, old_catalogue=old.summary.catalogue_version,
                     new_catalogue=fresh.summary.catalogue_version, fixed=counts["fixed"], new_count=counts["new"],
                     worse=counts["worse"], better=counts["better"])
                done += 1
        except HistoryError as exc:
            fail_with(exc, EXIT_USAGE if exc.key in _USAGE_KEYS else EXIT_IO, language)
    if every:
        echo("rescore.summary", language, count=done, current=current)
    raise SystemExit(code)
