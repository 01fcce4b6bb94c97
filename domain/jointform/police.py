"""A joint form's police-only content (涉及保密、敏感信息), sealed under the police-held key, in a stream of its own.

Every stored event is hash-chained (DESIGN §3) and an education user sees many of those hashes, so a value
stored in plaintext can be confirmed offline by rebuilding the event's bytes around a guess. Police-only values
are therefore recorded only as AES-GCM ciphertext (random nonce, plaintext padded to one fixed size, so neither
the bytes nor their length say anything about the text), and in ``PoliceNotes`` — not in the ``JointForm`` — so a
police edit of them moves neither the form's version nor its history. The cipher is a port: the domain states
what is sealed and how it is padded; the key and the algorithm live outside (``projections.policekey``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

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
    text = json.dumps(value, ensure_ascii=False).encode()
    blocks = -(-(len(text) + 1) // PADDED_SIZE)
    return cipher.seal((text + PADDING_MARK).ljust(blocks * PADDED_SIZE, b"\x00"), _place(form, key))


def open_value(cipher: Cipher, form: UUID, key: str, sealed: Mapping[str, str]) -> Value:
    padded = cipher.open(sealed, _place(form, key))
    value: Value = json.loads(padded.rstrip(b"\x00")[: -len(PADDING_MARK)])
    return value


def is_sealed(value: Any) -> bool:
    """A sealed value (new events), as against plaintext written before sealing existed (old events)."""
    return isinstance(value, dict) and "ct" in value and "nonce" in value


def _place(form: UUID, key: str) -> bytes:
    return f"school-safety/police-notes/{form}/{key}".encode()


class PoliceNotes(Aggregate):
    """The police-only values of one joint form; the form's own rules (party, lock) are checked by the form."""

    @staticmethod
    def create_id(form: UUID, **_: object) -> UUID:
        return notes_id(form)

    @event("Opened")
    def __init__(self, *, form: UUID, school: UUID, station: UUID, actor: str, occurred_at: datetime) -> None:
        self.form, self.school, self.station = form, school, station
        self.sealed: dict[str, Sealed] = {}
        self.last_occurred_at = occurred_at

    def values(self, cipher: Cipher) -> dict[str, Value]:
        return {key: open_value(cipher, self.form, key, sealed) for key, sealed in self.sealed.items()}

    def record(self, *, values: dict[str, Value], cipher: Cipher, actor: str, occurred_at: datetime) -> None:
        """Seal and record the values that differ from the current ones (checked by ``JointForm.update``)."""
        current = self.values(cipher)
        changed = {k: v for k, v in values.items() if k not in current or current[k] != v}
        if changed:
            sealed = {k: seal_value(cipher, self.form, k, v) for k, v in changed.items()}
            self._recorded(form=self.form, changes=sealed, actor=actor, occurred_at=occurred_at)

    @event("Recorded")
    def _recorded(self, *, form: UUID, changes: dict[str, Sealed], actor: str, occurred_at: datetime) -> None:
        self.sealed.update(changes)
        self.last_occurred_at = occurred_at
