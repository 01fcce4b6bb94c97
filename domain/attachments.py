"""Attachments as the log records them: a reference to an upload with the SHA-256 of its bytes, never the bytes.

An event that carries photos or documents (a hazard as found, its interim measures, the rectified place, the
acceptance) records one ``AttachmentRef`` per file, so the hash chain covers each file's hashes: a photo shown later
is the one submitted when its bytes still hash to what the event recorded (``verify_integrity``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import InvalidValue, PhotoRequired

MAX_PER_EVENT = 20
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


@dataclass(frozen=True)
class AttachmentRef:
    id: UUID
    sha256: str  # of the bytes served (location metadata stripped)
    sha256_original: str  # of the bytes uploaded, kept for auditors and bureaus
    size: int
    content_type: str

    @property
    def is_photo(self) -> bool:
        return self.content_type in PHOTO_TYPES

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "sha256_original": self.sha256_original,
            "size": self.size,
            "content_type": self.content_type,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttachmentRef:
        return cls(
            id=data["id"] if isinstance(data["id"], UUID) else UUID(str(data["id"])),
            sha256=data["sha256"],
            sha256_original=data["sha256_original"],
            size=int(data["size"]),
            content_type=data["content_type"],
        )


Attachments = tuple[AttachmentRef, ...]


def checked(attachments: Iterable[AttachmentRef]) -> Attachments:
    """The attachments of one command: each once, in the order given, at most ``MAX_PER_EVENT``."""
    seen: dict[UUID, AttachmentRef] = {}
    for ref in attachments:
        if ref.id in seen:
            raise InvalidValue("同一附件不能重复添加", field="attachments", attachment=str(ref.id))
        seen[ref.id] = ref
    if len(seen) > MAX_PER_EVENT:
        raise InvalidValue(f"每次最多添加{MAX_PER_EVENT}个附件", field="attachments")
    return tuple(seen.values())


def require_photo(attachments: Sequence[AttachmentRef]) -> None:
    if not any(ref.is_photo for ref in attachments):
        raise PhotoRequired()


def attachments_of(event: object) -> Attachments:
    """The refs an event recorded; none for an event without the field or recorded before issue 16."""
    return tuple(getattr(event, "attachments", None) or ())
