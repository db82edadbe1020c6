"""What every evaluator shares: turning an endpoint problem into a verdict, once.

A probe reports why it has no facts for an endpoint as an :class:`~cyberscan.models.ErrorReason`.
:func:`not_judged` makes that an ERROR verdict (the truth is unknown) or a SKIPPED one (nothing to
judge here: out of scope, no IPv6 on this computer), with the shared message ``endpoint.<reason>``
from ``checks/data/messages.yaml``. A check may say what a refused connection means for it
(``refused=``): for HTTPS checks it is "no HTTPS offered", for mail servers an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..models import SKIP_REASONS, ErrorReason, Status, Subject, Verdict

FOUND = "found"  # the role of a name the zone itself revealed (see facts.dns.Host)
# a found name's web service could not be reached: no service seen there, nothing unknown about the site
_UNSEEN = {ErrorReason.REFUSED, ErrorReason.TIMEOUT, ErrorReason.UNREACHABLE, ErrorReason.OUT_OF_SCOPE,
           ErrorReason.NO_IPV6}


def judged_role(roles: Iterable[str], params: Mapping[str, Any]) -> bool:
    """Whether a check judges a host with these roles: its ``roles`` param (data) lists the roles it
    is for; without one it judges every host (a host without roles, from an older stored fact, too)."""
    wanted = params.get("roles")
    have = set(roles)
    if not wanted or not have:
        return True
    return bool(have & {str(r) for r in wanted})


def unseen(roles: Iterable[str], reason: ErrorReason | None) -> bool:
    """A name found in the zone (and only found there) whose service did not answer: not a website the
    organisation points visitors to, so no verdict at all (neither "not offered" nor "unknown")."""
    return tuple(roles) == (FOUND,) and reason in _UNSEEN


def not_judged(
    reason: ErrorReason,
    detail: str,
    subject: Subject | None,
    *,
    refused: tuple[Status, str] | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> Verdict:
    """The SKIPPED or ERROR verdict for an endpoint that gave no facts to judge."""
    if reason is ErrorReason.REFUSED and refused is not None:
        status, key = refused
    else:
        status = Status.SKIPPED if reason in SKIP_REASONS else Status.ERROR
        key = f"endpoint.{reason.value}"
    reason_out = ErrorReason.NOT_APPLICABLE if status is Status.SKIPPED and reason is ErrorReason.REFUSED else reason
    return Verdict(status, key, {"detail": detail[:300]}, dict(evidence or {}), subject=subject, reason=reason_out)


def lookups_failed(failed: Iterable[tuple[str, ErrorReason]], service: str | None = None) -> list[Verdict]:
    """ERROR verdicts for host names whose address lookup failed: unknown, never absent."""
    return [
        Verdict(Status.ERROR, "endpoint.lookup-failed", {"name": name, "detail": reason.value},
                subject=Subject(host=name, service=service), reason=reason)
        for name, reason in failed
    ]


def no_hosts(unresolved: Iterable[str], key: str = "no-web-hosts") -> Verdict:
    """INFO: the domain has no hosts of this kind (shared message ``key``)."""
    return Verdict(Status.INFO, key, {"unresolved": list(unresolved)})
