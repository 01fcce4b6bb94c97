"""Inspection read models (检查): one row per inspection and one per assessed checklist item."""

from __future__ import annotations

from django.db import models

from domain.inspection.aggregate import Inspection
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


projector = Projector("inspections", (AssessmentView, InspectionView))


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
