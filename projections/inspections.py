"""Inspection read models (检查): one row per inspection and one per assessed checklist item."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


class Batch:
    """The inspections a batch of events touches, loaded once, changed in memory by the handlers below."""

    def __init__(self, events: Sequence[Aggregate.Event]) -> None:
        self.rows = bulk.by_pk(InspectionView, {e.originator_id for e in events})
        self.stored = set(self.rows)
        self.changed: set[UUID] = set()
        self.assessments: dict[tuple[UUID, str], tuple[Any, ...]] = {}

    def advance(self, event: Any) -> InspectionView | None:
        """The inspection before this event, moved to its version; None if not scheduled or already applied."""
        row = self.rows.get(event.originator_id)
        if row is None or row.version != event.originator_version - 1:
            return None
        row.version = event.originator_version
        self.changed.add(row.id)
        return row

    def write(self) -> None:
        rows, stored, changed = self.rows, self.stored, self.changed
        bulk.insert(InspectionView, INSPECTION_FIELDS, (_values(rows[i]) for i in changed if i not in stored))
        bulk.upsert(InspectionView, INSPECTION_FIELDS, (_values(rows[i]) for i in changed if i in stored), key=["id"])
        new = [a for a in self.assessments.values() if a[0] not in stored]  # of inspections scheduled in this batch
        bulk.insert(AssessmentView, ASSESSMENT_FIELDS, new)
        old = [a for a in self.assessments.values() if a[0] in stored]
        bulk.upsert(AssessmentView, ASSESSMENT_FIELDS, old, key=["inspection_id", "item"])


InspectionHandler = Callable[[Batch, Any], None]


class InspectionProjector(Projector[InspectionHandler]):
    """The handlers below, applied to a whole batch in memory and written in bulk."""

    def apply(self, event: Aggregate.Event) -> None:
        self.apply_batch([event])

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        mine = [e for e in events if isinstance(e, Inspection.Event)]
        if not mine:
            return
        batch = Batch(mine)
        for event in mine:
            handler = self.handler_for(event)
            if handler is not None:
                handler(batch, event)
            else:  # ignored: a row takes only the event one version ahead of it
                batch.advance(event)
        batch.write()


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


projector = InspectionProjector("inspections", (AssessmentView, InspectionView), consumes=(Inspection,))


@projector.on(Inspection.Scheduled)
def scheduled(batch: Batch, event: Inspection.Scheduled) -> None:
    if event.originator_id not in batch.rows:
        batch.rows[event.originator_id] = _scheduled(event)
        batch.changed.add(event.originator_id)


@projector.on(Inspection.ItemAssessed)
def item_assessed(batch: Batch, event: Inspection.ItemAssessed) -> None:
    if row := batch.advance(event):
        key = (row.id, event.item)
        batch.assessments[key] = (*key, event.result, event.note, event.occurred_at, event.actor)


@projector.on(Inspection.Completed)
def completed(batch: Batch, event: Inspection.Completed) -> None:
    if row := batch.advance(event):
        row.status, row.completed_at = "completed", event.occurred_at
