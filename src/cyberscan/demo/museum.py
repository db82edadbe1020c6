"""The fictional museum of the demo: its DNS zone and its websites, with a realistic mix of settings.

Good: SPF with ~all, a DKIM key, TLS-RPT, MTA-STS published, two nameservers, zone transfers refused,
TLS 1.2/1.3 only, X-Content-Type-Options and Referrer-Policy set, HTTP redirects to HTTPS.
To improve: DMARC p=none (reports do arrive), no DNSSEC, no CAA, MTA-STS only in testing mode, no
HSTS, a web server version in the Server header and an old CMS version in the page, a certificate
that expires in three weeks, an expired security.txt, and a dangling CNAME of an old exhibition site.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .servers import Page

DOMAIN = "museum-demo.test"
OLD_HOST_ZONE = "oude-hoster.test"  # where the 2019 exhibition microsite used to live
EXPO_HOST = f"expo2019.{DOMAIN}"
DKIM_SELECTOR = "selector1"
WEB_BANNER = "nginx/1.18.0"
SMTP_BANNER = "Postfix (Debian/GNU)"


def _txt(value: str) -> str:
    """A TXT value in zone-file syntax, split into 255-byte character-strings."""
    parts = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def zone_text(*, address: str, dkim_key: str) -> str:
    d = DOMAIN
    return f"""$TTL 3600
@        SOA   ns1.{d}. hostmaster.{d}. 2026010101 7200 3600 1209600 3600
@        NS    ns1.{d}.
@        NS    ns2.{d}.
ns1      A     {address}
ns2      A     {address}
@        A     {address}
www      A     {address}
mta-sts  A     {address}
mail     A     {address}
@        MX    10 mail.{d}.
@        TXT   {_txt("v=spf1 mx ~all")}
_dmarc   TXT   {_txt(f"v=DMARC1; p=none; rua=mailto:dmarc-rapport@{d}")}
_mta-sts TXT   {_txt("v=STSv1; id=20260101T000000")}
_smtp._tls TXT {_txt(f"v=TLSRPTv1; rua=mailto:tls-rapport@{d}")}
{DKIM_SELECTOR}._domainkey TXT {_txt(f"v=DKIM1; k=rsa; p={dkim_key}")}
expo2019 CNAME museum-demo-expo2019.{OLD_HOST_ZONE}.
"""


def old_host_zone_text() -> str:
    """The former host's zone: the microsite's name is gone (NXDOMAIN), which makes the CNAME dangle."""
    z = OLD_HOST_ZONE
    return f"""$TTL 3600
@   SOA  ns.{z}. hostmaster.{z}. 2026010101 7200 3600 1209600 3600
@   NS   ns.{z}.
ns  A    127.0.0.1
"""


HOME = """<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="generator" content="WordPress 5.8.1">
<title>Museum Demo - fictief museum voor de cyberscan-demo</title>
</head>
<body>
<h1>Welkom bij Museum Demo</h1>
<p>Dit museum bestaat niet. Het is het voorbeeld van cyberscan.</p>
</body>
</html>
"""

MTA_STS_POLICY = f"""version: STSv1
mode: testing
mx: mail.{DOMAIN}
max_age: 86400
"""


def security_txt(now: datetime) -> str:
    expired = (now - timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"Contact: mailto:ict@{DOMAIN}\n"
        f"Expires: {expired}\n"
        "Preferred-Languages: nl, en\n"
        f"Canonical: https://www.{DOMAIN}/.well-known/security.txt\n"
    )


class Router:
    """Pages by host name and path, for HTTP and HTTPS."""

    def __init__(self, *, now: datetime, https_port: int) -> None:
        self.now = now
        self.https_port = https_port

    def __call__(self, host: str, path: str, tls: bool) -> Page:
        path = path.split("?", 1)[0]
        if not tls:  # plain HTTP: send everyone to HTTPS on the same host
            port = "" if self.https_port == 443 else f":{self.https_port}"
            return Page(301, "", (("Location", f"https://{host}{port}{path}"),))
        if host == f"mta-sts.{DOMAIN}":
            if path == "/.well-known/mta-sts.txt":
                return Page(200, MTA_STS_POLICY, content_type="text/plain; charset=utf-8")
            return Page(404, "not found\n", content_type="text/plain")
        if host in (DOMAIN, f"www.{DOMAIN}"):
            website = (
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "strict-origin-when-cross-origin"),
                ("X-Powered-By", "PHP/7.4.33"),
            )
            if path == "/":
                cookie = (("Set-Cookie", "wp_bezoeker=1; Path=/; Secure"),)
                return Page(200, HOME, website + cookie)
            if path == "/.well-known/security.txt":
                return Page(200, security_txt(self.now), website, content_type="text/plain; charset=utf-8")
            return Page(404, "<h1>Niet gevonden</h1>", website)
        return Page(404, "unknown site\n", content_type="text/plain")
