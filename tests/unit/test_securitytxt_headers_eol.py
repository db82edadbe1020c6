"""Pure parsers (security.txt, headers) and the end-of-life judge: tables plus never-raise properties."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cyberscan.evaluators.tls import hostname_matches
from cyberscan.parsers.eol import Build, distribution_build, identify, judge_build, judge_version
from cyberscan.parsers.headers import csp_directive, generators, parse_hsts, parse_products, parse_set_cookie
from cyberscan.parsers.securitytxt import parse_securitytxt
from cyberscan.parsers.tlsrating import rate_suite, rate_version
from cyberscan.probes.tlsraw import parse_server_hello

SIGNED = """-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Contact: mailto:security@museum.test
Expires: 2027-01-01T00:00:00Z
- Canonical: https://museum.test/.well-known/security.txt
-----BEGIN PGP SIGNATURE-----

iQIzBAEBCAAdFiEE
-----END PGP SIGNATURE-----
"""


@pytest.mark.parametrize(
    ("text", "errors", "signed"),
    [
        ("Contact: mailto:a@b.test\nExpires: 2027-01-01T00:00:00Z\n", (), False),
        ("Expires: 2027-01-01T00:00:00Z\n", ("no-contact",), False),
        ("Contact: mailto:a@b.test\n", ("no-expires",), False),
        ("Contact: mailto:a@b.test\nExpires: next year\n", ("bad-expires",), False),
        ("Contact: mailto:a@b.test\nExpires: 2027-01-01T00:00:00Z\nExpires: 2027-01-02T00:00:00Z\n",
         ("multiple-expires",), False),
        ("<html>not found</html>", ("invalid-line", "no-contact", "no-expires"), False),
        (SIGNED, (), True),
    ],
)
def test_securitytxt(text: str, errors: tuple[str, ...], signed: bool) -> None:
    doc = parse_securitytxt(text)
    assert doc.errors == errors
    assert doc.signed is signed


def test_signed_securitytxt_unescapes_dashes() -> None:
    doc = parse_securitytxt(SIGNED)
    assert doc.canonical == ("https://museum.test/.well-known/security.txt",)
    assert doc.expires == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "max_age", "sub", "valid"),
    [
        ("max-age=31536000; includeSubDomains", 31536000, True, True),
        ('max-age="600"', 600, False, True),
        ("max-age=abc", None, False, False),
        ("includeSubDomains", None, True, False),
        ("max-age=1; max-age=2", None, False, False),
    ],
)
def test_hsts(value: str, max_age: int | None, sub: bool, valid: bool) -> None:
    hsts = parse_hsts(value)
    assert (hsts.max_age, hsts.include_subdomains, hsts.valid) == (max_age, sub, valid)


def test_cookie_and_csp_and_generator() -> None:
    c = parse_set_cookie("sid=1; Secure; HttpOnly; SameSite=Lax")
    assert (c.name, c.secure, c.http_only, c.same_site) == ("sid", True, True, "lax")
    assert csp_directive("default-src 'self'; frame-ancestors 'none'", "frame-ancestors") == "'none'"
    assert csp_directive("default-src 'self'", "frame-ancestors") is None
    assert generators('<meta name="generator" content="WordPress 6.4.2"><META NAME=Generator CONTENT="x">') == (
        "WordPress 6.4.2", "x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nginx/1.22.1", [("nginx", "1.22.1")]),
        ("Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f", [("apache", "2.4.41"), ("openssl", "1.1.1f")]),
        ("Microsoft-IIS/8.5", [("iis", "8.5")]),
        ("WordPress 6.4.2", [("wordpress", "6.4.2")]),
        ("nginx", [("nginx", "")]),
        ("cloudflare", []),
        ("PHP/7.4.33-1+deb11u5", [("php", "7.4.33-1+deb11u5")]),  # a Debian package version is a version
        ("PHP/8.2.29-1~deb12u1", [("php", "8.2.29-1~deb12u1")]),
        ("nginx/1.18.0-6ubuntu14.4 (Ubuntu)", [("nginx", "1.18.0-6ubuntu14.4")]),
        ("Apache/2.4.6 (CentOS) PHP/5.4.16", [("apache", "2.4.6"), ("php", "5.4.16")]),
    ],
)
def test_products(value: str, expected: list[tuple[str, str]]) -> None:
    assert [(p.name, p.version) for p in parse_products(value)] == expected


EOL = {
    "products": {
        "php": {"cycles": [{"cycle": "7.4", "eol": dt.date(2022, 11, 28)}, {"cycle": "8.3", "eol": dt.date(2027, 12, 31),
                                                                             "latest": "8.3.14"}]},
        "openssh": {"eol_before": "7.4", "min_recommended": "9.8"},
    }
}
TODAY = dt.date(2026, 11, 28)


@pytest.mark.parametrize(
    ("product", "version", "status"),
    [
        ("php", "7.4.33", "end-of-life"),
        ("php", "8.3.1", "outdated"),
        ("php", "8.3.14", "supported"),
        ("php", "8.3", "supported"),  # no patch level given: not judged outdated
        ("php", "5.6.40", "end-of-life"),  # older than any listed branch
        ("php", "9.0.0", "supported"),
        ("openssh", "7.2p2", "end-of-life"),
        ("openssh", "9.2p1", "outdated"),
        ("openssh", "9.9p1", "supported"),
        ("unknownd", "1.0", "unknown"),
        ("php", "", "unknown"),
    ],
)
def test_judge_version(product: str, version: str, status: str) -> None:
    assert judge_version(EOL, product, version, TODAY).status == status


def test_judge_version_uses_the_given_day() -> None:
    assert judge_version(EOL, "php", "8.3.14", dt.date(2028, 1, 1)).status == "end-of-life"


@pytest.mark.parametrize(
    ("name", "sans", "ok"),
    [
        ("www.museum.test", ["www.museum.test"], True),
        ("WWW.Museum.test.", ["www.museum.test"], True),
        ("www.museum.test", ["*.museum.test"], True),
        ("museum.test", ["*.museum.test"], False),
        ("a.b.museum.test", ["*.museum.test"], False),
        ("www.test", ["*.test"], False),  # no wildcards directly under a TLD
        ("www.museum.test", ["other.test"], False),
    ],
)
def test_hostname_matches(name: str, sans: list[str], ok: bool) -> None:
    assert hostname_matches(name, sans) is ok


def test_ratings() -> None:
    assert rate_version("TLSv1.3") == "good" and rate_version("TLSv1.0") == "phase-out"
    assert rate_version("SSLv3") == "insufficient"
    assert rate_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == "good"
    assert rate_suite("TLS_DHE_RSA_WITH_AES_128_CBC_SHA") == "sufficient"
    assert rate_suite("TLS_RSA_WITH_AES_128_GCM_SHA256") == "phase-out"
    for weak in ("TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_NULL_SHA",
                 "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", "TLS_DH_anon_WITH_AES_128_CBC_SHA"):
        assert rate_suite(weak) == "insufficient", weak


@given(st.text(max_size=2000))
def test_text_parsers_never_raise(text: str) -> None:
    parse_securitytxt(text)
    parse_hsts(text)
    parse_set_cookie(text)
    parse_products(text)
    generators(text)
    csp_directive(text, "frame-ancestors")


@given(st.binary(max_size=300))
def test_server_hello_parser_raises_only_declared_errors(data: bytes) -> None:
    import struct

    try:
        parse_server_hello(data)
    except (ValueError, IndexError, struct.error):
        pass


@given(st.text(max_size=30), st.text(max_size=20))
def test_judge_version_never_raises(product: str, version: str) -> None:
    judge_version(EOL, product, version, TODAY)


def test_shipped_eol_data_is_well_formed_and_judges_known_cases() -> None:
    from cyberscan import catalogue
    from cyberscan.parsers.eol import version_tuple

    data = catalogue.load().extras["eol"]
    assert isinstance(data["updated"], dt.date) and data["sources"]
    for name, entry in data["products"].items():
        assert entry.get("title"), name
        for cycle in entry.get("cycles") or ():
            assert version_tuple(str(cycle["cycle"])), (name, cycle)
            assert cycle.get("eol") is None or isinstance(cycle["eol"], dt.date), (name, cycle)
    for product in ("nginx", "apache", "iis", "php", "wordpress", "drupal", "joomla", "openssh", "postfix", "exim",
                    "vsftpd", "proftpd", "mysql", "mariadb", "postgresql", "redis"):
        assert product in data["products"], product
    today = dt.date(2026, 11, 28)
    assert judge_version(data, "nginx", "1.22.1", today).status == "end-of-life"
    assert judge_version(data, "php", "7.4.33", today).status == "end-of-life"
    assert judge_version(data, "php", "8.4.1", today).status == "supported"
    assert judge_version(data, "wordpress", "6.5.1", today).status == "outdated"
    assert judge_version(data, "openssh", "9.2p1", today).status == "outdated"
    assert judge_version(data, "postgres", "13.4", today).status == "end-of-life"  # alias
    assert judge_version(data, "iis", "10.0", today).status == "supported"


def _handshake_records(body: bytes, mtype: int, declared: int) -> bytes:
    msg = bytes([mtype]) + declared.to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(msg).to_bytes(2, "big") + msg


records = st.builds(_handshake_records, st.binary(max_size=400), st.sampled_from([2, 11, 12, 14, 99]),
                    st.integers(0, 600))


@given(st.one_of(st.binary(max_size=3000), records, st.lists(records, max_size=4).map(b"".join)))
def test_read_flight_never_raises_on_any_server_answer(data: bytes) -> None:
    import socket

    from cyberscan.probes.tlsraw import ServerFlight, read_flight

    reader, writer = socket.socketpair()
    try:
        reader.settimeout(1)
        writer.sendall(data)
        writer.shutdown(socket.SHUT_WR)
        flight = read_flight(reader)
    finally:
        reader.close()
        writer.close()
    assert isinstance(flight, ServerFlight)
    assert flight.outcome in ("accepted", "alert", "closed", "garbage", "timeout")


# ----------------------------------------------------------------------------- distribution builds


@pytest.mark.parametrize(
    ("version", "extra", "expected"),
    [
        ("9.2p1 Debian 2+deb12u10", "", ("9.2p1", "debian-12")),  # nmap's version of a Debian 12 sshd
        ("10.11.19-MariaDB-0+deb12u1", "", ("10.11.19", "debian-12")),
        ("7.4.33-1+deb11u5", "", ("7.4.33", "debian-11")),
        ("1.2.3~bpo12+1", "", ("1.2.3", "debian-12")),  # a Debian 12 backport
        ("10.6.16-0ubuntu0.22.04.1", "", ("10.6.16", "ubuntu-22.04")),
        ("2.4.37-62.module+el8.9.0+19753", "", ("2.4.37", "rhel-8")),
        ("2.4.6-99.el7", "", ("2.4.6", "rhel-7")),
        ("8.9p1 Ubuntu 3ubuntu0.10", "", ("8.9p1", "ubuntu")),  # the family only: no release in the string
        ("1.18.0-6ubuntu14.4", "", ("1.18.0", "ubuntu")),
        ("9.2p1 Debian-2", "", ("9.2p1", "debian")),
        ("1.22.1", "Debian bookworm", ("1.22.1", "debian-12")),
        ("2.4.62", "(Debian)", ("2.4.62", "debian")),
        ("1.26.2", "", ("1.26.2", "")),  # an upstream build is left as it is
        ("10.11.19-MariaDB", "", ("10.11.19-MariaDB", "")),
        ("", "", ("", "")),
    ],
)
def test_distribution_build(version: str, extra: str, expected: tuple[str, str]) -> None:
    assert distribution_build(version, extra) == expected


@pytest.mark.parametrize(
    ("product", "version", "expected"),
    [
        ("MySQL", "5.5.5-10.11.19-MariaDB-0+deb12u1", Build("mariadb", "10.11.19", "debian-12")),
        ("mysql", "5.5.5-10.6.12-MariaDB", Build("mariadb", "10.6.12")),
        ("mariadb", "10.11.6-MariaDB", Build("mariadb", "10.11.6")),
        ("mysql", "8.0.36", Build("mysql", "8.0.36")),  # a real MySQL stays MySQL
        ("mysql", "5.5.62", Build("mysql", "5.5.62")),
        ("OpenSSH", "9.2p1 Debian 2+deb12u10", Build("openssh", "9.2p1", "debian-12")),
    ],
)
def test_identify_unmasks_mariadb(product: str, version: str, expected: Build) -> None:
    assert identify(product, version) == expected


DISTROS = {
    "products": {
        "openssh": {"title": "OpenSSH", "eol_before": "7.4", "min_recommended": "9.8"},
        "php": {"title": "PHP", "cycles": [{"cycle": "7.4", "eol": dt.date(2022, 11, 28)}]},
    },
    "distributions": {
        "debian": {"title": "Debian", "extended_free": True, "releases": [
            {"release": "11", "security": dt.date(2024, 8, 14), "extended": dt.date(2026, 8, 31),
             "packages": {"openssh": "8.4p1"}},
            {"release": "12", "security": dt.date(2026, 6, 10), "extended": dt.date(2028, 6, 30),
             "packages": {"openssh": "9.2p1"}},
        ]},
        "ubuntu": {"title": "Ubuntu", "extended_free": False, "releases": [
            {"release": "20.04", "security": dt.date(2025, 5, 31), "extended": dt.date(2030, 4, 30)},
        ]},
    },
}


@pytest.mark.parametrize(
    ("product", "version", "day", "status", "reason", "until"),
    [
        ("openssh", "9.2p1 Debian 2+deb12u10", dt.date(2026, 1, 1), "supported", "distribution-supported",
         dt.date(2026, 6, 10)),
        ("openssh", "9.2p1 Debian 2+deb12u10", dt.date(2026, 12, 2), "supported", "distribution-extended",
         dt.date(2028, 6, 30)),  # Debian LTS: free for everyone
        ("openssh", "9.2p1 Debian 2+deb12u10", dt.date(2028, 7, 1), "end-of-life", "distribution-ended",
         dt.date(2028, 6, 30)),
        ("openssh", "9.2p1 Debian-2", dt.date(2026, 12, 2), "supported", "distribution-extended",
         dt.date(2028, 6, 30)),  # only Debian 12 ships 9.2p1
        ("php", "7.4.33-1+deb11u5", dt.date(2026, 1, 1), "supported", "distribution-extended", dt.date(2026, 8, 31)),
        ("php", "7.4.33-1+deb11u5", dt.date(2026, 12, 2), "end-of-life", "distribution-ended", dt.date(2026, 8, 31)),
        ("php", "7.4.3-4ubuntu2.24 ubuntu0.20.04.1", dt.date(2026, 12, 2), "outdated", "distribution-extended-paid",
         dt.date(2030, 4, 30)),  # Ubuntu ESM needs a subscription
        ("openssh", "9.2p1", dt.date(2026, 12, 2), "outdated", "below-recommended", None),  # upstream build
        ("openssh", "9.6p1 Ubuntu-3ubuntu13.5", dt.date(2026, 12, 2), "outdated", "below-recommended", None),
    ],
)
def test_judge_build_by_distribution_support(product: str, version: str, day: dt.date, status: str, reason: str,
                                             until: dt.date | None) -> None:
    verdict = judge_build(DISTROS, product, version, day)
    assert (verdict.status, verdict.reason, verdict.distribution_eol) == (status, reason, until)
    assert verdict.by_distribution is reason.startswith("distribution-")
    assert verdict.version == version  # as stated; the branch is the upstream one, never the whole string
    assert verdict.cycle == {"openssh": verdict.upstream[:3], "php": "7.4"}[product]


@given(st.text(max_size=30), st.text(max_size=40), st.text(max_size=20))
def test_judge_build_never_raises(product: str, version: str, extra: str) -> None:
    judge_build(DISTROS, product, version, TODAY, extra=extra)
    distribution_build(version, extra)


def test_shipped_eol_data_judges_distribution_builds_and_edge_devices() -> None:
    from cyberscan import catalogue

    data = catalogue.load().extras["eol"]
    day = dt.date(2026, 12, 2)
    ssh = judge_build(data, "openssh", "9.2p1 Debian 2+deb12u10", day)
    assert (ssh.cycle, ssh.distribution, ssh.distribution_title) == ("9.2", "debian-12", "Debian 12")
    assert ssh.by_distribution and ssh.status == "supported"  # Debian 12 LTS, not "OpenSSH 9.2 outdated"
    maria = judge_build(data, "mysql", "5.5.5-10.11.19-MariaDB-0+deb12u1", day)
    assert (maria.product, maria.title, maria.cycle, maria.status) == ("mariadb", "MariaDB", "10.11", "supported")
    assert judge_build(data, "mariadb", "10.11.9", day).status == "supported"  # upstream 10.11: until 2028
    assert judge_build(data, "mysql", "5.5.62", day).status == "end-of-life"
    for product, version, status in [
        ("fortios", "6.4.15", "end-of-life"), ("fortios", "7.0.17", "end-of-life"), ("fortios", "7.4.8", "supported"),
        ("ivanti-connect-secure", "9.1R18.9", "end-of-life"), ("ivanti-connect-secure", "22.7R2.8", "supported"),
        ("pulse-connect-secure", "9.1R11", "end-of-life"), ("pulse-connect-secure", "8.3R7", "end-of-life"),
        ("citrix-netscaler", "13.0-92.21", "end-of-life"), ("citrix-netscaler", "14.1-47.48", "supported"),
        ("citrix-adc", "12.1-65.25", "end-of-life"),  # alias
        ("sonicwall-sonicos", "6.2.9", "end-of-life"), ("sonicwall-sonicos", "7.1.3", "supported"),
        ("mariadb", "10.5.27", "end-of-life"),
    ]:
        assert judge_build(data, product, version, day).status == status, (product, version)


def test_shipped_eol_data_names_its_source_and_check_date() -> None:
    from cyberscan import catalogue

    data = catalogue.load().extras["eol"]
    for name, entry in [*data["products"].items(), *data["distributions"].items()]:
        assert str(entry.get("source", "")).startswith(("https://", "http://")), name
        assert entry.get("checked") == dt.date(2026, 12, 2), name
    for family, entry in data["distributions"].items():
        assert isinstance(entry["extended_free"], bool), family
        for release in entry["releases"]:
            assert isinstance(release["security"], dt.date) and isinstance(release["extended"], dt.date), release
            assert release["security"] <= release["extended"], release
    for product in ("fortios", "ivanti-connect-secure", "citrix-netscaler", "sonicwall-sonicos", "pulse-connect-secure", "mariadb"):
        assert product in data["products"], product
    assert {"debian", "ubuntu", "rhel"} <= set(data["distributions"])


def test_certificate_with_a_key_type_cryptography_cannot_load_is_unknown_not_a_crash(tmp_path: Path) -> None:
    from cyberscan.parsers.x509 import parse_certificate
    from tests.fixtures.certs import TestPki

    der = TestPki.create(tmp_path).issue("museum.test").der
    rsa = bytes.fromhex("06092a864886f70d0101010500")  # AlgorithmIdentifier rsaEncryption, NULL
    assert der.count(rsa) == 1
    info = parse_certificate(der.replace(rsa, bytes.fromhex("06092a864886f70d0101630500")))  # an unknown key OID
    assert (info.key_type, info.key_bits, info.dns_names) == ("unknown", 0, ("museum.test",))
