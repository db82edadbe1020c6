"""Talking to DEN's hub: submit a summary, fetch the published aggregates.

- HTTPS with verified certificates (the system's trust store, or ``ca_bundle``); plain HTTP only to a
  loopback address (a hub on this computer, as in tests and trials).
- The enrolment token goes in the ``Authorization`` header and nowhere else: never in a URL, a log
  line, an error message or the command line (it comes from ``CYBERSCAN_HUB_TOKEN`` or a file).
- A submission is idempotent: the hub stores a submission id once, and answers a resubmission of the
  same summary with "already stored". Failed attempts (no connection, 5xx, 429) are therefore retried
  a few times with a growing pause.
- Redirects are never followed: a redirect could carry the token somewhere else.
- Fetching aggregates sends no token and no organisation id: the hub cannot tell who looked.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import CyberscanError, UsageError

log = logging.getLogger(__name__)

TOKEN_ENV = "CYBERSCAN_HUB_TOKEN"  # noqa: S105 - the name of a variable, not a secret
SUBMIT_PATH = "/api/submissions"
AGGREGATES_PATH = "/api/aggregates"
MAX_TOKEN_BYTES = 4096
MAX_AGGREGATES_BYTES = 16 * 1024 * 1024


class HubError(CyberscanError):
    """The hub refused a request or could not be reached (key + params, like every error)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    submission_id: str
    stored: bool  # False: the hub already had this submission (a resubmission)
    attempts: int


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def hub_base(url: str) -> str:
    """The hub's base URL without a trailing slash. Raises UsageError for a URL that is not https
    (plain http is allowed to a loopback address only), has credentials, a query or a fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError("hub.url-invalid", url=url)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UsageError("hub.url-invalid", url=url)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise UsageError("hub.url-insecure", url=url)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def read_token(token_file: Path | None, environ: Mapping[str, str] | None = None) -> str:
    """The enrolment token: ``--token-file`` when given, else ``CYBERSCAN_HUB_TOKEN``.

    Raises UsageError when there is none or the file cannot be read (the message never shows it)."""
    env = os.environ if environ is None else environ
    if token_file is not None:
        try:
            with token_file.open("rb") as handle:
                raw = handle.read(MAX_TOKEN_BYTES + 1)
        except OSError as exc:
            raise UsageError("hub.token-file-unreadable", path=str(token_file), detail=exc.strerror or "") from None
        if len(raw) > MAX_TOKEN_BYTES:
            raise UsageError("hub.token-invalid")
        try:
            token = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise UsageError("hub.token-invalid") from None
    else:
        token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise UsageError("hub.no-token", env=TOKEN_ENV)
    if any(c.isspace() or not c.isprintable() for c in token):
        raise UsageError("hub.token-invalid")
    return token


def _error_detail(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e)[:200] for e in errors[:5])
    return str(data.get("detail", ""))[:300]


# status code -> error key for refusals that retrying cannot fix
_REFUSED = {400: "hub.rejected", 401: "hub.token-refused", 403: "hub.token-limit", 409: "hub.conflict",
            413: "hub.too-large", 422: "hub.rejected"}


def submit(
    base: str,
    summary: Mapping[str, Any],
    token: str,
    *,
    ca_bundle: Path | None = None,
    timeout: float = 15.0,
    attempts: int = 4,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Submitted:
    """Send ``summary`` to the hub at ``base`` (see :func:`hub_base`). Raises HubError."""
    body = json.dumps(summary, sort_keys=True, separators=(",", ":")).encode("utf-8")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    http = session or requests.Session()
    url = base + SUBMIT_PATH
    last: tuple[str, dict[str, Any]] = ("hub.unreachable", {"url": base, "detail": ""})
    for attempt in range(1, attempts + 1):
        try:
            response = http.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False,
                                 verify=str(ca_bundle) if ca_bundle else True)
        except requests.exceptions.SSLError as exc:
            raise HubError("hub.tls", url=base, detail=type(exc).__name__) from None
        except requests.RequestException as exc:
            log.debug("hub %s: attempt %d: %s", base, attempt, type(exc).__name__)
            last = ("hub.unreachable", {"url": base, "detail": type(exc).__name__})
        else:
            log.debug("hub %s: attempt %d: HTTP %d", base, attempt, response.status_code)
            if response.status_code in (200, 201):
                return Submitted(str(summary.get("submission_id", "")), response.status_code == 201, attempt)
            if response.status_code in _REFUSED:
                raise HubError(_REFUSED[response.status_code], url=base, status=response.status_code,
                               detail=_error_detail(response))
            if 300 <= response.status_code < 400:
                raise HubError("hub.redirect", url=base, status=response.status_code)
            if response.status_code == 429:
                last = ("hub.rate-limited", {"url": base})
                wait = _retry_after(response.headers.get("Retry-After"))
                if attempt < attempts:
                    sleep(wait)
                continue
            last = ("hub.server-error", {"url": base, "status": response.status_code})
        if attempt < attempts:
            sleep(min(2.0 ** (attempt - 1), 30.0))
    raise HubError(last[0], **last[1])


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 1), 0.0), 60.0)
    except ValueError:
        return 1.0


def fetch_aggregates(base: str, *, ca_bundle: Path | None = None, timeout: float = 30.0,
                     session: requests.Session | None = None) -> Any:
    """The hub's published aggregates (``/api/aggregates``). No token, no id: anyone may read them."""
    http = session or requests.Session()
    try:
        with http.get(base + AGGREGATES_PATH, timeout=timeout, allow_redirects=False, stream=True,
                      verify=str(ca_bundle) if ca_bundle else True, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise HubError("hub.server-error", url=base, status=response.status_code)
            data = b""
            for chunk in response.iter_content(65536):
                data += chunk
                if len(data) > MAX_AGGREGATES_BYTES:
                    raise HubError("hub.aggregates-invalid", url=base)
    except requests.exceptions.SSLError as exc:
        raise HubError("hub.tls", url=base, detail=type(exc).__name__) from None
    except requests.RequestException as exc:
        raise HubError("hub.unreachable", url=base, detail=type(exc).__name__) from None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HubError("hub.aggregates-invalid", url=base) from None
