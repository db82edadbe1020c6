"""The estate's design: who hosts what, and each generated domain's good and bad settings.

Every choice of domain ``i`` comes from a random generator seeded with ``i`` alone, so the first 100
domains of a 5,000-domain estate are exactly the 100-domain estate: the mix is the same in every
prefix and a measurement of N domains can scan the first N of a larger estate.

Addresses (all inside the server namespace; the client namespace routes 10.80.0.0/16 to it):

- 10.80.0.53            BIND9, the resolver cyberscan is given (authoritative for everything)
- 10.80.0.1 - .4        BIND9 too: ns1/ns2 of the two DNS providers the zones delegate to
- 10.80.1.1 - .64       nginx: 64 shared hosting addresses (apex, www and mta-sts of many domains)
- 10.80.2.1 - .6        Postfix: the mail providers' MX addresses
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

RESOLVER = "10.80.0.53"
DNS_PROVIDERS = {  # zone -> (ns1 address, ns2 address)
    "dnsprov-a.test": ("10.80.0.1", "10.80.0.2"),
    "dnsprov-b.test": ("10.80.0.3", "10.80.0.4"),
}
HOSTING = tuple(f"10.80.1.{n}" for n in range(1, 65))


@dataclass(frozen=True)
class Hoster:
    """The TLS and HTTP configuration of one hosting address (nginx applies TLS per address)."""

    address: str
    tls: str  # modern | intermediate | legacy | tls13
    key: str  # ecdsa | rsa: the certificates it serves
    tokens: bool  # nginx version banner


def hoster(index: int) -> Hoster:
    address = HOSTING[index]
    if index < 40:
        return Hoster(address, "modern", "ecdsa", False)
    if index < 52:
        return Hoster(address, "intermediate", "rsa", False)
    if index < 60:
        return Hoster(address, "legacy", "rsa", True)
    return Hoster(address, "tls13", "ecdsa", False)


@dataclass(frozen=True)
class MailProvider:
    zone: str
    hosts: tuple[tuple[str, str], ...]  # (MX name, address)
    tls: str  # modern | legacy | selfsigned | none
    spf: str  # the include a customer's SPF names
    dkim: tuple[str, ...]  # selectors its customers publish
    signed: bool = False  # zone signed, with TLSA records for its MX hosts (DANE)


MAIL_PROVIDERS = (
    MailProvider("mailhost-a.test", (("mx1.mailhost-a.test", "10.80.2.1"), ("mx2.mailhost-a.test", "10.80.2.2")),
                 "modern", "_spf.mailhost-a.test", ("selector1", "selector2"), signed=True),
    MailProvider("mailhost-b.test", (("mx.mailhost-b.test", "10.80.2.3"),), "legacy", "spf.mailhost-b.test",
                 ("google",)),
    MailProvider("mailhost-c.test", (("smtp.mailhost-c.test", "10.80.2.4"),), "selfsigned", "_spf.mailhost-c.test",
                 ("default",)),
    MailProvider("mailhost-d.test", (("mail.mailhost-d.test", "10.80.2.5"),), "none", "_spf.mailhost-d.test", ()),
    MailProvider("mailhost-e.test", (("mx.mailhost-e.test", "10.80.2.6"),), "modern", "_spf.mailhost-e.test",
                 ("k1", "dkim")),
)
OWN_MAIL_ADDRESS = "10.80.2.6"  # where a domain's own mail.<domain> points (certificate for another name)
SPF_CHAIN = "spf-chain.test"  # include chain of 12 lookups: over the limit of 10
REPORTS = "dmarc-reports.test"  # an outside DMARC report receiver (authorises some domains only)
WEBHOST = "webhost.test"  # www CNAME targets site<i>.webhost.test; some of them are gone (dangling)


@dataclass(frozen=True)
class Domain:
    name: str
    index: int
    dns: str  # DNS provider zone
    hoster: Hoster
    www: str  # a | cname-apex | cname-webhost | dangling | none
    cert: str  # valid | expired | mismatch | selfsigned
    web: str  # good | partial | bare | cms
    securitytxt: str  # valid | expired | none
    mail: str  # provider zone | own | null | none
    spf: str  # good | softfail | neutral | all | none | toomany | syntax | double
    dmarc: str  # reject | quarantine | none | missing | syntax | external | external-unauth
    dkim: str  # provider | none | weak
    mta_sts: str  # none | enforce | testing | mismatch | nohost
    tlsrpt: bool
    caa: str  # none | le | iodef
    dnssec: str  # none | signed | unsigned-ds | nods | badds | expired
    open_axfr: bool
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def provider(self) -> MailProvider | None:
        return next((p for p in MAIL_PROVIDERS if p.zone == self.mail), None)

    @property
    def mx_hosts(self) -> tuple[str, ...]:
        if self.mail == "own":
            return (f"mail.{self.name}",)
        provider = self.provider
        return tuple(h for h, _ in provider.hosts) if provider else ()

    @property
    def web_names(self) -> tuple[str, ...]:
        names = [self.name]
        if self.www in ("a", "cname-apex", "cname-webhost"):
            names.append(f"www.{self.name}")
        if self.mta_sts not in ("none", "nohost"):
            names.append(f"mta-sts.{self.name}")
        return tuple(names)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def domain(index: int) -> Domain:
    """Domain ``index`` (0-based) of every estate."""
    rng = random.Random(index * 7919 + 13)
    name = f"museum{index:05d}.test"
    host = hoster(rng.randrange(len(HOSTING)))
    mail = _pick(rng, {"mailhost-a.test": 35, "mailhost-b.test": 15, "mailhost-c.test": 8, "mailhost-d.test": 5,
                       "mailhost-e.test": 12, "own": 10, "null": 5, "none": 10})
    sends = mail not in ("null", "none")
    spf = _pick(rng, {"good": 45, "softfail": 20, "neutral": 5, "all": 3, "none": 12, "toomany": 5, "syntax": 5,
                      "double": 5})
    if mail == "null":
        spf = _pick(rng, {"nonsending": 70, "none": 30})
    dnssec = _pick(rng, {"none": 70, "signed": 20, "nods": 4, "badds": 3, "expired": 3})
    mta_sts = _pick(rng, {"none": 75, "enforce": 12, "testing": 5, "mismatch": 4, "nohost": 4}) if sends else "none"
    return Domain(
        name=name,
        index=index,
        dns=rng.choice(list(DNS_PROVIDERS)),
        hoster=host,
        www=_pick(rng, {"a": 45, "cname-apex": 35, "cname-webhost": 10, "dangling": 4, "none": 6}),
        cert=_pick(rng, {"valid": 85, "expired": 5, "mismatch": 5, "selfsigned": 5}),
        web=_pick(rng, {"good": 35, "partial": 30, "bare": 25, "cms": 10}),
        securitytxt=_pick(rng, {"valid": 30, "expired": 10, "none": 60}),
        mail=mail,
        spf=spf,
        dmarc=_pick(rng, {"reject": 25, "quarantine": 15, "none": 25, "missing": 20, "syntax": 5, "external": 7,
                          "external-unauth": 3}),
        dkim=_pick(rng, {"provider": 65, "none": 25, "weak": 10}) if sends else "none",
        mta_sts=mta_sts,
        tlsrpt=sends and rng.random() < 0.25,
        caa=_pick(rng, {"none": 65, "le": 30, "iodef": 5}),
        dnssec=dnssec,
        open_axfr=rng.random() < 0.04,
    )


def domains(count: int) -> list[Domain]:
    return [domain(i) for i in range(count)]
