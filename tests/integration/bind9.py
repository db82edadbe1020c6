"""A real BIND9 for integration tests: zones from ``tests/fixtures/zones/bind9/``, signed at fixture time.

    with Bind9(tmp_path, named="/usr/sbin/named") as bind:   # listens on 127.0.10.1 and 127.0.10.2, port 53
        bind.nameserver  # "127.0.10.1"

Every child zone of ``test.`` is a file ``<zone>.zone`` in the fixture folder, written with the
placeholders ``{dkim_2048}`` (a fresh RSA public key) and ``{serial}``. Zones listed in ``SIGNED`` are
signed with ``dnssec-keygen``/``dnssec-signzone``; their DS goes into the parent ``test.`` when they are
in ``DELEGATED_DS``. ``OPEN_AXFR`` zones allow zone transfers to anyone. Nothing here touches the
system's own BIND: the configuration, keys, pid file and zones live in the given tmp folder.
"""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ZONES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "zones" / "bind9"
NS1 = "127.0.10.1"
NS2 = "127.0.10.2"
WEB = "127.0.10.5"  # mta-sts.good.test: HTTPS with the policy file
WEB_UNTRUSTED = "127.0.10.6"  # mta-sts.badsts.test: the same policy, certificate from a CA nobody trusts

SIGNED = {"good.test": "now", "nods.test": "now", "expired.test": "expired"}
DELEGATED_DS = {"good.test", "expired.test"}
OPEN_AXFR = {"openxfr.test"}
EXPIRED_WINDOW = ("20200101000000", "20200201000000")

MTA_STS_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.{domain}\r\nmax_age: 604800\r\n"
POLICY_HOSTS = ("mta-sts.good.test", "mta-sts.badsts.test")


def dkim_txt(bits: int = 2048) -> str:
    """A DKIM key record as a zone-file TXT value, split into 255-character strings."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")
    return "( " + " ".join(f'"{text[i : i + 250]}"' for i in range(0, len(text), 250)) + " )"


def child_zones() -> list[str]:
    return sorted(p.name.removesuffix(".zone") for p in ZONES_DIR.glob("*.test.zone"))


def _parent_zone(children: list[str], ds_records: dict[str, str]) -> str:
    lines = [
        "$TTL 300",
        "@ SOA ns1.test. hostmaster.test. 1 3600 600 86400 300",
        "@ NS ns1.test.",
        f"ns1 A {NS1}",
    ]
    for child in children:
        label = child.removesuffix(".test")
        lines += [
            f"{label} NS ns1.{child}.",
            f"{label} NS ns2.{child}.",
            f"ns1.{label} A {NS1}",
            f"ns2.{label} A {NS2}",
        ]
        if child in ds_records:
            lines.append(ds_records[child])
    return "\n".join(lines) + "\n"


def _run(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def sign_zone(folder: Path, zone: str, source: Path, *, expired: bool = False) -> tuple[Path, str]:
    """Sign ``source`` with a fresh KSK and ZSK; return the signed file and the DS line for the parent."""
    keygen = shutil.which("dnssec-keygen") or "/usr/sbin/dnssec-keygen"
    signzone = shutil.which("dnssec-signzone") or "/usr/sbin/dnssec-signzone"
    keys = folder / f"keys-{zone}"
    keys.mkdir()
    timing = ["-P", "20190101000000", "-A", "20190101000000"] if expired else []
    _run(keygen, "-q", "-K", str(keys), "-a", "ECDSAP256SHA256", *timing, "-f", "KSK", zone, cwd=folder)
    _run(keygen, "-q", "-K", str(keys), "-a", "ECDSAP256SHA256", *timing, zone, cwd=folder)
    signed = folder / f"{zone}.signed"
    args = [signzone, "-S", "-K", str(keys), "-d", str(folder), "-o", zone, "-f", str(signed)]
    if expired:
        args += ["-P", "-s", EXPIRED_WINDOW[0], "-e", EXPIRED_WINDOW[1]]  # -P: no self-check, it would fail
    _run(*args, str(source), cwd=folder)
    dsset = (folder / f"dsset-{zone}.").read_text(encoding="ascii")
    ds_lines = [line for line in dsset.splitlines() if " DS " in line]
    return signed, "\n".join(ds_lines)


def write_config(folder: Path) -> Path:
    """Write every zone and ``named.conf`` into ``folder``; return the configuration file."""
    serial = datetime.now(UTC).strftime("%Y%m%d01")
    children = child_zones()
    files: dict[str, Path] = {}
    ds_records: dict[str, str] = {}
    for zone in children:
        text = (ZONES_DIR / f"{zone}.zone").read_text(encoding="utf-8")
        text = text.replace("{dkim_2048}", dkim_txt(2048)).replace("{dkim_1024}", dkim_txt(1024))
        text = text.replace("{serial}", serial).replace("{ns1}", NS1).replace("{ns2}", NS2).replace("{web}", WEB)
        text = text.replace("{web_untrusted}", WEB_UNTRUSTED)
        source = folder / f"{zone}.db"
        source.write_text(text, encoding="utf-8")
        files[zone] = source
        if zone in SIGNED:
            files[zone], ds = sign_zone(folder, zone, source, expired=SIGNED[zone] == "expired")
            if zone in DELEGATED_DS:
                ds_records[zone] = ds
    ds_records["badds.test"] = "badds.test. 300 IN DS 12345 13 2 " + "AB" * 32  # matches no key
    parent = folder / "test.db"
    parent.write_text(_parent_zone(children, ds_records), encoding="utf-8")
    zones_conf = [f'zone "test" {{ type primary; file "{parent}"; }};']
    for zone, path in files.items():
        transfer = "any" if zone in OPEN_AXFR else "none"
        zones_conf.append(f'zone "{zone}" {{ type primary; file "{path}"; allow-transfer {{ {transfer}; }}; }};')
    conf = folder / "named.conf"
    conf.write_text(
        f"""
