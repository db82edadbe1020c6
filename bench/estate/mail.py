"""One Postfix instance with an smtpd listener per mail provider address, each with its own TLS.

Like tests/integration/postfix.py: its own configuration, queue and data folders (``postfix -c DIR``),
chroot off, the system's Postfix never touched. Per listener (``-o`` overrides in master.cf):
modern (TLS 1.2+, certificate from the bench CA), legacy (TLS 1.0+, every suite), a self-signed
certificate, or no STARTTLS at all.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from .pki import Pki
from .plan import MAIL_PROVIDERS


def _master_cf(listeners: list[str]) -> str:
    """Debian's master.cf with chroot off, its own smtp listener replaced by ours."""
    lines = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if line and not line[0].isspace() and not line.startswith("#") and len(fields) >= 8:
            if fields[0] == "smtp" and fields[1] == "inet":
                continue
            fields[4] = "n"
            line = " ".join(fields)
        lines.append(line)
    return "\n".join([*lines, *listeners]) + "\n"


def write(folder: Path, pki: Pki) -> Path:
    """Configuration in ``folder`` (made world-readable: Postfix's daemons run as ``postfix``)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    for sub in ("spool", "data"):
        (folder / sub).mkdir(exist_ok=True)
    user = pwd.getpwnam("postfix")
    os.chown(folder / "data", user.pw_uid, user.pw_gid)
    key = folder / "key.pem"
    shutil.copy(pki.key_files["rsa"], key)
    key.chmod(0o600)
    valid_names = [h for p in MAIL_PROVIDERS if p.tls in ("modern", "legacy", "none") for h, _ in p.hosts]
    valid = pki.leaf("mail-valid", valid_names, key="rsa")
    selfsigned = pki.leaf("mail-selfsigned", [h for p in MAIL_PROVIDERS if p.tls == "selfsigned" for h, _ in p.hosts],
                          key="rsa", selfsigned=True)
    listeners = []
    for provider in MAIL_PROVIDERS:
        for _, address in provider.hosts:
            options = [f"smtpd_tls_key_file={key}",
                       f"smtpd_tls_cert_file={selfsigned if provider.tls == 'selfsigned' else valid}"]
            if provider.tls == "none":
                options = ["smtpd_tls_security_level=none"]
            elif provider.tls == "legacy":
                options += ["smtpd_tls_protocols=>=TLSv1", "tls_medium_cipherlist=ALL:@SECLEVEL=0"]
            else:
                options += ["smtpd_tls_protocols=>=TLSv1.2"]
            listeners.append(f"{address}:smtp inet n - n - - smtpd " + " ".join(f"-o {o}" for o in options))
    (folder / "master.cf").write_text(_master_cf(listeners))
    (folder / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {folder}/spool
data_directory = {folder}/data
inet_interfaces = all
inet_protocols = ipv4
myhostname = mx.bench.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_peername_lookup = no
default_process_limit = 400
smtpd_client_connection_count_limit = 0
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
""")
    return folder
