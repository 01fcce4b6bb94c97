"""Embedded mode in one command: migrate, load demo data on first start, print where to go, serve with gunicorn.

`manage.py` has already prepared the environment (api/embedded.py): DEBUG off unless asked, the host names of the
address, the keys in var/keys.json. The server is gunicorn in this process with ONE worker process running
several threads: the embedded SQLite store has one writer at a time whatever the number of processes, the
in-process projections and the deadline watcher then live beside the requests they serve, and a command's
read-your-writes holds as it did under the threaded development server.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.wsgi import get_wsgi_application
from django.db import connections
from gunicorn.app.base import BaseApplication
from gunicorn.workers.base import Worker

from api import demo
from api.deadlines import DeadlineWatcher
from api.embedded import PREPARED_FOR, Address, add_server_arguments, base_url, lan_addresses, parse_address
from api.malloc import keep_freed_memory
from projections.eventstore import get_application, set_application
from projections.runner import catch_up, catch_up_notifications


class Command(BaseCommand):
    help = "以嵌入模式启动（SQLite，进程内投影，gunicorn），首次启动载入演示数据"

    def add_arguments(self, parser: CommandParser) -> None:
        add_server_arguments(parser)
        parser.add_argument("--no-demo", action="store_true", help="do not load demo data on first start")
        parser.add_argument("--threads", type=int, default=16, help="request threads of the one worker (default 16)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            address = parse_address(options["addrport"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        if os.environ.get(PREPARED_FOR) != address.bind:
            raise CommandError("start the embedded server as `manage.py serve [host:port]` (see scripts/run.sh)")
        call_command("migrate", verbosity=0, interactive=False)
        app = get_application()
        if not options["no_demo"] and not app.recorder.max_notification_id():
            call_command("load_demo")
        catch_up(app)
        catch_up_notifications(app)  # what a command committed before a crash and never notified
        self.stdout.write(self.banner(address))
        self.stdout.flush()  # before the server takes over, also when stdout is a pipe or a file
        # The worker is a forked process: it opens its own connections (SQLite's must not cross a fork).
        set_application(None)
        connections.close_all()
        EmbeddedServer(address, threads=options["threads"]).run()

    def banner(self, address: Address) -> str:
        base = base_url(address, lan_addresses())
        watcher = "off (DEADLINE_WATCHER=off)" if settings.DEADLINE_WATCHER == "off" else "running"
        return "\n".join(
            [
                "",
                "校园安全隐患排查整治 — embedded mode (gunicorn)",
                f"  工作台:      {base}/  (web pages; login at {base}/accounts/login/)",
                f"  API root:    {base}/api/v1/",
                f"  Swagger UI:  {base}/api/v1/docs/",
                f"  Login page:  {base}/accounts/login/",
                f"  Admin:       {base}/admin/",
                f"  Health:      {base}/healthz",
                "",
                f"DEBUG: {'on' if settings.DEBUG else 'off (--debug or DJANGO_DEBUG=1 turns it on)'}",
                f"Keys: {settings.KEYS_FILE} (generated on first start; environment variables override)",
                f"Host names answered: {', '.join(settings.ALLOWED_HOSTS)}",
                f"Deadline watcher: {watcher}",
                "",
                f"Demo logins (password for all: {demo.DEMO_PASSWORD}):",
                "  admin (superuser, Django admin)",
                *[f"  {username:<14} {name}  {role.value}" for username, name, _, role in demo.STAFF],
                "",
                f"Token: curl -X POST {base}/api/v1/auth/token/ "
                f"-d username=hm_principal -d password={demo.DEMO_PASSWORD}",
                "",
            ]
        )


def start_deadline_watcher(worker: Worker) -> None:
    """gunicorn's post_worker_init: the watcher runs in the worker, beside the requests (and again if it restarts)."""
    if settings.DEADLINE_WATCHER != "off":
        DeadlineWatcher().start()


class EmbeddedServer(BaseApplication):  # type: ignore[misc]
    """gunicorn run from this process: one worker process, ``threads`` request threads."""

    def __init__(self, address: Address, *, threads: int) -> None:
        self.options = {
            "bind": [address.bind],
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "post_worker_init": start_deadline_watcher,
            "proc_name": "school-safety",
            "control_socket_disable": True,  # no socket in the user's home; stop it with Ctrl-C or SIGTERM
        }
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        keep_freed_memory()  # each upload reuses the pages the last one touched (api/malloc.py)
        return get_wsgi_application()
