"""Django settings of the hub, from environment variables (set by ``cyberscan hub serve``).

``CYBERSCAN_HUB_DATABASE``  ``sqlite:///path/hub.sqlite3`` (default: in the user data folder) or
                            ``postgresql://user:password@host:port/name``
``CYBERSCAN_HUB_K``         the smallest group that shows (default 10, never below 5)
``CYBERSCAN_HUB_RATE``      submissions per minute per enrolment token and worker (default 30)
``CYBERSCAN_HUB_SECRET_KEY`` Django's signing key (default: made once, kept in the data folder)
``CYBERSCAN_HUB_ALLOWED_HOSTS`` comma-separated host names the hub answers to (default: any)
``CYBERSCAN_HUB_DATA``      the hub's data folder (default: the user data folder + ``/hub``)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

import platformdirs

from .disclosure import DEFAULT_K, check_k

DATA = Path(os.environ.get("CYBERSCAN_HUB_DATA") or Path(platformdirs.user_data_dir("cyberscan", appauthor=False)) / "hub")
MAX_SUBMISSION_BYTES = 64 * 1024


def database(url: str) -> dict[str, object]:
    """Django's DATABASES entry for a ``sqlite:///...`` or ``postgresql://...`` URL (ValueError otherwise)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif path.startswith("/"):
            path = path[1:] or "hub.sqlite3"
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",  # writers queue for the lock instead of failing
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
            },
        }
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "cyberscan",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 0,
            "OPTIONS": {"connect_timeout": 5},
        }
    raise ValueError("database: sqlite:/// | postgresql://")


def _secret_key() -> str:
    given = os.environ.get("CYBERSCAN_HUB_SECRET_KEY")
    if given:
        return given
    path = DATA / "secret_key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        DATA.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key)
        return key


SECRET_KEY = _secret_key()
DEBUG = False
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("CYBERSCAN_HUB_ALLOWED_HOSTS", "*").split(",") if h.strip()]
HUB_K = check_k(int(os.environ.get("CYBERSCAN_HUB_K") or DEFAULT_K))
HUB_RATE = max(1, int(os.environ.get("CYBERSCAN_HUB_RATE") or 30))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "ninja",  # its API page then uses its own bundled assets, not a CDN
    "cyberscan.hub.apps.HubConfig",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "cyberscan.hub.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
WSGI_APPLICATION = "cyberscan.hub.wsgi.application"
DATABASES = {"default": database(os.environ.get("CYBERSCAN_HUB_DATABASE") or f"sqlite:///{DATA / 'hub.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "nl"
STATIC_URL = "/static/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024  # a batch of summaries; one is at most MAX_SUBMISSION_BYTES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # request logs would carry addresses and paths: only warnings about the hub itself
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"},
                "django.server": {"handlers": [], "level": "CRITICAL", "propagate": False}},
}
