"""Production mode against a real Kafka broker: commands, relay, consumer groups, and the faults of real life.

A command writes its events, the read models its answer shows, the chain links and the checkpoints in one
transaction, with no consumer running; what may lag (the notifications, the police-side mirror) is consumer
groups fed by the relay. The runner machinery (offsets, duplicates, parking, shared partitions, a rebuild's skip)
is exercised here with the `notifications` group.

Every test asserts on the log, the topic and the read models — never on log lines. "Equals a full rebuild" means
every row of the notifications equals what ``rebuild_projections`` makes from the same log.
"""

from __future__ import annotations

import io
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection as db_connection
from django.utils import timezone
from kafka import KafkaProducer
from kafkahelpers import (
    drain,
    notifications_as_consumed,
    notifications_as_rebuilt,
    publish_all,
    runner,
    topic_messages,
    wait_for,
)
from rest_framework.test import APIClient

from api import demo
from consumers.envelope import key as partition_key
from consumers.relay import Relay
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from projections import integrity
from projections.hazard.rows import HazardLedger, HazardVersion
from projections.integrity import ChainLink, Checkpoint
from projections.notifications import NotificationView
from projections.policemirror import PoliceCheckpoint
from projections.runner import catch_up
from projections.tracking import ConsumerOffset, ParkedMessage

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def assert_notifications_as_rebuilt() -> None:
    consumed = notifications_as_consumed()
    assert consumed["NotificationView"], "the group addressed notices"
    assert consumed == notifications_as_rebuilt()


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

    notices = runner("notifications")
    try:
        drain(notices)
    finally:
        notices.close()
    assert notices.totals.applied == len(log_positions(app))
    assert_notifications_as_rebuilt()


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

    notices = runner("notifications")
    try:
        drain(notices)
    finally:
        notices.close()
    assert notices.totals.applied == total
    assert notices.totals.duplicates == total
    assert_notifications_as_rebuilt()


def test_consumer_killed_mid_batch_resumes_to_the_rebuilt_read_model(
    kafka_world: demo.World, app: SafetyApplication, monkeypatch: pytest.MonkeyPatch
):
    more_hazards(app, kafka_world, 10)
    publish_all(app)

    first = runner("notifications", batch_size=40)
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
    stored = sum(row.offset + 1 for row in ConsumerOffset.objects.filter(group="notifications"))
    assert 0 < stored < len(log_positions(app)), "killed part-way"

    second = runner("notifications")
    try:
        drain(second)
    finally:
        second.close()
    assert first.totals.applied + second.totals.applied == len(log_positions(app)), "no event applied twice"
    assert_notifications_as_rebuilt()


def test_two_consumers_split_the_partitions_and_agree_with_one(kafka_world: demo.World, app: SafetyApplication):
    more_hazards(app, kafka_world, 20)
    a, b = runner("notifications"), runner("notifications")
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
    assert_notifications_as_rebuilt()


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

    notices = runner("notifications")
    try:
        drain(notices)
    finally:
        notices.close()
    parked = list(ParkedMessage.objects.filter(group="notifications").order_by("offset"))
    assert [p.offset for p in parked] == [0, 1]
    assert "not JSON" in parked[0].reason and "cannot decode" in parked[1].reason
    assert notices.totals.applied == len(log_positions(app))
    assert_notifications_as_rebuilt()


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
    notices = runner("notifications")
    try:
        drain(notices)
    finally:
        notices.close()
    assert notices.totals.applied == len(log_positions(app)), "each applied once, duplicates ignored"
    assert_notifications_as_rebuilt()


@pytest.mark.parametrize("workers", [1, 2])
def test_rebuild_in_kafka_mode_and_the_group_goes_on_without_applying_twice(
    kafka_world: demo.World, app: SafetyApplication, workers: int
):
    publish_all(app)  # published, never consumed: the rebuild below projects these from the log instead
    call_command("rebuild_projections", "--workers", str(workers), stdout=io.StringIO())
    rebuilt = NotificationView.objects.count()
    assert rebuilt > 0, "the rebuild projected the notifications too"
    assert integrity.head()[0] == max(log_positions(app)), "and chained the log"
    more_hazards(app, kafka_world, 3)
    supervised = app.discover_hazard(
        actor=kafka_world.actor("hm_staff"),
        campaign=kafka_world.campaign,
        school=kafka_world.units["hongmei_school"],
        inspection=None,
        item="CZ-01",
        description="重建之后的隐患",
        severity=Severity.GENERAL,
        location="操场",
        rectified_on_spot=False,
    )
    app.supervise_hazard(supervised.id, actor=kafka_world.actor("tn_leader"), note="区教育局挂牌督办")
    publish_all(app)
    before = len(log_positions(app)) - 8
    second = runner("notifications")
    try:
        drain(second)
    finally:
        second.close()
    assert second.totals.applied == 8 and second.totals.duplicates == before > 0, "only the events after the rebuild"
    assert NotificationView.objects.filter(hazard=supervised.id, kind="supervised").exists()
    assert NotificationView.objects.exclude(hazard=supervised.id).count() == rebuilt, "none addressed twice"
    assert_notifications_as_rebuilt()


