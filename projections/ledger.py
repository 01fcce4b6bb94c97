"""Hazard ledger (台账): one row per hazard with its current state, kept by applying hazard events."""

from __future__ import annotations

from typing import Any

from django.db import models

from domain.eventinfo import plain
from domain.hazard.aggregate import SEVERITY_LABELS, STATUS_LABELS, Hazard
from domain.timerules import business_date
from projections.base import Projector
from projections.directory import UnitView


class HazardLedger(models.Model):
    id = models.UUIDField(primary_key=True)
    number = models.CharField("序号", max_length=20)
    campaign = models.UUIDField("专项排查", db_index=True)
    school = models.UUIDField("学校", db_index=True)
    district = models.CharField("区域", max_length=100, blank=True, db_index=True)
    police_station = models.UUIDField("属地派出所", null=True, db_index=True)
    inspection = models.UUIDField("检查", null=True)
    item = models.CharField("检查项目", max_length=20, blank=True)
    category = models.CharField("类别", max_length=100)
    description = models.TextField("问题表现")
    severity = models.CharField("等级", max_length=10, choices=[(k.value, v) for k, v in SEVERITY_LABELS.items()])
    location = models.CharField("位置", max_length=200, blank=True)
    status = models.CharField("状态", max_length=20, choices=[(k.value, v) for k, v in STATUS_LABELS.items()])
    owner = models.CharField("整改责任人", max_length=150, null=True, db_index=True)
    owner_unit = models.UUIDField("责任单位", null=True)
    deadline = models.DateField("整改时限", null=True)
    standard = models.TextField("整改标准", blank=True)
    plan = models.JSONField("整改方案", null=True)
    interim_measures = models.JSONField("临时安全防范措施", default=list)
    progress = models.IntegerField("整改进度", default=0)
    progress_note = models.TextField("进度说明", blank=True)
    escalated = models.BooleanField("已上报", default=False)
    escalated_to = models.JSONField("上报单位", default=list)
    supervised = models.BooleanField("挂牌督办", default=False)
    supervised_by = models.UUIDField("督办单位", null=True)
    beyond_capacity = models.BooleanField("无力整改", default=False)
    missed_deadlines = models.JSONField(default=list)
    overdue = models.BooleanField("逾期", default=False, db_index=True)
    rectified_on_spot = models.BooleanField("立行立改", default=False)
    rectified_by = models.CharField(max_length=150, null=True)
    verified_by = models.CharField(max_length=150, null=True)
    discovered_by = models.CharField("发现人", max_length=150)
    discovered_at = models.DateTimeField("发现时间")
    closed_at = models.DateTimeField("销号时间", null=True)
    updated_at = models.DateTimeField("最近记录时间")
    version = models.IntegerField(default=0)

    class Meta:
        verbose_name = "隐患台账"
        verbose_name_plural = "隐患台账"
        ordering = ["school", "number"]
        indexes = [models.Index(fields=["school", "status"]), models.Index(fields=["campaign", "status"])]

    def __str__(self) -> str:
        return f"{self.number} {self.description[:20]}"


projector = Projector("ledger", (HazardLedger,))


@projector.on(Hazard.Discovered)
def discovered(event: Hazard.Discovered) -> None:
    if HazardLedger.objects.filter(id=event.originator_id).exists():
        return
    school = UnitView.objects.filter(id=event.school).first()
    year = business_date(event.occurred_at).year
    sequence = HazardLedger.objects.filter(school=event.school, number__startswith=f"{year}-").count() + 1
    HazardLedger.objects.create(
        id=event.originator_id,
        number=f"{year}-{sequence:04d}",
        campaign=event.campaign,
        school=event.school,
        district=school.district if school else "",
        police_station=school.police_station if school else None,
        inspection=event.inspection,
        item=event.item,
        category=event.category,
        description=event.description,
        severity=event.severity,
        location=event.location,
        status="closed" if event.rectified_on_spot else "reported",
        rectified_on_spot=event.rectified_on_spot,
        discovered_by=event.actor,
        discovered_at=event.occurred_at,
        closed_at=event.occurred_at if event.rectified_on_spot else None,
        updated_at=event.timestamp,
        version=event.originator_version,
    )


