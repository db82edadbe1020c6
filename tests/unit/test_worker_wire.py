"""What a worker accepts from the broker: only our own JSON tasks, only what the enqueuer recorded for the
batch, never more than the worker itself allows (cyberscan.worker.wire; pure, no broker)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cyberscan.batch import Target
from cyberscan.errors import UsageError
from cyberscan.options import Nameserver, ScanOptions
from cyberscan.worker.wire import (
    BadMessage,
    Policy,
    Refused,
    batch_meta,
    check_against_batch,
    check_policy,
    item_to_wire,
    options_to_wire,
    parse_item,
    scan_options,
)

TARGETS = (Target("museum.test", hosts=("shop.museum.test",), organisation="Museum"), Target("archief.test"))
OPTIONS = ScanOptions(timeout=2.0, nameservers=(Nameserver.parse("127.0.0.1:5353"),), dkim_selectors=("sel1",))
WIRE = options_to_wire(OPTIONS)
META = batch_meta(TARGETS, profile="default", options=WIRE, queue="cyberscan", consent=None)


def message(**changes: Any) -> dict[str, Any]:
    data = item_to_wire("worker-abc", TARGETS[0], "default", WIRE)
    data.update(changes)
    return json.loads(json.dumps(data))  # what arrives: JSON, as the broker carries it


def test_a_task_travels_as_plain_json_and_comes_back_as_the_same_scan_options() -> None:
    item = parse_item(message())
    assert item.key == ("worker-abc", "museum.test") and item.hosts == ("shop.museum.test",)
    options = scan_options(item.options, hosts=item.hosts, ca_bundle="/etc/worker-ca.pem")
    assert options.timeout == 2.0 and options.nameservers == OPTIONS.nameservers
    assert options.dkim_selectors == ("sel1",) and options.extra_hosts == ("shop.museum.test",)
    assert options.ca_bundle == "/etc/worker-ca.pem"  # the worker's own file, never one named by a message
    assert not options.allow_private and not options.ports
    check_against_batch(item, META)  # what the enqueuer recorded: accepted


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"extra": 1}, "keys"),
        ({"domain": "Museum.Test"}, "domain"),  # not as we send it (canonical)
        ({"domain": "http://museum.test/"}, "domain"),
        ({"domain": "127.0.0.1"}, "domain"),
        ({"domain": ["museum.test"]}, "domain"),
        ({"batch": "../../etc"}, "batch"),
        ({"batch": ""}, "batch"),
        ({"hosts": "shop.museum.test"}, "hosts"),
        ({"hosts": ["shop.museum.test", "shop.museum.test"]}, "hosts"),
        ({"profile": "../default"}, "profile"),
        ({"options": {**WIRE, "ca_bundle": "/etc/shadow"}}, "options"),  # a message never names a file
        ({"options": {**WIRE, "timeout": 1e9}}, "options.timeout"),
        ({"options": {**WIRE, "timeout": True}}, "options.timeout"),
        ({"options": {**WIRE, "nameservers": ["ns.example.org"]}}, "options.nameservers"),
        ({"options": {**WIRE, "allow_private": "yes"}}, "options.allow_private"),
        ({"options": {**WIRE, "authorised": True}}, "options.authorised"),  # consent without a port scan
        ({"options": {**WIRE, "dkim_selectors": ["a b"]}}, "options.dkim_selectors"),
    ],
)
def test_anything_we_would_not_have_sent_is_refused(changes: dict[str, Any], detail: str) -> None:
    with pytest.raises(BadMessage) as caught:
        parse_item(message(**changes))
    assert caught.value.key == "worker.bad-message" and caught.value.params["detail"] == detail


@pytest.mark.parametrize("data", [None, [], "museum.test", {"__type__": "pickle"}])
def test_a_message_that_is_not_a_mapping_of_ours_is_refused(data: Any) -> None:
    with pytest.raises(BadMessage):
        parse_item(data)


def test_another_message_version_is_named() -> None:
    with pytest.raises(BadMessage) as caught:
        parse_item(message(v=2))
    assert caught.value.key == "worker.bad-version" and caught.value.params["version"] == "2"
    with pytest.raises(BadMessage):
        parse_item(message(v=True))  # True == 1 in Python, not in our format


@pytest.mark.parametrize(
    ("changes", "key", "field"),
    [
        ({"domain": "elders.test"}, "worker.not-in-batch", None),
        ({"hosts": []}, "worker.differs-from-batch", "hosts"),
        ({"hosts": ["intranet.museum.test"]}, "worker.differs-from-batch", "hosts"),
        ({"profile": "archief"}, "worker.differs-from-batch", "profile"),
        ({"options": {**WIRE, "allow_private": True}}, "worker.differs-from-batch", "options"),
        ({"options": {**WIRE, "nameservers": ["10.0.0.53"]}}, "worker.differs-from-batch", "options"),
        ({"options": {**WIRE, "ports": True, "authorised": True}}, "worker.differs-from-batch", "options"),
    ],
)
def test_a_forged_task_gets_no_more_than_the_batch_recorded(changes: dict[str, Any], key: str, field: str | None) -> None:
    """The broker is shared: a message that asks another domain, other hosts, another profile or
    wider options than the enqueuer wrote into the store is not run."""
    item = parse_item(message(**changes))
    with pytest.raises(Refused) as caught:
        check_against_batch(item, META)
    assert caught.value.key == key
    if field:
        assert caught.value.params["field"] == field


def test_a_batch_not_made_for_workers_is_refused() -> None:
    item = parse_item(message())
    with pytest.raises(Refused) as caught:
        check_against_batch(item, {**META, "kind": "targets"})
    assert caught.value.key == "worker.not-a-worker-batch"


def test_a_port_scan_needs_consent_recorded_with_the_batch() -> None:
    wire = options_to_wire(ScanOptions(ports=True, authorised=True))
    item = parse_item(item_to_wire("worker-abc", TARGETS[1], "default", wire))
    without = batch_meta(TARGETS, profile="default", options=wire, queue="cyberscan", consent=None)
    with pytest.raises(Refused) as caught:
        check_against_batch(item, without)
    assert caught.value.key == "worker.no-consent"
    given = batch_meta(TARGETS, profile="default", options=wire, queue="cyberscan",
                       consent={"ports": True, "authorised": True, "by": "ops@scanner", "at": "2026-12-02T10:00:00+00:00"})
    check_against_batch(item, given)


def test_the_worker_allows_no_more_than_its_own_switches() -> None:
    private = parse_item(message(options={**WIRE, "allow_private": True}))
    with pytest.raises(Refused) as caught:
        check_policy(private, Policy())
    assert caught.value.key == "worker.refused-private"
    check_policy(private, Policy(allow_private=True))
    ports = parse_item(message(options={**WIRE, "ports": True, "authorised": True}))
    with pytest.raises(Refused) as caught:
        check_policy(ports, Policy(allow_private=True))
    assert caught.value.key == "worker.refused-ports"
    check_policy(ports, Policy(allow_ports=True))
    check_policy(parse_item(message()), Policy())  # nothing special asked: any worker runs it


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (ScanOptions(ca_bundle="/home/me/ca.pem"), "worker.ca-bundle-on-worker"),
        (ScanOptions(extra_hosts=("shop.museum.test",)), "worker.hosts-in-targets"),
        (ScanOptions(ports=True), "worker.ports-need-consent"),
    ],
)
def test_what_cannot_travel_is_refused_on_the_enqueuing_side(options: ScanOptions, key: str) -> None:
    with pytest.raises(UsageError) as caught:
        options_to_wire(options)
    assert caught.value.key == key


def test_the_batch_record_lists_every_target_with_its_hosts_and_organisation() -> None:
    meta = copy.deepcopy(META)
    assert meta["targets"] == {"museum.test": {"hosts": ["shop.museum.test"], "organisation": "Museum"},
                               "archief.test": {}}
    assert meta["options"] == WIRE and meta["profile"] == "default" and "consent" not in meta
    json.dumps(meta)  # stored as JSON
