"""Many domains at once: ``cyberscan scan --targets FILE`` and the workers.

- :mod:`.targets`: the targets file (one domain a line, or CSV with domain, organisation, sector and
  extra hosts) read into :class:`Target` rows, refused whole with line numbers when it is broken.

A batch calls :func:`cyberscan.assess` once per domain with one :class:`cyberscan.runtime.Shared`
(DNS cache, per-address politeness, facts per address computed once) and records each finished
domain in the history store's batch journal, so an interrupted batch resumes exactly where it was.
"""

from __future__ import annotations

from .targets import MAX_TARGETS, Target, TargetsFile, fingerprint, parse_targets, read_targets

__all__ = ["MAX_TARGETS", "Target", "TargetsFile", "fingerprint", "parse_targets", "read_targets"]
