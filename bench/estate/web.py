"""nginx for the 64 hosting addresses: SNI for every generated name, TLS configuration per address.

One server block per address and port (a hoster's TLS settings hold for the address), certificates
chosen per handshake from ``$ssl_server_name`` through a map (thousands of names without thousands of
SSL contexts), and each site's behaviour (redirect, HSTS and other headers, cookie) from a map of
``$host`` to its class. Content lives in ``www/<host>/`` (``www.<domain>`` is a link to the apex's).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .pki import Pki
from .plan import HOSTING, Domain, hoster

TLS = {
    "modern": ("TLSv1.2 TLSv1.3", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
               "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"),
    "intermediate": ("TLSv1.2 TLSv1.3", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
                     "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256"),
    "legacy": ("TLSv1 TLSv1.1 TLSv1.2", "ALL:@SECLEVEL=0"),
    "tls13": ("TLSv1.3", "HIGH"),
}

HEADERS = {  # class -> header -> value ("" adds nothing)
    "Strict-Transport-Security": {"good": "max-age=31536000; includeSubDomains", "partial": "max-age=300"},
    "X-Content-Type-Options": {"good": "nosniff", "partial": "nosniff"},
    "X-Frame-Options": {"good": "SAMEORIGIN"},
    "Referrer-Policy": {"good": "strict-origin-when-cross-origin"},
    "Content-Security-Policy": {"good": "default-src 'self'; frame-ancestors 'self'"},
    "Set-Cookie": {"cms": "PHPSESSID=3f9a1c; path=/", "partial": "session=1; Secure; HttpOnly; SameSite=Lax"},
}


def _securitytxt(domain: str, expires: dt.datetime) -> str:
    return (f"Contact: mailto:security@{domain}\nExpires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
            f"Canonical: https://{domain}/.well-known/security.txt\nPreferred-Languages: nl, en\n")


def _policy(d: Domain) -> str:
    mode = "testing" if d.mta_sts == "testing" else "enforce"
    hosts = d.mx_hosts if d.mta_sts != "mismatch" else ("mx.oldprovider.test",)
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {h}" for h in hosts), "max_age: 604800"]
    return "\r\n".join(lines) + "\r\n"


def write(folder: Path, domains: list[Domain], pki: Pki, now: dt.datetime) -> Path:
    """Certificates, content and ``nginx.conf`` in ``folder``; returns the configuration file."""
    www = folder / "www"
    for sub in (www, folder / "logs", folder / "tmp"):
        sub.mkdir(parents=True, exist_ok=True)
    cert_map: list[str] = []
    key_map: list[str] = []
    class_map: list[str] = []
    for d in domains:
        names = list(d.web_names)
        if d.www == "cname-webhost":
            names.append(f"site{d.index}.webhost.test")
        if d.cert != "mismatch":
            pem = pki.leaf(f"certs/{d.name}", names, key=d.hoster.key, expired=d.cert == "expired",
                           selfsigned=d.cert == "selfsigned")
            cert_map += [f"    {n} {pem};" for n in names]
            key_map += [f"    {n} {pki.key_files[d.hoster.key]};" for n in names]
        site = www / d.name
        (site / ".well-known").mkdir(parents=True, exist_ok=True)
        generator = '<meta name="generator" content="WordPress 5.8.1">' if d.web == "cms" else ""
        (site / "index.html").write_text(
            f"<!doctype html><html><head><title>{d.name}</title>{generator}</head><body>Museum {d.index}</body></html>\n")
        if d.securitytxt != "none":
            expires = now + dt.timedelta(days=200 if d.securitytxt == "valid" else -10)
            (site / ".well-known" / "security.txt").write_text(_securitytxt(d.name, expires))
        for alias in names[1:]:
            if alias.startswith("mta-sts."):
                continue
            link = www / alias
            if not link.exists():
                link.symlink_to(site.name)
        class_map += [f"    {n} {d.web};" for n in names if not n.startswith("mta-sts.")]
        if d.mta_sts not in ("none", "nohost"):
            sts = www / f"mta-sts.{d.name}" / ".well-known"
            sts.mkdir(parents=True, exist_ok=True)
            (sts / "mta-sts.txt").write_text(_policy(d))
            class_map.append(f"    mta-sts.{d.name} sts;")
    defaults = {kind: pki.leaf(f"certs/default-{kind}", ["hosting.test", "*.hosting.test"], key=kind)
                for kind in pki.keys}
    maps = [
        "map $ssl_server_name $bench_cert {\n    hostnames;\n"
        f"    default {defaults['ecdsa']};\n" + "\n".join(cert_map) + "\n}",
        "map $ssl_server_name $bench_key {\n    hostnames;\n"
        f"    default {pki.key_files['ecdsa']};\n" + "\n".join(key_map) + "\n}",
        "map $host $bench_class {\n    hostnames;\n    default bare;\n" + "\n".join(class_map) + "\n}",
        'map $bench_class $bench_redirect {\n    default "";\n    good 1;\n    partial 1;\n}',
    ]
    add_headers = []
    for n, (header, values) in enumerate(HEADERS.items()):
        body = "".join(f'    {cls} "{value}";\n' for cls, value in values.items())
        maps.append(f'map $bench_class $bench_h{n} {{\n    default "";\n{body}}}')
        add_headers.append(f"        add_header {header} $bench_h{n} always;")
    servers = []
    for index, address in enumerate(HOSTING):
        h = hoster(index)
        protocols, ciphers = TLS[h.tls]
        tokens = "on" if h.tokens else "off"
        servers.append(f"""
    server {{
        listen {address}:80 default_server;
        server_name _;
        server_tokens {tokens};
        root {www}/$host;
        if ($bench_redirect) {{ return 301 https://$host$request_uri; }}
    }}
    server {{
        listen {address}:443 ssl default_server;
        server_name _;
        server_tokens {tokens};
        ssl_certificate $bench_cert;
        ssl_certificate_key $bench_key;
        ssl_protocols {protocols};
        ssl_ciphers '{ciphers}';
        ssl_prefer_server_ciphers on;
        root {www}/$host;
{chr(10).join(add_headers)}
    }}""")
    conf = folder / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 2;
worker_rlimit_nofile 65536;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log error;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    types {{ text/html html; text/plain txt; }}
    default_type text/plain;
    map_hash_max_size 262144;
    map_hash_bucket_size 256;
    server_names_hash_bucket_size 128;
{chr(10).join(maps)}
{"".join(servers)}
}}
""")
    return conf
