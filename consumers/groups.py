"""The consumer groups (DESIGN §8): what each one reads and how it applies a batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate

from consumers import envelope
from consumers.kafka import checkpoints_topic, events_topic
from domain.application import SafetyApplication
from projections import policemirror
from projections.base import Projector
from projections.runner import NOTIFICATION_PROJECTORS, READ_MODEL_PROJECTORS
from projections.tracking import AppliedVersion


@dataclass
class Item:
    position: int
    body: dict[str, Any]
    event: Aggregate.Event | None = None
    message: Any = None


@dataclass
class Group:
    name: str
    topics: Callable[[], list[str]]
    decode: Callable[[str, dict[str, Any]], Item]
    apply: Callable[[Sequence[Item]], None]


def projector_group(
    name: str, projectors: Sequence[Projector], app: Callable[[], SafetyApplication], *, track_versions: bool = False
) -> Group:
    """A group that turns envelopes back into domain events and hands them to projectors, in order."""

    def decode(topic: str, body: dict[str, Any]) -> Item:
        return Item(body["position"], body, envelope.to_event(app(), body))

    def apply(items: Sequence[Item]) -> None:
        events = [item.event for item in items if item.event is not None]
        for projector in projectors:
            projector.apply_batch(events)
        if track_versions:
            latest: dict[Any, int] = {}
            for event in events:
                latest[event.originator_id] = max(latest.get(event.originator_id, 0), event.originator_version)
            AppliedVersion.objects.bulk_create(
                [AppliedVersion(originator_id=k, version=v) for k, v in latest.items()],
                update_conflicts=True,
                unique_fields=["originator_id"],
                update_fields=["version"],
            )

    return Group(name, lambda: [events_topic()], decode, apply)


def police_mirror_group() -> Group:
    def decode(topic: str, body: dict[str, Any]) -> Item:
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
            if item.body.get("_checkpoint"):
                policemirror.apply_checkpoint(item.body)
            else:
                policemirror.apply_event(item.body)

    return Group("police-mirror", lambda: [events_topic(), checkpoints_topic()], decode, apply)


def groups(app: Callable[[], SafetyApplication]) -> dict[str, Group]:
    return {
        "projections": projector_group("projections", READ_MODEL_PROJECTORS, app, track_versions=True),
        "notifications": projector_group("notifications", NOTIFICATION_PROJECTORS, app),
        "police-mirror": police_mirror_group(),
    }
