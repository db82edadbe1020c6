"""What the hub stores: enrolment tokens (hashed), which pseudonymous ids a token enrolled (keyed
hashes that cannot be linked without the token itself), and the anonymous submissions.

Nothing here holds an address, a host name, a time finer than the ISO week of a scan, or which token
sent a submission.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import models

from ..texts import env_lang, say

TOKEN_PREFIX = "cst_"  # noqa: S105 - the visible prefix of every token, not a secret


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def enrolment_digest(token: str, organisation: str) -> str:
    """Which organisation a token enrolled, keyed by the token: without the token, the stored digest
    cannot be matched to an organisation id."""
    return hmac.new(token.encode("utf-8"), organisation.encode("ascii"), hashlib.sha256).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class EnrolmentToken(models.Model):
    label = models.CharField(max_length=200, blank=True, help_text=say("hub.model.label-help", env_lang()))
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateField(auto_now_add=True)
    revoked = models.BooleanField(default=False)
    max_organisations = models.PositiveIntegerField(
        default=1, help_text=say("hub.model.max-help", env_lang()))

    class Meta:
        verbose_name = "enrolment token"

    def __str__(self) -> str:
        return f"token {self.pk}" + (f" ({self.label})" if self.label else "") + (" [revoked]" if self.revoked else "")


class Enrolment(models.Model):
    token = models.ForeignKey(EnrolmentToken, on_delete=models.CASCADE, related_name="enrolments")
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "digest"], name="one_enrolment_per_org")]  # noqa: RUF012 - Django Meta


class Submission(models.Model):
    submission_id = models.CharField(max_length=64, unique=True)
    organisation = models.CharField(max_length=32, db_index=True)
    period = models.CharField(max_length=7, db_index=True)  # 2026-Q1, from the ISO week
    week = models.CharField(max_length=8)
    sector = models.CharField(max_length=16)
    size = models.CharField(max_length=16)
    province = models.CharField(max_length=20, blank=True)
    tool_version = models.CharField(max_length=40)
    catalogue_version = models.CharField(max_length=40)
    payload = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["period", "organisation"])]  # noqa: RUF012 - Django Meta

    def __str__(self) -> str:
        return f"submission {self.pk} ({self.period})"
