"""DKIM key records (RFC 6376 3.6.1, RFC 8463): version, key type and key size.

``parse_dkim`` is pure and total. The public key is loaded with ``cryptography`` to learn its real
type and size; an empty ``p=`` means the key was revoked.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from .tagvalue import Issue, parse_tag_list

KEY_TYPES = ("rsa", "ed25519")


@dataclass(frozen=True, slots=True)
class DkimKey:
    text: str
    key_type: str  # from k= (default "rsa"), lowercased
    actual_type: str | None  # what the key data turned out to be: "rsa" | "ed25519" | other | None
    bits: int | None  # RSA modulus size; 256 for ed25519
    revoked: bool  # p= is empty
    testing: bool  # t=y
    tags: tuple[tuple[str, str], ...]
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def valid(self) -> bool:
        return not self.errors


def is_dkim_candidate(text: str) -> bool:
    """A TXT string that looks like a DKIM key record (has v=DKIM1 or a p= tag)."""
    squashed = text.replace(" ", "").lower()
    return squashed.startswith("v=dkim1") or "p=" in squashed


def parse_dkim(text: str) -> DkimKey:
    errors: list[Issue] = []
    warnings: list[Issue] = []
    parsed = parse_tag_list(text)
    for issue in parsed.issues:
        (warnings if issue.code == "empty-tag" else errors).append(issue)
    version = parsed.get("v")
    if version is not None:
        if parsed.tags[0][0] != "v":
            errors.append(Issue("v-not-first", "v=DKIM1"))
        if version != "DKIM1":
            errors.append(Issue("bad-version", version[:40]))
    key_type = (parsed.get("k") or "rsa").lower()
    if key_type not in KEY_TYPES:
        errors.append(Issue("unknown-key-type", key_type[:40]))
    flags = {f.strip() for f in (parsed.get("t") or "").split(":")}
    testing = "y" in flags
    p = parsed.get("p")
    actual: str | None = None
    bits: int | None = None
    revoked = False
    if p is None:
        errors.append(Issue("missing-p", "no p= tag"))
    else:
        data = "".join(p.split())
        if not data:
            revoked = True
        else:
            actual, bits, key_issue = _load_key(data, key_type)
            if key_issue is not None:
                errors.append(key_issue)
            elif actual != key_type:
                errors.append(Issue("key-type-mismatch", f"k={key_type}/{actual}"))
    if testing:
        warnings.append(Issue("testing", "t=y"))
    return DkimKey(text, key_type, actual, bits, revoked, testing, parsed.tags, tuple(errors), tuple(warnings))


def _load_key(data: str, key_type: str) -> tuple[str | None, int | None, Issue | None]:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, None, Issue("bad-base64", "p=")
    if key_type == "ed25519" and len(raw) == 32:
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            return None, None, Issue("bad-key", "ed25519")
        return "ed25519", 256, None
    try:
        key = load_der_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        try:  # RFC 6376 3.6.1 senders sometimes publish a bare PKCS#1 RSAPublicKey
            key = load_der_public_key(_wrap_rsa_public_key(raw))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            return None, None, Issue("bad-key", "p=")
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size, None
    return "other", None, None


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _wrap_rsa_public_key(pkcs1: bytes) -> bytes:
    """Wrap a PKCS#1 RSAPublicKey into a SubjectPublicKeyInfo so cryptography can load it."""
    algorithm = bytes.fromhex("300d06092a864886f70d0101010500")
    bit_string = b"\x03" + _der_length(len(pkcs1) + 1) + b"\x00" + pkcs1
    body = algorithm + bit_string
    return b"\x30" + _der_length(len(body)) + body
