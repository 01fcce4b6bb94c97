"""Inspection read models (检查): one row per inspection and one per assessed checklist item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django.db import models
from eventsourcing.domain import Aggregate

from domain.inspection.aggregate import Inspection
from projections import bulk
from projections.base import Projector


class InspectionView(models.Model):
    id = models.UUIDField(primary_key=True)
    campaign = models.UUIDField("专项排查", db_index=True)
    school = models.UUIDField("学校", db_index=True)
    kind = models.CharField("检查类型", max_length=20)
    inspectors = models.JSONField("检查人员", default=list)
    leader_participated = models.BooleanField("领导参与", default=False)
    departments = models.JSONField("参与部门", default=list)
    status = models.CharField("状态", max_length=20, default="open")
    started_at = models.DateTimeField("检查时间")
    completed_at = models.DateTimeField("完成时间", null=True)
    recorded_by = models.CharField("记录人", max_length=150)
    version = models.IntegerField(default=0)

    class Meta:
        verbose_name = "检查"
        verbose_name_plural = "检查"
        ordering = ["-started_at"]


class AssessmentView(models.Model):
    inspection = models.ForeignKey(InspectionView, on_delete=models.CASCADE, related_name="assessments")
    item = models.CharField("检查项目", max_length=20)
    result = models.CharField("结果", max_length=20)
    note = models.TextField("说明", blank=True)
    assessed_at = models.DateTimeField("检查时间")
    assessed_by = models.CharField("检查人", max_length=150)

    class Meta:
        verbose_name = "检查项目结果"
        verbose_name_plural = "检查项目结果"
        ordering = ["item"]
        constraints = [models.UniqueConstraint(fields=["inspection", "item"], name="assessment_once_per_item")]


class InspectionProjector(Projector):
    """The handlers below, applied to a whole batch in memory and written in bulk."""

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        mine = [e for e in events if isinstance(e, Inspection.Event)]
        if not mine:
            return
        rows = bulk.by_pk(InspectionView, {e.originator_id for e in mine})
        stored = set(rows)
        changed: set[UUID] = set()
        assessments: dict[tuple[UUID, str], tuple[Any, ...]] = {}
        for event in mine:
            row = rows.get(event.originator_id)
            if isinstance(event, Inspection.Scheduled):
                if row is None:
                    rows[event.originator_id] = _scheduled(event)
                    changed.add(event.originator_id)
                continue
            if row is None or row.version != event.originator_version - 1 or type(event) not in self.handlers:
                continue  # not scheduled, already applied, or not for this read model
            row.version = event.originator_version
            changed.add(row.id)
            if isinstance(event, Inspection.ItemAssessed):
                key = (row.id, event.item)
                assessments[key] = (*key, event.result, event.note, event.occurred_at, event.actor)
            elif isinstance(event, Inspection.Completed):
                row.status, row.completed_at = "completed", event.occurred_at
        bulk.insert(InspectionView, INSPECTION_FIELDS, (_values(rows[i]) for i in changed if i not in stored))
        bulk.upsert(InspectionView, INSPECTION_FIELDS, (_values(rows[i]) for i in changed if i in stored), key=["id"])
        new = [a for a in assessments.values() if a[0] not in stored]  # of inspections scheduled in this batch
        bulk.insert(AssessmentView, ASSESSMENT_FIELDS, new)
        old = [a for a in assessments.values() if a[0] in stored]
        bulk.upsert(AssessmentView, ASSESSMENT_FIELDS, old, key=["inspection_id", "item"])


INSPECTION_FIELDS = [f.attname for f in InspectionView._meta.concrete_fields]
ASSESSMENT_FIELDS = ["inspection_id", "item", "result", "note", "assessed_at", "assessed_by"]


def _scheduled(event: Inspection.Scheduled) -> InspectionView:
    return InspectionView(
        id=event.originator_id,
        campaign=event.campaign,
        school=event.school,
        kind=event.kind,
        inspectors=list(event.inspectors),
        leader_participated=event.leader_participated,
        departments=list(event.departments),
        started_at=event.occurred_at,
        recorded_by=event.actor,
        version=event.originator_version,
    )


def _values(row: InspectionView) -> list[Any]:
    values = row.__dict__
    return [values[f] for f in INSPECTION_FIELDS]


projector = InspectionProjector("inspections", (AssessmentView, InspectionView))


@projector.on(Inspection.Scheduled)
def scheduled(event: Inspection.Scheduled) -> None:
    InspectionView.objects.get_or_create(
        id=event.originator_id,
        defaults={
            "campaign": event.campaign,
            "school": event.school,
            "kind": event.kind,
            "inspectors": list(event.inspectors),
            "leader_participated": event.leader_participated,
            "departments": list(event.departments),
            "started_at": event.occurred_at,
            "recorded_by": event.actor,
            "version": event.originator_version,
        },
    )


@projector.on(Inspection.ItemAssessed)
def item_assessed(event: Inspection.ItemAssessed) -> None:
    if _advance(event):
        AssessmentView.objects.update_or_create(
            inspection_id=event.originator_id,
            item=event.item,
            defaults={
                "result": event.result,
                "note": event.note,
                "assessed_at": event.occurred_at,
                "assessed_by": event.actor,
            },
        )


@projector.on(Inspection.Completed)
def completed(event: Inspection.Completed) -> None:
    if _advance(event):
        InspectionView.objects.filter(id=event.originator_id).update(status="completed", completed_at=event.occurred_at)


def _advance(event: Inspection.Event) -> bool:
    """True once per event: moves the row's version forward, False on replay."""
    return bool(
        InspectionView.objects.filter(id=event.originator_id, version=event.originator_version - 1).update(
            version=event.originator_version
        )
    )
