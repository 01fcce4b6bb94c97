"""The police-side mirror (公安机关留存): its own copy of joint forms, police-only notes and the integrity trail.

Fed only by the Kafka envelopes (the ``police-mirror`` consumer group), never by the education side's read
models: the police keep the forms as they were filled, signed and submitted — sensitive notes included, opened
from the sealed ``PoliceNotes`` events with the police key — the chain hash of every event they were sent, and
the signed checkpoints, each checked against the public key and against the hashes received (dual custody,
DESIGN §3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models

from projections.integrity import signature_valid
from projections.policekey import readable

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
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "公安侧事件副本"
        verbose_name_plural = "公安侧事件副本"


class PoliceCheckpoint(models.Model):
    position = models.BigIntegerField(primary_key=True)
    hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    public_key = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    signature_valid = models.BooleanField()
    matches_received = models.BooleanField(null=True)  # None: the event at that position was not received yet

    class Meta:
        verbose_name = "公安侧检查点副本"
        verbose_name_plural = "公安侧检查点副本"


MODELS = (PoliceCheckpoint, PoliceEventCopy, PoliceFormMirror)


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
        },
    )
    if created and is_form:
        _apply_form(envelope)
    if created:
        for checkpoint in PoliceCheckpoint.objects.filter(position=envelope["position"]):
            checkpoint.matches_received = checkpoint.hash == envelope["hash"]
            checkpoint.save(update_fields=["matches_received"])


def _apply_form(envelope: dict[str, Any]) -> None:
    data, kind = envelope["data"], envelope["type"]
    if envelope.get("aggregate") == NOTES_AGGREGATE:
        _apply_notes(envelope)
        return
    recorded_at = datetime.fromisoformat(envelope["recorded_at"])
    if kind == "opened":
        PoliceFormMirror.objects.get_or_create(
            id=envelope["originator_id"],
            defaults={
                "campaign": data["campaign"],
                "school": data["school"],
                "station": data["station"],
                "version": envelope["originator_version"],
                "last_position": envelope["position"],
                "last_hash": envelope["hash"],
                "updated_at": recorded_at,
            },
        )
        return
    form = PoliceFormMirror.objects.filter(
        id=envelope["originator_id"], version=envelope["originator_version"] - 1
    ).first()
    if form is None:
        return
    if kind == "fields_updated":
        form.fields.update(data["changes"])
    elif kind == "signed":
        form.signatures[data["role"]] = {"signer": envelope["actor"], "content_hash": data["content_hash"]}
        if {"school_principal", "station_chief"} <= set(form.signatures):
            form.status = "signed"
    elif kind == "signature_voided":
        form.signatures.pop(data["role"], None)
        form.status = "draft"
    elif kind == "submitted":
        form.status = "submitted"
    form.version, form.last_position, form.last_hash = (
        envelope["originator_version"],
        envelope["position"],
        envelope["hash"],
    )
    form.updated_at = recorded_at
    form.save()


def _apply_notes(envelope: dict[str, Any]) -> None:
    """Police-only values, opened with the police key; the form's own version and chain link stay the form's."""
    if envelope["type"] != "recorded":
        return
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
            "signed_at": datetime.fromisoformat(checkpoint["signed_at"]),
            "signature_valid": signature_valid(
                checkpoint["position"], checkpoint["hash"], checkpoint["signature"], checkpoint["public_key"]
            ),
            "matches_received": None if received is None else received == checkpoint["hash"],
        },
    )
