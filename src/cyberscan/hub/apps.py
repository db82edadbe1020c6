"""The hub's Django app."""

from __future__ import annotations

from django.apps import AppConfig


class HubConfig(AppConfig):
    name = "cyberscan.hub"
    label = "hub"
    verbose_name = "cyberscan hub"
    default_auto_field = "django.db.models.BigAutoField"