def test_with_no_consumer_running_a_command_answers_with_its_effect_chained_and_the_notice_lags(
    kafka_world: demo.World, app: SafetyApplication, client_for: Callable[[str], APIClient]
):
    """Kafka mode, nothing consuming: the answer is the command's own transaction (no 202); only the notice waits."""
    catch_up(app)  # as `load_demo` does: the logins' staff rows are read models
    school = str(kafka_world.units["hongmei_school"])
    staff, leader = client_for("hm_staff"), client_for("tn_leader")
    discovered = staff.post(
        "/api/v1/hazards/",
        {"campaign": str(kafka_world.campaign), "school": school, "item": "CZ-01", "severity": "general",
         "description": "无消费者时上报的隐患", "location": "南校门"},
        format="json",
    )  # fmt: skip
    assert discovered.status_code == 201, discovered.content
    hazard = discovered.json()["id"]
    assert discovered.json()["description"] == "无消费者时上报的隐患" and discovered.json()["number"]
    assert HazardLedger.objects.get(id=hazard).number == discovered.json()["number"]

    supervised = leader.post(f"/api/v1/hazards/{hazard}/supervise/", {"note": "区教育局挂牌督办"}, format="json")
    assert supervised.status_code == 200, supervised.content
    assert supervised.json()["version"] == 2
    history = staff.get(f"/api/v1/hazards/{hazard}/history/")
    assert history.status_code == 200, history.content
    assert HazardVersion.objects.filter(hazard=hazard).count() == 2
    assert HazardLedger.objects.get(id=hazard).supervised

    head = app.recorder.max_notification_id()
    assert integrity.head()[0] == head, "the newest event is chained by its own transaction"
    report = integrity.verify(integrity.stored_events(app.recorder))
    assert report.ok and report.events_checked == head, report.problems
    assert not NotificationView.objects.filter(hazard=hazard).exists(), "the notice is the group's: it lags"

    publish_all(app)
    notices = runner("notifications")
    try:
        drain(notices)
    finally:
        notices.close()
    kinds = set(NotificationView.objects.filter(hazard=hazard).values_list("kind", flat=True))
    assert kinds == {"supervised"}


def test_the_relay_publishes_the_checkpoints_signed_by_the_commands(
    kafka_world: demo.World, app: SafetyApplication, client_for: Callable[[str], APIClient], settings: Any
):
    settings.CHECKPOINT_EVERY = 5
    catch_up(app)  # as `load_demo` does (and signs the checkpoints due in the demo)
    school = str(kafka_world.units["hongmei_school"])
    staff = client_for("hm_staff")
    for i in range(12):
        answer = staff.post(
            "/api/v1/hazards/",
            {"campaign": str(kafka_world.campaign), "school": school, "item": "CZ-01", "severity": "general",
             "description": f"检查点隐患{i}", "location": "操场"},
            format="json",
        )  # fmt: skip
        assert answer.status_code == 201, answer.content
    signed = list(Checkpoint.objects.order_by("position").values_list("position", "hash"))
    assert len(signed) >= 4, "the commands signed the checkpoints in their transactions"
    assert all(link == ChainLink.objects.get(position=position).hash for position, link in signed)

    relay = Relay(app, batch_size=7)  # batches that do not line up with the checkpoints
    try:
        while relay.publish_once():
            pass
    finally:
        relay.close()
    published = [
        (body["position"], body["hash"])
        for _, _, _, body in topic_messages(f"{settings.KAFKA_TOPIC_PREFIX}.checkpoints")
        if body is not None and body.get("record") != "signing_key"  # the signing key's record shares the topic
    ]
    assert published == signed, "every checkpoint published once, in order"

    mirror = runner("police-mirror")
    try:
        drain(mirror)
    finally:
        mirror.close()
    checkpoints = list(PoliceCheckpoint.objects.order_by("position"))
    assert [(c.position, c.hash) for c in checkpoints] == signed
    assert all(c.signature_valid and c.matches_received for c in checkpoints)
