"""The police-side mirror (公安机关留存): its own copy of joint forms, police-only notes and the integrity trail.

Fed only by the Kafka envelopes (the ``police-mirror`` consumer group), never by the education side's read
models: the police keep the forms as they were filled, signed and submitted — sensitive notes included, opened
from the sealed ``PoliceNotes`` events with the police key — the chain hash of every event they were sent, and
the signed checkpoints, each checked against the public key and against the hashes received (dual custody,
DESIGN §3).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import models

from domain.eventinfo import plain, type_word
from domain.jointform.aggregate import JointForm
from domain.jointform.police import PoliceNotes
from projections.base import Handlers, UnhandledEvent, event_classes
from projections.integrity import signature_valid
from projections.policekey import readable, readable_refs
from projections.signingkeys import PoliceSigningKey

FORM_AGGREGATE = "JointForm"
NOTES_AGGREGATE = "PoliceNotes"  # a form's sealed police-only content (domain.jointform.police)


class PoliceFormMirror(models.Model):
    id = models.UUIDField(primary_key=True)
    campaign = models.UUIDField()
    school = models.UUIDField(db_index=True)
    station = models.UUIDField(db_index=True)
    fields = models.JSONField("栏目（含公安机关专用）", default=dict)
    signatures = models.JSONField("签字", default=dict)
    status = models.CharField("状态", max_length=20, default="draft")
    version = models.IntegerField()
    last_position = models.BigIntegerField()
    last_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "公安侧报表副本"
        verbose_name_plural = "公安侧报表副本"


class PoliceEventCopy(models.Model):
    """Every event the police side received: its position and chain hash; the joint form's ones in full."""

    position = models.BigIntegerField(primary_key=True)
    originator_id = models.UUIDField()
    originator_version = models.IntegerField()
    type = models.CharField(max_length=60)
    hash = models.CharField(max_length=64)
    data = models.JSONField(null=True)  # only for joint-form events
    # The photos and documents the event recorded, as it recorded them: id, both SHA-256s, size, type (every event)
    attachments = models.JSONField("附件（哈希）", default=list)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "公安侧事件副本"
        verbose_name_plural = "公安侧事件副本"


class PoliceCheckpoint(models.Model):
    position = models.BigIntegerField(primary_key=True)
    hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    public_key = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16, default="")
    signed_at = models.DateTimeField()
    signature_valid = models.BooleanField()  # under the key this side kept for key_id, within its positions
    matches_received = models.BooleanField(null=True)  # None: the event at that position was not received yet

    class Meta:
        verbose_name = "公安侧检查点副本"
        verbose_name_plural = "公安侧检查点副本"


MODELS = (PoliceCheckpoint, PoliceEventCopy, PoliceFormMirror, PoliceSigningKey)


def apply_event(envelope: dict[str, Any]) -> None:
    """Keep one event envelope (idempotent: a position already kept changes nothing)."""
    is_form = envelope.get("aggregate") in (FORM_AGGREGATE, NOTES_AGGREGATE)
    _, created = PoliceEventCopy.objects.get_or_create(
        position=envelope["position"],
        defaults={
            "originator_id": envelope["originator_id"],
            "originator_version": envelope["originator_version"],
            "type": envelope.get("type", ""),
            "hash": envelope["hash"],
            "data": envelope.get("data") if is_form else None,
            "attachments": _attachments(envelope),
        },
    )
    if created and is_form:
        _apply_form(envelope)
    if created:
        for checkpoint in PoliceCheckpoint.objects.filter(position=envelope["position"]):
            checkpoint.matches_received = checkpoint.hash == envelope["hash"]
            checkpoint.save(update_fields=["matches_received"])


