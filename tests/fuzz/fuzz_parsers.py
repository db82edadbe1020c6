"""Coverage-guided fuzzing of the parsers that read what servers and files send (atheris / libFuzzer).

    python tests/fuzz/fuzz_parsers.py TARGET [libFuzzer options] [CORPUS_DIR ...]

    python tests/fuzz/fuzz_parsers.py spf -runs=2000 tests/fuzz/corpus/spf            # a short run
    python tests/fuzz/fuzz_parsers.py spf -max_total_time=600 /tmp/spf tests/fuzz/corpus/spf   # longer
    python tests/fuzz/fuzz_parsers.py all -runs=20000 CORPUS   # every target in one process (the CI run)

TARGET is one of the names in TARGETS, or ``all`` (the first byte of an input picks the target; its
seeds are the others' prefixed with that byte, as tests/unit/test_fuzz_short.py builds them). Any exception other than a target's documented ones is a
crash: libFuzzer stops and writes the input to ``crash-*``. The seeds in ``tests/fuzz/corpus/`` are
kept in the repository; add an input that found a bug there once it is fixed.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

import atheris

with atheris.instrument_imports():
    from cyberscan import catalogue as catalogue_mod
    from cyberscan import questionnaire, risks
    from cyberscan.errors import ConfigError
    from cyberscan.parsers import dkim, dmarc, eol, headers, mtasts, nmap, securitytxt, spf, tlsrpt, x509
    from cyberscan.probes import tlsraw

CATALOGUE = catalogue_mod.builtin()


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _answers(data: bytes) -> None:
    try:
        questionnaire.parse_answers(_text(data), CATALOGUE, where="fuzz")
    except ConfigError:
        pass  # the documented answer to a broken answers file


def _risks(data: bytes) -> None:
    try:
        risks.parse_risks(_text(data), where="fuzz")
    except ConfigError:
        pass


def _certificate(data: bytes) -> None:
    try:
        x509.parse_certificate(data)
    except ValueError:
        pass


def _server_hello(data: bytes) -> None:
    try:
        tlsraw.parse_server_hello(data)
    except (IndexError, ValueError, struct.error):
        pass  # documented: read_flight turns these into a "garbage" answer


TARGETS: dict[str, Callable[[bytes], Any]] = {
    "spf": lambda d: spf.parse_spf(_text(d)),
    "dmarc": lambda d: dmarc.parse_dmarc(_text(d)),
    "dkim": lambda d: dkim.parse_dkim(_text(d)),
    "mtasts": lambda d: (mtasts.parse_sts_record(_text(d)), mtasts.parse_sts_policy(_text(d))),
    "tlsrpt": lambda d: tlsrpt.parse_tlsrpt(_text(d)),
    "headers": lambda d: (headers.parse_hsts(_text(d)), headers.parse_set_cookie(_text(d)),
                          headers.parse_products(_text(d)), headers.generators(_text(d))),
    "securitytxt": lambda d: securitytxt.parse_securitytxt(_text(d)),
    "eol": lambda d: eol.judge_version(CATALOGUE.extras.get("eol"), "openssh", _text(d), date(2026, 12, 2)),
    "nmap": lambda d: nmap.parse_nmap_xml(d),
    "certificate": _certificate,
    "server_hello": _server_hello,
    "answers": _answers,
    "risks": _risks,
}


NAMES = sorted(TARGETS)


def every_target(data: bytes) -> None:
    """All targets in one process: the first byte picks the target (seed files: ``corpus.all()``)."""
    if data:
        TARGETS[NAMES[data[0] % len(NAMES)]](data[1:])


TARGETS["all"] = every_target


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.stderr.write(f"usage: {sys.argv[0]} TARGET [libFuzzer options] [CORPUS ...]; targets: {', '.join(TARGETS)}\n")
        sys.exit(2)
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
