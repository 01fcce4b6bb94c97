"""Production mode against a real Kafka broker: relay, consumer groups, and the faults of real life.

Every test asserts on the log, the topic and the read models — never on log lines. "Equals a full rebuild" means
every row of every read model equals what ``rebuild_projections`` makes from the same log.
"""

from __future__ import annotations

import io
import threading
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection as db_connection
from django.utils import timezone
from kafka import KafkaProducer
from kafkahelpers import drain, dump_read_models, rebuilt_read_models, runner, topic_messages, wait_for

from api import demo
from consumers.envelope import key as partition_key
from consumers.relay import Relay
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from projections.integrity import ChainLink
from projections.ledger import HazardLedger
from projections.tracking import ConsumerOffset, ParkedMessage

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def publish_all(app: SafetyApplication) -> int:
    relay = Relay(app, batch_size=50)
    total = 0
    try:
        while published := relay.publish_once():
            total += published
    finally:
        relay.close()
    return total


def log_positions(app: SafetyApplication) -> list[int]:
    return [n.id for n in app.recorder.select_notifications(start=0, limit=100_000)]


def more_hazards(app: SafetyApplication, world: demo.World, count: int) -> None:
    """Extra hazards across all three schools, discovered and assigned (more events in every partition)."""
    schools = [("hongmei_school", "hm_staff", "hm_principal"), ("qinglong_school", "ql_staff", "ql_principal")]
    start = timezone.now() - timedelta(hours=count * 2 + 5)
    for i in range(count):
        school, staff, principal = schools[i % len(schools)]
        when = start + timedelta(hours=2 * i)
        hazard = app.discover_hazard(
            actor=world.actor(staff),
            campaign=world.campaign,
            school=world.units[school],
            inspection=None,
            item="CZ-01",
            description=f"批量隐患{i}",
            severity=Severity.GENERAL,
            location="教学楼",
            rectified_on_spot=False,
            occurred_at=when,
        )
        app.assign_hazard(
            hazard.id,
            actor=world.actor(principal),
            owner=staff,
            owner_unit=world.units[school],
            deadline=(timezone.now() + timedelta(days=30)).date(),
            standard="按标准整改",
            occurred_at=when + timedelta(minutes=30),
        )


def test_relay_keeps_each_school_in_order_across_four_partitions(kafka_world: demo.World, app: SafetyApplication):
    more_hazards(app, kafka_world, 20)
    assert publish_all(app) == len(log_positions(app))

    messages = list(topic_messages(f"{settings.KAFKA_TOPIC_PREFIX}.events"))
    positions = [m[3]["position"] for m in messages]
    assert sorted(positions) == log_positions(app), "every event published exactly once"
    by_partition: dict[int, list[int]] = defaultdict(list)
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    for partition, _, key, body in messages:
        by_partition[partition].append(body["position"])
        partitions_of_key[key].add(partition)
        assert body["hash"] == ChainLink.objects.get(position=body["position"]).hash
    assert len(by_partition) >= 2, "the keys spread over the topic's 4 partitions"  # random ids: not always all 4
    for partition, seq in by_partition.items():
        assert seq == sorted(seq), f"partition {partition} out of log order"
    assert all(len(parts) == 1 for parts in partitions_of_key.values()), "a key never spans partitions"
    school_keys = {partition_key(kafka_world.units[s], kafka_world.units[s]) for s in ("hongmei_school",)}
    assert school_keys <= set(partitions_of_key)
    hm = [m[3] for m in messages if m[3]["school"] == str(kafka_world.units["hongmei_school"])]
    assert len({m["type"] for m in hm}) > 5, "a school's whole story travels in its partition"

    projections = runner("projections")
    notices = runner("notifications")
    try:
        drain(projections, notices)
    finally:
        projections.close()
        notices.close()
    consumed = dump_read_models()
    assert len(consumed["HazardLedger"]) == HazardLedger.objects.count() > 20
    assert consumed == rebuilt_read_models()


