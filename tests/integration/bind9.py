"""A real BIND9 for integration tests: zones from ``tests/fixtures/zones/bind9/``, signed at fixture time.

    with loopback_addresses(NS1, NS2), Bind9(tmp_path, named="/usr/sbin/named") as bind:
        bind.nameserver  # NS1: BIND listens on NS1 and NS2, port 53

The addresses are ``.11``, ``.12`` ... of this test process's own loopback block (127.A.B.0/24, see
tests/fixtures/loopback.py), so two test runs on one machine never share a server. Port 53 stays:
cyberscan's command line asks every nameserver on port 53 (only a profile setting, ``dns_port``, says
otherwise, and the CLI reads built-in profiles only), and the address is ours alone.

Every child zone of ``test.`` is a file ``<zone>.zone`` in the fixture folder, written with the
placeholders ``{dkim_2048}`` / ``{dkim_1024}`` (fresh RSA public keys), ``{serial}`` and the addresses
of :data:`PLACEHOLDERS` (``{ns1}``, ``{ns2}``, ``{mail}``, ``{web}``, ``{nginx_good}`` ...); a zone
that names a fixed loopback address (127.0.N.x) instead is refused. Zones listed in ``SIGNED`` are
signed with ``dnssec-keygen``/``dnssec-signzone``; their DS goes into the parent ``test.`` when they are
in ``DELEGATED_DS``. ``OPEN_AXFR`` zones allow zone transfers to anyone. Nothing here touches the
system's own BIND: the configuration, keys, pid file and zones live in the given tmp folder.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures import loopback
from tests.fixtures.tlsservers import TlsHttpServer
from tests.integration import nginx as nginx_mod
from tests.integration import postfix as postfix_mod

ZONES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "zones" / "bind9"
_BLOCK = loopback.block()
NS1 = _BLOCK.address(11)
NS2 = _BLOCK.address(12)
MAIL = _BLOCK.address(13)  # mail.<zone>: looked up, nothing listens there
WEB = _BLOCK.address(15)  # mta-sts.good.test: HTTPS with the policy file
WEB_UNTRUSTED = _BLOCK.address(16)  # mta-sts.badsts.test: the same policy, certificate from a CA nobody trusts
UNUSED = _BLOCK.address(17)  # an intranet host the open zone reveals: nothing listens there
PORT = 53
# ``{name}`` in a zone file -> address
PLACEHOLDERS = {
    "ns1": NS1, "ns2": NS2, "mail": MAIL, "web": WEB, "web_untrusted": WEB_UNTRUSTED, "unused": UNUSED,
    **{f"nginx_{site}": address for site, address in nginx_mod.ADDRESSES.items()},
    "postfix": postfix_mod.ADDRESS,
}  # fmt: skip

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


def zone_text(template: str, *, serial: str) -> str:
    """A zone file's text with its placeholders filled in. Raises ValueError on a placeholder nobody
    knows, and on a fixed address such as 127.0.20.1 (where older test runs put their servers: nothing of
    this run listens there)."""
    text = template.replace("{serial}", serial)
    for bits in (2048, 1024):
        if f"{{dkim_{bits}}}" in text:  # a fresh key only where one is asked for (RSA key generation is slow)
            text = text.replace(f"{{dkim_{bits}}}", dkim_txt(bits))
    for name, address in PLACEHOLDERS.items():
        text = text.replace("{" + name + "}", address)
    unknown = re.search(r"\{[a-z0-9_]+\}", text)
    if unknown:
        raise ValueError(f"unknown placeholder {unknown.group(0)} (known: {', '.join(sorted(PLACEHOLDERS))})")
    fixed = re.search(r"(?<![\d.])127\.0\.[1-9]\d*\.\d+", text)
    if fixed:
        raise ValueError(f"fixed address {fixed.group(0)}: use a placeholder ({', '.join(sorted(PLACEHOLDERS))})")
    return text


def write_config(folder: Path) -> Path:
    """Write every zone and ``named.conf`` into ``folder``; return the configuration file."""
    serial = datetime.now(UTC).strftime("%Y%m%d01")
    children = child_zones()
    files: dict[str, Path] = {}
    ds_records: dict[str, str] = {}
    for zone in children:
        try:
            text = zone_text((ZONES_DIR / f"{zone}.zone").read_text(encoding="utf-8"), serial=serial)
        except ValueError as exc:
            raise ValueError(f"{zone}.zone: {exc}") from None
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
    listen-on port {PORT} {{ {NS1}; {NS2}; }};
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
        for address in (NS1, NS2):
            loopback.ensure_free(address, tcp=(PORT,), udp=(PORT,))
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
    # each connection's TLS handshake in its own thread: a client that connects and has not sent its
    # ClientHello yet (a scanner opens the next connection ahead) must not hold up the others
    server = TlsHttpServer((address, port), _PolicyHandler)
    server.context = tls_context(leaf.cert_file, leaf.key_file)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield ca.ca_file
    finally:
        server.shutdown()
        server.server_close()
