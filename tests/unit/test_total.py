"""Every parser is total: any text (or bytes) gives a result, never an exception.

A server, a DNS record or a file the user gives can hold anything; a parser that raises turns a
finding into "error (bug)" for every host. Hypothesis generates inputs, and the hand-picked ones are
those that broke parsers before (4,301-digit numbers, dates at the edge of what Python can hold).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyberscan.parsers import (
    banner,
    dkim,
    dmarc,
    eol,
    headers,
    mtasts,
    nmap,
    orgdomain,
    ports,
    securitytxt,
    spf,
    tagvalue,
    tlsrating,
    tlsrpt,
    x509,
)

HUGE = "9" * 4301
HOSTILE_TEXTS = [
    "",
    "\x00\x1b[2J\x1b[31m\u202e",
    HUGE,
    f"v=spf1 ip4:1.2.3.4/{HUGE} ip6:::1/{HUGE} include:a.test -all",
    f"v=DMARC1; p=reject; pct={HUGE}; ri={HUGE}",
    f"max-age={HUGE}; includeSubDomains",
    "Expires: 9999-12-31T23:59:59-00:01\nContact: mailto:a@b.test\n",
    "Expires: 0001-01-01T00:00:00+01:00\nContact: mailto:a@b.test\n",
    "Expires: 2026-02-30T00:00:00Z\n",
    "version: STSv1\nmode: enforce\nmax_age: " + HUGE + "\nmx: *.*.*\n",
    "v=DKIM1; k=rsa; p=" + "A" * 100_000,
    "<meta name=generator content=" + "<" * 10_000 + ">",
    "nginx/" + HUGE,
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a '" + "x" * 1000 + "'>]><nmaprun>&a;</nmaprun>",
]

TEXT_PARSERS: dict[str, Callable[[str], Any]] = {
    "spf.parse_spf": spf.parse_spf,
    "spf.is_spf": spf.is_spf,
    "spf.valid_domain_spec": spf.valid_domain_spec,
    "dmarc.parse_dmarc": dmarc.parse_dmarc,
    "dmarc.parse_uri_list": dmarc.parse_uri_list,
    "dkim.parse_dkim": dkim.parse_dkim,
    "mtasts.parse_sts_record": mtasts.parse_sts_record,
    "mtasts.parse_sts_policy": mtasts.parse_sts_policy,
    "mtasts.mx_matches": lambda t: mtasts.mx_matches(t, t[::-1]),
    "tlsrpt.parse_tlsrpt": tlsrpt.parse_tlsrpt,
    "tagvalue.parse_tag_list": tagvalue.parse_tag_list,
    "headers.parse_hsts": headers.parse_hsts,
    "headers.parse_set_cookie": headers.parse_set_cookie,
    "headers.csp_directive": lambda t: headers.csp_directive(t, "frame-ancestors"),
    "headers.parse_products": headers.parse_products,
    "headers.generators": headers.generators,
    "securitytxt.parse_securitytxt": securitytxt.parse_securitytxt,
    "securitytxt.parse_datetime": securitytxt.parse_datetime,
    "securitytxt.looks_like_securitytxt": lambda t: securitytxt.looks_like_securitytxt(t, t),
    "orgdomain.org_domain": lambda t: orgdomain.org_domain(t, ("co.uk", t)),
    "eol.version_tuple": eol.version_tuple,
    "eol.judge_version": lambda t: eol.judge_version({"products": {"x": {"cycles": [{"cycle": t}]}}}, "x", t,
                                                     date(2026, 12, 2)),
    "tlsrating.rate_suite": tlsrating.rate_suite,
    "tlsrating.rate_version": tlsrating.rate_version,
    "tlsrating.rate_group": tlsrating.rate_group,
    "nmap.parse_nmap_xml": nmap.parse_nmap_xml,
}

BYTE_PARSERS: dict[str, Callable[[bytes], Any]] = {
    "banner.parse_banner": banner.parse_banner,
    "banner.printable": banner.printable,
    "x509.pem_certificates": x509.pem_certificates,
    "nmap.parse_nmap_xml(bytes)": nmap.parse_nmap_xml,
}

texts = st.one_of(
    st.text(max_size=400),
    st.text(alphabet="v=spf1DMARC;:.-/0123456789 +~?*", max_size=200),
    st.from_regex(r"[a-zA-Z-]{1,12}: ?[0-9T:+\-Z.]{0,30}", fullmatch=True),
    st.integers().map(str),
)


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@pytest.mark.parametrize("value", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
def test_hand_picked_inputs_never_raise(name: str, value: str) -> None:
    TEXT_PARSERS[name](value)


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=texts)
def test_text_parsers_are_total(name: str, value: str) -> None:
    TEXT_PARSERS[name](value)


@pytest.mark.parametrize("name", sorted(BYTE_PARSERS))
@settings(max_examples=300, deadline=None)
@given(value=st.binary(max_size=2000))
def test_byte_parsers_are_total(name: str, value: bytes) -> None:
    BYTE_PARSERS[name](value)


@settings(max_examples=300, deadline=None)
@given(value=st.binary(max_size=3000))
def test_a_certificate_that_is_not_one_is_a_value_error(value: bytes) -> None:
    try:
        x509.parse_certificate(value)
    except ValueError:
        pass  # the documented answer to bytes that are not a certificate


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.none(), st.integers(), st.text(max_size=30), st.floats(allow_nan=True),
                       st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8), st.none()),
                                       max_size=4),
                       st.lists(st.integers(), max_size=4)))
def test_port_entries_are_total(value: Any) -> None:
    spec = ports.port_spec(value)
    assert spec is None or (0 < spec[0] < 65536 and spec[1] in ("tcp", "udp"))
