"""Getting a message out: e-mail over SMTP and a signed webhook, through an outbox that never loses one.

Every message goes into the outbox (``agent_outbox`` in the history store) first, one row per
channel, and is then tried. A failed attempt is kept with its error and tried again later, with
back-off (``retry_first`` doubling up to ``retry_max``), until ``give_up_after`` has passed since
it was made; then it is abandoned and that is logged. Delivery never raises into the round: a mail
server that is down delays the message, never the scanning.

E-mail: ``smtplib`` with STARTTLS (or implicit TLS on port 465), the server's certificate verified
(against ``ca_file`` when given), then ``AUTH`` when a user is configured; never a password over an
unencrypted connection. The webhook: a JSON POST with ``X-Cyberscan-Signature-256: sha256=<hex>``,
the HMAC-SHA256 of the exact body under the shared secret, plus ``X-Cyberscan-Delivery`` (the message
id, the same on every retry) and ``X-Cyberscan-Timestamp``. Secrets are used here and nowhere else:
they are never stored in the outbox and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import requests

from ..history.agentstore import AgentTables
from ..texts import say
from ..version import __version__
from .config import Email, Rules, Webhook
from .messages import Message

log = logging.getLogger("cyberscan.agent")

SIGNATURE_HEADER = "X-Cyberscan-Signature-256"
DELIVERY_HEADER = "X-Cyberscan-Delivery"
TIMESTAMP_HEADER = "X-Cyberscan-Timestamp"
HUB_CHANNEL = "hub"  # the outbox rows of summaries for DEN's hub: sent by .sharing, never here


class DeliveryError(Exception):
    """One attempt failed; ``str()`` says why (technical, never a secret)."""


def _context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _mail(message: Message, email: Email) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = email.sender
    mail["To"] = ", ".join(email.to)
    mail["Date"] = format_datetime(datetime.now().astimezone())
    mail["Message-ID"] = make_msgid("cyberscan", domain=email.sender.rsplit("@", 1)[-1])
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    mail["X-Cyberscan-Message"] = message.id
    mail.set_content(message.text)
    return mail


def send_email(message: Message, email: Email) -> None:
    """One attempt. Raises DeliveryError."""
    smtp = email.smtp
    try:
        if smtp.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                                    context=_context(smtp.ca_file))
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            client.ehlo()
            if smtp.security == "starttls":
                if not client.has_extn("starttls"):
                    raise DeliveryError(f"no-starttls {smtp.host}:{smtp.port}")
                client.starttls(context=_context(smtp.ca_file))
                client.ehlo()
            if smtp.user is not None and smtp.password is not None:
                client.login(smtp.user, smtp.password.value)
            refused = client.send_message(_mail(message, email))
            if refused:
                raise DeliveryError("refused recipients: " + ", ".join(sorted(refused)))
    except DeliveryError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"login-refused {smtp.host}:{smtp.port} {exc.smtp_code}") from None
    except smtplib.SMTPResponseException as exc:
        detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryError(f"{smtp.host}:{smtp.port} answered {exc.smtp_code} {detail[:200]}") from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise DeliveryError(f"{smtp.host}:{smtp.port}: {type(exc).__name__}: {str(exc)[:200]}") from None


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def webhook_body(message: Message) -> bytes:
    return json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def send_webhook(message: Message, hook: Webhook) -> None:
    """One attempt. Raises DeliveryError."""
    body = webhook_body(message)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"cyberscan-agent/{__version__}",
               DELIVERY_HEADER: message.id, TIMESTAMP_HEADER: str(int(time.time()))}
    if hook.secret is not None:
        headers[SIGNATURE_HEADER] = signature(hook.secret.value, body)
    try:
        response = requests.post(hook.url, data=body, headers=headers, timeout=hook.timeout,
                                 verify=hook.ca_file or True, allow_redirects=False)
    except requests.RequestException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code} {response.reason or ''}".strip())


Sender = Callable[[Message], None]


def senders(email: Email | None, hook: Webhook | None) -> dict[str, Sender]:
    out: dict[str, Sender] = {}
    if email is not None:
        out["email"] = lambda m: send_email(m, email)
    if hook is not None:
        out["webhook"] = lambda m: send_webhook(m, hook)
    return out


def backoff(attempts: int, rules: Rules) -> float:
    """Seconds before attempt ``attempts + 1``: ``retry_first`` doubling, at most ``retry_max``."""
    return float(min(rules.retry_first * 2.0 ** max(attempts - 1, 0), rules.retry_max))


def enqueue(tables: AgentTables, message: Message, channels: Mapping[str, Sender], now: datetime, lang: str) -> None:
    for channel in channels:
        tables.enqueue(channel, message.to_dict(), now.isoformat(timespec="seconds"))
    if channels:
        log.info(say("agent.log.queued", lang, id=message.id, channels=", ".join(channels)))


def flush(tables: AgentTables, channels: Mapping[str, Sender], rules: Rules, now: datetime, lang: str,
          *, stop: Callable[[], bool] = lambda: False) -> tuple[int, int]:
    """Try every due message once; returns (delivered, failed). Never raises for a delivery problem.
    A message for a channel that is no longer configured is abandoned; the hub's rows are not
    messages and are left to :mod:`.sharing`."""
    delivered = failed = 0
    stamp = now.isoformat(timespec="seconds")
    for row in tables.due(stamp, not_channels=(HUB_CHANNEL,)):
        if stop():
            break
        message = Message.from_dict(row.message)
        attempt = row.attempts + 1
        sender = channels.get(row.channel)
        try:
            if sender is None:
                raise DeliveryError(f"channel-gone {row.channel}")
            sender(message)
        except DeliveryError as exc:
            failed += 1
            error = str(exc)
            made = datetime.fromisoformat(row.created)
            retry = now + timedelta(seconds=backoff(attempt, rules))
            if sender is None or retry - made > timedelta(seconds=rules.give_up_after):
                tables.failed(row.id, attempt, error, None, stamp)
                log.error(say("agent.log.gave-up", lang, id=message.id, channel=row.channel, attempts=attempt,
                              error=error))
            else:
                tables.failed(row.id, attempt, error, retry.isoformat(timespec="seconds"), stamp)
                log.warning(say("agent.log.delivery-failed", lang, id=message.id, channel=row.channel, attempt=attempt,
                                error=error, retry=retry.isoformat(timespec="seconds")))
            continue
        tables.delivered(row.id, stamp, attempt)
        delivered += 1
        log.info(say("agent.log.delivered", lang, id=message.id, channel=row.channel, attempt=attempt))
    return delivered, failed


__all__ = ["DELIVERY_HEADER", "HUB_CHANNEL", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "DeliveryError", "backoff", "enqueue", "flush",
           "send_email", "send_webhook", "senders", "signature", "webhook_body"]
