"""The way back after a restore older than Kafka (``manage.py recover_from_kafka``; README "Backup and restore").

The relay published every event with its stored topic and state and its chain hash (``consumers.envelope``), and
every checkpoint signed at the positions it published: the events written after the backup are still on the topics.
Recovery reads them (nothing is written while the broker is read), then, in one transaction under the event table's
lock, checks each event against the chain continued from the restored head (``h_n = SHA-256(h_{n-1} ‖ event n)``:
an event altered, left out or put in breaks every hash after it), against the police-side mirror's copy where it
holds that position, and each checkpoint of those positions against its signature and the recomputed hash; then
appends the events at their own positions through the store and projects, chains and tracks them as a command's
transaction does (``projections.djangorecorder.project_inline``), puts the checkpoints back, and moves the relay's
position to what the topics carry. Any mismatch refuses the whole recovery: nothing is appended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from eventsourcing import persistence
from eventsourcing.persistence import Notification
from kafka import KafkaConsumer, TopicPartition
from kafka.client_async import KafkaClient

from consumers import envelope
from consumers.kafka import bootstrap_servers, checkpoints_topic, client_options, events_topic
from consumers.relay import POSITION_NAME as RELAY_POSITION
from projections import integrity, signingkeys
from projections.djangorecorder import InlineApplication, PositionTaken, lock_log, project_inline, record_at_positions
from projections.integrity import ChainLink, Checkpoint
from projections.policemirror import PoliceCheckpoint, PoliceEventCopy
from projections.tracking import ProjectionPosition

IDENTITY = ("originator_id", "originator_version", "topic", "state", "hash")
CHECKPOINT_FIELDS = ("position", "hash", "signature", "public_key", "signed_at")


class RecoveryRefused(Exception):
    """Recovery cannot be done as asked; the message (Chinese, then English) says why. Nothing was changed."""


class BrokerUnreachable(RecoveryRefused):
    pass


@dataclass
class Carried:
    """What the topics carry, as far as recovery needs it."""

    events: dict[int, dict[str, Any]] = field(default_factory=dict)  # position → envelope, after the relay's position
    checkpoints: dict[int, dict[str, Any]] = field(default_factory=dict)  # position → checkpoint, same
    last: tuple[int, str] | None = None  # the highest position carried at or below the log's head, and its hash
    unreadable: int = 0  # messages that are no event envelope or checkpoint of ours (consumers park them)


@dataclass
class Outcome:
    recovered: int = 0
    head: tuple[int, str] = (0, integrity.GENESIS.hex())
    checkpoints: int = 0
    relay_position: int = 0
    unreadable: int = 0
    after_last_checkpoint: int = 0  # recovered events no signed checkpoint covers: vouched for by the chain alone

    def line(self) -> str:
        return (
            f"恢复事件 {self.recovered} 条，签名检查点 {self.checkpoints} 个；日志头 {self.head[0]} {self.head[1]}；"
            f"发布位置 {self.relay_position} (recovered {self.recovered} event(s) and {self.checkpoints} "
            f"checkpoint(s); head {self.head[0]}; relay position {self.relay_position})"
        )


def recover(app: InlineApplication, *, timeout: float = 30.0) -> Outcome:
    """Re-append what the topics hold after the restored head; RecoveryRefused (nothing changed) on any mismatch."""
    bootstrap_servers()  # ImproperlyConfigured without Kafka, before anything is read
    log_head = app.recorder.max_notification_id() or 0
    relay = _relay_position()
    carried = read_topics(log_head, relay, timeout=timeout)
    with transaction.atomic():
        outcome = _recover_locked(app, carried, log_head)
    outcome.unreadable = carried.unreadable
    return outcome


# --- reading the topics (nothing written) ------------------------------------------------------------------


def read_topics(log_head: int, after: int, *, timeout: float = 30.0) -> Carried:
    """Every message of the events and checkpoints topics, from the beginning to their ends as they are now;
    keeps what comes after the relay's position ``after`` and the highest position carried up to ``log_head``."""
    partitions = _partitions(timeout)
    carried = Carried()
    consumer = KafkaConsumer(
        enable_auto_commit=False, request_timeout_ms=int(timeout * 1000) + 1000, **client_options()
    )
    try:
        tps = [TopicPartition(topic, p) for topic, ps in partitions.items() for p in sorted(ps)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + timeout
        while pending:
            batch = consumer.poll(timeout_ms=500)
            if batch:
                deadline = time.monotonic() + timeout
            elif time.monotonic() > deadline:
                raise BrokerUnreachable(
                    f"读取 Kafka 主题超时（{timeout:.0f} 秒无进展）：未作任何更改 "
                    f"(reading the Kafka topics made no progress in {timeout:.0f}s; nothing changed)"
                )
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < ends[tp]:
                        _keep(carried, tp.topic, message.value, log_head, after)
                if consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        consumer.close(autocommit=False)
    return carried


def _partitions(timeout: float) -> dict[str, set[int]]:
    """The topics' partitions, from the broker's metadata within ``timeout`` (the consumer's own lookup waits
    forever for a broker that does not answer)."""
    client = KafkaClient(**client_options())
    try:
        client.cluster.need_all_topic_metadata = True
        future = client.cluster.request_update()
        client.poll(future=future, timeout_ms=int(timeout * 1000))
        if not future.is_done or future.failed():
            raise BrokerUnreachable(
                f"无法连接 Kafka（{', '.join(client_options()['bootstrap_servers'])}）：未作任何更改，"
                "请确认代理已启动后重试 (the Kafka broker cannot be reached; nothing changed: start it and retry)"
            )
        found = {topic: client.cluster.partitions_for_topic(topic) for topic in (events_topic(), checkpoints_topic())}
    finally:
        client.close()
    if not found[events_topic()]:
        raise RecoveryRefused(
            f"Kafka 上没有事件主题 {events_topic()}：请检查 KAFKA_TOPIC_PREFIX；未作任何更改 "
            f"(Kafka has no topic {events_topic()}: check KAFKA_TOPIC_PREFIX; nothing changed)"
        )
    return {topic: set(ps) for topic, ps in found.items() if ps}


def _keep(carried: Carried, topic: str, value: bytes | None, log_head: int, after: int) -> None:
    try:
        body = envelope.parse(value)
        if topic == checkpoints_topic():
            if body.get("record") == signingkeys.RECORD:
                return  # a key's change is no position of the log
            if any(key not in body for key in CHECKPOINT_FIELDS) or not isinstance(body["position"], int):
                raise envelope.BadEnvelope("not a checkpoint")
        else:
            envelope.require_event(body)
    except envelope.BadEnvelope:
        carried.unreadable += 1
        return
    position = body["position"]
    kept = carried.checkpoints if topic == checkpoints_topic() else carried.events
    if topic != checkpoints_topic() and position <= log_head and (carried.last is None or position > carried.last[0]):
        carried.last = (position, body["hash"])
    if position <= after:
        return
    seen = kept.setdefault(position, body)
    fields = CHECKPOINT_FIELDS if topic == checkpoints_topic() else IDENTITY
    if any(seen.get(key) != body.get(key) for key in fields):
        raise RecoveryRefused(
            f"Kafka 主题 {topic} 上日志位置 {position} 有两条内容不同的消息：主题被篡改，拒绝恢复，未作任何更改 "
            f"(two different messages for log position {position} on {topic}: refused, nothing changed)"
        )


# --- checking and appending, in one transaction ----------------------------------------------------------


def _recover_locked(app: InlineApplication, carried: Carried, log_head: int) -> Outcome:
    lock_log(app)  # first the event table's, then the chain's: a command's order
    ProjectionPosition.objects.select_for_update().get_or_create(name="chain")
    if (app.recorder.max_notification_id() or 0) != log_head:
        raise RecoveryRefused(
            "读取 Kafka 期间又有命令写入日志：请停止 API 后重试；未作任何更改 "
            "(commands were recorded while Kafka was read: stop the API and run this again; nothing changed)"
        )
    _chain_unchained(app, log_head)
    _check_carried_log(carried, log_head)
    after = {p: body for p, body in carried.events.items() if p > log_head}
    relay = ProjectionPosition.objects.select_for_update().get_or_create(name=RELAY_POSITION)[0]
    outcome = Outcome(head=_head_hex())
    if after:
        notifications = _chained(after, log_head)
        _check_mirror(notifications, after)
        checkpoints = _vouched_checkpoints(carried.checkpoints, log_head, notifications, after)
        integrity.store_checkpoints(checkpoints)
        try:
            recordings = record_at_positions(app, notifications)
        except (PositionTaken, persistence.IntegrityError) as exc:
            raise RecoveryRefused(
                f"事件无法按原日志位置追加，未追加任何事件 (the events cannot be appended at their positions: {exc})"
            ) from exc
        project_inline(app, recordings)  # read models, chain links (and a checkpoint when due), tracking
        linked = dict(ChainLink.objects.filter(position__in=after).values_list("position", "hash"))
        if linked != {p: body["hash"] for p, body in after.items()}:  # as checked above: the store's own chaining
            raise RecoveryRefused("追加后的哈希链与 Kafka 不符 (the chain after appending differs from Kafka)")
        signed = [c.position for c in checkpoints]
        outcome.recovered, outcome.checkpoints, outcome.head = len(notifications), len(checkpoints), _head_hex()
        outcome.after_last_checkpoint = sum(1 for n in notifications if n.id > max(signed, default=log_head))
    relay.position = _published_up_to(app, relay.position, carried)
    relay.save(update_fields=["position"])
    outcome.relay_position = relay.position
    return outcome


def _chain_unchained(app: InlineApplication, log_head: int) -> None:
    """Events recorded outside a command (an older release, the demo loader) are chained first, as the relay does."""
    chained, _ = integrity.head()
    if chained < log_head:
        page = app.recorder.select_notifications(
            start=chained, stop=log_head, limit=log_head - chained, inclusive_of_start=False
        )
        integrity.maybe_checkpoint(integrity.extend(page))


def _check_carried_log(carried: Carried, log_head: int) -> None:
    """What the topics carry up to the log's head must be this log: else commands were recorded after the restore
    (their events took the positions of the ones on the topic), or the topics are another installation's."""
    below = {p: body["hash"] for p, body in carried.events.items() if p <= log_head}
    if carried.last is not None:
        below[carried.last[0]] = carried.last[1]
    chained = dict(ChainLink.objects.filter(position__in=below).values_list("position", "hash"))
    for position in sorted(below):
        if chained.get(position) != below[position]:
            raise RecoveryRefused(
                f"Kafka 上日志位置 {position} 的事件与本库日志不同：恢复备份后又有命令写入（或主题属于另一个安装），"
                f"无法从 Kafka 恢复；未作任何更改 (Kafka's event at log position {position} is not this log's: "
                "commands were recorded after the restore, or the topics are another installation's; nothing changed)"
            )


def _chained(after: dict[int, dict[str, Any]], log_head: int) -> list[Notification]:
    """The events after the head, each checked against its chain hash continued from the restored head."""
    previous = bytes.fromhex(_head_hex()[1])
    notifications = []
    for position in sorted(after):
        body = after[position]
        try:
            n = Notification(
                id=position,
                originator_id=UUID(body["originator_id"]),
                originator_version=body["originator_version"],
                topic=body["topic"],
                state=body["state"].encode("utf-8"),
            )
        except ValueError as exc:
            raise _refused(position, f"事件标识无效 (bad event identity: {exc})") from exc
        previous = integrity.next_hash(previous, n)
        if previous.hex() != body["hash"]:
            raise _refused(
                position,
                f"事件与哈希链不符：从日志头 {log_head} 重算的哈希与消息所载不同，事件被篡改或缺失 "
                "(the hash recomputed from the restored head differs from the message's: altered or missing events)",
            )
        notifications.append(n)
    return notifications


def _check_mirror(notifications: list[Notification], after: dict[int, dict[str, Any]]) -> None:
    """The police-side mirror's copy (``PoliceEventCopy``, ``PoliceCheckpoint``), where it holds these positions."""
    copies = PoliceEventCopy.objects.filter(position__in=after).values_list(
        "position", "originator_id", "originator_version", "hash"
    )
    by_position = {n.id: n for n in notifications}
    for position, originator_id, version, digest in copies:
        n = by_position[position]
        if (originator_id, version, digest) != (n.originator_id, n.originator_version, after[position]["hash"]):
            raise _refused(position, "与公安侧副本保存的事件不同 (differs from the police-side mirror's copy)")
    for position, digest in PoliceCheckpoint.objects.filter(position__in=after).values_list("position", "hash"):
        if digest != after[position]["hash"]:
            raise _refused(position, "与公安侧保存的检查点不符 (differs from the police-side mirror's checkpoint)")


def _vouched_checkpoints(
    carried: dict[int, dict[str, Any]], log_head: int, notifications: list[Notification], after: dict[int, Any]
) -> list[Checkpoint]:
    """The checkpoints the topic carries at the recovered positions, each signed by a key of the registry over the
    recomputed hash there."""
    keys = signingkeys.terms()
    last = notifications[-1].id
    made = []
    for position, body in sorted(carried.items()):
        if position <= log_head:
            continue
        if position > last:
            raise _refused(
                position,
                f"签名检查点所覆盖的事件不在事件主题中（主题只到日志位置 {last}） "
                f"(a signed checkpoint covers events the events topic does not carry; it ends at {last})",
            )
        try:
            checkpoint = Checkpoint(
                position=position,
                hash=str(body["hash"]),
                signature=str(body["signature"]),
                public_key=str(body["public_key"]),
                key_id=str(body.get("key_id") or ""),
                signed_at=datetime.fromisoformat(str(body["signed_at"])),
            )
        except ValueError as exc:
            raise _refused(position, f"签名检查点无法读取 (an unreadable checkpoint: {exc})") from exc
        if position not in after or checkpoint.hash != after[position]["hash"]:
            raise _refused(position, "签名检查点与重算的哈希链不符 (the signed checkpoint differs from the chain)")
        problem = integrity.signature_problem(keys, checkpoint)
        if problem is not None:
            raise _refused(position, f"{problem.detail}（备份之后轮换过签名密钥？） (the checkpoint's signature)")
        made.append(checkpoint)
    return made


def _published_up_to(app: InlineApplication, relay: int, carried: Carried) -> int:
    """The relay's new position: every log position up to it is on the topic with the chain's hash, so the relay
    publishes nothing twice (a position the topic lacks is published again from there)."""
    position = relay
    for n in integrity.stored_events(app.recorder, start=relay):
        if n.id not in carried.events:
            break
        position = n.id
    return position


def _relay_position() -> int:
    return ProjectionPosition.objects.filter(name=RELAY_POSITION).values_list("position", flat=True).first() or 0


def _head_hex() -> tuple[int, str]:
    position, digest = integrity.head()
    return position, digest.hex()


def _refused(position: int, why: str) -> RecoveryRefused:
    return RecoveryRefused(
        f"Kafka 上日志位置 {position} 的事件未通过核对，拒绝恢复，未追加任何事件：{why} "
        f"(recovery refused at log position {position}, nothing appended)"
    )
