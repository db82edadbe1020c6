"""A real Postfix that takes mail only from an authenticated client over STARTTLS, and files it in a
Maildir the test reads (for the agent's e-mail alerts).

    box = start("/usr/sbin/postfix", pki, user="agent@agent.test", password="...")
    box.address, box.port        # <block>.32:587; the certificate names the address (IP SAN)
    box.messages()               # every message delivered to it@museum.test, oldest first
    box.stop(); box.start()      # to make it unreachable for a while

Started with ``postfix -c DIR start`` (its own master, queue, data and SASL database; chroot off), so
the system's Postfix is never touched. Cyrus SASL with a sasldb made by ``saslpasswd2`` (Debian's
sasl2-bin) checks the password; ``smtpd_tls_auth_only`` offers AUTH only after STARTTLS and
``smtpd_tls_security_level = encrypt`` refuses mail without it.
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.fixtures import loopback
from tests.fixtures.certs import TestPki

ADDRESS = loopback.block().address(32)  # this test process's own block, next to Postfix (31)
PORT = 587
RECIPIENT = "it@museum.test"


def _certificate(pki: TestPki, folder: Path, address: str) -> tuple[Path, Path]:
    """A server certificate for ``address`` (an IP subjectAltName, as smtplib checks it), from ``pki``'s CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.agent.test")]))
        .issuer_name(pki.ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address)),
                                                    x509.DNSName("mail.agent.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(pki.ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                          + pki.ca_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


def _master_cf(address: str, port: int) -> str:
    lines = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if line and not line[0].isspace() and not line.startswith("#") and len(fields) >= 8:
            if fields[0] == "smtp" and fields[1] == "inet":
                fields[0] = f"{address}:{port}"
            fields[4] = "n"  # no chroot: the queue folder holds no /etc
            line = " ".join(fields)
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Mailbox:
    binary: str
    folder: Path
    address: str = ADDRESS
    port: int = PORT

    def start(self) -> Mailbox:
        proc = subprocess.run([self.binary, "-c", str(self.folder), "start"], capture_output=True, text=True,
                              timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"postfix did not start: {proc.stderr}\n{self.log()[-2000:]}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address, self.port), timeout=1) as sock:
                    sock.settimeout(2)
                    if sock.recv(100).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"postfix is not answering on {self.address}:{self.port}\n{self.log()[-2000:]}")

    def stop(self) -> None:
        subprocess.run([self.binary, "-c", str(self.folder), "stop"], capture_output=True, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    time.sleep(0.2)
            except OSError:
                return

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def messages(self, *, wait: float = 0.0, count: int = 0) -> list[email.message.EmailMessage]:
        """The delivered messages, oldest first; waits up to ``wait`` seconds for ``count`` of them."""
        deadline = time.monotonic() + wait
        while True:
            new = self.folder / "mail" / "museum.test" / "it" / "new"
            files = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns) if new.is_dir() else []
            if len(files) >= count or time.monotonic() >= deadline:
                return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
                        for p in files]
            time.sleep(0.2)


def start(binary: str, pki: TestPki, *, user: str, password: str, address: str = ADDRESS,
          port: int = PORT) -> Mailbox:
    loopback.ensure_free(address, tcp=(port,))
    saslpasswd = shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2"
    folder = Path(tempfile.mkdtemp(prefix="cyberscan-mailbox-"))  # Postfix's daemons must reach it
    folder.chmod(0o755)
    postfix = pwd.getpwnam("postfix")
    for sub in ("spool", "data", "mail", "sasl"):
        (folder / sub).mkdir()
    for sub in ("data", "mail"):
        os.chown(folder / sub, postfix.pw_uid, postfix.pw_gid)
    cert, key = _certificate(pki, folder, address)
    login, realm = user.split("@", 1)
    sasldb = folder / "sasl" / "sasldb2"
    subprocess.run([saslpasswd, "-c", "-p", "-f", str(sasldb), "-u", realm, login], input=password + "\n", text=True,
                   check=True, capture_output=True, timeout=30)
    os.chown(sasldb, postfix.pw_uid, postfix.pw_gid)
    sasldb.chmod(0o600)
    (folder / "sasl" / "smtpd.conf").write_text(
        f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {sasldb}\n")
    (folder / "vmailbox").write_text(f"{RECIPIENT} museum.test/it/\n")
    (folder / "master.cf").write_text(_master_cf(address, port))
    (folder / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {folder}/spool
data_directory = {folder}/data
inet_interfaces = all
inet_protocols = ipv4
myhostname = mail.agent.test
mydestination =
mynetworks = 127.0.0.99/32
smtpd_banner = $myhostname ESMTP
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {folder}/sasl
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
virtual_mailbox_domains = museum.test
virtual_mailbox_base = {folder}/mail
virtual_mailbox_maps = texthash:{folder}/vmailbox
virtual_uid_maps = static:{postfix.pw_uid}
virtual_gid_maps = static:{postfix.pw_gid}
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
""")
    box = Mailbox(binary, folder, address, port)
    try:
        return box.start()
    except RuntimeError:
        box.remove()
        raise