options {{
    directory "{folder}";
    pid-file "{folder}/named.pid";
    session-keyfile "{folder}/session.key";
    managed-keys-directory "{folder}";
    listen-on port 53 {{ {NS1}; {NS2}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-transfer {{ none; }};
    dnssec-validation no;
    notify no;
    check-names primary ignore;
    check-mx ignore;
    check-mx-cname ignore;
    check-srv-cname ignore;
    check-integrity no;
    check-sibling no;
}};
controls {{ }};
logging {{ category default {{ default_stderr; }}; category lame-servers {{ null; }}; }};
"""
        + "\n".join(zones_conf)
        + "\n",
        encoding="utf-8",
    )
    return conf


def _answers(address: str) -> bool:
    query = dns.message.make_query("test.", "SOA")
    try:
        response = dns.query.udp(query, address, timeout=0.5)
    except (dns.exception.DNSException, OSError):
        return False
    return response.rcode() == dns.rcode.NOERROR


def _lo_addresses() -> set[str]:
    done = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=False)
    return {part.split("/")[0] for line in done.stdout.splitlines() for part in line.split() if part.startswith("127.")}


@contextmanager
def loopback_addresses(*addresses: str) -> Iterator[None]:
    """Put ``addresses`` on ``lo`` for the duration (BIND listens only on configured addresses).

    Only the addresses this call added are removed again. Needs root (CAP_NET_ADMIN)."""
    added = []
    present = _lo_addresses()
    try:
        for address in addresses:
            if address not in present:
                subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True, capture_output=True)
                added.append(address)
        yield
    finally:
        for address in added:
            subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=False, capture_output=True)


class Bind9:
    def __init__(self, folder: Path, *, named: str) -> None:
        self.folder = folder
        self.named = named
        self.conf = write_config(folder)
        self.log = folder / "named.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.nameserver = NS1

    def start(self) -> Bind9:
        if _answers(NS1) or _answers(NS2):
            raise RuntimeError(f"{NS1}/{NS2} port 53 is already served (another test run of these tests?)")
        checkconf = shutil.which("named-checkconf") or "/usr/bin/named-checkconf"
        if Path(checkconf).exists():
            _run(checkconf, "-z", str(self.conf), cwd=self.folder)
        log = self.log.open("wb")
        self._proc = subprocess.Popen([self.named, "-g", "-n", "1", "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"named exited: {self.log.read_text(errors='replace')[-2000:]}")
            if _answers(NS1) and _answers(NS2):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"named did not start: {self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._proc = None

    def __enter__(self) -> Bind9:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------ HTTPS


class _PolicyHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        if host in POLICY_HOSTS and self.path == "/.well-known/mta-sts.txt":
            body = MTA_STS_POLICY.format(domain=host.removeprefix("mta-sts.")).encode("ascii")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
        else:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def policy_server(
    folder: Path, *, address: str = WEB, port: int = 443, names: tuple[str, ...] = ("mta-sts.good.test",)
) -> Iterator[Path]:
    """HTTPS on ``address:port`` serving the MTA-STS policy of ``names``, with a certificate from a
    fresh test CA in ``folder``; yields that CA's file (trust it, or not)."""
    from cyberscan.demo.pki import DemoCA
    from cyberscan.demo.servers import tls_context

    folder.mkdir(parents=True, exist_ok=True)
    ca = DemoCA(folder, datetime.now(UTC))
    leaf = ca.issue("mta-sts", list(names), valid_days=30)
    server = ThreadingHTTPServer((address, port), _PolicyHandler)
    context: ssl.SSLContext = tls_context(leaf.cert_file, leaf.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield ca.ca_file
    finally:
        server.shutdown()
        server.server_close()
