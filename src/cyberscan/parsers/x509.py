"""X.509 certificates: the details the checks judge, from DER. Pure (``cryptography`` only)."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from ..facts.tls import CertInfo


def _name_text(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return repr(name)


def parse_certificate(der: bytes) -> CertInfo:
    """Certificate details from DER. Raises ValueError when the bytes are not a (readable) certificate."""
    try:
        return _parse(der)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"unreadable certificate: {type(exc).__name__}") from exc


def _parse(der: bytes) -> CertInfo:
    """Certificate details from DER. Raises ValueError when the bytes are not a certificate."""
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(str(n) for n in sans.get_values_for_type(x509.DNSName))
    except (x509.ExtensionNotFound, ValueError):
        dns_names = ()
    cns = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    key_type, key_bits = "unknown", 0
    try:
        key: object = cert.public_key()
    except Exception:  # noqa: BLE001 - a key type cryptography cannot load (UnsupportedAlgorithm): "unknown"
        key = None
    if isinstance(key, rsa.RSAPublicKey):
        key_type, key_bits = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, key_bits = "EC", key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, key_bits = "Ed25519", 256
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type, key_bits = "Ed448", 456
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, key_bits = "DSA", key.key_size
    try:
        algo = cert.signature_hash_algorithm
        sig_hash = algo.name if algo is not None else ""
    except Exception:  # noqa: BLE001 - unsupported algorithms raise UnsupportedAlgorithm
        sig_hash = "unknown"
    return CertInfo(
        subject=_name_text(cert.subject),
        issuer=_name_text(cert.issuer),
        common_names=cns,
        dns_names=dns_names,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=key_bits,
        signature_hash=sig_hash,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        der=der,
        self_signed=cert.subject == cert.issuer,
    )


def spki_der(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a certificate (for DANE selector 1)."""
    cert = x509.load_der_x509_certificate(der)
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pem_certificates(data: bytes) -> int:
    """How many PEM certificates ``data`` holds that ``cryptography`` can read (0 for anything else)."""
    try:
        return len(x509.load_pem_x509_certificates(data))
    except ValueError:
        return 0
