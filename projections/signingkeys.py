"""The keys that sign the checkpoints (issue 18 §4): the registry, the police-side mirror's copy, and their terms.

Private keys never enter the database: the configured ``INTEGRITY_SIGNING_KEY`` (environment or ``var/keys.json``)
signs, as before. The registry (``SigningKey``) holds each key's public half, its key id (the first 16 hex digits of
the SHA-256 of the raw public key, so anyone can recompute it) and the log positions it may sign:
``valid_from_position``..``valid_until_position`` (open for the current key), and ``compromised_after_position``
once it is marked compromised. Every change takes the next ``revision``; the relay publishes the rows above its own
``relay-keys`` position on the checkpoints topic and the police-side mirror keeps its copy in ``PoliceSigningKey``.

``terms()`` merges both copies, the stricter one winning (earliest end, earliest compromise, both public keys equal):
a holder of a compromised key who also rewrites the education side's registry cannot widen what the police side
kept. Everything is judged by log position, never by a time the key itself signed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import models
from django.db.models import Max

from domain.timerules import beijing_iso

RECORD = "signing_key"  # the ``record`` field of a key message on the checkpoints topic


class KeyProblem(ValueError):
    """A rotation or a compromise mark that cannot be made (the message is for the operator, in Chinese)."""


class SigningKey(models.Model):
    key_id = models.CharField("密钥编号", max_length=16, primary_key=True)
    public_key = models.CharField("公钥", max_length=64, unique=True)
    valid_from_position = models.BigIntegerField("有效起始日志位置")
    valid_until_position = models.BigIntegerField("有效截止日志位置", null=True)  # None: the current key
    compromised_after_position = models.BigIntegerField("泄露起始日志位置", null=True)
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True)
    compromised_marked_at = models.DateTimeField(null=True)
    revision = models.BigIntegerField(unique=True)  # the relay publishes the rows above its position

    class Meta:
        verbose_name = "检查点签名密钥"
        verbose_name_plural = "检查点签名密钥"

    def as_dict(self) -> dict[str, Any]:
        return {
            "record": RECORD,
            "key_id": self.key_id,
            "algorithm": "Ed25519",
            "public_key": self.public_key,
            "valid_from_position": self.valid_from_position,
            "valid_until_position": self.valid_until_position,
            "compromised_after_position": self.compromised_after_position,
            "created_at": beijing_iso(self.created_at),
            "retired_at": beijing_iso(self.retired_at) if self.retired_at else None,
            "compromised_marked_at": beijing_iso(self.compromised_marked_at) if self.compromised_marked_at else None,
            "revision": self.revision,
        }


class PoliceSigningKey(models.Model):
    """The police-side mirror's copy of the key history (fed only by the ``police-mirror`` consumer group)."""

    key_id = models.CharField(max_length=16, primary_key=True)
    public_key = models.CharField(max_length=64)
    valid_from_position = models.BigIntegerField()
    valid_until_position = models.BigIntegerField(null=True)
    compromised_after_position = models.BigIntegerField(null=True)
    revision = models.BigIntegerField()
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "公安侧签名密钥副本"
        verbose_name_plural = "公安侧签名密钥副本"


def key_id_of(public_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def public_of(seed_hex: str) -> str:
    """The public key of an Ed25519 seed (32 bytes, hex); KeyProblem if it is not one."""
    try:
        seed = bytes.fromhex(seed_hex.strip())
        if len(seed) != 32:
            raise ValueError("not 32 bytes")
        private = Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError as exc:
        raise KeyProblem("新私钥必须是 64 位十六进制字符（32 字节 Ed25519 种子）") from exc
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def next_revision() -> int:
    return (SigningKey.objects.aggregate(m=Max("revision"))["m"] or 0) + 1


@dataclass(frozen=True)
class Terms:
    """What one key may sign, as both copies agree (the stricter where they differ)."""

    key_id: str
    public_key: str | None  # None: the two copies name different public keys
    valid_from: int
    valid_until: int | None
    compromised_after: int | None

    def covers(self, position: int) -> bool:
        return self.valid_from <= position and (self.valid_until is None or position <= self.valid_until)


def _earliest(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def terms() -> dict[str, Terms]:
    fields = ("key_id", "public_key", "valid_from_position", "valid_until_position", "compromised_after_position")
    local = {row[0]: row for row in SigningKey.objects.values_list(*fields)}
    mirror = {row[0]: row for row in PoliceSigningKey.objects.values_list(*fields)}
    merged = {}
    for key_id in local.keys() | mirror.keys():
        rows = [r for r in (local.get(key_id), mirror.get(key_id)) if r is not None]
        publics = {r[1] for r in rows}
        merged[key_id] = Terms(
            key_id=key_id,
            public_key=publics.pop() if len(publics) == 1 else None,
            valid_from=max(r[2] for r in rows),
            valid_until=_earliest(*(r[3] for r in rows)),
            compromised_after=_earliest(*(r[4] for r in rows)),
        )
    return merged
