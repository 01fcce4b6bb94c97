"""``manage.py recover_from_kafka`` against the real broker and PostgreSQL (README "Backup and restore"): after a
restore older than the topics, the events written after the backup come back from Kafka — at their positions, with
their read models, chain links and checkpoints — and the relay and the consumer groups resume; a tampered topic,
a police-side copy that disagrees or an unreachable broker is refused and nothing is appended."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import kafkahelpers
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from eventsourcing.persistence import Notification
from kafka import KafkaProducer
from kafkahelpers import (
    Broker,
    drain,
    dump_read_models,
    end_offsets,
    free_port,
    rebuilt_read_models,
    runner,
    topic_messages,
    use_topics,
)

from api import demo
from consumers.backwards import LogWentBackwards
from consumers.relay import POSITION_NAME, Relay
from domain.hazard.aggregate import Severity
from projections import integrity
from projections.djangorecorder import InlineApplication, execute_inline
from projections.hazard.rows import HazardLedger
from projections.integrity import ChainLink, Checkpoint
from projections.notifications import NotificationView
from projections.policemirror import PoliceEventCopy
from projections.runner import catch_up
from projections.tracking import ProjectionPosition

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def publish_all(app: InlineApplication) -> int:
    return kafkahelpers.publish_all(app, batch_size=7)  # batches that do not line up with the checkpoints


def consume(group: str) -> Any:
    consumer = runner(group)
    try:
        drain(consumer)
    finally:
        consumer.close()
    return consumer.totals


def supervised_hazards(app: InlineApplication, world: demo.World, count: int, label: str, first: int = 0) -> None:
    """Hazards discovered, assigned and put under 挂牌督办, each command in its own transaction (the command path):
    events in every school's partition, and notices for the `notifications` group."""
    start = timezone.now() - timedelta(hours=40)
    schools = [("hongmei_school", "hm_staff", "hm_principal"), ("qinglong_school", "ql_staff", "ql_principal")]
    for i in range(first, first + count):
        supervised_hazard(app, world, *schools[i % 2], f"{label}{i}", start + timedelta(hours=3 * i))


def supervised_hazard(
    app: InlineApplication, world: demo.World, school: str, staff: str, principal: str, text: str, when: datetime
) -> None:
    hazard = execute_inline(
        app,
        lambda a: a.discover_hazard(
            actor=world.actor(staff), campaign=world.campaign, school=world.units[school], description=text,
            severity=Severity.GENERAL, item="CZ-01", location="教学楼", occurred_at=when,
        ),
    )  # fmt: skip
    execute_inline(
        app,
        lambda a: a.assign_hazard(
            hazard.id, actor=world.actor(principal), owner=staff, owner_unit=world.units[school],
            deadline=(timezone.now() + timedelta(days=30)).date(), standard="按标准整改",
            occurred_at=when + timedelta(minutes=30),
        ),
    )  # fmt: skip
    execute_inline(
        app,
        lambda a: a.supervise_hazard(
            hazard.id, actor=world.actor("tn_leader"), note="挂牌督办", occurred_at=when + timedelta(hours=1)
        ),
    )


def head() -> tuple[int, str]:
    position, digest = integrity.head()
    return position, digest.hex()


