"""Check texts that read clearly next to a status badge: neutral names, observations without advice.

The report shows a finding's observed message as its headline and the check's title as its name, so
a title must not state a negative ("... is not reachable") that a red badge then contradicts, and a
message says only what was seen: what to do is the remediation's job.
"""

from __future__ import annotations

import re
import string

import pytest

from cyberscan import catalogue as catalogue_mod
from cyberscan.evaluators.mail import dkim
from cyberscan.facts.mail import DkimFact, DkimSelector
from cyberscan.i18n import message_for

from .test_mail_evaluators import KEY_1024, _record, facts, mx, spf_fact

CAT = catalogue_mod.builtin()
EXPOSED = sorted(c for c in CAT.checks if c.startswith("net.exposed."))

# the messages that mixed advice into what was seen (issue 10), and every open-shared/open-hosted
OBSERVATIONS = [
    ("web.software.banner", "end-of-life"), ("web.cms.version", "end-of-life"),
    ("mail.dmarc.policy", "policy-too-weak"), ("mail.dmarc.policy", "partial-pct"),
    ("mail.dmarc.policy", "subdomains-unprotected"), ("mail.mta_sts", "mode-testing"), ("dns.axfr", "open"),
    ("dns.ns", "lame"), ("mail.dkim", "short-key"), ("mail.dkim", "weak-key"),
    ("net.exposed.remote_access", "gateway"), ("net.exposed.supplier", "hosted-exposed"),
    ("net.exposed.supplier", "hosted"), ("net.exposed.supplier", "shared-exposed"), ("net.exposed.supplier", "shared"),
    ("net.exposed.admin", "ssh-password-hosted"),
    *[(c, key) for c in EXPOSED for key in ("open-shared", "open-hosted") if key in CAT.checks[c].messages],
]
_START = r"(?:^|[.;:]\s+)"  # an imperative opens a sentence or a clause
ADVICE = {
    "nl": re.compile(_START + r"(vraag|zet|laat|ga naar|vervang|sluit|kies|verberg|gebruik|controleer|dit is een zaak)\b",
                     re.IGNORECASE),
    "en": re.compile(_START + r"(ask|set|switch|move to|replace|close|choose|hide|have|remove|keep|use|make sure|"
                     r"serve|this is a matter)\b", re.IGNORECASE),
}


@pytest.mark.parametrize(("check_id", "key"), OBSERVATIONS, ids=[f"{c}:{k}" for c, k in OBSERVATIONS])
def test_a_message_states_what_was_seen_without_advice(check_id: str, key: str) -> None:
    templates = CAT.checks[check_id].messages[key]
    for lang in ("nl", "en"):
        assert not ADVICE[lang].search(templates[lang]), (lang, templates[lang])


@pytest.mark.parametrize("check_id", EXPOSED)
def test_an_exposure_title_names_the_service_without_a_negative(check_id: str) -> None:
    title = CAT.checks[check_id].title
    assert not re.search(r"\bniet\b", title["nl"]), title["nl"]
    assert not re.search(r"\b(not|cannot)\b", title["en"]), title["en"]


def test_the_dangling_alias_title_is_no_double_negative() -> None:
    title = CAT.checks["dns.dangling"].title
    assert title == {"nl": "Verweesde aliassen (CNAME)", "en": "Dangling aliases (CNAME)"}


def test_the_shared_hosting_advice_moved_to_the_remediation() -> None:
    for check_id in EXPOSED:
        check = CAT.checks[check_id]
        if "open-shared" not in check.messages:
            continue
        remediation = check.remediation
        assert "hosting" in remediation["nl"].lower() and "hosting" in remediation["en"].lower(), check_id


@pytest.mark.parametrize(("params", "expected"), [
    ({"fail_below_bits": 2048, "warn_below_bits": 4096}, "weak-key"),
    ({"fail_below_bits": 512, "warn_below_bits": 2048}, "short-key"),
])
def test_dkim_key_messages_are_filled_in_completely(params: dict[str, int], expected: str) -> None:
    """The weak-key text once showed a literal "{min}": every placeholder of the DKIM messages has a value."""
    found = (DkimSelector("s1", "s1._domainkey.museum.test", "NOERROR", (_record(KEY_1024),)),)
    fact = DkimFact("museum.test", ("s1",), found, "NOERROR")
    (verdict,) = dkim(facts(dns_dkim=fact, dns_mx=mx((10, "mail.museum.test")), dns_spf=spf_fact(None)), params)
    assert verdict.message == expected
    check = CAT.checks["mail.dkim"]
    for lang in ("nl", "en"):
        text = message_for(CAT, check, verdict.message, verdict.params, lang)
        assert "{" not in text and "1024" in text, text
        fields = {f for _, f, _, _ in string.Formatter().parse(check.messages[expected][lang]) if f}
        assert fields <= set(verdict.params)


def test_securitytxt_is_written_in_lower_case() -> None:
    for key, templates in CAT.checks["web.securitytxt"].messages.items():
        for lang in ("nl", "en"):
            assert "Security.txt" not in templates[lang], (key, lang)


def test_an_answer_is_given_without_its_question() -> None:
    templates = CAT.extras["messages"]["answer.given"]
    assert templates == {"nl": "Uw antwoord: {answer_nl}", "en": "Your answer: {answer_en}"}
