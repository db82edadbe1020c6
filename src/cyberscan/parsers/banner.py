"""What a service says first (its banner), turned into service name, product and version.

Used by the built-in connect scan when nmap is not installed. Pure and total: never raises.
Only a handful of common, self-announcing services are recognised; anything else keeps the raw
banner text so the report can still show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class BannerInfo:
    service: str = ""
    product: str = ""
    version: str = ""
    text: str = ""  # the banner as printable text (first line(s), shortened)


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
        version = mysql.group("version").decode("ascii", errors="replace")
        product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        if product == "MariaDB" and version.startswith("5.5.5-"):
            version = version[len("5.5.5-") :]  # MariaDB's compatibility prefix, not its version
        return BannerInfo("mysql", product, version, text)
    first = data.split(b"\n", 1)[0].decode("latin-1").strip()
    ssh = _SSH.match(first)
    if ssh:
        soft = ssh.group("soft")
        m = _SSH_SOFT.match(soft)
        product, version = (m.group("product"), m.group("version")) if m else (soft, "")
        return BannerInfo("ssh", product, version, first[:200])
    rfb = _RFB.match(first)
    if rfb:
        return BannerInfo("vnc", "VNC (RFB)", f"{int(rfb.group('major'))}.{int(rfb.group('minor'))}", first[:200])
    if first.startswith("HTTP/"):
        server = _HTTP_SERVER.search(data.decode("latin-1"))
        if server:
            value = server.group("server").strip()
            m = _PRODUCT_SLASH.match(value)
            if m:
                return BannerInfo("http", m.group("product"), m.group("version"), value[:200])
            return BannerInfo("http", value[:100], "", value[:200])
        return BannerInfo("http", "", "", first[:200])
    if first.startswith("220"):
        for pattern, product in ((_FTP_VSFTPD, "vsftpd"), (_FTP_PROFTPD, "ProFTPD"), (_FTP_FILEZILLA, "FileZilla Server")):
            m = pattern.search(first)
            if m:
                return BannerInfo("ftp", product, m.group("version"), first[:200])
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
