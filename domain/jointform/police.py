"""A joint form's police-only content (涉及保密、敏感信息), sealed under the police-held key, in a stream of its own.

Every stored event is hash-chained (DESIGN §3) and an education user sees many of those hashes, so a value
stored in plaintext can be confirmed offline by rebuilding the event's bytes around a guess. Police-only values
are therefore recorded only as AES-GCM ciphertext (random nonce, plaintext padded to one fixed size, so neither
the bytes nor their length say anything about the text), and in ``PoliceNotes`` — not in the ``JointForm`` — so a
police edit of them moves neither the form's version nor its history. The cipher is a port: the domain states
what is sealed and how it is padded; the key and the algorithm live outside (``projections.policekey``).

Photos on police-only content go the same way: a field's ``AttachmentRef`` list (ids and SHA-256s) is sealed like a
value (its own place, padded to the same size: the ≤ 20 refs ``checked`` allows fit one block) into ``PoliceNotes``,
never onto the form's events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.attachments import AttachmentRef, Attachments
from domain.eventversions import added, versions
from domain.jointform.fields import BY_KEY, MAX_TEXT

NOTES_NAMESPACE = uuid5(NAMESPACE_URL, "school-safety/police-notes")
# Every value a police-only field accepts fits one block: MAX_TEXT characters as JSON (at most 6 bytes each, a
# control character escaped as \u00XX), its quotes and the padding marker. All ciphertexts have the same length.
PADDED_SIZE = 6 * MAX_TEXT + 3 + (-(6 * MAX_TEXT + 3)) % 4096
PADDING_MARK = b"\x80"
Value = bool | int | str | None
Sealed = dict[str, str]  # {"enc": "aes-gcm", "kid": ..., "nonce": ..., "ct": ...}
POLICE_ONLY = frozenset(key for key, spec in BY_KEY.items() if spec.police_only)


class Cipher(Protocol):
    """Authenticated encryption under the police-held key; ``associated`` binds a ciphertext to its place."""

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed: ...

    def open(self, sealed: Mapping[str, str], associated: bytes) -> bytes: ...


def notes_id(form: UUID) -> UUID:
    return uuid5(NOTES_NAMESPACE, str(form))


def seal_value(cipher: Cipher, form: UUID, key: str, value: Value) -> Sealed:
    """One police-only value as ciphertext: its JSON, padded to ``PADDED_SIZE``, bound to the form and field."""
    return _seal_json(cipher, value, _place(form, key))


def open_value(cipher: Cipher, form: UUID, key: str, sealed: Mapping[str, str]) -> Value:
    value: Value = _open_json(cipher, sealed, _place(form, key))
    return value


def seal_refs(cipher: Cipher, form: UUID, key: str, refs: Attachments) -> Sealed:
    """A police-only field's attachments (all of them from now on; none: ``()``) as ciphertext, padded like a value
    (``MAX_PER_EVENT`` refs fit one block), bound to the form, the field and their being its attachments."""
    plain = [{k: str(v) if isinstance(v, UUID) else v for k, v in ref.as_dict().items()} for ref in refs]
    return _seal_json(cipher, plain, _place(form, key, ATTACHMENTS))


def open_refs(cipher: Cipher, form: UUID, key: str, sealed: Mapping[str, str]) -> Attachments:
    return tuple(AttachmentRef.from_dict(data) for data in _open_json(cipher, sealed, _place(form, key, ATTACHMENTS)))


def _seal_json(cipher: Cipher, value: Any, place: bytes) -> Sealed:
    text = json.dumps(value, ensure_ascii=False).encode()
    blocks = -(-(len(text) + 1) // PADDED_SIZE)
    return cipher.seal((text + PADDING_MARK).ljust(blocks * PADDED_SIZE, b"\x00"), place)


def _open_json(cipher: Cipher, sealed: Mapping[str, str], place: bytes) -> Any:
    padded = cipher.open(sealed, place)
    return json.loads(padded.rstrip(b"\x00")[: -len(PADDING_MARK)])


def is_sealed(value: Any) -> bool:
    """A sealed value (new events), as against plaintext written before sealing existed (old events)."""
    return isinstance(value, dict) and "ct" in value and "nonce" in value


ATTACHMENTS = "attachments"


def _place(form: UUID, key: str, part: str = "") -> bytes:
    """Where a ciphertext belongs (its associated data): a value's and a field's attachments' never open as each
    other."""
    return f"school-safety/police-notes/{form}/{key}{'/' + part if part else ''}".encode()


@versions(Recorded=[added(attachments=None)])  # sealed attachments of police-only fields; none before
class PoliceNotes(Aggregate):
    """The police-only values of one joint form; the form's own rules (party, lock) are checked by the form."""

    @staticmethod
    def create_id(form: UUID, **_: object) -> UUID:
        return notes_id(form)

    @event("Opened")
    def __init__(self, *, form: UUID, school: UUID, station: UUID, actor: str, occurred_at: datetime) -> None:
        self.form, self.school, self.station = form, school, station
        self.sealed: dict[str, Sealed] = {}
        self.sealed_attachments: dict[str, Sealed] = {}  # field key → its attachments (sealed ``seal_refs``)
        self.last_occurred_at = occurred_at

    def values(self, cipher: Cipher) -> dict[str, Value]:
        return {key: open_value(cipher, self.form, key, sealed) for key, sealed in self.sealed.items()}

    def attachments(self, cipher: Cipher) -> dict[str, Attachments]:
        """Each police-only field's attachments now (fields without any left out)."""
        # ``getattr``: notes loaded from a snapshot taken before police-only attachments existed have none
        opened = {k: open_refs(cipher, self.form, k, s) for k, s in getattr(self, "sealed_attachments", {}).items()}
        return {key: refs for key, refs in opened.items() if refs}

    def record(
        self,
        *,
        values: dict[str, Value],
        cipher: Cipher,
        actor: str,
        occurred_at: datetime,
        attachments: dict[str, Attachments] | None = None,
    ) -> None:
        """Seal and record the values, and the fields' attachments (each field's from now on), that differ from the
        current ones (checked by ``JointForm.update``)."""
        current = self.values(cipher)
        changed = {k: v for k, v in values.items() if k not in current or current[k] != v}
        attached = self.attachments(cipher)
        moved = {k: tuple(v) for k, v in (attachments or {}).items() if attached.get(k, ()) != tuple(v)}
        if changed or moved:
            sealed = {k: seal_value(cipher, self.form, k, v) for k, v in changed.items()}
            refs = {k: seal_refs(cipher, self.form, k, v) for k, v in moved.items()}
            self._recorded(form=self.form, changes=sealed, actor=actor, occurred_at=occurred_at, attachments=refs)

    @event("Recorded")
    def _recorded(
        self,
        *,
        form: UUID,
        changes: dict[str, Sealed],
        actor: str,
        occurred_at: datetime,
        attachments: dict[str, Sealed] | None = None,
    ) -> None:
        # ``attachments`` (field key → its attachments from now on, sealed) is None in events recorded before (upcast)
        self.sealed.update(changes)
        if not hasattr(self, "sealed_attachments"):
            self.sealed_attachments = {}
        self.sealed_attachments.update(attachments or {})
        self.last_occurred_at = occurred_at
