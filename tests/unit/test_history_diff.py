"""history.diff: two judgements compared by finding key (table-driven, literal records, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from cyberscan.history.diff import (
    BETTER,
    FIXED,
    NEW,
    NOT_COMPARABLE,
    UNCHANGED,
    WORSE,
    compare,
)
from cyberscan.history.record import Finding, Record, Summary, subject_label
from cyberscan.models import Severity, Status, Subject, finding_key

D = "museum.test"


def f(check: str, status: str, host: str = "", *, domain: str = D, address: str = "", port: int | None = None,
      service: str = "", version: int = 1, reason: str | None = None) -> Finding:
    subject = Subject(domain, host or None, address or None, port, service or None)
    return Finding(finding_key(check, subject), domain, check, version, Status(status), Severity.HIGH,
                   reason=reason)


def rec(*findings: Finding, catalogue: str = "2026.1", complete: bool = True, number: int = 1,
        versions: dict[str, int] | None = None, profile: str = "default") -> Record:
    summary = Summary(number, f"uid{number}", (D,), f"2026-01-0{number}T10:00:00+00:00", "", "", "0.1", catalogue,
                      profile, complete, "scan", None, None, {})
    checks = versions if versions is not None else {x.check_id: x.check_version for x in findings}
    return Record(summary, {x.key: x for x in findings}, checks)


def kinds(old: Record, new: Record, **kw: Any) -> dict[str, tuple[str, str | None]]:
    return {c.key: (c.kind, c.reason) for c in compare(old, new, **kw).changes}


def key(check: str, host: str = "", **kw: Any) -> str:
    return f(check, "pass", host, **kw).key


CASES = [
    # (old status, new status, kind, reason); None: no finding with that key on that side, while the check ran
    ("fail", "pass", FIXED, None),
    ("warn", "pass", FIXED, None),
    ("fail", "info", FIXED, None),
    ("pass", "fail", NEW, None),
    ("info", "warn", NEW, None),
    ("warn", "fail", WORSE, None),
    ("fail", "warn", BETTER, None),
    ("fail", "fail", UNCHANGED, None),
    ("pass", "pass", UNCHANGED, None),
    ("pass", "info", UNCHANGED, None),
    # an error, a skip or a manual item is never fixed and never new
    ("fail", "error", NOT_COMPARABLE, "unjudged-new"),
    ("error", "pass", NOT_COMPARABLE, "unjudged-old"),
    ("error", "fail", NOT_COMPARABLE, "unjudged-old"),
    ("skipped", "fail", NOT_COMPARABLE, "unjudged-old"),
    ("fail", "skipped", NOT_COMPARABLE, "unjudged-new"),
    ("fail", "manual", NOT_COMPARABLE, "unjudged-new"),
    ("error", "error", NOT_COMPARABLE, "unjudged-old"),
]


@pytest.mark.parametrize(("old", "new", "kind", "reason"), CASES)
def test_one_key_on_both_sides(old: str, new: str, kind: str, reason: str | None) -> None:
    got = kinds(rec(f("mail.spf", old)), rec(f("mail.spf", new), number=2))
    assert got == {key("mail.spf"): (kind, reason)}


def test_a_check_that_did_not_run_then_or_does_not_run_now_is_not_comparable() -> None:
    old = rec(f("mail.spf", "pass"), f("web.hsts", "fail", "www.museum.test"))
    new = rec(f("mail.spf", "pass"), f("dns.caa", "fail"), number=2)
    got = kinds(old, new)
    assert got[key("dns.caa")] == (NOT_COMPARABLE, "not-run-old")  # a new check: its fail is not "new"
    assert got[key("web.hsts", "www.museum.test")] == (NOT_COMPARABLE, "not-run-new")  # not "fixed"
    assert got[key("mail.spf")] == (UNCHANGED, None)


def test_per_host_failures_replaced_by_one_domain_level_pass_are_fixed() -> None:
    old = rec(f("web.hsts", "fail", "www.museum.test"), f("web.hsts", "fail", "shop.museum.test"))
    new = rec(f("web.hsts", "pass"), number=2)
    got = kinds(old, new)
    assert got[key("web.hsts", "www.museum.test")] == (FIXED, None)
    assert got[key("web.hsts", "shop.museum.test")] == (FIXED, None)
    assert got[key("web.hsts")] == (UNCHANGED, None)  # no problem then (check ran), none now


def test_a_key_that_disappears_under_an_error_covering_it_is_not_fixed() -> None:
    old = rec(f("web.hsts", "fail", "www.museum.test"), f("web.hsts", "fail", "shop.museum.test"))
    domain_error = rec(f("web.hsts", "error", reason="timeout"), number=2)
    assert kinds(old, domain_error)[key("web.hsts", "www.museum.test")] == (NOT_COMPARABLE, "unjudged-new")
    # an error about one host covers that host only
    host_error = rec(f("web.hsts", "error", "shop.museum.test", reason="timeout"), number=2)
    got = kinds(old, host_error)
    assert got[key("web.hsts", "www.museum.test")] == (FIXED, None)
    assert got[key("web.hsts", "shop.museum.test")] == (NOT_COMPARABLE, "unjudged-new")


def test_an_error_about_an_address_covers_its_ports_not_other_addresses() -> None:
    old = rec(f("net.exposed.rdp", "fail", address="192.0.2.1", port=3389, service="rdp"),
              f("net.exposed.rdp", "fail", address="192.0.2.2", port=3389, service="rdp"))
    new = rec(f("net.exposed.rdp", "error", address="192.0.2.1", reason="timeout"), number=2)
    got = kinds(old, new)
    assert got[key("net.exposed.rdp", address="192.0.2.1", port=3389, service="rdp")][0] == NOT_COMPARABLE
    assert got[key("net.exposed.rdp", address="192.0.2.2", port=3389, service="rdp")] == (FIXED, None)


def test_a_new_problem_on_a_new_subject_is_new_unless_the_check_could_not_judge_then() -> None:
    new = rec(f("web.hsts", "pass", "www.museum.test"), f("web.hsts", "fail", "shop.museum.test"), number=2)
    ran = rec(f("web.hsts", "pass", "www.museum.test"))
    assert kinds(ran, new)[key("web.hsts", "shop.museum.test")] == (NEW, None)
    errored = rec(f("web.hsts", "error", reason="servfail"))
    assert kinds(errored, new)[key("web.hsts", "shop.museum.test")] == (NOT_COMPARABLE, "unjudged-old")


def test_an_interrupted_assessment_is_not_comparable_where_it_was_interrupted() -> None:
    old = rec(f("mail.spf", "fail"), f("web.hsts", "fail", "www.museum.test"))
    new = rec(f("mail.spf", "pass"), f("web.hsts", "error", reason="interrupted"), complete=False, number=2)
    got = kinds(old, new)
    assert got[key("mail.spf")] == (FIXED, None)  # judged before the interruption: a real change
    assert got[key("web.hsts", "www.museum.test")] == (NOT_COMPARABLE, "unjudged-new")


def test_rule_changes_are_reported() -> None:
    old = rec(f("mail.spf", "pass"), f("web.hsts", "fail"), catalogue="2026.1")
    new = rec(f("mail.spf", "pass", version=2), f("dns.caa", "pass"), catalogue="2026.2", number=2, profile="archief")
    rules = compare(old, new).rules
    assert rules.any
    assert rules.catalogue == ("2026.1", "2026.2")
    assert rules.profile == ("default", "archief")
    assert rules.changed == (("mail.spf", 1, 2),)
    assert rules.added == ("dns.caa",) and rules.removed == ("web.hsts",)
    same = compare(old, rec(f("mail.spf", "fail"), f("web.hsts", "pass"), number=2)).rules
    assert not same.any and same.changed == () and same.catalogue is None


def test_only_the_chosen_domain_is_compared() -> None:
    other = "archief.test"
    old = rec(f("mail.spf", "fail"), f("mail.spf", "fail", domain=other))
    new = rec(f("mail.spf", "pass"), f("mail.spf", "fail", domain=other), number=2)
    assert set(kinds(old, new, domain=D)) == {key("mail.spf")}
    assert kinds(old, new, domain=other) == {key("mail.spf", domain=other): (UNCHANGED, None)}
    # a check that ran for one domain only is "not run" for the other
    only_a = rec(f("dns.caa", "pass"), f("mail.spf", "pass", domain=other), number=2)
    assert kinds(rec(f("mail.spf", "fail", domain=other)), only_a, domain=other) == {
        key("mail.spf", domain=other): (FIXED, None)}


def test_markers_name_findings_of_the_new_judgement_only_and_counts_add_up() -> None:
    old = rec(f("mail.spf", "fail"), f("web.hsts", "fail", "www.museum.test"), f("dns.caa", "warn"),
              f("mail.dkim", "pass"))
    new = rec(f("mail.spf", "pass"), f("web.hsts", "pass"), f("dns.caa", "fail"), f("mail.dkim", "fail"), number=2)
    diff = compare(old, new)
    assert diff.markers == {key("mail.spf"): FIXED, key("dns.caa"): WORSE, key("mail.dkim"): NEW}
    assert diff.counts[FIXED] == 2  # spf, and hsts on www (its key is gone: no marker, but listed)
    assert [c.key for c in diff.of(FIXED)] == sorted([key("mail.spf"), key("web.hsts", "www.museum.test")])
    assert sum(diff.counts.values()) == len({*old.findings, *new.findings})


@pytest.mark.parametrize(("subject", "label"), [
    (Subject(D), D),
    (Subject(D, "www.museum.test"), "www.museum.test"),
    (Subject(D, "www.museum.test", "192.0.2.1", 443, "https"), "www.museum.test (192.0.2.1:443) https"),
    (Subject(D, None, "2001:db8::1", 22, "ssh"), "[2001:db8::1]:22 ssh"),
    (Subject(D, "mail.museum.test", None, 25), "mail.museum.test:25"),
])
def test_subject_labels(subject: Subject, label: str) -> None:
    assert subject_label(finding_key("x.y", subject.normalised())) == label
