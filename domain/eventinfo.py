"""How a stored domain event reads outside the domain: its stable type word and its plain data."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.attachments import AttachmentRef
from domain.timerules import beijing_iso

_ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor", "occurred_at"}
)


def event_type(event: Aggregate.Event) -> str:
    """``PlanRecorded`` → ``plan_recorded``: the stable snake_case word shown in histories."""
    return type_word(type(event))


def type_word(event_class: type) -> str:
    """The word ``event_type`` gives the events of this class."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event_class.__name__).lower()


def event_data(event: Aggregate.Event) -> dict[str, Any]:
    """The event's own fields (what happened), as JSON-ready values."""
    return {k: plain(v) for k, v in sorted(vars(event).items()) if k not in _ENVELOPE_FIELDS}


def plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return beijing_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, AttachmentRef):  # its id, both SHA-256s, size and type, as the stored event holds them
        return plain(value.as_dict())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
