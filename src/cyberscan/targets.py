"""Before a scan: is this domain there at all, and does a nameserver answer?"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.resolver

from .engine import ScanOptions, make_resolver
from .errors import TargetError


def preflight(domain: str, options: ScanOptions) -> None:
    """Raise TargetError with a one-line reason when ``domain`` cannot be scanned at all."""
    resolver = make_resolver(options)
    servers = ", ".join(f"{ns.address}:{ns.port}" for ns in options.nameservers) or "the system resolver"
    try:
        resolver.resolve(domain + ".", "SOA", raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        raise TargetError(f"{domain}: this domain does not exist (NXDOMAIN from {servers})") from None
    except dns.resolver.LifetimeTimeout:
        raise TargetError(f"{domain}: no answer from {servers} within {options.timeout:g} s") from None
    except dns.resolver.NoNameservers:
        # A validating resolver answers SERVFAIL for a domain with broken DNSSEC. Ask again with
        # checking disabled: if that works, the domain is scannable and dns.dnssec will say why.
        resolver.flags = (resolver.flags or dns.flags.RD) | dns.flags.CD
        try:
            resolver.resolve(domain + ".", "SOA", raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            raise TargetError(f"{domain}: this domain does not exist (NXDOMAIN from {servers})") from None
        except (dns.exception.DNSException, OSError):
            raise TargetError(f"{domain}: {servers} refused or failed to answer (SERVFAIL/REFUSED)") from None
    except (dns.exception.DNSException, OSError) as exc:
        raise TargetError(f"{domain}: DNS lookup failed via {servers}: {exc}") from None
