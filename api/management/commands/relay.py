"""Publish the event log to Kafka (DESIGN §8); ``--once`` publishes what is pending and exits."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consumers.relay import Relay
from projections.eventstore import get_application


class Command(BaseCommand):
    help = "把事件日志发布到 Kafka（--once：发布待发布的事件后退出）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="publish what is pending, then exit")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] <= 0:
            raise CommandError("--batch-size must be positive")
        relay = Relay(get_application(), batch_size=options["batch_size"])
        try:
            if options["once"]:
                relay.check_topics()  # a database restored from a backup older than the topics: stop here
                total = 0
                while published := relay.publish_once():
                    total += published
                self.stdout.write(f"published {total} event(s); relay position {relay.position()}")
                return
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            self.stdout.write(f"relay: publishing from position {relay.position()}")
            relay.run(stop)
        except Exception as exc:
            raise CommandError(f"relay failed: {exc}") from exc
        finally:
            relay.close()