def test_relay_killed_between_publish_and_position_save(
    kafka_world: demo.World, app: SafetyApplication, monkeypatch: pytest.MonkeyPatch
):
    crashed = Relay(app, batch_size=1000)

    def die(*_: Any) -> None:
        raise SystemExit("relay killed after the broker acknowledged, before saving its position")

    monkeypatch.setattr(crashed, "_save_position", die)
    with pytest.raises(SystemExit):
        crashed.publish_once()
    crashed.close()
    total = len(log_positions(app))
    assert Relay(app).position() == 0, "the position did not advance"
    assert len(list(topic_messages(f"{settings.KAFKA_TOPIC_PREFIX}.events"))) == total, "yet all was published"

    assert publish_all(app) == total, "the restarted relay publishes the same events again"
    assert len(list(topic_messages(f"{settings.KAFKA_TOPIC_PREFIX}.events"))) == 2 * total

    projections = runner("projections")
    try:
        drain(projections)
    finally:
        projections.close()
    assert projections.totals.applied == total
    assert projections.totals.duplicates == total
    consumed = dump_read_models()
    assert consumed["HazardLedger"], "the ledger was projected"
    # notifications are another group: leave them out of this comparison
    rebuilt = rebuilt_read_models()
    for name in ("NotificationView", "NotificationHazard", "NotificationUnit"):
        consumed.pop(name), rebuilt.pop(name)
    assert consumed == rebuilt


