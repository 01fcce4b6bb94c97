"""The Kafka message for one stored event (DESIGN §8) and its way back to a domain event.

``{position, originator_id, originator_version, type, occurred_at, recorded_at, actor, school, data, hash}``
plus ``topic`` and ``state`` — the stored event exactly as the log holds it — so a consumer decodes the very
same event the application saved, and the police side can check ``hash`` against its own chain copy.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification, StoredEvent

from domain.application import SafetyApplication
from domain.eventinfo import event_data, event_type


class BadEnvelope(ValueError):
    """A message that is not an event envelope this version understands (it is parked, never retried)."""


def build(n: Notification, event: Aggregate.Event, chain_hash: str, school: UUID | None) -> dict[str, Any]:
    return {
        "position": n.id,
        "originator_id": str(n.originator_id),
        "originator_version": n.originator_version,
        "type": event_type(event),
        "aggregate": type(event).__qualname__.split(".")[0],
        "occurred_at": getattr(event, "occurred_at", event.timestamp).isoformat(),
        "recorded_at": event.timestamp.isoformat(),
        "actor": getattr(event, "actor", ""),
        "school": str(school) if school else None,
        "data": event_data(event),
        "hash": chain_hash,
        "topic": n.topic,
        "state": bytes(n.state).decode("utf-8"),
    }


def encode(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


REQUIRED = {"position": int, "originator_id": str, "originator_version": int, "topic": str, "state": str, "hash": str}


def parse(value: bytes | None) -> dict[str, Any]:
    """A message's JSON object (any message of ours), or BadEnvelope."""
    try:
        body = json.loads(value or b"")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEnvelope(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadEnvelope("not a JSON object")
    return body


def require_event(body: dict[str, Any]) -> dict[str, Any]:
    """The body as an event envelope, or BadEnvelope naming the first field missing or of the wrong type."""
    for key, kind in REQUIRED.items():
        if not isinstance(body.get(key), kind) or isinstance(body.get(key), bool):
            raise BadEnvelope(f"field {key!r} missing or not {kind.__name__}")
    return body


def to_event(app: SafetyApplication, envelope: dict[str, Any]) -> Aggregate.Event:
    """The domain event the envelope carries, decoded by the application's own mapper."""
    require_event(envelope)
    try:
        stored = StoredEvent(
            originator_id=UUID(envelope["originator_id"]),
            originator_version=envelope["originator_version"],
            topic=envelope["topic"],
            state=envelope["state"].encode("utf-8"),
        )
        return app.mapper.to_domain_event(stored)  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - any decoding failure makes the message poison
        raise BadEnvelope(f"cannot decode event {envelope.get('topic')!r}: {exc}") from exc


def key(school: UUID | None, originator_id: UUID) -> bytes:
    """Partition key: the school, so a school's events stay in order; else the aggregate itself."""
    return str(school or originator_id).encode()


def school_of_first_event(event: Aggregate.Event) -> UUID | None:
    """The school an aggregate belongs to, read from its first event (None for staff, campaigns, bureaus)."""
    school = getattr(event, "school", None)
    if isinstance(school, UUID):
        return school
    if type(event).__qualname__ == "Unit.Registered" and getattr(event, "kind", None) == "school":
        return event.originator_id
    return None
