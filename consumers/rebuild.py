"""After ``rebuild_projections`` in Kafka mode: the consumer groups that feed the rebuilt read models must not
apply the rebuilt events again. Each partition's applied log position is raised to the rebuilt position, so the
groups skip those messages as duplicates and go on with what comes after."""

from __future__ import annotations

from django.db import transaction
from kafka import KafkaConsumer

from consumers.kafka import client_options, events_topic
from projections.tracking import ConsumerOffset

REBUILT_GROUPS = ("projections", "notifications")


def skip_consumed_up_to(position: int) -> int:
    consumer = KafkaConsumer(**client_options())
    try:
        partitions = sorted(consumer.partitions_for_topic(events_topic()) or [])
    finally:
        consumer.close()
    moved = 0
    with transaction.atomic():
        for group in REBUILT_GROUPS:
            for partition in partitions:
                row, _ = ConsumerOffset.objects.select_for_update().get_or_create(
                    group=group, topic=events_topic(), partition=partition
                )
                if row.position < position:
                    row.position = position
                    row.save(update_fields=["position"])
                    moved += 1
    return moved