def recover() -> str:
    out = io.StringIO()
    call_command("recover_from_kafka", "--timeout", "10", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def relay_position() -> int:
    return ProjectionPosition.objects.get(name=POSITION_NAME).position


@dataclass
class BeforeRestore:
    backed_up: tuple[int, str]  # the backup's head (position, hash)
    head: tuple[int, str]  # the head when the backup was restored
    rows: dict[str, list[str]]  # every read model then
    checkpoints: list[tuple[int, str, str]]
    offsets: dict[int, int]  # the events topic's end offsets
    mirrored_after_backup: int  # what the police-mirror group applied after the backup


def backed_up_then_more_then_restored(app: InlineApplication, world: demo.World, tmp_path: Path) -> BeforeRestore:
    """Write, publish and consume; back up; write more by commands, publish and consume it; restore the backup."""
    catch_up(app)  # as `load_demo` does
    publish_all(app)
    consume("police-mirror"), consume("notifications")
    call_command("backup", str(tmp_path / "safety.dump"), stdout=io.StringIO())
    backed_up = head()
    supervised_hazards(app, world, 4, "备份后的隐患")  # 24 events after the backup, by commands
    with connection.cursor() as cursor:  # three inserts rolled back meanwhile: a gap in the log's positions
        cursor.execute("SELECT nextval(pg_get_serial_sequence('safetyapp_events', 'notification_id'))")
        cursor.execute("SELECT nextval(pg_get_serial_sequence('safetyapp_events', 'notification_id'))")
        cursor.execute("SELECT nextval(pg_get_serial_sequence('safetyapp_events', 'notification_id'))")
    supervised_hazards(app, world, 4, "备份后的隐患", first=4)
    positions = [n.id for n in integrity.stored_events(app.recorder, start=backed_up[0])]
    assert len(positions) == 24 and positions[-1] - positions[0] == 26
    assert publish_all(app) == 24
    mirrored = consume("police-mirror").applied
    consume("notifications")
    before = BeforeRestore(
        backed_up=backed_up,
        head=head(),
        rows=dump_read_models(),
        checkpoints=list(Checkpoint.objects.order_by("position").values_list("position", "hash", "signature")),
        offsets=end_offsets(f"{settings.KAFKA_TOPIC_PREFIX}.events"),
        mirrored_after_backup=mirrored,
    )
    call_command("restore", str(tmp_path / "safety.dump"), "--force", stdout=io.StringIO())
    assert head() == backed_up
    return before


def test_recover_from_kafka_brings_back_what_the_topics_hold_after_the_restored_head_and_everything_resumes(
    kafka_world: demo.World, app: InlineApplication, settings: Any, tmp_path: Path
) -> None:
    settings.CHECKPOINT_EVERY = 10
    before = backed_up_then_more_then_restored(app, kafka_world, tmp_path)
    assert before.head[0] > before.backed_up[0] and len(before.checkpoints) >= 2
    relay = Relay(app, batch_size=7)
    try:
        with pytest.raises(LogWentBackwards):
            relay.check_topics()
    finally:
        relay.close()

    printed = recover()

    assert "从 Kafka 恢复完成" in printed and "recovered 24 event(s)" in printed, printed
    assert head() == before.head, "the head the log had before the restore, position and hash"
    assert app.recorder.max_notification_id() == before.head[0]
    assert integrity.verify(integrity.stored_events(app.recorder)).ok
    verify = io.StringIO()
    call_command("verify_integrity", stdout=verify)
    assert verify.getvalue().startswith("OK:") and f"head {before.head[0]} {before.head[1]}" in verify.getvalue()
    assert list(Checkpoint.objects.order_by("position").values_list("position", "hash", "signature")) == (
        before.checkpoints
    ), "the signed checkpoints as the topic carried them"
    recovered_rows = dump_read_models()
    notices = ("NotificationView", "NotificationHazard", "NotificationUnit")
    assert {k: v for k, v in recovered_rows.items() if k not in notices} == {
        k: v for k, v in before.rows.items() if k not in notices
    }, "the read models a command writes, as before the restore"
    assert HazardLedger.objects.filter(description__startswith="备份后的隐患").count() == 8
    assert relay_position() == before.head[0], "the relay knows the recovered events are on the topic"

    relay = Relay(app, batch_size=7)
    try:
        relay.check_topics()  # resumes: the topics' tails are this log's again
        assert relay.publish_once() == 0, "nothing published twice"
    finally:
        relay.close()
    assert end_offsets(f"{settings.KAFKA_TOPIC_PREFIX}.events") == before.offsets

    mirror, notifications = consume("police-mirror"), consume("notifications")  # no LogWentBackwards
    assert mirror.duplicates == 0 and mirror.parked == 0 and mirror.applied == before.mirrored_after_backup
    assert notifications.duplicates == 0 and notifications.parked == 0
    assert sorted(PoliceEventCopy.objects.values_list("position", "hash")) == sorted(
        ChainLink.objects.values_list("position", "hash")
    )
    assert NotificationView.objects.filter(kind="supervised").count() >= 8
    assert dump_read_models() == before.rows, "every read model, the notices included, as before the restore"

    supervised_hazards(app, kafka_world, 1, "恢复后的新隐患")  # the installation goes on
    assert publish_all(app) == 3
    assert sum(end_offsets(f"{settings.KAFKA_TOPIC_PREFIX}.events").values()) == sum(before.offsets.values()) + 3
    mirror = consume("police-mirror")
    new_checkpoints = Checkpoint.objects.filter(position__gt=before.head[0]).count()
    assert (mirror.applied, mirror.duplicates) == (3 + new_checkpoints, 0)
    assert sorted(PoliceEventCopy.objects.values_list("position", "hash")) == sorted(
        ChainLink.objects.values_list("position", "hash")
    )
    consume("notifications")
    assert "无需恢复" in recover(), "run again: nothing to recover, exit 0"
    assert dump_read_models() == rebuilt_read_models()


def copy_topics(settings: Any, broker: Broker, alter: Any) -> None:
    """The topics copied to fresh ones (same partitions and keys), ``alter`` rewriting the event envelopes;
    the installation then reads the copies."""
    source = settings.KAFKA_TOPIC_PREFIX
    target = use_topics(broker)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=(0, 9), acks="all")
    try:
        events = [(p, k, v) for p, _, k, v in topic_messages(f"{source}.events")]
        for partition, key, value in alter(events):
            producer.send(f"{target}.events", key=key, value=json.dumps(value).encode(), partition=partition)
        for partition, _, key, value in topic_messages(f"{source}.checkpoints"):
            producer.send(f"{target}.checkpoints", key=key, value=json.dumps(value).encode(), partition=partition)
        producer.flush()
    finally:
        producer.close()
    settings.KAFKA_TOPIC_PREFIX = target