def _attachments(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """The refs in the envelope's plain data (``domain.eventinfo.plain`` of each ``AttachmentRef``), as sent: a list
    (a hazard's, an inspection's) or field key → list (a joint form's, each ref with its ``field``); a form's
    police-only ones are sealed in its ``PoliceNotes`` and opened here with the police key."""
    data = envelope.get("data") or {}
    refs = data.get("attachments") or []
    keys = ("id", "sha256", "sha256_original", "size", "content_type")
    if envelope.get("aggregate") == NOTES_AGGREGATE and isinstance(refs, dict):
        opened = readable_refs(data["form"], refs)
        refs = {key: [plain(ref) for ref in field_refs] for key, field_refs in opened.items()}
    if isinstance(refs, dict):
        fields = [(key, ref) for key, field_refs in refs.items() for ref in field_refs or ()]
        return [{**{k: ref.get(k) for k in keys}, "field": key} for key, ref in fields if isinstance(ref, dict)]
    return [{k: ref.get(k) for k in keys} for ref in refs if isinstance(ref, dict)]


# The form's events, by class like every projector's (``projections.base``), found from the envelope's aggregate and
# type word. A form handler gets the form one version behind the event (None if there is none: a replay, or an
# event whose predecessors were not received) and moves it on; a note handler gets the envelope alone.
MirrorHandler = Callable[[PoliceFormMirror | None, dict[str, Any]], None]
handlers: Handlers[MirrorHandler] = Handlers("policemirror", (JointForm, PoliceNotes))
CLASS_OF = {(a.__name__, type_word(c)): c for a in (JointForm, PoliceNotes) for c in event_classes(a)}


def _apply_form(envelope: dict[str, Any]) -> None:
    cls = CLASS_OF.get((envelope["aggregate"], envelope["type"]))
    if cls is None:
        raise UnhandledEvent(f"policemirror: no event class {envelope['aggregate']}.{envelope['type']}")
    handler = handlers.handler_of(cls)
    if handler is None:
        return
    if envelope["aggregate"] == NOTES_AGGREGATE or cls is JointForm.Opened:
        handler(None, envelope)
        return
    form = PoliceFormMirror.objects.filter(
        id=envelope["originator_id"], version=envelope["originator_version"] - 1
    ).first()
    if form is None:
        return
    handler(form, envelope)
    form.version, form.last_position, form.last_hash = (
        envelope["originator_version"],
        envelope["position"],
        envelope["hash"],
    )
    form.updated_at = datetime.fromisoformat(envelope["recorded_at"])
    form.save()


@handlers.on(JointForm.Opened)
def opened(_: PoliceFormMirror | None, envelope: dict[str, Any]) -> None:
    data = envelope["data"]
    PoliceFormMirror.objects.get_or_create(
        id=envelope["originator_id"],
        defaults={
            "campaign": data["campaign"],
            "school": data["school"],
            "station": data["station"],
            "version": envelope["originator_version"],
            "last_position": envelope["position"],
            "last_hash": envelope["hash"],
            "updated_at": datetime.fromisoformat(envelope["recorded_at"]),
        },
    )


@handlers.on(JointForm.FieldsUpdated)
def fields_updated(form: Any, envelope: dict[str, Any]) -> None:
    form.fields.update(envelope["data"]["changes"])


@handlers.on(JointForm.Signed)
def signed(form: Any, envelope: dict[str, Any]) -> None:
    data = envelope["data"]
    form.signatures[data["role"]] = {"signer": envelope["actor"], "content_hash": data["content_hash"]}
    if {"school_principal", "station_chief"} <= set(form.signatures):
        form.status = "signed"


@handlers.on(JointForm.SignatureVoided)
def signature_voided(form: Any, envelope: dict[str, Any]) -> None:
    form.signatures.pop(envelope["data"]["role"], None)
    form.status = "draft"


@handlers.on(JointForm.Submitted)
def submitted(form: Any, envelope: dict[str, Any]) -> None:
    form.status = "submitted"


handlers.ignore(PoliceNotes.Opened)  # nothing to keep until values are recorded


@handlers.on(PoliceNotes.Recorded)
def notes_recorded(_: PoliceFormMirror | None, envelope: dict[str, Any]) -> None:
    """Police-only values, opened with the police key; the form's own version and chain link stay the form's."""
    form = PoliceFormMirror.objects.filter(id=envelope["data"]["form"]).first()
    if form is not None:
        form.fields.update(readable(form.id, envelope["data"]["changes"]))
        form.updated_at = datetime.fromisoformat(envelope["recorded_at"])
        form.save(update_fields=["fields", "updated_at"])


def apply_checkpoint(checkpoint: dict[str, Any]) -> None:
    received = PoliceEventCopy.objects.filter(position=checkpoint["position"]).values_list("hash", flat=True).first()
    PoliceCheckpoint.objects.get_or_create(
        position=checkpoint["position"],
        defaults={
            "hash": checkpoint["hash"],
            "signature": checkpoint["signature"],
            "public_key": checkpoint["public_key"],
            "key_id": checkpoint.get("key_id") or "",
            "signed_at": datetime.fromisoformat(checkpoint["signed_at"]),
            "signature_valid": _valid_here(checkpoint),
            "matches_received": None if received is None else received == checkpoint["hash"],
        },
    )


def _valid_here(checkpoint: dict[str, Any]) -> bool:
    """The signature, under the public key this side kept for the checkpoint's key id and within that key's
    positions (a checkpoint of a key not received yet: under the public key it names, as before key ids)."""
    position, public = checkpoint["position"], checkpoint["public_key"]
    key = PoliceSigningKey.objects.filter(key_id=checkpoint.get("key_id") or "").first()
    if key is not None:
        if key.public_key != public:
            return False
        if position < key.valid_from_position:
            return False
        for end in (key.valid_until_position, key.compromised_after_position):
            if end is not None and position > end:
                return False
    return signature_valid(position, checkpoint["hash"], checkpoint["signature"], public)


def apply_key(record: dict[str, Any]) -> None:
    """Keep one key record of the education side's registry (idempotent: an older or equal revision changes
    nothing). A key's end or compromise never moves later here: the police side keeps the stricter of what it was
    sent, so a rewritten registry on the education side cannot widen it. Checkpoints it kept that the key may no
    longer vouch for are marked invalid."""
    key = PoliceSigningKey.objects.filter(key_id=record["key_id"]).first()
    if key is not None and key.revision >= record["revision"]:
        return
    if key is None:
        key = PoliceSigningKey(key_id=record["key_id"], public_key=record["public_key"])
    key.valid_from_position = max(key.valid_from_position or 0, record["valid_from_position"])
    key.valid_until_position = _earliest(key.valid_until_position, record["valid_until_position"])
    key.compromised_after_position = _earliest(key.compromised_after_position, record["compromised_after_position"])
    key.revision = record["revision"]
    key.save()
    for checkpoint in PoliceCheckpoint.objects.filter(key_id=key.key_id, signature_valid=True):
        if not _valid_here(
            {
                "position": checkpoint.position,
                "hash": checkpoint.hash,
                "signature": checkpoint.signature,
                "public_key": checkpoint.public_key,
                "key_id": checkpoint.key_id,
            }
        ):
            checkpoint.signature_valid = False
            checkpoint.save(update_fields=["signature_valid"])


def _earliest(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None
