"""MTA-STS record and policy parser, mx pattern matching, and the TLS-RPT record parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cyberscan.parsers.mtasts import is_sts_candidate, mx_matches, parse_sts_policy, parse_sts_record
from cyberscan.parsers.tlsrpt import is_tlsrpt_candidate, parse_tlsrpt

GOOD_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.museum.test\r\nmx: *.mail.protection.test\r\nmax_age: 604800\r\n"


@pytest.mark.parametrize(
    ("text", "sts_id", "errors"),
    [
        ("v=STSv1; id=20260101T000000;", "20260101T000000", []),
        ("v=STSv1; id=2026-01-01", None, ["bad-id"]),
        ("v=STSv1; id=2026010101", "2026010101", []),
        ("v=STSv1;id=abc", "abc", []),
        ("v=STSv1", None, ["missing-id"]),
        ("id=1; v=STSv1", "1", ["bad-version"]),
        ("v=STSv2; id=1", "1", ["bad-version"]),
        ("v=STSv1; id=" + "a" * 33, None, ["bad-id"]),
    ],
)
def test_sts_record(text: str, sts_id: str | None, errors: list[str]) -> None:
    record = parse_sts_record(text)
    assert [e.code for e in record.errors] == errors
    if not errors:
        assert record.id == sts_id


@pytest.mark.parametrize(
    ("body", "mode", "mx", "max_age", "errors"),
    [
        (GOOD_POLICY, "enforce", ("mail.museum.test", "*.mail.protection.test"), 604800, []),
        ("version: STSv1\nmode: testing\nmx: mx.test\nmax_age: 86400\n", "testing", ("mx.test",), 86400, []),
        ("version: STSv1\nmode: none\nmax_age: 86400", "none", (), 86400, []),
        ("version: STSv1\nmode: enforce\nmax_age: 86400\n", "enforce", (), 86400, ["missing-mx"]),
        ("version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n", "enforce", ("a.test",), 1, ["bad-version"]),
        ("version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n", None, ("a.test",), 1, ["bad-mode"]),
        ("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 99999999999\n", "enforce", ("a.test",), None, ["bad-max-age"]),
        ("version: STSv1\nmode: enforce\nmx: a.test\n", "enforce", ("a.test",), None, ["missing-max-age"]),
        ("version: STSv1\nmode: enforce\nmx: *.*.test\nmax_age: 5\n", "enforce", (), 5, ["bad-mx", "missing-mx"]),
        ("<html>not a policy</html>", None, (), None, ["bad-line", "bad-version", "bad-mode", "missing-max-age"]),
        ("", None, (), None, ["bad-version", "bad-mode", "missing-max-age"]),
    ],
)  # fmt: skip
def test_sts_policy(body: str, mode: str | None, mx: tuple[str, ...], max_age: int | None, errors: list[str]) -> None:
    policy = parse_sts_policy(body)
    assert policy.mode == mode
    assert policy.mx == mx
    assert policy.max_age == max_age
    assert [e.code for e in policy.errors] == errors


@pytest.mark.parametrize(
    ("host", "pattern", "ok"),
    [
        ("mail.museum.test", "mail.museum.test", True),
        ("MAIL.museum.test.", "mail.museum.test", True),
        ("a.mail.protection.test", "*.mail.protection.test", True),
        ("a.b.mail.protection.test", "*.mail.protection.test", False),
        ("mail.protection.test", "*.mail.protection.test", False),
        ("evilmail.protection.test", "*.mail.protection.test", False),
        ("other.test", "mail.museum.test", False),
    ],
)
def test_mx_matches(host: str, pattern: str, ok: bool) -> None:
    assert mx_matches(host, pattern) is ok


@pytest.mark.parametrize(
    ("text", "rua", "errors"),
    [
        ("v=TLSRPTv1; rua=mailto:tls@museum.test", ("mailto:tls@museum.test",), []),
        ("v=TLSRPTv1;rua=mailto:a@b.test,https://r.test/tls", ("mailto:a@b.test", "https://r.test/tls"), []),
        ("v=TLSRPTv1", (), ["missing-rua"]),
        ("v=TLSRPTv1; rua=tls@museum.test", (), ["bad-uri"]),
        ("v=TLSRPTv2; rua=mailto:a@b.test", ("mailto:a@b.test",), ["bad-version"]),
        ("v=TLSRPTv1; rua=https://", (), ["bad-uri"]),
    ],
)
def test_tlsrpt(text: str, rua: tuple[str, ...], errors: list[str]) -> None:
    record = parse_tlsrpt(text)
    assert record.rua == rua
    assert [e.code for e in record.errors] == errors


def test_candidates() -> None:
    assert is_sts_candidate("v=STSv1; id=1") and not is_sts_candidate("v=spf1")
    assert is_tlsrpt_candidate("v=TLSRPTv1; rua=x") and not is_tlsrpt_candidate("v=DMARC1")


@given(st.text(max_size=400))
def test_parsers_never_raise(text: str) -> None:
    parse_sts_record(text)
    parse_sts_policy(text)
    parse_tlsrpt(text)
    mx_matches(text, text)
    mx_matches("mail.test", text)


@given(st.lists(st.sampled_from(["version", "mode", "mx", "max_age", ":", " ", "\n", "\r\n", "STSv1", "enforce",
                                 "*.", "a.test", "86400", "-1"]), max_size=40))  # fmt: skip
def test_policy_parser_never_raises_on_policy_like_text(parts: list[str]) -> None:
    parse_sts_policy("".join(parts))
