"""Helpers for the tests against the real Kafka broker: topics per test, draining groups, comparing read models."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from kafka import KafkaConsumer, TopicPartition
from readmodels import dump_read_models, rebuilt_read_models

from consumers.groups import groups
from consumers.relay import Relay
from consumers.runner import GroupRunner
from projections.eventstore import get_application

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from kafka_broker import Broker, _port_open, free_port  # noqa: E402

port_open = _port_open

__all__ = [
    "Broker",
    "drain",
    "dump_read_models",
    "end_offsets",
    "free_port",
    "notifications_as_consumed",
    "notifications_as_rebuilt",
    "port_open",
    "publish_all",
    "rebuilt_read_models",
    "topic_messages",
    "use_topics",
]


def publish_all(app: Any, batch_size: int = 50) -> int:
    """The relay publishes everything pending, batch after batch; returns how many events it published."""
    relay = Relay(app, batch_size=batch_size)
    total = 0
    try:
        while published := relay.publish_once():
            total += published
    finally:
        relay.close()
    return total


def use_topics(broker: Broker, partitions: int = 4) -> str:
    """Fresh topics for one test (a new prefix), created with their partitions; returns the prefix."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    broker.create_topic(f"{prefix}.events", partitions)
    broker.create_topic(f"{prefix}.checkpoints", 1)
    return prefix


def runner(group: str, **kwargs: Any) -> GroupRunner:
    return GroupRunner(groups(get_application)[group], poll_ms=200, **kwargs)


def drain(*runners: GroupRunner, idle_polls: int = 3, timeout: float = 60) -> None:
    """Poll every runner in turn until a few rounds bring nothing (after the group has joined)."""
    deadline = time.monotonic() + timeout
    idle = 0
    while idle < idle_polls:
        if time.monotonic() > deadline:
            raise AssertionError(f"consumers did not go idle within {timeout}s")
        moved = 0
        for r in runners:
            outcome = r.poll_once(timeout_ms=300)
            moved += outcome.applied + outcome.duplicates + outcome.parked
        assigned = all(r.consumer.assignment() for r in runners)
        idle = idle + 1 if moved == 0 and assigned else 0


def topic_messages(topic: str) -> Iterator[tuple[int, int, bytes | None, dict[str, Any] | None]]:
    """Every message of a topic: (partition, offset, key, decoded value or None when not JSON)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, api_version=(0, 9))
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        seen = {tp: 0 for tp in parts}
        out = []
        deadline = time.monotonic() + 30
        while any(seen[tp] < ends[tp] for tp in parts) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    seen[tp] = record.offset + 1
                    try:
                        value = json.loads(record.value)
                    except ValueError:
                        value = None
                    out.append((record.partition, record.offset, record.key, value))
        return iter(sorted(out))
    finally:
        consumer.close()


def end_offsets(topic: str) -> dict[int, int]:
    """partition → the offset after its last message."""
    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, api_version=(0, 9))
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


NOTIFICATION_MODELS = ("NotificationView", "NotificationHazard", "NotificationUnit")


def notifications_as_consumed() -> dict[str, list[str]]:
    """The rows of the notifications (the `notifications` group's read model), as they are now."""
    return {name: rows for name, rows in dump_read_models().items() if name in NOTIFICATION_MODELS}


def notifications_as_rebuilt() -> dict[str, list[str]]:
    return {name: rows for name, rows in rebuilt_read_models().items() if name in NOTIFICATION_MODELS}


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def database_url() -> str:
    """The URL of the test database (what a separate process of the product would be given)."""
    db = connection.settings_dict
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