def test_consumer_killed_mid_batch_resumes_to_the_rebuilt_read_model(
    kafka_world: demo.World, app: SafetyApplication, monkeypatch: pytest.MonkeyPatch
):
    more_hazards(app, kafka_world, 10)
    publish_all(app)

    first = runner("projections", batch_size=40)
    real_apply = first.group.apply
    calls = {"n": 0}

    def apply_then_die(items: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            real_apply(items[: len(items) // 2])  # half the batch written to the read models ...
            raise KeyboardInterrupt("consumer killed mid-batch")  # ... then the process dies
        real_apply(items)

    monkeypatch.setattr(first.group, "apply", apply_then_die)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(200):
            first.poll_once(timeout_ms=300)
    first.consumer.close(autocommit=False)
    stored = sum(row.offset + 1 for row in ConsumerOffset.objects.filter(group="projections"))
    assert 0 < stored < len(log_positions(app)), "killed part-way"

    second = runner("projections")
    try:
        drain(second)
    finally:
        second.close()
    assert first.totals.applied + second.totals.applied == len(log_positions(app)), "no event applied twice"
    consumed = dump_read_models()
    rebuilt = rebuilt_read_models()
    for name in ("NotificationView", "NotificationHazard", "NotificationUnit"):
        consumed.pop(name), rebuilt.pop(name)
    assert consumed == rebuilt


def test_two_consumers_split_the_partitions_and_agree_with_one(kafka_world: demo.World, app: SafetyApplication):
    more_hazards(app, kafka_world, 20)
    a, b = runner("projections"), runner("projections")
    try:
        drain(a, b)  # both join the group and share the partitions before anything is published
        publish_all(app)
        drain(a, b)
        parts_a = {tp.partition for tp in a.consumer.assignment()}
        parts_b = {tp.partition for tp in b.consumer.assignment()}
    finally:
        a.close()
        b.close()
    assert parts_a and parts_b and not parts_a & parts_b and parts_a | parts_b == {0, 1, 2, 3}
    assert a.totals.applied > 0 and b.totals.applied > 0, "both did part of the work"
    assert a.totals.applied + b.totals.applied == len(log_positions(app))
    consumed = dump_read_models()
    rebuilt = rebuilt_read_models()
    for name in ("NotificationView", "NotificationHazard", "NotificationUnit"):
        consumed.pop(name), rebuilt.pop(name)
    assert consumed == rebuilt


def test_a_poison_message_is_parked_and_the_rest_continue(kafka_world: demo.World, app: SafetyApplication):
    topic = f"{settings.KAFKA_TOPIC_PREFIX}.events"
    school_key = partition_key(kafka_world.units["hongmei_school"], kafka_world.units["hongmei_school"])
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, api_version=(0, 9), acks="all")
    producer.send(topic, key=school_key, value=b"\xff not json").get(10)
    producer.send(
        topic,
        key=school_key,
        value=b'{"position": 999999, "originator_id": "00000000-0000-0000-0000-000000000001", '
        b'"originator_version": 1, "topic": "domain.nowhere:Nothing", "state": "{}", "hash": "00"}',
    ).get(10)
    producer.close()
    publish_all(app)  # the real events come after the poison in the same partition

    projections = runner("projections")
    try:
        drain(projections)
    finally:
        projections.close()
    parked = list(ParkedMessage.objects.filter(group="projections").order_by("offset"))
    assert [p.offset for p in parked] == [0, 1]
    assert "not JSON" in parked[0].reason and "cannot decode" in parked[1].reason
    assert projections.totals.applied == len(log_positions(app))
    consumed = dump_read_models()
    rebuilt = rebuilt_read_models()
    for name in ("NotificationView", "NotificationHazard", "NotificationUnit"):
        consumed.pop(name), rebuilt.pop(name)
    assert consumed == rebuilt


def test_broker_outage_loses_nothing_and_commands_keep_succeeding(
    kafka_world: demo.World, app: SafetyApplication, kafka: Any
):
    stop = threading.Event()
    relay = Relay(app, batch_size=20)

    def relay_thread() -> None:
        try:
            relay.run(stop, idle=0.1)
        finally:
            relay.close()
            db_connection.close()

    thread = threading.Thread(target=relay_thread, daemon=True)
    thread.start()
    try:
        wait_for(lambda: relay.position() == max(log_positions(app)), what="the relay to catch up")
        kafka.stop_broker()
        more_hazards(app, kafka_world, 6)  # commands succeed while the broker is down
        during = max(log_positions(app))
        time.sleep(2)
        assert relay.position() < during, "nothing recorded as published while the broker is down"
        kafka.start_broker()
        more_hazards(app, kafka_world, 4)
        wait_for(lambda: relay.position() == max(log_positions(app)), timeout=90, what="the relay after the outage")
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()

    positions = {m[3]["position"] for m in topic_messages(f"{settings.KAFKA_TOPIC_PREFIX}.events")}
    assert positions == set(log_positions(app)), "every event reached the broker"
    projections = runner("projections")
    try:
        drain(projections)
    finally:
        projections.close()
    assert projections.totals.applied == len(log_positions(app)), "each applied once, duplicates ignored"
    consumed = dump_read_models()
    rebuilt = rebuilt_read_models()
    for name in ("NotificationView", "NotificationHazard", "NotificationUnit"):
        consumed.pop(name), rebuilt.pop(name)
    assert consumed == rebuilt


def test_rebuild_in_kafka_mode_and_the_group_goes_on_without_applying_twice(
    kafka_world: demo.World, app: SafetyApplication
):
    publish_all(app)  # published, never consumed: the rebuild below projects these from the log instead
    call_command("rebuild_projections", stdout=io.StringIO())
    more_hazards(app, kafka_world, 3)
    publish_all(app)
    before = len(log_positions(app)) - 6
    second = runner("projections")
    try:
        drain(second)
    finally:
        second.close()
    assert second.totals.applied == 6 and before > 0, "only the events after the rebuild"
    consumed = dump_read_models()
    rebuilt = rebuilt_read_models()
    for name in ("NotificationView", "NotificationHazard", "NotificationUnit"):
        consumed.pop(name), rebuilt.pop(name)
    assert consumed == rebuilt
