"""Judgement of the domain's DNS setup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine import Facts
from ..models import Status, Verdict
from ..plugin import evaluator
from ..probes.hosts import HostInventory


@evaluator("dns.ipv6")
def ipv6(facts: Facts, params: Mapping[str, Any]) -> list[Verdict]:
    inventory: HostInventory = facts.fact("hosts.inventory")
    web = [h for h in inventory.hosts if {"apex", "www"} & set(h.roles) and h.addresses]
    with_v6 = sorted(h.name for h in web if h.ipv6)
    without = sorted(h.name for h in web if not h.ipv6)
    evidence = {"hosts": {h.name: list(h.addresses) for h in web}}
    if not web:
        return [Verdict(Status.INFO, "no-web-hosts", {}, evidence)]
    if without:
        return [Verdict(Status.INFO, "partial", {"without": ", ".join(without)}, evidence)]
    return [Verdict(Status.PASS, "all", {"hosts": ", ".join(with_v6)}, evidence)]
