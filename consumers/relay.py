"""The relay (``manage.py relay``): event log → Kafka, advancing its position only after the broker acknowledged.

One batch is one database transaction holding the relay's position row: read the events after the position,
publish each envelope keyed by school with ``acks=all`` with its stored chain hash (DESIGN §3; written by the
command's own transaction), publish every checkpoint signed at a position of the batch, wait for every
acknowledgement, then save the new position. That transaction never takes the chain's lock (commands take it, and
it may wait for the broker for seconds): events recorded unchained (by an older release) are chained first, in a
short transaction of their own. If the broker
is down or the process dies before the save, the transaction rolls back and the same events are published again
next time (consumers ignore the duplicates); nothing is skipped. Commands never wait for the relay.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from itertools import takewhile
from typing import Any
from uuid import UUID

from django.db import transaction
from eventsourcing.persistence import Notification
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_when_event_set,
    wait_exponential,
)

from consumers import backwards, envelope
from consumers.kafka import checkpoints_topic, client_options, events_topic
from domain.application import SafetyApplication
from projections import integrity, signingkeys
from projections.signingkeys import SigningKey
from projections.tracking import ProjectionPosition

logger = logging.getLogger(__name__)
POSITION_NAME = "relay"
KEYS_POSITION_NAME = "relay-keys"  # the last signing-key revision published


def make_producer() -> KafkaProducer:
    return KafkaProducer(
        acks="all",
        retries=3,
        max_in_flight_requests_per_connection=1,  # a retried batch must not overtake the next one
        linger_ms=5,
        max_block_ms=5000,
        request_timeout_ms=10000,
        **client_options(),
    )


def read_topic_tails(*, timeout: float = 30.0) -> dict[int, str]:
    """The log position and chain hash of the last message of every partition of the events and checkpoints
    topics (empty partitions and topics left out)."""
    consumer = KafkaConsumer(enable_auto_commit=False, **client_options())
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in (events_topic(), checkpoints_topic())
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return {}
        consumer.assign(partitions)
        consumer.seek_to_end(*partitions)
        ends = {tp: consumer.position(tp) for tp in partitions}
        pending = {tp for tp in partitions if ends[tp] > 0}
        for tp in pending:
            consumer.seek(tp, ends[tp] - 1)
        carried: dict[int, str] = {}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the last messages of {sorted(pending)} could not be read in {timeout}s")
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    body = envelope.parse(message.value)
                    if body.get("record") != signingkeys.RECORD:  # a key's change is not a position of the log
                        carried[body["position"]] = body["hash"]
                pending.discard(tp)
        return carried
    finally:
        consumer.close(autocommit=False)


class Relay:
    def __init__(
        self,
        app: SafetyApplication,
        *,
        producer_factory: Callable[[], KafkaProducer] = make_producer,
        batch_size: int = 500,
        ack_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.ack_timeout = ack_timeout
        self._producer: KafkaProducer | None = None
        self._schools: dict[UUID, UUID | None] = {}
        # the highest position this process published, and its hash: the log never goes below it
        self._published, self._published_hash = 0, ""

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self.producer_factory()
        return self._producer

    def reset_producer(self) -> None:
        """Drop the producer after a failure: its buffered messages are published again from the log."""
        if self._producer is not None:
            try:
                self._producer.close(timeout=0)
            except Exception:  # noqa: BLE001 - closing a broken producer may fail too
                logger.debug("closing the producer failed", exc_info=True)
            self._producer = None

    def position(self) -> int:
        return ProjectionPosition.objects.filter(name=POSITION_NAME).values_list("position", flat=True).first() or 0

    def publish_once(self) -> int:
        """Publish the next batch; returns how many events were published (0 = caught up)."""
        self._chain_unchained()
        self._publish_keys()
        with transaction.atomic():
            tracking, _ = ProjectionPosition.objects.select_for_update().get_or_create(name=POSITION_NAME)
            if tracking.position < self._published:  # the database was restored under the running relay
                backwards.refuse_unknown({self._published: self._published_hash}, "the relay's own published log")
            notifications = self.app.recorder.select_notifications(
                start=tracking.position, limit=self.batch_size, inclusive_of_start=False
            )
            # The command's transaction chained its events and signed the checkpoints due: these are the stored
            # hashes (read without the chain's lock: commands take it, and this transaction waits for the broker).
            hashes = self._stored_hashes(notifications)
            notifications = list(takewhile(lambda n: n.id in hashes, notifications))  # unchained: next time
            if not notifications:
                return 0
            futures = [self._send(n, hashes[n.id]) for n in notifications]
            for checkpoint in self._checkpoints(tracking.position, notifications[-1].id):
                futures.append(
                    self.producer.send(
                        checkpoints_topic(), key=b"checkpoint", value=json.dumps(checkpoint.as_dict()).encode()
                    )
                )
            self.producer.flush(timeout=self.ack_timeout)
            for future in futures:
                future.get(timeout=self.ack_timeout)  # raises unless the broker acknowledged (acks=all)
            self._save_position(tracking, notifications[-1].id)
        self._published, self._published_hash = notifications[-1].id, hashes[notifications[-1].id]
        return len(notifications)

    def check_topics(self, *, timeout: float = 30.0) -> None:
        """Before publishing: the last message of every partition of both topics must be this log's (a position
        of the chain with its hash), else the database was restored from a backup older than the topics and the
        relay stops (``LogWentBackwards``) instead of publishing other events at positions Kafka already has."""
        backwards.refuse_unknown(read_topic_tails(timeout=timeout), "Kafka")

    def _publish_keys(self) -> int:
        """Publish the signing keys' changes (a rotation, a compromise mark: ``projections.signingkeys``) not yet
        published, in revision order, on the checkpoints' topic and partition, ahead of the checkpoints a new key
        signs; the ``relay-keys`` position moves only after the broker acknowledged, as the events'."""
        with transaction.atomic():
            tracking, _ = ProjectionPosition.objects.select_for_update().get_or_create(name=KEYS_POSITION_NAME)
            keys = list(SigningKey.objects.filter(revision__gt=tracking.position).order_by("revision"))
            if not keys:
                return 0
            futures = [
                self.producer.send(checkpoints_topic(), key=b"checkpoint", value=json.dumps(key.as_dict()).encode())
                for key in keys
            ]
            self.producer.flush(timeout=self.ack_timeout)
            for future in futures:
                future.get(timeout=self.ack_timeout)
            self._save_position(tracking, keys[-1].revision)
        return len(keys)

    def _chain_unchained(self) -> None:
        """Chain (and checkpoint) events recorded unchained — by an older release, or outside a command before its
        catch-up — in a short transaction of their own, as ``catch_up`` does: never while waiting for the broker."""
        chained, _ = integrity.head()
        if chained >= (self.app.recorder.max_notification_id() or 0):
            return
        with transaction.atomic():
            page = self.app.recorder.select_notifications(
                start=chained, limit=self.batch_size, inclusive_of_start=False
            )
            integrity.maybe_checkpoint(integrity.extend(page))

    @staticmethod
    def _stored_hashes(notifications: Sequence[Notification]) -> dict[int, str]:
        if not notifications:
            return {}
        links = integrity.ChainLink.objects.filter(
            position__gte=notifications[0].id, position__lte=notifications[-1].id
        ).values_list("position", "hash")
        return dict(links)

    @staticmethod
    def _checkpoints(after: int, last: int) -> list[integrity.Checkpoint]:
        """Every checkpoint signed at a position of this batch, whoever signed it (a command, `catch_up`, here)."""
        return list(integrity.Checkpoint.objects.filter(position__gt=after, position__lte=last).order_by("position"))

    def _save_position(self, tracking: ProjectionPosition, position: int) -> None:
        tracking.position = position
        tracking.save(update_fields=["position"])

    def _send(self, n: Notification, chain_hash: str) -> Any:
        event = self.app.mapper.to_domain_event(n)
        school = self._school(n, event)
        value = envelope.encode(envelope.build(n, event, chain_hash, school))
        return self.producer.send(events_topic(), key=envelope.key(school, n.originator_id), value=value)

    def _school(self, n: Notification, event: Any) -> UUID | None:
        if n.originator_id not in self._schools:
            if n.originator_version == 1:
                first = event
            else:
                stored = self.app.recorder.select_events(n.originator_id, lte=1)
                first = self.app.mapper.to_domain_event(stored[0]) if stored else event
            self._schools[n.originator_id] = envelope.school_of_first_event(first)
        return self._schools[n.originator_id]

    def run(self, stop: threading.Event, *, idle: float = 0.2) -> None:
        """Publish until ``stop`` is set, backing off while the broker or the database is unavailable."""
        retrying = Retrying(
            retry=retry_if_exception_type(Exception) & retry_if_not_exception_type(backwards.LogWentBackwards),
            wait=wait_exponential(multiplier=0.5, max=10),
            stop=stop_when_event_set(stop),
            before_sleep=self._failed,
            sleep=stop.wait,
        )
        try:
            retrying(self.check_topics)
        except RetryError:
            return
        while not stop.is_set():
            try:
                published = retrying(self.publish_once)
            except RetryError:  # stopped while failing
                return
            if published == 0:
                stop.wait(idle)

    def _failed(self, state: Any) -> None:
        logger.warning("relay: publishing failed, retrying: %s", state.outcome.exception())
        self.reset_producer()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
