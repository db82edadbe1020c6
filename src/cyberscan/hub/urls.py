"""URLs: the dashboard at ``/``, the API under ``/api/`` (OpenAPI at ``/api/docs``), the admin."""

from __future__ import annotations

from pathlib import Path

import django.contrib.admin
import ninja
from django.contrib import admin
from django.urls import path, re_path
from django.views.static import serve

from . import views
from .api import api

ADMIN_STATIC = Path(django.contrib.admin.__file__).parent / "static"
NINJA_STATIC = Path(ninja.__file__).parent / "static"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    # the admin's and the API page's own style sheets and scripts (no other static files exist)
    re_path(r"^static/(?P<path>admin/.*)$", serve, {"document_root": str(ADMIN_STATIC)}),
    re_path(r"^static/(?P<path>ninja/.*)$", serve, {"document_root": str(NINJA_STATIC)}),
]