def _update(event: Hazard.Event, **changes: Any) -> None:
    """Apply ``changes`` once: only if the row is exactly one version behind this event."""
    HazardLedger.objects.filter(id=event.originator_id, version=event.originator_version - 1).update(
        version=event.originator_version, updated_at=event.timestamp, **changes
    )


def _row(event: Hazard.Event) -> HazardLedger | None:
    return HazardLedger.objects.filter(id=event.originator_id, version=event.originator_version - 1).first()


@projector.on(Hazard.Assigned)
def assigned(event: Hazard.Assigned) -> None:
    _update(
        event,
        owner=event.owner,
        owner_unit=event.owner_unit,
        deadline=event.deadline,
        standard=event.standard,
        status="assigned",
    )


@projector.on(Hazard.Transferred)
def transferred(event: Hazard.Transferred) -> None:
    _update(event, owner=event.owner, owner_unit=event.owner_unit)


@projector.on(Hazard.PlanRecorded)
def plan_recorded(event: Hazard.PlanRecorded) -> None:
    plan = {
        "measures": event.measures,
        "funds": event.funds,
        "deadline": event.deadline,
        "contingency": event.contingency,
    }
    _update(event, plan=plain(plan), beyond_capacity=event.beyond_capacity)


@projector.on(Hazard.InterimMeasuresRecorded)
def interim_measures_recorded(event: Hazard.InterimMeasuresRecorded) -> None:
    row = _row(event)
    if row:
        _update(event, interim_measures=[*row.interim_measures, event.measures])


@projector.on(Hazard.ProgressReported)
def progress_reported(event: Hazard.ProgressReported) -> None:
    _update(event, progress=event.percent, progress_note=event.note)


@projector.on(Hazard.DeadlineExtended)
def deadline_extended(event: Hazard.DeadlineExtended) -> None:
    _update(event, deadline=event.new_deadline, overdue=False)


@projector.on(Hazard.DeadlineMissed)
def deadline_missed(event: Hazard.DeadlineMissed) -> None:
    row = _row(event)
    if row:
        _update(event, missed_deadlines=[*row.missed_deadlines, event.deadline.isoformat()], overdue=True)


@projector.on(Hazard.Escalated)
def escalated(event: Hazard.Escalated) -> None:
    row = _row(event)
    if row:
        _update(event, escalated=True, escalated_to=[*row.escalated_to, str(event.to_unit)])


@projector.on(Hazard.Supervised)
def supervised(event: Hazard.Supervised) -> None:
    _update(event, supervised=True, supervised_by=event.by_unit)


@projector.on(Hazard.Rectified)
def rectified(event: Hazard.Rectified) -> None:
    _update(event, status="rectified", rectified_by=event.actor, progress=100, overdue=False)


@projector.on(Hazard.Verified)
def verified(event: Hazard.Verified) -> None:
    _update(event, status="closed", verified_by=event.actor, closed_at=event.occurred_at)


@projector.on(Hazard.Rejected)
def rejected(event: Hazard.Rejected) -> None:
    row = _row(event)
    if row:
        _update(event, status="assigned", rectified_by=None, overdue=_missed(row))


@projector.on(Hazard.Reopened)
def reopened(event: Hazard.Reopened) -> None:
    row = _row(event)
    if row:
        _update(
            event,
            status="assigned" if row.owner else "reported",
            closed_at=None,
            rectified_by=None,
            progress=0,
            overdue=_missed(row),
        )


def _missed(row: HazardLedger) -> bool:
    return row.deadline is not None and row.deadline.isoformat() in row.missed_deadlines
