"""Rebuild every read model from the event log beside the live ones, then swap them in; with a progress bar."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from projections.bluegreen import rebuild_online
from projections.eventstore import get_application
from projections.rebuild import RebuildFailed


class Command(BaseCommand):
    help = "从事件日志重建全部读模型（台账、检查、单位、人员）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=5000, help="events per transaction (default 5000)")
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="worker processes on PostgreSQL, the hazards shared out by school (default 2; 1 = in this process)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        app = get_application()
        total = app.recorder.max_notification_id() or 0
        with tqdm(total=total, unit="event", desc="rebuild", disable=None) as bar:
            try:
                rebuilt = rebuild_online(app, batch_size=batch_size, workers=options["workers"], progress=bar.update)
            except RebuildFailed as failure:
                raise CommandError(f"重建失败，读模型未改动（仍为重建前的内容），可重新运行：{failure}") from None
        self.stdout.write(
            f"rebuilt read models from {rebuilt.head} events and swapped them in "
            f"(commands waited {rebuilt.locked:.2f} s for the swap)"
        )
        if settings.KAFKA_BOOTSTRAP_SERVERS:
            from consumers.rebuild import skip_consumed_up_to

            moved = skip_consumed_up_to(rebuilt.head)
            self.stdout.write(
                f"Kafka mode: {moved} partition offsets of the notifications group now skip the events rebuilt here "
                "(run this with that consumer stopped)"
            )
