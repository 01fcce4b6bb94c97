"""Hazard ledger (台账): one row per hazard with its current state, kept by applying hazard events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import models
from django.db.models.base import ModelState

from domain.attachments import attachments_of
from domain.eventinfo import plain
from domain.hazard.aggregate import SEVERITY_LABELS, STATUS_LABELS, Hazard
from domain.hazard.status import initial_status, next_status
from projections.base import Handlers
from projections.directory import UnitView


class HazardLedger(models.Model):
    id = models.UUIDField(primary_key=True)
    number = models.CharField("序号", max_length=30)
    series = models.CharField(max_length=20, blank=True)  # "HM01-2026" or "2026": the number without its sequence
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
    voided = models.BooleanField("已作废", default=False, db_index=True)
    voided_at = models.DateTimeField("作废时间", null=True)
    void_reason = models.TextField("作废原因", blank=True)
    attachment_count = models.IntegerField("照片/附件数", default=0)  # every ref its events recorded
    updated_at = models.DateTimeField("最近记录时间")
    version = models.IntegerField(default=0)

    class Meta:
        verbose_name = "隐患台账"
        verbose_name_plural = "隐患台账"
        ordering = ["school", "number"]
        indexes = [
            models.Index(fields=["school", "status"]),
            models.Index(fields=["campaign", "status"]),
            models.Index(fields=["school", "series"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.description[:20]}"


# --- one small pure apply(row, event) per event, found by the event's class -------------------------------

LedgerHandler = Callable[..., Any]  # (row, event); the discovery makes the row: (event, number, school) → row
handlers: Handlers[LedgerHandler] = Handlers("hazards", (Hazard,))


@handlers.on(Hazard.Discovered)
def discovered(event: Hazard.Discovered, number: str, school: UnitView | None) -> HazardLedger:
    return _new_row(
        id=event.originator_id,
        number=number,
        series=number.rsplit("-", 1)[0],
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
        status=initial_status(event.rectified_on_spot).value,
        rectified_on_spot=event.rectified_on_spot,
        discovered_by=event.actor,
        discovered_at=event.occurred_at,
        closed_at=event.occurred_at if event.rectified_on_spot else None,
        updated_at=event.timestamp,
        version=event.originator_version,
        attachment_count=len(attachments_of(event)),
    )


_FIELDS = HazardLedger._meta.concrete_fields
_FRESH_DEFAULTS = {f.attname: f.default for f in _FIELDS if f.has_default() and callable(f.default)}  # a new list each
_DEFAULTS = {f.attname: f.get_default() for f in _FIELDS if f.attname not in _FRESH_DEFAULTS}


def _new_row(**values: Any) -> HazardLedger:
    """A row as ``HazardLedger(**values)`` makes it, without ``Model.__init__``: a rebuild makes one per hazard,
    and the constructor's signals and per-field work cost more than the rest of the discovery."""
    row = HazardLedger.__new__(HazardLedger)
    row._state = ModelState()
    row.__dict__.update(_DEFAULTS)
    row.__dict__.update({name: make() for name, make in _FRESH_DEFAULTS.items()})
    row.__dict__.update(values)
    return row


@handlers.on(Hazard.Assigned)
def assigned(row: HazardLedger, event: Any) -> None:
    row.status = _status_after(row, event)
    row.owner, row.owner_unit, row.deadline, row.standard = (
        event.owner,
        event.owner_unit,
        event.deadline,
        event.standard,
    )


@handlers.on(Hazard.Transferred)
def transferred(row: HazardLedger, event: Any) -> None:
    row.owner, row.owner_unit = event.owner, event.owner_unit


@handlers.on(Hazard.PlanRecorded)
def plan_recorded(row: HazardLedger, event: Any) -> None:
    row.plan = plain(
        {"measures": event.measures, "funds": event.funds, "deadline": event.deadline, "contingency": event.contingency}
    )
    row.beyond_capacity = event.beyond_capacity


@handlers.on(Hazard.InterimMeasuresRecorded)
def interim_measures_recorded(row: HazardLedger, event: Any) -> None:
    row.interim_measures = [*row.interim_measures, event.measures]
    _count_attachments(row, event)


@handlers.on(Hazard.ProgressReported)
def progress_reported(row: HazardLedger, event: Any) -> None:
    row.progress, row.progress_note = event.percent, event.note
    _count_attachments(row, event)


@handlers.on(Hazard.DeadlineExtended)
def deadline_extended(row: HazardLedger, event: Any) -> None:
    row.deadline, row.overdue = event.new_deadline, False


@handlers.on(Hazard.DeadlineMissed)
def deadline_missed(row: HazardLedger, event: Any) -> None:
    row.missed_deadlines = [*row.missed_deadlines, event.deadline.isoformat()]
    row.overdue = True


@handlers.on(Hazard.Escalated)
def escalated(row: HazardLedger, event: Any) -> None:
    row.escalated, row.escalated_to = True, [*row.escalated_to, str(event.to_unit)]


@handlers.on(Hazard.Supervised)
def supervised(row: HazardLedger, event: Any) -> None:
    row.supervised, row.supervised_by = True, event.by_unit


@handlers.on(Hazard.Rectified)
def rectified(row: HazardLedger, event: Any) -> None:
    row.status, row.rectified_by, row.progress, row.overdue = _status_after(row, event), event.actor, 100, False
    _count_attachments(row, event)


@handlers.on(Hazard.Verified)
def verified(row: HazardLedger, event: Any) -> None:
    row.status, row.verified_by, row.closed_at = _status_after(row, event), event.actor, event.occurred_at
    _count_attachments(row, event)


@handlers.on(Hazard.Rejected)
def rejected(row: HazardLedger, event: Any) -> None:
    row.status, row.rectified_by, row.overdue = _status_after(row, event), None, _missed(row)
    _count_attachments(row, event)


@handlers.on(Hazard.Reopened)
def reopened(row: HazardLedger, event: Any) -> None:
    row.status = _status_after(row, event)
    row.closed_at, row.rectified_by, row.progress, row.overdue = None, None, 0, _missed(row)
    _count_attachments(row, event)


@handlers.on(Hazard.Voided)
def voided(row: HazardLedger, event: Any) -> None:
    row.voided, row.voided_at, row.void_reason = True, event.occurred_at, event.reason


def _count_attachments(row: HazardLedger, event: Any) -> None:
    """照片/附件数: every photo or document the hazard's events recorded (none before issue 16)."""
    row.attachment_count += len(attachments_of(event))


def _status_after(row: HazardLedger, event: Any) -> str:
    """The status the domain decides for ``event`` (``row`` not yet changed by it: its owner is the one before)."""
    return next_status(row.status, type(event).__name__, owner=row.owner).value


def _missed(row: HazardLedger) -> bool:
    return row.deadline is not None and _iso(row.deadline) in row.missed_deadlines


def _iso(value: date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()
