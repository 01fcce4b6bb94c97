"""Record missed deadlines as they pass; ``--once`` processes what is due and exits."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.deadlines import record_due_misses
from projections.eventstore import get_application


class Command(BaseCommand):
    help = "整改时限届满时记录逾期（--once：处理已到期的并退出）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="process what is due, then exit")
        parser.add_argument("--interval", type=float, default=30.0, help="seconds between passes (default 30)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive")
        app = get_application()
        while True:
            recorded = record_due_misses(app)
            self.stdout.write(f"recorded {recorded} missed deadline(s)")
            if options["once"]:
                return
            time.sleep(options["interval"])
