"""Rows of facts for report tables (no judgement): protocol and certificate facts per server."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..models import Scan


def host_table(scan: Scan) -> list[dict[str, Any]]:
    """Protocol and certificate facts per host address, from the stored ``tls.scan`` (web hosts) and
    ``smtp.starttls`` (mail servers) facts.

    Each row: target, service ("https" | "smtp"), name, address, status (None when the facts are
    whole, else the error reason), versions (accepted, e.g. ["TLSv1.2", "TLSv1.3"]), subject, issuer,
    not_after (ISO date), key ("RSA 2048"), signature_hash, trusted (True/False/None).
    """
    rows: list[dict[str, Any]] = []
    for outcome in scan.outcomes:
        if outcome.fact is None or outcome.probe not in ("tls.scan", "smtp.starttls"):
            continue
        service = "https" if outcome.probe == "tls.scan" else "smtp"
        for endpoint in _get(outcome.fact, "endpoints") or ():
            tls = _get(endpoint, "tls") if service == "smtp" else endpoint
            cert = _get(tls, "certificate") if tls is not None else None
            versions = [_get(v, "version") for v in (_get(tls, "versions") or ()) if _get(v, "accepted")] if tls else []
            not_after = _get(cert, "not_after") if cert is not None else None
            error = _get(tls, "error") if tls is not None else _get(endpoint, "error")
            rows.append({
                "target": outcome.subject,
                "service": service,
                "name": _get(endpoint, "name"),
                "address": _get(endpoint, "address"),
                "status": str(error) if error else None,
                "versions": versions,
                "subject": _get(cert, "subject") if cert is not None else None,
                "issuer": _get(cert, "issuer") if cert is not None else None,
                "not_after": not_after.date().isoformat() if isinstance(not_after, datetime) else (
                    str(not_after)[:10] if not_after else None),
                "key": f"{_get(cert, 'key_type')} {_get(cert, 'key_bits')}" if cert is not None else None,
                "signature_hash": _get(cert, "signature_hash") if cert is not None else None,
                "trusted": _get(tls, "chain_trusted") if tls is not None else None,
            })
    return rows


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)
