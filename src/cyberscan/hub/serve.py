"""``cyberscan hub serve`` and ``cyberscan hub token create``: set up Django from options, migrate,
and run the hub under gunicorn (threads in a few worker processes; no access log, so no addresses)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

SETTINGS = "cyberscan.hub.settings"


def configure(database: str | None, *, k: int | None = None, rate: int | None = None) -> None:
    """Point Django at the hub's settings with these values (environment variables, read once)."""
    if database:
        os.environ["CYBERSCAN_HUB_DATABASE"] = database
    if k is not None:
        os.environ["CYBERSCAN_HUB_K"] = str(k)
    if rate is not None:
        os.environ["CYBERSCAN_HUB_RATE"] = str(rate)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def create_token(label: str = "", max_organisations: int = 1) -> str:
    """A new enrolment token (returned once; only its hash is stored)."""
    from .models import EnrolmentToken, new_token, token_digest

    token = new_token()
    EnrolmentToken.objects.create(label=label, digest=token_digest(token), max_organisations=max_organisations)
    return token


def manage(argv: list[str]) -> None:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["cyberscan hub manage", *argv])


def run(bind: str, *, workers: int = 2, threads: int = 16, certfile: Path | None = None,
        keyfile: Path | None = None, on_ready: Callable[[], None] | None = None) -> None:
    """Serve the hub until stopped (SIGTERM or Ctrl-C: the requests in progress are finished first)."""
    from gunicorn.app.base import BaseApplication

    from .wsgi import application

    options: dict[str, Any] = {
        "bind": bind, "workers": workers, "threads": threads, "worker_class": "gthread",
        "accesslog": None, "errorlog": "-", "loglevel": "warning", "timeout": 60, "graceful_timeout": 10,
        "keepalive": 2, "limit_request_line": 4094, "limit_request_fields": 50, "preload_app": True,
        "proc_name": "cyberscan-hub",
    }
    if certfile and keyfile:
        options.update(certfile=str(certfile), keyfile=str(keyfile))
    if on_ready is not None:
        options["when_ready"] = lambda _server: on_ready()

    class Hub(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    Hub().run()
