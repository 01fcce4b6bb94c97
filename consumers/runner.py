"""One runner for every consumer group (``manage.py consume <group>``).

Poll a batch; per partition, in one database transaction: lock the partition's stored offset, drop messages
at or below it (already applied) and events at or below the partition's applied log position (the relay's
duplicates), apply the rest through the group, save the new offset and position. On assignment the consumer
seeks to the offsets stored in the database, not Kafka's, so a crash anywhere resumes exactly. Database
hiccups are retried with backoff; a message that cannot be applied is parked with its reason and the group
goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from consumers import backwards, envelope
from consumers.groups import Group, Item
from consumers.kafka import client_options
from projections.base import UnhandledEvent
from projections.tracking import ConsumerOffset, ParkedMessage

logger = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError)
# Never parked: a code fault (a projector without a handler for an event it consumes) stops the group until fixed,
# since parking the event would leave every later event of its aggregate refused by the version checks.
STOPS_THE_GROUP = (*TRANSIENT, UnhandledEvent)


@dataclass
class Outcome:
    applied: int = 0
    duplicates: int = 0
    parked: int = 0


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: GroupRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: Any) -> None:
        logger.info("%s: partitions revoked %s", self.runner.group.name, sorted(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.runner.seek_to_stored(assigned)


class GroupRunner:
    def __init__(
        self,
        group: Group,
        *,
        batch_size: int = 500,
        poll_ms: int = 500,
        consumer: KafkaConsumer | None = None,
        db_attempts: int = 5,
    ) -> None:
        self.group = group
        self.batch_size = batch_size
        self.poll_ms = poll_ms
        self.db_attempts = db_attempts
        self.consumer = consumer or KafkaConsumer(
            group_id=f"{settings.KAFKA_TOPIC_PREFIX}.{group.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            **client_options(),
        )
        self.consumer.subscribe(group.topics(), listener=_SeekToStored(self))
        self.totals = Outcome()

    # --- offsets ---------------------------------------------------------------------------------------

    def seek_to_stored(self, partitions: Sequence[TopicPartition]) -> None:
        stored = {
            (row.topic, row.partition): row.offset
            for row in ConsumerOffset.objects.filter(group=self.group.name, topic__in={tp.topic for tp in partitions})
        }
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None or offset < 0:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset + 1)
        logger.info("%s: assigned %s", self.group.name, sorted(partitions))

    # --- the loop --------------------------------------------------------------------------------------

    def poll_once(self, timeout_ms: int | None = None) -> Outcome:
        outcome = Outcome()
        records = self.consumer.poll(timeout_ms=self.poll_ms if timeout_ms is None else timeout_ms)
        for tp, messages in records.items():
            result = self._with_retries(tp, messages)
            for total in (outcome, self.totals):  # counted as each partition's transaction commits
                total.applied += result.applied
                total.duplicates += result.duplicates
                total.parked += result.parked
        return outcome

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll_once()

    def close(self) -> None:
        self.consumer.close(autocommit=False)

    def _with_retries(self, tp: TopicPartition, messages: list[ConsumerRecord]) -> Outcome:
        for attempt in Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential(multiplier=0.2, max=5),
            stop=stop_after_attempt(self.db_attempts),
            reraise=True,
            before_sleep=lambda state: logger.warning(
                "%s: database error on %s, retrying: %s", self.group.name, tp, state.outcome.exception()
            ),
        ):
            with attempt:
                return self.handle(tp, messages)
        raise AssertionError("unreachable")  # pragma: no cover

    def handle(self, tp: TopicPartition, messages: Sequence[ConsumerRecord]) -> Outcome:
        """Apply one partition's batch and store its offset, all in one transaction."""
        outcome = Outcome()
        with transaction.atomic():
            row, _ = ConsumerOffset.objects.select_for_update().get_or_create(
                group=self.group.name, topic=tp.topic, partition=tp.partition
            )
            fresh = [m for m in messages if m.offset > row.offset]
            if not fresh:
                return outcome
            items: list[Item] = []
            for message in fresh:
                try:
                    body = envelope.parse(message.value)
                    item = self.group.decode(tp.topic, body)
                except envelope.BadEnvelope as exc:
                    self._park(message, str(exc))
                    outcome.parked += 1
                    continue
                if item.ordered and item.position <= row.position:
                    outcome.duplicates += 1
                    continue
                if item.ordered:
                    row.position = item.position
                items.append(Item(item.position, item.body, item.event, message, item.ordered))
            # applying an event the log does not hold, or skipping it, would hide the loss: the group stops (a key
            # record is not a position of the log: it is not checked against the chain)
            backwards.refuse_unknown(
                {i.position: i.body.get("hash") for i in items if i.ordered}, f"{self.group.name}: {tp}"
            )
            parked = self._apply(items)
            outcome.parked += parked
            outcome.applied += len(items) - parked
            row.offset = fresh[-1].offset
            row.save(update_fields=["offset", "position"])
        try:
            self.consumer.commit({tp: _offset_meta(row.offset + 1)})  # for lag tools only; the database rules
        except Exception:  # noqa: BLE001 - Kafka's copy of the offset is advisory
            logger.debug("%s: could not commit the offset to Kafka", self.group.name, exc_info=True)
        return outcome

    def _apply(self, items: list[Item]) -> int:
        """Apply the batch; if it fails, apply one by one and park what fails. Returns how many were parked."""
        if not items:
            return 0
        try:
            with transaction.atomic():
                self.group.apply(items)
            return 0
        except STOPS_THE_GROUP:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad message must not stop the group
            logger.warning("%s: batch failed (%s); applying one by one", self.group.name, exc)
        parked = 0
        for item in items:
            try:
                with transaction.atomic():
                    self.group.apply([item])
            except STOPS_THE_GROUP:
                raise
            except Exception as exc:  # noqa: BLE001
                self._park(item.message, f"{type(exc).__name__}: {exc}")
                parked += 1
        return parked

    def _park(self, message: ConsumerRecord, reason: str) -> None:
        logger.error(
            "%s: parked %s/%s@%s: %s", self.group.name, message.topic, message.partition, message.offset, reason
        )
        ParkedMessage.objects.get_or_create(
            group=self.group.name,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            defaults={
                "key": (message.key or b"").decode("utf-8", "replace"),
                "value": bytes(message.value or b""),
                "reason": reason[:2000],
            },
        )


def _offset_meta(offset: int) -> Any:
    from kafka.structs import OffsetAndMetadata

    try:
        return OffsetAndMetadata(offset, "", -1)
    except TypeError:  # older kafka-python: (offset, metadata)
        return OffsetAndMetadata(offset, "")
