"""A database restored from a backup older than what Kafka carries: the consumer groups stop, loudly, against the
real broker (README "Backup and restore")."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kafkahelpers import drain, runner
from pgadmin import superuser_connection

from api import demo
from consumers.backwards import LogWentBackwards
from consumers.relay import POSITION_NAME, Relay
from domain.application import SafetyApplication
from projections import integrity
from projections.integrity import ChainLink, Checkpoint
from projections.policemirror import PoliceCheckpoint, PoliceEventCopy
from projections.tracking import ConsumerOffset, ProjectionPosition

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


def publish_all(app: SafetyApplication) -> None:
    relay = Relay(app, batch_size=25)
    try:
        while relay.publish_once():
            pass
    finally:
        relay.close()


def restore_a_backup_taken_at(position: int) -> None:
    """The database as a backup taken when the log's head was ``position`` brings it back (what the consumers
    read: the log, its chain and checkpoints, the relay's position) — while Kafka still carries what came after."""
    with superuser_connection() as admin:
        admin.execute("SET session_replication_role = replica")  # past the append-only triggers, as pg_restore is
        admin.execute("DELETE FROM safetyapp_events WHERE notification_id > %s", (position,))
        for model in (ChainLink, Checkpoint):
            admin.execute(f"DELETE FROM {model._meta.db_table} WHERE position > %s", (position,))  # type: ignore[arg-type]
        admin.execute(
            f"UPDATE {ProjectionPosition._meta.db_table} SET position = %s WHERE name = %s",  # type: ignore[arg-type]
            (position, POSITION_NAME),
        )


def test_consumers_stop_when_kafka_carries_events_the_restored_log_does_not_hold(
    kafka_world: demo.World, app: SafetyApplication, settings: Any
) -> None:
    settings.CHECKPOINT_EVERY = 10
    publish_all(app)  # the demo's events and checkpoints, all in Kafka
    head, _ = integrity.head()
    kept = head // 2
    restore_a_backup_taken_at(kept)

    for attempt in range(2):  # and again on restart: stopped, never skipping the messages it refused
        group = runner("police-mirror")
        try:
            with pytest.raises(LogWentBackwards, match=f"after the log's head {kept}"):
                drain(group)
        finally:
            group.close()
        assert not PoliceEventCopy.objects.filter(position__gt=kept).exists(), attempt
        assert not PoliceCheckpoint.objects.filter(position__gt=kept).exists(), attempt
        assert not ConsumerOffset.objects.filter(group="police-mirror", position__gt=kept).exists(), attempt


def test_the_relay_stops_at_start_when_kafka_carries_positions_the_restored_log_does_not_hold(
    kafka_world: demo.World, app: SafetyApplication, settings: Any
) -> None:
    settings.CHECKPOINT_EVERY = 10
    publish_all(app)
    relay = Relay(app, batch_size=25)
    try:
        relay.check_topics()  # the topics' tails are this log's: no complaint
    finally:
        relay.close()
    head, _ = integrity.head()
    restore_a_backup_taken_at(head // 2)

    relay = Relay(app, batch_size=25)
    try:
        with pytest.raises(LogWentBackwards, match=f"after the log's head {head // 2}"):
            relay.check_topics()
        stop = threading.Event()
        with pytest.raises(LogWentBackwards):  # `manage.py relay`'s loop: not retried, it stops
            relay.run(stop)
    finally:
        relay.close()


def test_a_running_relay_stops_when_the_database_is_restored_under_it(
    kafka_world: demo.World, app: SafetyApplication
) -> None:
    relay = Relay(app, batch_size=25)
    try:
        while relay.publish_once():
            pass
        head, _ = integrity.head()
        restore_a_backup_taken_at(head // 2)
        with pytest.raises(LogWentBackwards, match=f"after the log's head {head // 2}"):
            relay.publish_once()
    finally:
        relay.close()
