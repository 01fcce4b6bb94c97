"""After ``rebuild_projections`` in Kafka mode: the `notifications` group must not apply the rebuilt events again.

A rebuild projects the whole log into every read model, the notifications included (in Kafka mode they are
otherwise the `notifications` group's: commands do not write them). Each partition's applied log position of that
group is raised to the rebuilt position, so the group skips those messages as duplicates and goes on with what
comes after. The `police-mirror` group is not rebuilt (its copy is built from the envelopes alone) and keeps its
offsets.
"""

from __future__ import annotations

from django.db import transaction
from kafka import KafkaConsumer

from consumers.kafka import client_options, events_topic
from projections.tracking import ConsumerOffset

REBUILT_GROUPS = ("notifications",)


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
