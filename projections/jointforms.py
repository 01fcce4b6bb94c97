"""Joint form read models (常州 附件1): the form as filled and signed, and the copies sent to each line.

Police-only content (``sensitive_notes``) lives in its own column and its own copy, so no education-side query
ever selects it by accident. The log holds it sealed (``PoliceNotes``); it is opened here with the police key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import models

from domain.eventinfo import plain
from domain.jointform.aggregate import JointForm, canonical
from domain.jointform.police import POLICE_ONLY, PoliceNotes
from domain.timerules import beijing_iso
from projections.base import Handler, Projector
from projections.policekey import readable, readable_refs


class JointFormView(models.Model):
    id = models.UUIDField(primary_key=True)
    campaign = models.UUIDField(db_index=True)
    school = models.UUIDField(db_index=True)
    station = models.UUIDField(db_index=True)
    fields = models.JSONField("栏目", default=dict)  # never holds police-only keys
    police_only = models.JSONField("公安机关专用", default=dict)
    # field key → its attachments (``AttachmentRef.as_dict``, ids as text); never a police-only key
    attachments = models.JSONField("栏目附件", default=dict)
    # the police-only fields' attachments (opened from ``PoliceNotes``), as ``attachments``: police users only
    police_attachments = models.JSONField("公安专属附件", default=dict)
    signatures = models.JSONField("签字", default=dict)
    frozen_counts = models.JSONField("签字时的统计数", null=True)  # set when both have signed
    status = models.CharField("状态", max_length=20, default="draft")
    opened_by = models.CharField(max_length=150)
    opened_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True)
    submission = models.UUIDField("报送记录", null=True)  # the submission holding the copies' bytes (报送回执)
    updated_at = models.DateTimeField()
    version = models.IntegerField(default=0)
    police_version = models.IntegerField(default=0)  # of the form's PoliceNotes stream

    class Meta:
        verbose_name = "学校及周边安全排查整改情况报表"
        verbose_name_plural = "学校及周边安全排查整改情况报表"
        constraints = [models.UniqueConstraint(fields=["campaign", "school"], name="one_form_per_school")]


class JointFormCopy(models.Model):
    """The exact content sent to one line at submission: education (no police-only content) or police."""

    form = models.ForeignKey(JointFormView, on_delete=models.CASCADE, related_name="copies")
    line = models.CharField(max_length=20)  # education | police
    content = models.JSONField()
    sha256 = models.CharField(max_length=64)
    submitted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["form", "line"], name="one_copy_per_line")]


projector: Projector[Handler] = Projector(
    "jointforms", (JointFormCopy, JointFormView), consumes=(JointForm, PoliceNotes)
)


@projector.on(JointForm.Opened)
def opened(event: Any) -> None:
    JointFormView.objects.get_or_create(
        id=event.originator_id,
        defaults={
            "campaign": event.campaign,
            "school": event.school,
            "station": event.station,
            "opened_by": event.actor,
            "opened_at": event.occurred_at,
            "updated_at": event.timestamp,
            "version": event.originator_version,
        },
    )


def _advance(event: Any) -> JointFormView | None:
    row = JointFormView.objects.filter(id=event.originator_id, version=event.originator_version - 1).first()
    if row is not None:
        row.version, row.updated_at = event.originator_version, event.timestamp
    return row


@projector.on(JointForm.FieldsUpdated)
def fields_updated(event: Any) -> None:
    if row := _advance(event):
        for key, value in event.changes.items():
            (row.police_only if key in POLICE_ONLY else row.fields)[key] = value
        for key, refs in (getattr(event, "attachments", None) or {}).items():  # absent from events before
            if refs:
                row.attachments[key] = [plain(ref) for ref in refs]
            else:
                row.attachments.pop(key, None)
        row.save()


@projector.on(PoliceNotes.Opened)
def police_notes_opened(event: Any) -> None:
    JointFormView.objects.filter(id=event.form, police_version=0).update(police_version=event.originator_version)


@projector.on(PoliceNotes.Recorded)
def police_notes_recorded(event: Any) -> None:
    row = JointFormView.objects.filter(id=event.form, police_version=event.originator_version - 1).first()
    if row is not None:
        row.police_only.update(readable(event.form, event.changes))
        for key, refs in readable_refs(event.form, getattr(event, "attachments", None)).items():
            if refs:
                row.police_attachments[key] = [plain(ref) for ref in refs]
            else:
                row.police_attachments.pop(key, None)
        row.police_version = event.originator_version
        row.save(update_fields=["police_only", "police_attachments", "police_version"])


@projector.on(JointForm.SignatureVoided)
def signature_voided(event: Any) -> None:
    if row := _advance(event):
        voided = row.signatures.pop(event.role, None)
        row.signatures[f"voided:{event.role}:{event.originator_version}"] = {
            **(voided or {}),
            "role": event.role,
            "voided": True,
            "reason": event.reason,
        }
        row.status = "draft"
        row.save()


@projector.on(JointForm.Signed)
def signed(event: Any) -> None:
    if row := _advance(event):
        row.signatures[event.role] = {
            "signer": event.actor,
            "content_hash": event.content_hash,
            "signed_at": beijing_iso(event.occurred_at),
        }
        if all(role in row.signatures for role in ("school_principal", "station_chief")):
            row.status, row.frozen_counts = "signed", event.counts
        row.save()


@projector.on(JointForm.Submitted)
def submitted(event: Any) -> None:
    if row := _advance(event):
        row.status, row.submitted_at = "submitted", event.occurred_at
        row.submission = getattr(event, "submission", None)  # None for forms submitted before it existed
        row.save()
        education = copy_content(row, event.counts, event.content_hash, police=False)
        police = copy_content(row, event.counts, event.content_hash, police=True)
        for line, content in (("education", education), ("police", police)):
            JointFormCopy.objects.get_or_create(
                form=row,
                line=line,
                defaults={
                    "content": content,
                    "sha256": hashlib.sha256(canonical(content)).hexdigest(),
                    "submitted_at": event.occurred_at,
                },
            )


def copy_content(row: JointFormView, counts: dict[str, int], content_hash: str, *, police: bool) -> dict[str, Any]:
    fields = {**row.fields, **(row.police_only if police else {})}
    attachments = {**row.attachments, **(row.police_attachments if police else {})}
    return {
        "form": str(row.id),
        "campaign": str(row.campaign),
        "school": str(row.school),
        "station": str(row.station),
        "fields": fields,
        # only when some field has attachments: a copy without them reads as copies did before they existed
        **({"attachments": attachments} if attachments else {}),
        "counts": counts,
        "content_hash": content_hash,
        "signatures": {role: s for role, s in row.signatures.items() if not role.startswith("voided:")},
    }
