"""Benchmark: scan N fictional museums served by a local DNS server, with the default profile.

    make bench                      # 1 domain x 5 repeats, then 50 domains at once
    .venv/bin/python bench/run.py --domains 200 --workers 64

Talks only to servers it starts on loopback. Prints wall-clock figures; nothing here asserts a time.
No web or mail server is started, so HTTPS and SMTP connections are refused at once (mail.starttls
reports an error for each domain): the figures measure DNS, the engine and evaluation.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from cyberscan import catalogue as catalogue_mod
from cyberscan import registry as registry_mod
from cyberscan.demo.localdns import LocalDnsServer, ZoneSet
from cyberscan.engine import scan
from cyberscan.options import Nameserver, ScanOptions

ZONE = """
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
@ IN NS ns2
ns1 IN A 127.0.0.1
ns2 IN A 127.0.0.1
@ IN A 127.0.0.1
www IN CNAME @
@ IN MX 10 mail
mail IN A 127.0.0.1
@ IN TXT "v=spf1 mx include:_spf.{name} -all"
_spf IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{name}"
_mta-sts IN TXT "v=STSv1; id=20261128"
_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tls@{name}"
@ IN CAA 0 issue "letsencrypt.org"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()

    zones = ZoneSet()
    names = [f"museum{i:04d}.test" for i in range(max(args.domains, 1))]
    for name in names:
        zones.add_text(name + ".", ZONE.replace("{name}", name))
    cat = catalogue_mod.builtin()
    registry = registry_mod.load()
    profile = catalogue_mod.profile(cat, "default")
    with LocalDnsServer(zones) as dns:
        # the zones' nameservers are this server: NS and AXFR checks must ask it on its own port
        profile = dataclasses.replace(profile, settings={**profile.settings, "dns_port": dns.port})
        options = ScanOptions(
            timeout=args.timeout,
            nameservers=(Nameserver(dns.address, dns.port),),
            allow_private=True,
            workers=args.workers,
        )
        single = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = scan([names[0]], catalogue=cat, profile=profile, registry=registry, options=options)
            single.append(time.perf_counter() - start)
        print(
            f"one domain, {len(result.results)} results, {len(result.outcomes)} facts: "
            f"median {statistics.median(single) * 1000:.0f} ms, min {min(single) * 1000:.0f} ms over {args.repeats} runs"
        )
        start = time.perf_counter()
        many = scan(names, catalogue=cat, profile=profile, registry=registry, options=options)
        elapsed = time.perf_counter() - start
        errors = sum(1 for r in many.results if r.status.value == "error")
        print(
            f"{len(names)} domains at once ({args.workers} workers): {elapsed:.2f} s, "
            f"{len(names) / elapsed:.1f} domains/s, {len(many.results)} results, {errors} errors"
        )


if __name__ == "__main__":
    main()
