"""The consumer groups (DESIGN §8): what each one reads and how it applies a batch.

Only what may lag behind a command runs here: ``notifications`` and ``police-mirror``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

from consumers import envelope
from consumers.kafka import checkpoints_topic, events_topic
from domain.application import SafetyApplication
from projections import policemirror, signingkeys
from projections.base import Projector
from projections.runner import NOTIFICATION_PROJECTORS


@dataclass
class Item:
    position: int
    body: dict[str, Any]
    event: Aggregate.Event | None = None
    message: Any = None
    ordered: bool = True  # False: not ordered by log position (a key record; its apply is idempotent by revision)


@dataclass
class Group:
    name: str
    topics: Callable[[], list[str]]
    decode: Callable[[str, dict[str, Any]], Item]
    apply: Callable[[Sequence[Item]], None]


def projector_group(name: str, projectors: Sequence[Projector], app: Callable[[], SafetyApplication]) -> Group:
    """A group that turns envelopes back into domain events and hands them to projectors, in order."""

    def decode(topic: str, body: dict[str, Any]) -> Item:
        return Item(body["position"], body, envelope.to_event(app(), body))

    def apply(items: Sequence[Item]) -> None:
        events = [item.event for item in items if item.event is not None]
        for projector in projectors:
            projector.apply_batch(events)

    return Group(name, lambda: [events_topic()], decode, apply)


def police_mirror_group() -> Group:
    def decode(topic: str, body: dict[str, Any]) -> Item:
        if topic == checkpoints_topic() and body.get("record") == signingkeys.RECORD:
            return Item(0, {**_key_record(body), "_key": True}, ordered=False)
        if topic == checkpoints_topic():
            for key in ("position", "hash", "signature", "public_key", "signed_at"):
                if key not in body:
                    raise envelope.BadEnvelope(f"checkpoint without {key!r}")
            # Checkpoints have their own topic and partition: their position orders them there.
            if not isinstance(body["position"], int):
                raise envelope.BadEnvelope("checkpoint position is not an integer")
            return Item(body["position"], {**body, "_checkpoint": True})
        return Item(body["position"], envelope.require_event(body))

    def apply(items: Sequence[Item]) -> None:
        for item in items:
            if item.body.get("_key"):
                policemirror.apply_key(item.body)
            elif item.body.get("_checkpoint"):
                policemirror.apply_checkpoint(item.body)
            else:
                policemirror.apply_event(item.body)

    return Group("police-mirror", lambda: [events_topic(), checkpoints_topic()], decode, apply)


KEY_FIELDS: dict[str, tuple[type, ...]] = {
    "key_id": (str,),
    "public_key": (str,),
    "valid_from_position": (int,),
    "valid_until_position": (int, type(None)),
    "compromised_after_position": (int, type(None)),
    "revision": (int,),
}


def _key_record(body: dict[str, Any]) -> dict[str, Any]:
    """A signing key's record (``projections.signingkeys.SigningKey.as_dict``), or BadEnvelope."""
    for key, kinds in KEY_FIELDS.items():
        if not isinstance(body.get(key), kinds) or isinstance(body.get(key), bool) or key not in body:
            raise envelope.BadEnvelope(f"key record without a valid {key!r}")
    return body


def groups(app: Callable[[], SafetyApplication]) -> dict[str, Group]:
    """What lags behind the commands. The read models a command's answer shows (ledger, hazard history, forms,
    directory, staff intervals) are written by the command's own transaction (``projections.djangorecorder``)."""
    return {
        "notifications": projector_group("notifications", NOTIFICATION_PROJECTORS, app),
        "police-mirror": police_mirror_group(),
    }
