"""DMARC parser (RFC 7489) and the organisational domain: tables plus property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cyberscan.parsers.dmarc import is_dmarc_candidate, parse_dmarc
from cyberscan.parsers.orgdomain import org_domain
from cyberscan.parsers.tagvalue import parse_tag_list


@pytest.mark.parametrize(
    ("text", "policy", "sp", "pct", "errors", "warnings"),
    [
        ("v=DMARC1; p=reject", "reject", None, 100, [], []),
        ("v=DMARC1;p=quarantine;sp=none;pct=50", "quarantine", "none", 50, [], ["pct-below-100"]),
        ("v=DMARC1; p=None;", "none", None, 100, [], []),
        ("v=DMARC1; p=reject; rua=mailto:d@museum.test,mailto:x@rep.test!10m; ruf=mailto:f@museum.test", "reject", None, 100, [], []),
        ("v=DMARC1 p=reject", None, None, 100, ["bad-version", "missing-p"], []),
        ("p=reject; v=DMARC1", "reject", None, 100, ["v-not-first"], ["p-not-second"]),
        ("v=DMARC2; p=reject", "reject", None, 100, ["bad-version"], []),
        ("v=DMARC1; p=rejectt", None, None, 100, ["bad-p"], []),
        ("v=DMARC1", None, None, 100, ["missing-p"], []),
        ("v=DMARC1; p=reject; sp=maybe", "reject", None, 100, ["bad-sp"], []),
        ("v=DMARC1; p=reject; pct=150", "reject", None, 100, ["bad-pct"], []),
        ("v=DMARC1; p=reject; adkim=x; aspf=s", "reject", None, 100, ["bad-adkim"], []),
        ("v=DMARC1; p=reject; rua=http://museum.test/r", "reject", None, 100, ["rua-unsupported-uri"], []),
        ("v=DMARC1; p=reject; rua=mailto:not-an-address", "reject", None, 100, ["rua-bad-uri"], []),
        ("v=DMARC1; p=reject; rua=mailto:a@b.test!lots", "reject", None, 100, ["rua-bad-uri"], []),
        ("v=DMARC1; p=reject; ri=daily", "reject", None, 100, ["bad-ri"], []),
        ("v=DMARC1; p=reject; fo=1:x", "reject", None, 100, ["bad-fo"], []),
        ("v=DMARC1; p=reject; p=none", "reject", None, 100, ["duplicate-tag"], []),
        ("v=DMARC1; p=reject; ; foo=bar", "reject", None, 100, [], ["empty-tag", "unknown-tag"]),
        ("v=DMARC1; p=reject; broken", "reject", None, 100, ["tag-without-value"], []),
    ],
)  # fmt: skip
def test_parse_dmarc(text: str, policy: str | None, sp: str | None, pct: int, errors: list[str], warnings: list[str]) -> None:
    record = parse_dmarc(text)
    assert record.policy == policy
    assert record.subdomain_policy == sp
    assert record.pct == pct
    assert [e.code for e in record.errors] == errors
    assert [w.code for w in record.warnings] == warnings


def test_report_uris() -> None:
    record = parse_dmarc("v=DMARC1; p=reject; rua=mailto:d@Museum.Test,https://reports.example.test/dmarc; ruf=mailto:f@rep.test!1m")
    assert [(u.scheme, u.address, u.domain) for u in record.rua] == [
        ("mailto", "d@Museum.Test", "museum.test"),
        ("https", "reports.example.test", "reports.example.test"),
    ]
    assert [u.domain for u in record.ruf] == ["rep.test"]
    assert record.adkim == "r" and record.aspf == "r"


@pytest.mark.parametrize(
    ("text", "yes"),
    [("v=DMARC1; p=reject", True), ("v = DMARC1", True), ("V=dmarc1;", True), ("v=spf1 -all", False), ("google-site-verification=x", False)],
)
def test_candidate(text: str, yes: bool) -> None:
    assert is_dmarc_candidate(text) is yes


@pytest.mark.parametrize(
    ("name", "suffixes", "org"),
    [
        ("museum.nl", (), "museum.nl"),
        ("www.museum.nl", (), "museum.nl"),
        ("a.b.c.museum.test.", (), "museum.test"),
        ("shop.museum.co.uk", ("co.uk",), "museum.co.uk"),
        ("museum.co.uk", ("co.uk",), "museum.co.uk"),
        ("nl", (), "nl"),
        ("", (), ""),
        ("Museum.NL", (), "museum.nl"),
    ],
)
def test_org_domain(name: str, suffixes: tuple[str, ...], org: str) -> None:
    assert org_domain(name, suffixes) == org


def test_tag_list_keeps_first_of_duplicates() -> None:
    tags = parse_tag_list("a=1; b = 2 ;a=3")
    assert tags.tags == (("a", "1"), ("b", "2"))
    assert [i.code for i in tags.issues] == ["duplicate-tag"]


@given(st.text(max_size=300))
def test_parse_dmarc_never_raises(text: str) -> None:
    parse_dmarc(text)
    parse_tag_list(text)
    is_dmarc_candidate(text)


@given(st.lists(st.sampled_from(["v=DMARC1", "p=", "reject", "none", ";", " ", "rua=", "mailto:", "@", "a.test", ",",
                                 "!", "10m", "pct=", "50", "sp=", "https://", "%", "="]), max_size=30))  # fmt: skip
def test_parse_dmarc_never_raises_on_dmarc_like_text(parts: list[str]) -> None:
    parse_dmarc("".join(parts))


@given(st.text(max_size=100), st.lists(st.text(max_size=20), max_size=5))
def test_org_domain_never_raises(name: str, suffixes: list[str]) -> None:
    org_domain(name, suffixes)
