"""A real Postfix instance with its own configuration folder, listening on port 25 of ``ADDRESS`` (``.31`` of
this test process's loopback block, tests/fixtures/loopback.py; cyberscan looks at port 25 only).

Started with ``postfix -c DIR start`` (its own master, queue and data folders; chroot off) and stopped
with ``postfix -c DIR stop``; the system's Postfix service is never touched. Logs go to ``DIR/maillog``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures import loopback

ADDRESS = loopback.block().address(31)


@dataclass
class Postfix:
    binary: str
    folder: Path

    def stop(self) -> None:
        subprocess.run([self.binary, "-c", str(self.folder), "stop"], capture_output=True, timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


def _master_cf(address: str) -> str:
    """Debian's master.cf with chroot off (the queue folder holds no /etc) and smtpd on one address."""
    lines = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if line and not line[0].isspace() and not line.startswith("#") and len(fields) >= 8:
            if fields[0] == "smtp" and fields[1] == "inet":
                fields[0] = f"{address}:smtp"
            fields[4] = "n"
            line = " ".join(fields)
        lines.append(line)
    return "\n".join(lines) + "\n"


def start(binary: str, cert_chain: Path, key: Path, *, hostname: str, address: str = ADDRESS) -> Postfix:
    loopback.ensure_free(address, tcp=(25,))
    # not under pytest's 0700 tmp folders: Postfix's daemons run as the postfix user and must reach the queue
    folder = Path(tempfile.mkdtemp(prefix="cyberscan-postfix-"))
    folder.chmod(0o755)
    for sub in ("spool", "data"):
        (folder / sub).mkdir()
    postfix_user = pwd.getpwnam("postfix")
    os.chown(folder / "data", postfix_user.pw_uid, postfix_user.pw_gid)
    shutil.copy(cert_chain, folder / "cert.pem")
    shutil.copy(key, folder / "key.pem")
    (folder / "key.pem").chmod(0o600)
    (folder / "master.cf").write_text(_master_cf(address))
    (folder / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {folder}/spool
data_directory = {folder}/data
inet_interfaces = all
inet_protocols = ipv4
myhostname = {hostname}
mydestination =
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP
smtpd_tls_cert_file = {folder}/cert.pem
smtpd_tls_key_file = {folder}/key.pem
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
""")
    server = Postfix(binary, folder)
    proc = subprocess.run([binary, "-c", str(folder), "start"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        log = server.log()
        server.stop()
        raise RuntimeError(f"postfix did not start: {proc.stderr}\n{log[-2000:]}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, 25), timeout=1) as sock:
                sock.settimeout(2)
                if sock.recv(100).startswith(b"220"):
                    return server
        except OSError:
            time.sleep(0.2)
    log = server.log()
    server.stop()
    raise RuntimeError(f"postfix is not answering on {address}:25\n{log[-2000:]}")
