"""Organisational domain (RFC 7489 3.2) from a small public-suffix list.

The organisational domain is the public suffix plus one label. cyberscan ships a short list of
multi-label suffixes (``checks/data/public_suffixes.yaml``, e.g. ``co.uk``); every other suffix is the
last label, so ``museum.nl`` and ``www.museum.nl`` both have ``museum.nl``. Pure.
"""

from __future__ import annotations

from collections.abc import Collection


def org_domain(name: str, suffixes: Collection[str] = ()) -> str:
    labels = [label for label in name.rstrip(".").lower().split(".") if label]
    if len(labels) <= 1:
        return ".".join(labels)
    known = {s.strip(".").lower() for s in suffixes}
    # the longest listed suffix that the name ends with (and is longer than)
    for size in range(len(labels) - 1, 1, -1):
        if ".".join(labels[-size:]) in known:
            return ".".join(labels[-size - 1 :])
    return ".".join(labels[-2:])