def tampered(state: str) -> str:
    """A stored state with one value changed (a description, an owner, a note: whichever comes first)."""
    values = json.loads(state)
    field = next(k for k in ("description", "owner", "note") if isinstance(values.get(k), str))
    values[field] += "（篡改）"
    return json.dumps(values)


def recovered_positions(events: list[tuple[int, bytes, dict[str, Any]]], after: int) -> list[int]:
    """The positions after the restored head, as the topic carries them."""
    return sorted(v["position"] for _, _, v in events if v["position"] > after)


def test_recover_from_kafka_refuses_a_tampered_topic_a_disagreeing_police_copy_and_an_unreachable_broker(
    kafka: Broker, kafka_world: demo.World, app: InlineApplication, settings: Any, tmp_path: Path
) -> None:
    settings.CHECKPOINT_EVERY = 10
    before = backed_up_then_more_then_restored(app, kafka_world, tmp_path)
    backed_up = before.backed_up
    original = settings.KAFKA_TOPIC_PREFIX
    ledger = sorted(HazardLedger.objects.values_list("id", "version"))

    def nothing_appended() -> None:
        assert head() == backed_up and app.recorder.max_notification_id() == backed_up[0]
        assert not Checkpoint.objects.filter(position__gt=backed_up[0]).exists()
        assert relay_position() <= backed_up[0]
        assert sorted(HazardLedger.objects.values_list("id", "version")) == ledger

    def altered_state(events: list[Any]) -> list[Any]:
        """One event's stored state changed, its hash kept."""
        target = recovered_positions(events, backed_up[0])[5]
        for _, _, value in events:
            if value["position"] == target:
                value["state"] = tampered(value["state"])
        return events

    def forged_chain(events: list[Any]) -> list[Any]:
        """One event changed and every hash after it recomputed, as a forger who knows the chain's rule would:
        the signed checkpoint after it no longer matches."""
        positions = recovered_positions(events, backed_up[0])
        by_position = {v["position"]: v for _, _, v in events}
        by_position[positions[0]]["state"] = tampered(by_position[positions[0]]["state"])
        previous = integrity.head()[1]
        for position in positions:
            body = by_position[position]
            n = Notification(
                id=position, originator_id=UUID(body["originator_id"]), originator_version=body["originator_version"],
                topic=body["topic"], state=body["state"].encode(),
            )  # fmt: skip
            previous = integrity.next_hash(previous, n)
            body["hash"] = previous.hex()
        return events

    for alter, refusal in ((altered_state, "哈希链不符"), (forged_chain, "签名检查点与重算的哈希链不符")):
        copy_topics(settings, kafka, alter)
        with pytest.raises(CommandError, match=refusal):
            recover()
        nothing_appended()
        settings.KAFKA_TOPIC_PREFIX = original

    carried = {v["position"]: v for _, _, _, v in topic_messages(f"{original}.events")}
    kept = carried[sorted(p for p in carried if p > backed_up[0])[3]]
    copy = PoliceEventCopy.objects.create(  # the police side kept another event at that position
        position=kept["position"], originator_id=kafka_world.campaign, originator_version=1, type="x", hash="0" * 64
    )
    with pytest.raises(CommandError, match="公安侧副本"):
        recover()
    nothing_appended()
    copy.delete()
    PoliceEventCopy.objects.create(  # and now the very event: it agrees
        position=kept["position"], originator_id=kept["originator_id"], originator_version=kept["originator_version"],
        type=kept["type"], hash=kept["hash"],
    )  # fmt: skip

    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="无法连接 Kafka"):
        recover()
    nothing_appended()
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka.bootstrap

    assert "recovered 24 event(s)" in recover()  # the real topics, the police copy agreeing: recovered
    assert head() == before.head
