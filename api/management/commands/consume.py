"""Run one Kafka consumer group: notifications or police-mirror (DESIGN §8); the other read models are written
by each command's own transaction."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consumers.backwards import LogWentBackwards
from consumers.groups import groups
from consumers.runner import GroupRunner
from projections.eventstore import get_application

GROUPS = ("notifications", "police-mirror")


class Command(BaseCommand):
    help = "运行一个 Kafka 消费组：notifications 或 police-mirror"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("group", help=f"one of: {', '.join(GROUPS)}")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--until-idle", action="store_true", help="exit after a poll that brings nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["group"]
        if name not in GROUPS:
            raise CommandError(f"unknown consumer group {name!r}: choose one of {', '.join(GROUPS)}")
        if options["batch_size"] <= 0:
            raise CommandError("--batch-size must be positive")
        runner = GroupRunner(groups(get_application)[name], batch_size=options["batch_size"])
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"consumer group {name}: started")
        try:
            if options["until_idle"]:
                idle = 0
                while not stop.is_set() and idle < 3:
                    outcome = runner.poll_once(timeout_ms=1000)
                    idle = idle + 1 if outcome.applied + outcome.duplicates + outcome.parked == 0 else 0
            else:
                runner.run(stop)
        except LogWentBackwards as exc:  # a restore older than the topics: stop, never skip (README)
            raise CommandError(str(exc)) from exc
        finally:
            runner.close()
        totals = runner.totals
        self.stdout.write(
            f"consumer group {name}: applied {totals.applied}, duplicates {totals.duplicates}, parked {totals.parked}"
        )
