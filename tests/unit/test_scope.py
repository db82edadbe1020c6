from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cyberscan.errors import OutOfScope, UsageError
from cyberscan.scope import Scope, normalize_domain


@pytest.mark.parametrize(
    ("raw", "domain", "notice"),
    [
        ("museum.nl", "museum.nl", None),
        ("Museum.NL.", "museum.nl", None),
        ("  archief.test ", "archief.test", None),
        ("https://www.museum.nl/collectie?x=1", "www.museum.nl", "url"),
        ("//museum.nl/a", "museum.nl", "url"),
        ("museum.nl/contact", "museum.nl", "url"),
        ("info@museum.nl", "museum.nl", "email"),
        ("müseum.nl", "xn--mseum-kva.nl", "idn"),
        ("rijksmuseum-amsterdam.nl", "rijksmuseum-amsterdam.nl", None),
        ("FRIES-MUSEUM.nl", "fries-museum.nl", None),
    ],
)
def test_normalize_accepts(raw: str, domain: str, notice: str | None) -> None:
    norm = normalize_domain(raw)
    assert norm.domain == domain
    assert norm.notice == notice


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "museum", "-museum.nl", "museum-.nl", "mu seum.nl", "127.0.0.1", "[::1]", "a..b", "x" * 64 + ".nl", "museum.123", "@museum.nl", "http://"],
)
def test_normalize_rejects(raw: str) -> None:
    with pytest.raises(UsageError):
        normalize_domain(raw)


@given(st.text(max_size=300))
def test_normalize_never_raises_anything_but_usage_error(raw: str) -> None:
    try:
        norm = normalize_domain(raw)
    except UsageError:
        return
    assert norm.domain == norm.domain.lower()
    assert norm.domain.isascii()


def test_scope_refuses_private_addresses_without_permission() -> None:
    scope = Scope(("museum.test",))
    with pytest.raises(OutOfScope):
        scope.admit("127.0.0.1", "museum.test")
    with pytest.raises(OutOfScope):
        scope.admit("192.168.1.10", "nas.museum.test")
    scope.admit("145.100.1.1", "www.museum.test")
    assert scope.summary() == {"145.100.1.1": ["www.museum.test"]}
    assert set(scope.refused) == {"127.0.0.1", "192.168.1.10"}


def test_scope_allows_private_when_asked() -> None:
    scope = Scope(("museum.test",), allow_private=True)
    scope.admit("127.0.0.1", "museum.test")
    assert scope.summary() == {"127.0.0.1": ["museum.test"]}
