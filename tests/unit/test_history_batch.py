"""The batch journal of the history store: each domain of a batch is done exactly once."""

from __future__ import annotations

import threading

from cyberscan.assessment import Assessment
from cyberscan.history import open_store

from . import history_fixtures as fixtures
from .history_fixtures import DOMAIN

zone, assessments, store_url = fixtures.zone, fixtures.assessments, fixtures.store_url  # shared fixtures


def test_a_batch_item_is_saved_once_whatever_is_delivered_twice(store_url: str,
                                                                 assessments: dict[str, Assessment]) -> None:
    with open_store(store_url) as store:
        store.start_batch("b1", source="targets:abc", total=2, meta={"profile": "default"})
        first = store.save(assessments["before"], batch=("b1", DOMAIN))
        again = store.save(assessments["after"], batch=("b1", DOMAIN))  # the same task, delivered again
        assert again == first
        assert len(store.list(DOMAIN)) == 1
        items = store.batch_items("b1")
        assert list(items) == [DOMAIN] and items[DOMAIN].assessment == first and items[DOMAIN].failure is None
        info = store.batch("b1")
        assert info is not None and (info.total, info.done, info.finished) == (2, 1, None)
        assert info.meta == {"profile": "default"}
        # another batch may assess the same domain again
        store.start_batch("b2", source="targets:abc", total=1, meta={})
        other = store.save(assessments["after"], batch=("b2", DOMAIN))
        assert other != first and len(store.list(DOMAIN)) == 2


def test_a_failure_is_done_too_and_unfinished_batches_are_found(store_url: str) -> None:
    with open_store(store_url) as store:
        store.start_batch("old", source="targets:abc", total=3, meta={})
        store.start_batch("new", source="targets:abc", total=3, meta={})
        store.start_batch("new", source="targets:abc", total=99, meta={"ignored": True})  # idempotent
        assert store.record_failure(("new", "gone.test"), "target.nxdomain", {"domain": "gone.test"})
        assert not store.record_failure(("new", "gone.test"), "target.nxdomain", {"domain": "gone.test"})
        item = store.batch_items("new")["gone.test"]
        assert item.assessment is None and item.failure == {"key": "target.nxdomain", "params": {"domain": "gone.test"}}
        found = store.unfinished_batch("targets:abc")
        assert found is not None and found.total == 3 and found.done == 1
        store.finish_batch("new")
        store.finish_batch("old")
        assert store.unfinished_batch("targets:abc") is None
        assert store.unfinished_batch("targets:other") is None
        assert store.batch("new") is not None and store.batch("nope") is None


def test_two_writers_racing_for_one_item_store_one_assessment(store_url: str,
                                                              assessments: dict[str, Assessment]) -> None:
    with open_store(store_url) as store:
        store.start_batch("race", source="s", total=1, meta={})
    numbers: list[int] = []
    start = threading.Barrier(4)

    def writer() -> None:
        with open_store(store_url) as mine:
            start.wait()
            numbers.append(mine.save(assessments["before"], batch=("race", DOMAIN)))

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(numbers) == 4 and len(set(numbers)) == 1
    with open_store(store_url) as store:
        assert len(store.list(DOMAIN)) == 1
        assert store.batch_items("race")[DOMAIN].assessment == numbers[0]
