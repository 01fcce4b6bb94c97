"""Transcodings the eventsourcing JSON transcoder lacks (it has none for ``date``, nor for our value objects)."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.persistence import Transcoding

from domain.attachments import AttachmentRef


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class AttachmentRefAsDict(Transcoding):
    type = AttachmentRef
    name = "attachment_ref"

    def encode(self, obj: AttachmentRef) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> AttachmentRef:
        return AttachmentRef.from_dict(data)
