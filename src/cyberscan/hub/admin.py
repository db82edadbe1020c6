"""Django admin for DEN staff: issue and revoke enrolment tokens. A new token is shown once, when it
is made; only its hash is stored. Submissions are not in the admin: they are anonymous data, and
changing them would change what was already published."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from ..texts import env_lang, say
from .models import EnrolmentToken, new_token, token_digest


@admin.register(EnrolmentToken)
class EnrolmentTokenAdmin(admin.ModelAdmin):
    list_display = ("id", "label", "created", "revoked", "max_organisations", "enrolled")
    list_filter = ("revoked",)
    fields = ("label", "max_organisations", "revoked")
    actions = ("revoke", "reinstate")

    @admin.display(description="organisations enrolled")
    def enrolled(self, obj: EnrolmentToken) -> int:
        return int(obj.enrolments.count())

    def save_model(self, request: HttpRequest, obj: EnrolmentToken, form: Any, change: bool) -> None:
        if not change:
            token = new_token()
            obj.digest = token_digest(token)
            super().save_model(request, obj, form, change)
            messages.warning(request, say("hub.token-shown-once", "en", token=token))
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=say("hub.admin.revoke", env_lang()))
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        queryset.update(revoked=True)

    @admin.action(description=say("hub.admin.reinstate", env_lang()))
    def reinstate(self, request: HttpRequest, queryset: Any) -> None:
        queryset.update(revoked=False)
