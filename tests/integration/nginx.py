"""A real nginx on its own loopback addresses, configured in a temporary folder (for integration tests).

Sites (each on an address of its own, ports 443 and 80: ``.21``, ``.22``, ``.23`` of this test process's
loopback block, see tests/fixtures/loopback.py; cyberscan's command line looks at 443 and 80 only):
  good  : TLS 1.2 + 1.3, strong suites, HSTS, security headers, redirect, valid security.txt
  bad   : TLS 1.0-1.2 with weak suites (@SECLEVEL=0), no HSTS, no redirect, version banner, no security.txt
  stale : like good, but its security.txt has expired
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures import loopback
from tests.fixtures.certs import NOW, TestPki

_BLOCK = loopback.block()
ADDRESSES = {"good": _BLOCK.address(21), "bad": _BLOCK.address(22), "stale": _BLOCK.address(23)}


def securitytxt(expires: dt.datetime, domain: str) -> str:
    return (
        f"Contact: mailto:security@{domain}\n"
        f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        f"Canonical: https://{domain}/.well-known/security.txt\n"
        "Preferred-Languages: nl, en\n"
    )


GOOD_HEADERS = """
        add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
        add_header X-Content-Type-Options nosniff always;
        add_header X-Frame-Options SAMEORIGIN always;
        add_header Referrer-Policy strict-origin-when-cross-origin always;
        add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'self'" always;
"""


def _server(name: str, domain: str, address: str, cert: Path, key: Path, root: Path, *, good: bool) -> str:
    tls = (
        "ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305;\n"
        "        ssl_prefer_server_ciphers on;"
        if good
        else "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n        ssl_ciphers 'ALL:@SECLEVEL=0';"
    )
    redirect = "return 301 https://$host$request_uri;" if good else f"root {root};"
    return f"""
    server {{
        listen {address}:80;
        server_name {domain} www.{domain};
        server_tokens {"off" if good else "on"};
        {redirect}
    }}
    server {{
        listen {address}:443 ssl;
        server_name {domain} www.{domain};
        server_tokens {"off" if good else "on"};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        {tls}
        root {root};
        {GOOD_HEADERS if good else ""}
        location = /.well-known/security.txt {{ default_type text/plain; }}
    }}
"""


@dataclass
class Nginx:
    prefix: Path
    process: subprocess.Popen[bytes]
    domains: dict[str, str]  # site -> domain

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(binary: str, folder: Path, pki: TestPki, domains: dict[str, str]) -> Nginx:
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "tmp"):
        (folder / sub).mkdir(exist_ok=True)
    servers = []
    for site, domain in domains.items():
        loopback.ensure_free(ADDRESSES[site], tcp=(80, 443))
        leaf = pki.issue(domain, f"www.{domain}", file_stem=f"nginx-{site}")
        root = folder / f"www-{site}"
        (root / ".well-known").mkdir(parents=True, exist_ok=True)
        (root / "index.html").write_text(f"<html><head><title>{domain}</title></head><body>museum</body></html>")
        if site == "good":
            (root / ".well-known/security.txt").write_text(securitytxt(NOW + dt.timedelta(days=200), domain))
        elif site == "stale":
            (root / ".well-known/security.txt").write_text(securitytxt(NOW - dt.timedelta(days=10), domain))
        servers.append(_server(site, domain, ADDRESSES[site], leaf.chain_path, leaf.key_path, root,
                               good=site != "bad"))
    conf = folder / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    default_type text/html;
    {"".join(servers)}
}}
""")
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=os.setsid,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with socket.create_connection((ADDRESSES["good"], 443), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("nginx did not start listening")
    return Nginx(folder, process, domains)
