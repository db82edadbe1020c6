"""What a service says first (its banner), turned into service name, product and version.

Used by the built-in connect scan when nmap is not installed. Pure and total: never raises.
Only a handful of common, self-announcing services are recognised; anything else keeps the raw
banner text so the report can still show it.

:func:`software` cleans what a banner or nmap names into the upstream product and version plus the
distribution that built it, the same way for both, so end-of-life data is looked up by one name::

    software("MySQL", "5.5.5-10.11.19-MariaDB-0+deb12u1")
    # Software(product="MariaDB", version="10.11.19", distribution="Debian", build="0+deb12u1")
    software("OpenSSH", "9.2p1 Debian 2+deb12u10")
    # Software(product="OpenSSH", version="9.2p1", distribution="Debian", build="2+deb12u10")

Product names follow nmap's (``Apache httpd``, ``Microsoft IIS httpd``), so a banner that says
``Microsoft-IIS/10.0`` and nmap's answer for the same server are judged alike. A distribution
(Debian, Ubuntu, Red Hat ...) backports security fixes into old upstream versions: the judgement
needs to know it, and the version alone no longer carries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class BannerInfo:
    service: str = ""
    product: str = ""
    version: str = ""  # the upstream version, cleaned by software()
    text: str = ""  # the banner as printable text (first line(s), shortened)
    distribution: str = ""  # the distribution whose build this is (Debian, Ubuntu ...), when it says so
    build: str = ""  # the distribution's package revision (2+deb12u10, 3ubuntu0.10)


@dataclass(frozen=True, slots=True)
class Software:
    product: str = ""
    version: str = ""  # the upstream version: 9.2p1, 10.11.19, 2.4.57
    distribution: str = ""  # Debian | Ubuntu | Raspbian | Red Hat | CentOS | Fedora | ... | "" (not named)
    build: str = ""  # the distribution's package revision: 2+deb12u10, 3ubuntu0.10, 0+deb12u1


# (pattern, name): the first that matches the version text, the extra information or the build wins;
# Ubuntu before Debian (Ubuntu's OpenSSH builds say "Debian-5ubuntu1"), Raspbian likewise
_DISTRIBUTIONS = (
    (re.compile(r"ubuntu", re.IGNORECASE), "Ubuntu"),
    (re.compile(r"raspbian|\+rpi\d", re.IGNORECASE), "Raspbian"),
    (re.compile(r"debian|[+~]deb\d+(?:u\d+)?\b", re.IGNORECASE), "Debian"),
    (re.compile(r"red ?hat|\brhel\b|\.el\d+", re.IGNORECASE), "Red Hat"),
    (re.compile(r"centos", re.IGNORECASE), "CentOS"),
    (re.compile(r"almalinux", re.IGNORECASE), "AlmaLinux"),
    (re.compile(r"rocky", re.IGNORECASE), "Rocky Linux"),
    (re.compile(r"fedora|\.fc\d+", re.IGNORECASE), "Fedora"),
    (re.compile(r"\bsuse\b|\bsles\b|opensuse", re.IGNORECASE), "SUSE"),
    (re.compile(r"alpine", re.IGNORECASE), "Alpine"),
    (re.compile(r"freebsd", re.IGNORECASE), "FreeBSD"),
)
# nmap's product names for what HTTP Server headers call themselves
_HTTP_PRODUCTS = {
    "apache": "Apache httpd",
    "microsoft-iis": "Microsoft IIS httpd",
    "nginx": "nginx",
    "lighttpd": "lighttpd",
    "openresty": "OpenResty web app server",
    "litespeed": "LiteSpeed httpd",
    "caddy": "Caddy httpd",
}
_VERSION_HEAD = re.compile(r"^v?(?P<version>\d+(?:\.\d+)*(?:[a-z]\d*)?(?:[.-]?(?:p|rc|beta|alpha)\d*)?)(?P<rest>.*)$",
                           re.IGNORECASE)
_MARIADB = re.compile(r"^(?:5\.5\.5-)?(?:\d+:)?(?P<version>\d+\.\d+\.\d+)[-+~.]?(?P<rest>.*)$")
_WORD_THEN_BUILD = re.compile(r"^[\s_-]*(?P<word>[A-Za-z][\w ]*?)[\s_-]+(?P<build>\S+)\s*$")


def distribution_of(*texts: str) -> str:
    """The distribution named in any of ``texts`` (a version suffix, nmap's extra information)."""
    for text in texts:
        for pattern, name in _DISTRIBUTIONS:
            if text and pattern.search(text):
                return name
    return ""


def software(product: str, version: str = "", extrainfo: str = "") -> Software:
    """Upstream product and version, and the distribution build, from what nmap or a banner named.

    Total and idempotent: a clean result given back comes out unchanged."""
    product = product.strip()
    version = version.strip()
    if "mariadb" in version.lower() or product.lower().startswith("mariadb"):
        return _mariadb(version, extrainfo)
    if product.lower() == "openssh" and version.lower().startswith("for_windows_"):
        return Software("OpenSSH", version[len("for_windows_") :], "Windows", "")
    head = _VERSION_HEAD.match(version)
    rest = head.group("rest").strip() if head else ""
    if head is None or not distribution_of(rest):
        # nothing of a distribution's: the version stays whole (NetScaler 13.1-51.15, Ivanti 22.7R2.4)
        return Software(product, version, distribution_of(extrainfo), "")
    # "Debian 2+deb12u10", "Ubuntu-3ubuntu0.10", "-0ubuntu0.22.04.1", "(Debian)"
    word = _WORD_THEN_BUILD.match(rest)
    if word and distribution_of(word.group("word")):
        build = word.group("build")
    elif rest[0] in "-+~":
        build = rest[1:]
    else:
        build = ""
    return Software(product, head.group("version"), distribution_of(rest), build)


def _mariadb(version: str, extrainfo: str) -> Software:
    """``5.5.5-10.11.19-MariaDB-0+deb12u1``: the 5.5.5 is a compatibility prefix for old clients."""
    match = _MARIADB.match(version)
    if match is None:
        return Software("MariaDB", "", distribution_of(extrainfo), "")
    rest = re.sub(r"^MariaDB[-+~]?", "", match.group("rest"), flags=re.IGNORECASE)
    # MariaDB's own packages (10.11.6+maria~ubu2204) are upstream builds, not the distribution's
    upstream = "maria~" in rest.lower()
    distribution = "" if upstream else distribution_of(rest, extrainfo)
    return Software("MariaDB", match.group("version"), distribution, rest if distribution else "")


def cycle_of(version: str) -> str:
    """The release branch of a clean version: ``9.2p1`` -> ``9.2``, ``10.11.19`` -> ``10.11``, ``22.7R2.4`` -> ``22.7``."""
    match = re.match(r"^v?(\d+)(?:\.(\d+))?", version.strip())
    if match is None:
        return ""
    return match.group(1) + (f".{match.group(2)}" if match.group(2) is not None else "")


_SSH = re.compile(r"^SSH-(?P<proto>[\d.]+)-(?P<soft>\S+)(?:\s+(?P<comment>.*))?$")
_SSH_SOFT = re.compile(r"^(?P<product>[A-Za-z][A-Za-z-]*?)[_-](?P<version>\d[\w.]*)$")
_FTP_VSFTPD = re.compile(r"vsFTPd (?P<version>\d[\w.]*)", re.IGNORECASE)
_FTP_PROFTPD = re.compile(r"ProFTPD (?P<version>\d[\w.]*)", re.IGNORECASE)
_FTP_PUREFTPD = re.compile(r"Pure-FTPd", re.IGNORECASE)
_FTP_FILEZILLA = re.compile(r"FileZilla Server(?: version)? (?P<version>\d[\w.]*)", re.IGNORECASE)
_RFB = re.compile(r"^RFB (?P<major>\d{3})\.(?P<minor>\d{3})")
_HTTP_SERVER = re.compile(r"^Server:\s*(?P<server>[^\r\n]+)", re.IGNORECASE | re.MULTILINE)
_PRODUCT_SLASH = re.compile(r"^(?P<product>[^/\s]+)/(?P<version>\d[\w.-]*)")
_MYSQL_VERSION = re.compile(rb"^.{4}\x0a(?P<version>\d+\.\d+\.\d+[\w.+~-]*)\x00", re.DOTALL)
_SMTP = re.compile(r"^220[ -].*?\b(?P<product>Postfix|Exim|Sendmail|Microsoft ESMTP)\b(?:\s+(?P<version>\d[\w.]*))?", re.IGNORECASE)


def _info(service: str, soft: Software, text: str) -> BannerInfo:
    return BannerInfo(service, soft.product, soft.version, text, soft.distribution, soft.build)


def printable(data: bytes, *, limit: int = 200) -> str:
    text = data.decode("latin-1")
    return _PRINTABLE.sub(" ", text).strip()[:limit]


def parse_banner(data: bytes) -> BannerInfo:
    """Recognise a banner (the first bytes a service sent, or its answer to a plain HTTP request)."""
    try:
        return _parse(data)
    except (ValueError, IndexError, UnicodeError):  # defensive: a banner must never break a scan
        return BannerInfo(text=printable(data))


def _parse(data: bytes) -> BannerInfo:
    if not data:
        return BannerInfo()
    text = printable(data)
    mysql = _MYSQL_VERSION.match(data)
    if mysql:
        return _info("mysql", software("MySQL", mysql.group("version").decode("ascii", errors="replace")), text)
    first = data.split(b"\n", 1)[0].decode("latin-1").strip()
    ssh = _SSH.match(first)
    if ssh:
        soft = ssh.group("soft")
        if soft.lower().startswith("openssh_for_windows_"):
            return _info("ssh", software("OpenSSH", soft[len("OpenSSH_") :]), first[:200])
        m = _SSH_SOFT.match(soft)
        product, version = (m.group("product"), m.group("version")) if m else (soft, "")
        # the comment names the distribution build: "Debian-2+deb12u3", "Ubuntu-3ubuntu0.10"
        comment = ssh.group("comment") or ""
        return _info("ssh", software(product, f"{version} {comment}".strip() if version else ""), first[:200])
    rfb = _RFB.match(first)
    if rfb:
        return BannerInfo("vnc", "VNC (RFB)", f"{int(rfb.group('major'))}.{int(rfb.group('minor'))}", first[:200])
    if first.startswith("HTTP/"):
        server = _HTTP_SERVER.search(data.decode("latin-1"))
        if server:
            value = server.group("server").strip()
            m = _PRODUCT_SLASH.match(value)
            if m:
                name = _HTTP_PRODUCTS.get(m.group("product").lower(), m.group("product"))
                # "Apache/2.4.57 (Debian)": the part after the version names the distribution
                comment = value[m.end() :].split(")", 1)[0] + ")" if value[m.end() :].strip().startswith("(") else ""
                return _info("http", software(name, m.group("version"), comment.strip()), value[:200])
            name = _HTTP_PRODUCTS.get(value.lower(), value[:100])
            return BannerInfo("http", name, "", value[:200])
        return BannerInfo("http", "", "", first[:200])
    if first.startswith("220"):
        for pattern, product in ((_FTP_VSFTPD, "vsftpd"), (_FTP_PROFTPD, "ProFTPD"), (_FTP_FILEZILLA, "FileZilla Server")):
            m = pattern.search(first)
            if m:
                return _info("ftp", software(product, m.group("version"), first), first[:200])
        if _FTP_PUREFTPD.search(first):
            return BannerInfo("ftp", "Pure-FTPd", "", first[:200])
        smtp = _SMTP.match(first)
        if smtp:
            return BannerInfo("smtp", smtp.group("product"), smtp.group("version") or "", first[:200])
        if "ftp" in first.lower():
            return BannerInfo("ftp", "", "", first[:200])
        if "smtp" in first.lower():
            return BannerInfo("smtp", "", "", first[:200])
        return BannerInfo("", "", "", first[:200])
    if data[:1] == b"\xff" and len(data) >= 3 and data[1] in (0xFB, 0xFC, 0xFD, 0xFE):
        return BannerInfo("telnet", "", "", text)  # telnet option negotiation (IAC WILL/WONT/DO/DONT)
    if first.startswith(("+OK", "* OK")):
        return BannerInfo("pop3" if first.startswith("+OK") else "imap", "", "", first[:200])
    if first.startswith(("-ERR", "-NOAUTH", "+PONG")):
        return BannerInfo("redis", "Redis", "", first[:200])
    return BannerInfo("", "", "", text)
