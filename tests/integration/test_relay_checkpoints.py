"""The relay publishes what the commands' transactions wrote: each event with its stored chain hash, and every
checkpoint signed at a position of the batch it publishes, whoever signed it (a recording producer, no broker)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from api import demo
from consumers.relay import Relay
from domain.application import SafetyApplication
from projections import integrity
from projections.integrity import ChainLink, Checkpoint

pytestmark = pytest.mark.django_db(transaction=True)


class Sent:
    def get(self, timeout: float | None = None) -> None:
        return None


@dataclass
class RecordingProducer:
    """What the relay hands to Kafka: (topic, key, decoded value), acknowledged at once."""

    messages: list[tuple[str, bytes, dict[str, Any]]] = field(default_factory=list)

    def send(self, topic: str, *, key: bytes, value: bytes) -> Sent:
        self.messages.append((topic, key, json.loads(value)))
        return Sent()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass

    def of(self, suffix: str) -> list[dict[str, Any]]:
        """The messages on one topic; on the checkpoints' topic, the checkpoints (not the signing keys' records)."""
        return [
            value
            for topic, _, value in self.messages
            if topic.endswith(suffix) and value.get("record") != "signing_key"
        ]


def publish_all(app: SafetyApplication, producer: RecordingProducer, batch_size: int) -> None:
    relay = Relay(app, producer_factory=lambda: producer, batch_size=batch_size)  # type: ignore[arg-type,return-value]
    while relay.publish_once():
        pass


def discover(client: APIClient, world: demo.World, i: int) -> None:
    answer = client.post(
        "/api/v1/hazards/",
        {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "item": "CZ-01",
         "severity": "general", "description": f"检查点隐患{i}", "location": "操场"},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 201, answer.content


def test_the_relay_publishes_the_hashes_and_checkpoints_the_commands_wrote(
    world: demo.World, app: SafetyApplication, client_for: Callable[[str], APIClient], settings: Any
):
    settings.CHECKPOINT_EVERY = 4
    staff = client_for("hm_staff")
    for i in range(10):
        discover(staff, world, i)
    signed = list(Checkpoint.objects.order_by("position").values_list("position", "hash", "signature"))
    assert len(signed) >= 3, "the commands' transactions signed them"

    producer = RecordingProducer()
    publish_all(app, producer, batch_size=7)  # batches that do not line up with the checkpoints

    events = producer.of(".events")
    assert [e["position"] for e in events] == [n.id for n in integrity.stored_events(app.recorder)]
    assert all(e["hash"] == ChainLink.objects.get(position=e["position"]).hash for e in events)
    published = [(c["position"], c["hash"], c["signature"]) for c in producer.of(".checkpoints")]
    assert published == signed, "every checkpoint once, in log order, as signed"
    assert Checkpoint.objects.count() == len(signed), "the relay signed none of its own"

    discover(staff, world, 10)
    discover(staff, world, 11)
    publish_all(app, producer, batch_size=7)
    assert [(c["position"], c["hash"]) for c in producer.of(".checkpoints")] == list(
        Checkpoint.objects.order_by("position").values_list("position", "hash")
    ), "the later ones too, none twice"


def test_events_recorded_unchained_are_chained_and_checkpointed_by_the_relay(app: SafetyApplication, settings: Any):
    """An installation written by an older release (events outside a command): the relay still chains them."""
    settings.CHECKPOINT_EVERY = 5
    demo.load(app, timezone.now(), with_hazards=False)
    head = app.recorder.max_notification_id()
    assert head > 10 and not ChainLink.objects.exists()

    producer = RecordingProducer()
    publish_all(app, producer, batch_size=6)

    assert integrity.head()[0] == head
    assert integrity.verify(integrity.stored_events(app.recorder)).ok
    assert [e["hash"] for e in producer.of(".events")] == list(
        ChainLink.objects.order_by("position").values_list("hash", flat=True)
    )
    checkpoints = list(Checkpoint.objects.order_by("position").values_list("position", "hash"))
    assert len(checkpoints) >= 2
    assert [(c["position"], c["hash"]) for c in producer.of(".checkpoints")] == checkpoints


@pytest.mark.postgres
def test_a_command_does_not_wait_for_the_relay_waiting_for_the_broker(
    world: demo.World, app: SafetyApplication, client_for: Callable[[str], APIClient]
):
    """The relay's transaction may wait seconds for the broker's acknowledgements (or its outage): it must hold
    nothing a command needs — the chain's lock above all (a command waiting on it fails after the lock timeout)."""
    assert connection.vendor == "postgresql", "this test needs the PostgreSQL run (scripts/test.sh)"
    staff = client_for("hm_staff")
    discover(staff, world, 0)
    waiting, release = threading.Event(), threading.Event()

    class StuckProducer(RecordingProducer):
        def flush(self, timeout: float | None = None) -> None:
            waiting.set()
            release.wait(30)

    producer = StuckProducer()

    def relay() -> None:
        try:
            publish_all(app, producer, batch_size=1000)
        finally:
            connection.close()

    thread = threading.Thread(target=relay)
    thread.start()
    try:
        assert waiting.wait(10), "the relay is waiting for the broker"
        started = time.monotonic()
        discover(staff, world, 1)  # 201, or the assertion inside fails
        elapsed = time.monotonic() - started
    finally:
        release.set()
        thread.join(30)
    assert elapsed < 5, f"the command waited {elapsed:.1f} s for the relay"
    assert [e["position"] for e in producer.of(".events")] == [n.id for n in integrity.stored_events(app.recorder)]
