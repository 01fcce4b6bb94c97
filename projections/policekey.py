"""The police-held key (``POLICE_CONTENT_KEY``): AES-GCM for the police-only content of the log.

The domain says what is sealed (``domain.jointform.police``); this is the algorithm and the key. A ciphertext is
``{"enc": "aes-gcm", "kid", "nonce", "ct"}``: a fresh random 96-bit nonce each time, so sealing the same text
twice gives unrelated bytes, and ``kid`` names the key (the first 8 bytes of its SHA-256) for a later rotation.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from domain.attachments import Attachments
from domain.jointform.police import POLICE_ONLY, Sealed, Value, is_sealed, open_refs, open_value

ALGORITHM = "aes-gcm"


class PoliceKeyError(ValueError):
    """A ciphertext this key cannot open: another key, another place, or altered bytes."""


class AesGcmCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("POLICE_CONTENT_KEY must be 32 bytes (64 hex characters)")
        self._aead = AESGCM(key)
        self.kid = hashlib.sha256(key).hexdigest()[:16]

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext, associated)
        return {"enc": ALGORITHM, "kid": self.kid, "nonce": _b64(nonce), "ct": _b64(ct)}

    def open(self, sealed: Mapping[str, str], associated: bytes) -> bytes:
        if sealed.get("enc") != ALGORITHM or sealed.get("kid") != self.kid:
            raise PoliceKeyError(f"sealed with {sealed.get('enc')!r} under key {sealed.get('kid')!r}, not this key")
        try:
            return self._aead.decrypt(base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ct"]), associated)
        except (InvalidTag, ValueError, KeyError) as exc:
            raise PoliceKeyError("police-only content does not open with this key (altered or misplaced)") from exc


def police_cipher() -> AesGcmCipher:
    """The cipher under the key from settings (production refuses a missing or development key)."""
    return AesGcmCipher(bytes.fromhex(settings.POLICE_CONTENT_KEY))


def readable(form: UUID, changes: Mapping[str, Any]) -> dict[str, Value]:
    """Police-only values of an event as text: sealed ones opened, plaintext ones (old events) as they are."""
    cipher = police_cipher()
    return {
        key: open_value(cipher, form, key, value) if is_sealed(value) else value
        for key, value in changes.items()
        if key in POLICE_ONLY
    }


def readable_refs(form: UUID, sealed: Mapping[str, Any] | None) -> dict[str, Attachments]:
    """The police-only fields' attachments a ``PoliceNotes.Recorded`` event sealed (field key → its attachments from
    then on, ``()`` where they were removed), opened; ``{}`` for events recorded before they existed."""
    cipher = police_cipher()
    return {key: open_refs(cipher, form, key, value) for key, value in (sealed or {}).items() if key in POLICE_ONLY}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
