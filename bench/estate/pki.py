"""The estate's certificates: one test CA (given to cyberscan and the other tools as a CA bundle),
a leaf per domain (apex, www and mta-sts names), hoster default certificates, mail server certificates.

Leaf keys are shared (one ECDSA P-256 and one RSA-2048 key for every leaf): minting thousands of
certificates then takes seconds, and the servers' handshake cost per key type stays realistic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _pem(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Pki:
    folder: Path
    now: dt.datetime

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cyberscan bench CA")])
        self.ca_name = name
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(days=365))
            .not_valid_after(self.now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_file = self.folder / "ca.pem"
        self.ca_file.write_bytes(self.ca_pem)
        self.keys: dict[str, PrivateKey] = {
            "ecdsa": ec.generate_private_key(ec.SECP256R1()),
            "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        }
        self.key_files = {}
        for kind, key in self.keys.items():
            path = self.folder / f"leaf-{kind}.key"
            path.write_bytes(_pem(key))
            path.chmod(0o600)
            self.key_files[kind] = path

    def leaf(self, stem: str, names: list[str], *, key: str = "ecdsa", expired: bool = False,
             selfsigned: bool = False) -> Path:
        """Write ``<stem>.pem`` (leaf, then the CA unless self-signed) and return its path."""
        private = self.keys[key]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        if expired:
            start, end = self.now - dt.timedelta(days=120), self.now - dt.timedelta(days=10)
        else:
            start, end = self.now - dt.timedelta(days=10), self.now + dt.timedelta(days=80)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if selfsigned else self.ca_name)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if selfsigned:
            cert = builder.sign(private, hashes.SHA256())
            pem = cert.public_bytes(serialization.Encoding.PEM)
        else:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False)
            cert = builder.sign(self.ca_key, hashes.SHA256())
            pem = cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem
        path = self.folder / f"{stem}.pem"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pem)
        return path
