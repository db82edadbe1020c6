"""DKIM key record parser: key type and size read with cryptography; never raises."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from cyberscan.parsers.dkim import is_dkim_candidate, parse_dkim


def _rsa(bits: int, *, pkcs1: bool = False) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    fmt = serialization.PublicFormat.PKCS1 if pkcs1 else serialization.PublicFormat.SubjectPublicKeyInfo
    return base64.b64encode(key.public_bytes(serialization.Encoding.DER, fmt)).decode()


ED25519 = base64.b64encode(
    ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
).decode()
EC_SPKI = base64.b64encode(
    ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()
RSA_1024 = _rsa(1024)
RSA_2048 = _rsa(2048)
RSA_2048_PKCS1 = _rsa(2048, pkcs1=True)


def _short(value: object) -> str | None:
    """Readable test ids that stay the same between runs (the keys in the values are random)."""
    if isinstance(value, str) and len(value) >= 40:
        return value.split("p=", 1)[0] + "p=..."
    return None


@pytest.mark.parametrize(
    ("text", "actual", "bits", "revoked", "errors"),
    [
        (f"v=DKIM1; k=rsa; p={RSA_2048}", "rsa", 2048, False, []),
        (f"v=DKIM1; p={RSA_1024}", "rsa", 1024, False, []),
        (f"p={RSA_2048}", "rsa", 2048, False, []),
        (f"v=DKIM1; p={RSA_2048_PKCS1}", "rsa", 2048, False, []),
        (f"v=DKIM1; k=rsa; p={RSA_2048[:100]} {RSA_2048[100:]}", "rsa", 2048, False, []),
        (f"v=DKIM1; k=ed25519; p={ED25519}", "ed25519", 256, False, []),
        ("v=DKIM1; k=rsa; p=", None, None, True, []),
        ("v=DKIM1; p=not*base64", None, None, False, ["bad-base64"]),
        ("v=DKIM1; p=AAAA", None, None, False, ["bad-key"]),
        ("v=DKIM1; k=rsa", None, None, False, ["missing-p"]),
        (f"v=DKIM2; p={RSA_2048}", "rsa", 2048, False, ["bad-version"]),
        (f"k=rsa; v=DKIM1; p={RSA_2048}", "rsa", 2048, False, ["v-not-first"]),
        (f"v=DKIM1; k=dsa; p={RSA_2048}", "rsa", 2048, False, ["unknown-key-type", "key-type-mismatch"]),
        (f"v=DKIM1; k=ed25519; p={RSA_2048}", "rsa", 2048, False, ["key-type-mismatch"]),
        (f"v=DKIM1; p={EC_SPKI}", "ec", 256, False, ["key-type-mismatch"]),
    ],
    ids=_short,
)  # fmt: skip
def test_parse_dkim(text: str, actual: str | None, bits: int | None, revoked: bool, errors: list[str]) -> None:
    key = parse_dkim(text)
    assert key.actual_type == actual
    assert key.bits == bits
    assert key.revoked is revoked
    assert [e.code for e in key.errors] == errors


def test_testing_flag() -> None:
    key = parse_dkim(f"v=DKIM1; t=y:s; p={RSA_2048}")
    assert key.testing and [w.code for w in key.warnings] == ["testing"]


def test_candidate() -> None:
    assert is_dkim_candidate("v=DKIM1; p=abc") and is_dkim_candidate("k=rsa; p=")
    assert not is_dkim_candidate("v=spf1 -all")


@given(st.text(max_size=400))
def test_parse_dkim_never_raises(text: str) -> None:
    parse_dkim(text)


@given(st.binary(max_size=600), st.sampled_from(["rsa", "ed25519", "x"]))
def test_parse_dkim_never_raises_on_any_key_bytes(data: bytes, k: str) -> None:
    parse_dkim(f"v=DKIM1; k={k}; p={base64.b64encode(data).decode()}")
