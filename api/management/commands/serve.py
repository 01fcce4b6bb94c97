"""Embedded mode in one command: migrate, load demo data on first start, print where to go, serve."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from api import demo
from api.deadlines import DeadlineWatcher
from api.eventstore import get_application
from projections.runner import catch_up


class Command(BaseCommand):
    help = "以嵌入模式启动（SQLite，进程内投影），首次启动载入演示数据"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="do not load demo data on first start")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0, interactive=False)
        app = get_application()
        if not options["no_demo"] and not app.recorder.max_notification_id():
            call_command("load_demo")
        catch_up(app)
        base = f"http://{options['addrport']}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "校园安全隐患排查整治 — embedded mode",
                    f"  API root:    {base}/api/v1/",
                    f"  Swagger UI:  {base}/api/v1/docs/",
                    f"  Admin:       {base}/admin/",
                    f"  Health:      {base}/healthz",
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
        )
        if settings.DEADLINE_WATCHER != "off":
            DeadlineWatcher().start()
            self.stdout.write("Deadline watcher: running (DEADLINE_WATCHER=off disables it)\n")
        call_command("runserver", options["addrport"], use_reloader=False)
