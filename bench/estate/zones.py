"""Zone files for BIND9: the parent ``test.``, one zone per generated domain, and the providers' zones.

DNSSEC: zones whose plan says so are signed here with dnspython (one ECDSA P-256 KSK and ZSK shared
by every signed zone; signing thousands of zones then takes seconds instead of a fork of
``dnssec-signzone`` each), and their DS goes into ``test.``. Variants: ``signed`` (DS matches),
``nods`` (signed, no DS), ``badds`` (signed, DS for another key), ``expired`` (signatures of last year).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.zone
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .plan import (
    DNS_PROVIDERS,
    MAIL_PROVIDERS,
    OWN_MAIL_ADDRESS,
    REPORTS,
    RESOLVER,
    SPF_CHAIN,
    WEBHOST,
    Domain,
)

TTL = 3600


def _txt(value: str) -> str:
    """A TXT value in zone-file syntax, cut into 255-byte strings."""
    return " ".join('"' + value[i : i + 250].replace('"', '\\"') + '"' for i in range(0, len(value), 250))


def dkim_value(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")


class Signer:
    def __init__(self) -> None:
        algorithm = dns.dnssec.Algorithm.ECDSAP256SHA256
        self.ksk = ec.generate_private_key(ec.SECP256R1())
        self.zsk = ec.generate_private_key(ec.SECP256R1())
        self.other = ec.generate_private_key(ec.SECP256R1())  # the key a bad DS points at
        self.ksk_key = dns.dnssec.make_dnskey(self.ksk.public_key(), algorithm, flags=257)
        self.zsk_key = dns.dnssec.make_dnskey(self.zsk.public_key(), algorithm, flags=256)
        self.other_key = dns.dnssec.make_dnskey(self.other.public_key(), algorithm, flags=257)

    def sign(self, origin: str, text: str, now: dt.datetime, *, expired: bool = False) -> str:
        zone = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)
        if expired:
            inception, expiration = now - dt.timedelta(days=400), now - dt.timedelta(days=370)
        else:
            inception, expiration = now - dt.timedelta(days=1), now + dt.timedelta(days=60)
        dns.dnssec.sign_zone(zone, keys=[(self.ksk, self.ksk_key), (self.zsk, self.zsk_key)],
                             inception=inception, expiration=expiration)
        return zone.to_text(relativize=False)

    def ds(self, origin: str, *, wrong: bool = False) -> str:
        key = self.other_key if wrong else self.ksk_key
        ds = dns.dnssec.make_ds(dns.name.from_text(origin), key, "SHA256")
        return f"{origin} {TTL} IN DS {ds.to_text()}"


def _head(origin: str, ns_zone: str, serial: int) -> list[str]:
    return [
        f"$ORIGIN {origin}",
        f"$TTL {TTL}",
        f"@ SOA ns1.{ns_zone}. hostmaster.{origin} {serial} 3600 600 1209600 300",
        f"@ NS ns1.{ns_zone}.",
        f"@ NS ns2.{ns_zone}.",
    ]


def domain_zone(d: Domain, serial: int, dkim: dict[str, str]) -> str:
    name = d.name
    origin = name + "."
    lines = _head(origin, d.dns, serial)
    lines.append(f"@ A {d.hoster.address}")
    if d.www == "a":
        lines.append(f"www A {d.hoster.address}")
    elif d.www == "cname-apex":
        lines.append("www CNAME @")
    elif d.www == "cname-webhost":
        lines.append(f"www CNAME site{d.index}.{WEBHOST}.")
    elif d.www == "dangling":
        lines.append(f"www CNAME gone{d.index}.{WEBHOST}.")  # the site was deleted at the hoster
    provider = d.provider
    if provider is not None:
        for n, (host, _) in enumerate(provider.hosts):
            lines.append(f"@ MX {10 * (n + 1)} {host}.")
    elif d.mail == "own":
        lines += ["@ MX 10 mail", f"mail A {OWN_MAIL_ADDRESS}"]
    elif d.mail == "null":
        lines.append("@ MX 0 .")
    include = f"include:{provider.spf}" if provider else ("mx" if d.mail == "own" else "")
    spf = {
        "good": f"v=spf1 {include} -all",
        "softfail": f"v=spf1 {include} ~all",
        "neutral": f"v=spf1 {include} ?all",
        "all": "v=spf1 +all",
        "toomany": f"v=spf1 {include} include:l1.{SPF_CHAIN} -all",
        "syntax": f"v=spf1 {include} ipv4:192.0.2.1 -all",
        "double": f"v=spf1 {include} -all",
        "nonsending": "v=spf1 -all",
    }.get(d.spf)
    if spf is not None:
        lines.append(f"@ TXT {_txt(' '.join(spf.split()))}")
        if d.spf == "double":
            lines.append('@ TXT "v=spf1 a -all"')
    lines.append(f'@ TXT "museum-verification={d.index:08x}"')
    dmarc = {
        "reject": f"v=DMARC1; p=reject; rua=mailto:dmarc@{name}",
        "quarantine": f"v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc@{name}",
        "none": "v=DMARC1; p=none",
        "syntax": "v=DMARC1; p=rejectt; rua=dmarc@",
        "external": f"v=DMARC1; p=reject; rua=mailto:agg@{REPORTS}",
        "external-unauth": f"v=DMARC1; p=quarantine; rua=mailto:agg@{REPORTS}",
    }.get(d.dmarc)
    if dmarc is not None:
        lines.append(f"_dmarc TXT {_txt(dmarc)}")
    if d.dkim != "none" and provider is not None:
        for selector in provider.dkim:
            lines.append(f"{selector}._domainkey TXT {_txt(dkim['weak' if d.dkim == 'weak' else 'good'])}")
    elif d.dkim != "none" and d.mail == "own":
        lines.append(f"default._domainkey TXT {_txt(dkim['weak' if d.dkim == 'weak' else 'good'])}")
    if d.mta_sts != "none":
        lines.append(f'_mta-sts TXT "v=STSv1; id=2026{d.index:06d}"')
        if d.mta_sts != "nohost":
            lines.append(f"mta-sts A {d.hoster.address}")
    if d.tlsrpt:
        lines.append(f'_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{name}"')
    if d.caa == "le":
        lines.append('@ CAA 0 issue "letsencrypt.org"')
    elif d.caa == "iodef":
        lines += ['@ CAA 0 issue "sectigo.com"', f'@ CAA 0 iodef "mailto:security@{name}"']
    return "\n".join(lines) + "\n"


def infrastructure_zones(domains: list[Domain], serial: int, tlsa: str) -> dict[str, tuple[str, str]]:
    """The DNS providers', mail providers', SPF chain, report receiver and web host zones
    (zone -> text, the DNS provider it is delegated to)."""
    zones: dict[str, tuple[str, str]] = {}
    for zone, (ns1, ns2) in DNS_PROVIDERS.items():
        lines = [*_head(zone + ".", zone, serial), f"ns1 A {ns1}", f"ns2 A {ns2}"]
        zones[zone] = ("\n".join(lines) + "\n", zone)
    for provider in MAIL_PROVIDERS:
        lines = _head(provider.zone + ".", "dnsprov-a.test", serial)
        for host, address in provider.hosts:
            lines.append(f"{host}. A {address}")
            if provider.signed:
                lines.append(f"_25._tcp.{host}. TLSA {tlsa}")
        spf_name = provider.spf.removesuffix("." + provider.zone)
        lines.append(f'{spf_name} TXT "v=spf1 ip4:10.80.2.0/29 include:_spf2.{provider.zone} -all"')
        lines.append('_spf2 TXT "v=spf1 ip4:10.80.3.0/24 ip4:10.80.4.0/24 -all"')
        lines.append('@ TXT "v=spf1 a mx -all"')
        lines.append('_dmarc TXT "v=DMARC1; p=reject"')
        zones[provider.zone] = ("\n".join(lines) + "\n", "dnsprov-a.test")
    chain = _head(SPF_CHAIN + ".", "dnsprov-b.test", serial)
    for n in range(1, 12):
        nxt = f"include:l{n + 1}.{SPF_CHAIN}" if n < 11 else "ip4:10.80.9.0/24"
        chain.append(f'l{n} TXT "v=spf1 {nxt} -all"')
    zones[SPF_CHAIN] = ("\n".join(chain) + "\n", "dnsprov-b.test")
    reports = _head(REPORTS + ".", "dnsprov-b.test", serial)
    reports += [f'{d.name}._report._dmarc TXT "v=DMARC1"' for d in domains if d.dmarc == "external"]
    zones[REPORTS] = ("\n".join(reports) + "\n", "dnsprov-b.test")
    web = _head(WEBHOST + ".", "dnsprov-a.test", serial)
    web += [f"site{d.index} A {d.hoster.address}" for d in domains if d.www == "cname-webhost"]
    zones[WEBHOST] = ("\n".join(web) + "\n", "dnsprov-a.test")
    return zones


def parent_zone(zones: dict[str, str], serial: int, ds: dict[str, str]) -> str:
    """``test.``: a delegation (and DS) per zone; ``zones`` maps each zone to its DNS provider."""
    lines = [
        "$ORIGIN test.",
        f"$TTL {TTL}",
        f"@ SOA ns1.dnsprov-a.test. hostmaster.test. {serial} 3600 600 1209600 300",
        "@ NS ns1.dnsprov-a.test.",
        "@ NS ns2.dnsprov-a.test.",
    ]
    for zone, (ns1, ns2) in DNS_PROVIDERS.items():
        label = zone.removesuffix(".test")
        lines += [f"ns1.{label} A {ns1}", f"ns2.{label} A {ns2}"]
    for zone, ns_zone in zones.items():
        label = zone.removesuffix(".test")
        lines += [f"{label} NS ns1.{ns_zone}.", f"{label} NS ns2.{ns_zone}."]
        if zone in ds:
            lines.append(ds[zone])
    return "\n".join(lines) + "\n"


def tlsa_record(cert_spki_der: bytes) -> str:
    return f"3 1 1 {hashlib.sha256(cert_spki_der).hexdigest()}"


def write_all(folder: Path, domains: list[Domain], now: dt.datetime, *, tlsa: str) -> tuple[dict[str, Path], set[str]]:
    """Write every zone file into ``folder``; return zone -> file and the zones open for AXFR."""
    folder.mkdir(parents=True, exist_ok=True)
    serial = int(now.strftime("%Y%m%d01"))
    signer = Signer()
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    dkim = {"good": dkim_value(good), "weak": dkim_value(weak)}
    files: dict[str, Path] = {}
    ds: dict[str, str] = {}
    texts: dict[str, tuple[str, str]] = {}  # zone -> (text, dnssec variant)
    delegated: dict[str, str] = {}  # zone -> its DNS provider
    for d in domains:
        texts[d.name] = (domain_zone(d, serial, dkim), d.dnssec)
        delegated[d.name] = d.dns
    for zone, (text, ns_zone) in infrastructure_zones(domains, serial, tlsa).items():
        signed = any(p.zone == zone and p.signed for p in MAIL_PROVIDERS)
        texts[zone] = (text, "signed" if signed else "none")
        delegated[zone] = ns_zone
    for zone, (text, variant) in texts.items():
        origin = zone + "."
        if variant != "none":
            text = signer.sign(origin, text, now, expired=variant == "expired")
            if variant in ("signed", "expired"):
                ds[zone] = signer.ds(origin)
            elif variant == "badds":
                ds[zone] = signer.ds(origin, wrong=True)
        path = folder / f"{zone}.db"
        path.write_text(text, encoding="utf-8")
        files[zone] = path
    parent = folder / "test.db"
    parent.write_text(parent_zone(delegated, serial, ds), encoding="utf-8")
    files = {"test": parent, **files}
    return files, {d.name for d in domains if d.open_axfr}


def named_conf(folder: Path, files: dict[str, Path], open_axfr: set[str], listen: list[str]) -> Path:
    zones = []
    for zone, path in files.items():
        transfer = "any" if zone in open_axfr else "none"
        zones.append(f'zone "{zone}" {{ type primary; file "{path}"; allow-transfer {{ {transfer}; }}; }};')
    conf = folder / "named.conf"
    conf.write_text(
        f"""
options {{
    directory "{folder}";
    pid-file "{folder}/named.pid";
    session-keyfile "{folder}/session.key";
    managed-keys-directory "{folder}";
    listen-on port 53 {{ {"; ".join(listen)}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-transfer {{ none; }};
    dnssec-validation no;
    notify no;
    check-names primary ignore;
    check-integrity no;
    check-sibling no;
    max-udp-size 1232;
}};
controls {{ }};
logging {{ category default {{ default_stderr; }}; category lame-servers {{ null; }};
           category edns-disabled {{ null; }}; }};
"""
        + "\n".join(zones)
        + "\n",
        encoding="utf-8",
    )
    return conf


__all__ = ["RESOLVER", "dkim_value", "named_conf", "tlsa_record", "write_all"]
