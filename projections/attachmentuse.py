"""Where each attachment is used: one row per attachment reference an event recorded (a hazard's photos as found,
its interim measures, the rectified place, the acceptance; an inspection item's assessment; a joint form's field),
with the school the referencing hazard, inspection or joint form belongs to. Who may see an attachment follows from it
(``projections.attachments.visible_attachment``): whoever may see one of those schools' hazards and inspections.

Attachments on a joint form's police-only content are sealed in its ``PoliceNotes`` (``domain.jointform.police``):
their rows are written from ``PoliceNotes.Recorded``, opened with the installation's police key as the joint-form
projection opens the values, with ``police_only`` set — so only users of police units see them.

Applied with the read models in each command's transaction, rebuilt from the log like them, cleared with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from django.db import models
from eventsourcing.domain import Aggregate

from domain.attachments import AttachmentRef
from domain.hazard.aggregate import Hazard
from domain.inspection.aggregate import Inspection
from domain.jointform.aggregate import JointForm
from domain.jointform.police import PoliceNotes
from projections.base import Projector, event_classes
from projections.hazard.rows import HazardLedger
from projections.inspections import InspectionView
from projections.jointforms import JointFormView
from projections.policekey import readable_refs

HAZARD = "hazard"
INSPECTION = "inspection"
JOINTFORM = "jointform"


class AttachmentUse(models.Model):
    attachment = models.UUIDField("附件", db_index=True)
    aggregate = models.UUIDField("隐患或检查")
    kind = models.CharField("类型", max_length=20)  # hazard | inspection | jointform
    version = models.IntegerField("事件版本")
    event = models.CharField("事件", max_length=50)
    school = models.UUIDField("学校", db_index=True)
    # attachments of police-only content (a joint form's, sealed in its ``PoliceNotes``): police units only
    police_only = models.BooleanField("仅公安可见", default=False)

    class Meta:
        verbose_name = verbose_name_plural = "附件引用"
        constraints = [
            models.UniqueConstraint(fields=["aggregate", "version", "attachment"], name="attachment_use_once")
        ]


def _carries_attachments(cls: type) -> bool:
    return "attachments" in getattr(cls, "__annotations__", {})


UseHandler = Callable[[list[Any], Any], None]


class AttachmentUseProjector(Projector[UseHandler]):
    """Every event class of hazards, inspections and joint forms that records attachments is handled, the others
    ignored (by their fields: a new event class with attachments is handled from the day it exists); a joint form's
    ``PoliceNotes.Recorded`` too, its sealed attachments opened."""

    def apply(self, event: Aggregate.Event) -> None:
        self.apply_batch([event])

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        referencing: list[Any] = []
        for event in events:
            handler = self.handler_for(event)
            if handler is not None:
                handler(referencing, event)
        if not referencing:
            return
        schools = _schools(referencing)
        rows = [
            AttachmentUse(
                attachment=ref.id,
                aggregate=e.originator_id,
                kind=_kind(e),
                version=e.originator_version,
                event=type(e).__name__,
                school=schools[e.originator_id],
                police_only=isinstance(e, PoliceNotes.Event),
            )
            for e in referencing
            for ref in _refs_of(e)
        ]
        AttachmentUse.objects.bulk_create(rows, ignore_conflicts=True)  # a replayed event changes nothing


def _kind(event: Aggregate.Event) -> str:
    if isinstance(event, Hazard.Event):
        return HAZARD
    return JOINTFORM if isinstance(event, JointForm.Event | PoliceNotes.Event) else INSPECTION


def _refs_of(event: Any) -> list[AttachmentRef]:
    if isinstance(event, PoliceNotes.Event):  # sealed: opened with the police key
        return _refs(readable_refs(event.form, event.attachments))
    return _refs(event.attachments)


def _refs(attachments: Any) -> list[AttachmentRef]:
    """An event's refs: a list (hazards, inspections) or field key → list (a joint form's fields)."""
    if isinstance(attachments, dict):
        return [ref for refs in attachments.values() for ref in refs]
    return list(attachments)


def referenced(referencing: list[Any], event: Any) -> None:
    if getattr(event, "attachments", ()):  # absent from events recorded before attachments existed
        referencing.append(event)


def _schools(events: Sequence[Aggregate.Event]) -> dict[UUID, UUID]:
    """The school of each event's hazard or inspection: from its first event when in the batch, else its row
    (the hazard, inspection and joint-form projectors come first in every batch)."""
    first = Hazard.Discovered | Inspection.Scheduled | JointForm.Opened | PoliceNotes.Opened
    schools = {e.originator_id: e.school for e in events if isinstance(e, first)}
    notes = {e.originator_id: e.form for e in events if isinstance(e, PoliceNotes.Event)}  # their form's school
    forms = {e.originator_id: e.school for e in events if isinstance(e, JointForm.Opened)}
    missing = {form for n, form in notes.items() if n not in schools and form not in forms}
    forms.update(JointFormView.objects.filter(id__in=missing).values_list("id", "school"))
    schools.update({n: forms[form] for n, form in notes.items() if n not in schools})
    wanted = {e.originator_id for e in events} - set(schools)
    if wanted:
        hazards = HazardLedger.objects.filter(id__in=wanted).values_list("id", "school")
        inspections = InspectionView.objects.filter(id__in=wanted).values_list("id", "school")
        forms = JointFormView.objects.filter(id__in=wanted).values_list("id", "school")
        schools.update(hazards)
        schools.update(inspections)
        schools.update(forms)
    return schools


projector = AttachmentUseProjector(
    "attachment_uses", (AttachmentUse,), consumes=(Hazard, Inspection, JointForm, PoliceNotes)
)
projector.on(PoliceNotes.Recorded)(referenced)  # ``attachments``: sealed (absent from events recorded before)
projector.ignore(PoliceNotes.Opened)
for _aggregate in (Hazard, Inspection, JointForm):
    for _cls in event_classes(_aggregate):
        if _carries_attachments(_cls):
            projector.on(_cls)(referenced)
        else:
            projector.ignore(_cls)
