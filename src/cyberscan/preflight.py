"""Before a scan: is this domain there at all, and does a nameserver answer?

A domain that does not exist, or for which no nameserver answers, cannot be scanned; a computer
without a working resolver is told so in plain words instead of reading that every domain is gone.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.resolver

from .errors import TargetError
from .options import ScanOptions
from .runtime import make_resolver


def servers_text(options: ScanOptions) -> str:
    return ", ".join(str(ns) for ns in options.nameservers) or "system"


def preflight(domain: str, options: ScanOptions) -> None:
    """Raise TargetError (key and params for the message) when ``domain`` cannot be scanned at all."""
    servers = servers_text(options)
    try:
        resolver = make_resolver(options)
    except (dns.resolver.NoResolverConfiguration, OSError):
        raise TargetError("target.no-resolver", domain=domain) from None
    try:
        resolver.resolve(domain + ".", "SOA", raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        raise TargetError("target.nxdomain", domain=domain, servers=servers) from None
    except dns.resolver.LifetimeTimeout:
        raise TargetError("target.no-answer", domain=domain, servers=servers, timeout=options.timeout) from None
    except dns.resolver.NoNameservers:
        # A validating resolver answers SERVFAIL for a domain with broken DNSSEC. Ask again with
        # checking disabled: if that works, the domain is scannable and dns.dnssec will say why.
        resolver.flags = (resolver.flags or dns.flags.RD) | dns.flags.CD
        try:
            resolver.resolve(domain + ".", "SOA", raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            raise TargetError("target.nxdomain", domain=domain, servers=servers) from None
        except (dns.exception.DNSException, OSError):
            raise TargetError("target.servfail", domain=domain, servers=servers) from None
    except (dns.exception.DNSException, OSError) as exc:
        raise TargetError("target.dns-failed", domain=domain, servers=servers, detail=str(exc)) from None
