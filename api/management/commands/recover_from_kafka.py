"""After a restore older than Kafka: re-append the events the topics still hold after the restored head, each checked
against its chain hash, the police-side mirror's copy and the signed checkpoints (``consumers.recover``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from consumers.recover import RecoveryRefused, recover
from projections.eventstore import get_application


class Command(BaseCommand):
    help = "从 Kafka 追回恢复备份后丢失的事件（逐条核对哈希链、公安侧副本与签名检查点；不符则一条也不追加）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the broker")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["timeout"] > 0:
            raise CommandError("--timeout must be positive")
        try:
            outcome = recover(get_application(), timeout=options["timeout"])
        except ImproperlyConfigured as exc:
            raise CommandError(f"未配置 Kafka：请设置 KAFKA_BOOTSTRAP_SERVERS (Kafka is not set up: {exc})") from None
        except RecoveryRefused as exc:
            raise CommandError(str(exc)) from None
        if outcome.unreadable:
            self.stderr.write(
                f"跳过 {outcome.unreadable} 条不是本系统事件或检查点的消息 "
                f"(skipped {outcome.unreadable} message(s) that are no event or checkpoint of ours)"
            )
        if not outcome.recovered:
            self.stdout.write(
                f"无需恢复：Kafka 上没有日志头 {outcome.head[0]} 之后的事件；发布位置 {outcome.relay_position} "
                f"(nothing to recover: Kafka holds no event after the log's head {outcome.head[0]})"
            )
            return
        self.stdout.write(self.style.SUCCESS(f"从 Kafka 恢复完成 (recovered from Kafka): {outcome.line()}"))
        if outcome.after_last_checkpoint:
            self.stdout.write(
                f"其中最后 {outcome.after_last_checkpoint} 条事件之后没有签名检查点，仅由哈希链核对 "
                f"(the last {outcome.after_last_checkpoint} event(s) are after the last signed checkpoint: checked "
                "by the chain alone)"
            )
        self.stdout.write(
            "请运行 manage.py verify_integrity 核对，然后重新启动 relay 与各消费组 "
            "(run manage.py verify_integrity, then start the relay and the consumer groups again)"
        )
