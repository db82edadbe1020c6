"""SPF parser (RFC 7208): table-driven cases and a property test that it never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cyberscan.parsers.spf import is_spf, parse_spf, valid_domain_spec


@pytest.mark.parametrize(
    ("text", "terms", "errors", "warnings"),
    [
        ("v=spf1 -all", ["-all"], [], []),
        ("v=spf1", [], [], []),
        ("V=SPF1 MX ~ALL", ["mx", "~all"], [], []),
        ("v=spf1 include:_spf.mailer.test ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24 ~all",
         ["include:_spf.mailer.test", "ip4:192.0.2.0/24", "ip6:2001:db8::/32", "a", "mx/24", "~all"], [], []),
        ("v=spf1 a:mail.museum.test/28//64 ?all", ["a:mail.museum.test/28//64", "?all"], [], []),
        ("v=spf1 exists:%{i}._spf.%{d} -all", ["exists:%{i}._spf.%{d}", "-all"], [], []),
        ("v=spf1 redirect=_spf.museum.test", ["redirect=_spf.museum.test"], [], []),
        ("v=spf1 +all", ["all"], [], []),
        ("v=spf1 ptr -all", ["ptr", "-all"], [], ["ptr"]),
        ("v=spf1 -all mx", ["-all", "mx"], [], ["after-all"]),
        ("v=spf1 mx -all redirect=x.test", ["mx", "-all", "redirect=x.test"], [], ["redirect-ignored"]),
        ("v=spf1 include: -all", ["-all"], ["bad-domain"], []),
        ("v=spf1 foo -all", ["-all"], ["unknown-mechanism"], []),
        ("v=spf1 ip4:192.0.2.1/33 -all", ["-all"], ["bad-cidr"], []),
        ("v=spf1 ip4:2001:db8::1 -all", ["-all"], ["bad-ip"], []),
        ("v=spf1 ip6:192.0.2.1 -all", ["-all"], ["bad-ip"], []),
        ("v=spf1 ip6:2001:db8::/129 -all", ["-all"], ["bad-cidr"], []),
        ("v=spf1 a:192.0.2.1 -all", ["-all"], ["bad-domain"], []),
        ("v=spf1 all:x.test", [], ["bad-mechanism"], []),
        ("v=spf1 redirect=a.test redirect=b.test", ["redirect=a.test"], ["duplicate-modifier"], []),
        ("v=spf1 include:%{z}.test -all", ["-all"], ["bad-domain"], []),
        ("v=spf1 custom-mod=whatever -all", ["custom-mod=whatever", "-all"], [], []),
        ("v=spf1\tmx -all", [], ["not-spf"], []),
        ("v=spf1 mx\t-all", ["mx", "-all"], ["bad-whitespace"], []),
        ("v=spf10 -all", [], ["not-spf"], []),
        ("v=spf1 include:muséum.test -all", ["-all"], ["non-ascii", "bad-domain"], []),
    ],
)  # fmt: skip
def test_parse_spf(text: str, terms: list[str], errors: list[str], warnings: list[str]) -> None:
    record = parse_spf(text)
    assert [str(t) for t in record.terms] == terms
    assert [e.code for e in record.errors] == errors
    assert [w.code for w in record.warnings] == warnings


def test_lookup_terms_in_order_with_effective_redirect_last() -> None:
    record = parse_spf("v=spf1 redirect=r.test ip4:192.0.2.1 include:a.test a mx ptr exists:e.test")
    assert [t.name for t in record.lookup_terms] == ["include", "a", "mx", "ptr", "exists", "redirect"]
    assert record.redirect == "r.test"
    assert parse_spf("v=spf1 include:a.test -all redirect=r.test").redirect is None


@pytest.mark.parametrize(
    ("text", "sends"),
    [("v=spf1 -all", False), ("v=spf1 ~all", False), ("v=spf1 mx -all", True), ("v=spf1 -mx -all", False),
     ("v=spf1 redirect=x.test", True), ("v=spf1 ip4:192.0.2.1 -all", True)],
)  # fmt: skip
def test_authorises_senders(text: str, sends: bool) -> None:
    assert parse_spf(text).authorises_senders is sends


def test_all_qualifier() -> None:
    assert parse_spf("v=spf1 mx -all").all_term.qualifier == "-"  # type: ignore[union-attr]
    assert parse_spf("v=spf1 mx").all_term is None


@pytest.mark.parametrize(
    ("spec", "ok"),
    [("museum.test", True), ("_spf.museum.test", True), ("%{d}", True), ("%{ir}.%{v}._spf.%{d2}", True),
     ("museum", False), ("museum.123", False), ("a..test", False), ("", False), ("%{x}.test", False),
     ("%%.museum.test", True), ("bad%.test", False)],
)  # fmt: skip
def test_valid_domain_spec(spec: str, ok: bool) -> None:
    assert valid_domain_spec(spec) is ok


def test_is_spf() -> None:
    assert is_spf("v=spf1") and is_spf("v=spf1 -all") and is_spf("V=SPF1 -all")
    assert not is_spf("v=spf10") and not is_spf("spf1") and not is_spf(" v=spf1 -all")


@given(st.text(max_size=300))
def test_parse_spf_never_raises(text: str) -> None:
    record = parse_spf(text)
    assert isinstance(record.errors, tuple)


@given(st.lists(st.sampled_from(["a", "mx", "-all", "~all", "include:", "ip4:", "ip6:", "/", "//", "24", "x.test",
                                 "%{d}", "=", "redirect", ":", "ptr", "exists", "+", "?", " ", "1.2.3.4", "::1"]),
                max_size=30))  # fmt: skip
def test_parse_spf_never_raises_on_spf_like_text(parts: list[str]) -> None:
    parse_spf("v=spf1 " + "".join(parts))
