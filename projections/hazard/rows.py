"""The hazard read model's tables: the ledger (台账, one row per hazard, its current state) and the bitemporal
history (the hazard's state after each event, valid from its business time and known from its record time), and
how a row is made and serialized. Written only by ``projections.hazard.projector``; read through
``projections.hazard.queries`` and directly."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db import models
from django.db.models.base import ModelState

from domain.eventinfo import plain
from domain.hazard.aggregate import SEVERITY_LABELS, STATUS_LABELS, Hazard
from projections import bulk
from projections.bitemporal import Bitemporal
from projections.bulk import JsonText


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


_FIELDS = HazardLedger._meta.concrete_fields
_FRESH_DEFAULTS = {f.attname: f.default for f in _FIELDS if f.has_default() and callable(f.default)}  # a new list each
_DEFAULTS = {f.attname: f.get_default() for f in _FIELDS if f.attname not in _FRESH_DEFAULTS}


def new_row(**values: Any) -> HazardLedger:
    """A row as ``HazardLedger(**values)`` makes it, without ``Model.__init__``: a rebuild makes one per hazard,
    and the constructor's signals and per-field work cost more than the rest of the discovery."""
    row = HazardLedger.__new__(HazardLedger)
    row._state = ModelState()
    row.__dict__.update(_DEFAULTS)
    row.__dict__.update({name: make() for name, make in _FRESH_DEFAULTS.items()})
    row.__dict__.update(values)
    return row


# A history row's ``state``: the ledger row as it was after the event (``?version=``, ``?at=``, ``?known_at=``).
STATE_FIELDS = (
    "id",
    "number",
    "campaign",
    "school",
    "category",
    "description",
    "severity",
    "location",
    "status",
    "owner",
    "owner_unit",
    "deadline",
    "standard",
    "escalated",
    "supervised",
    "beyond_capacity",
    "overdue",
    "interim_measures",
    "version",
    "discovered_at",
    "closed_at",
    "item",
    "progress",
    "progress_note",
    "plan",
    "rectified_by",
    "verified_by",
    "voided",
    "voided_at",
    "void_reason",
    "attachment_count",
)


class HazardVersion(Bitemporal):
    hazard = models.UUIDField()
    version = models.IntegerField()
    event_type = models.CharField(max_length=40)
    school = models.UUIDField()
    campaign = models.UUIDField()
    number = models.CharField(max_length=30)
    status = models.CharField(max_length=20)
    owner = models.CharField(max_length=150, null=True)
    owner_unit = models.UUIDField(null=True)
    owner_since = models.DateTimeField(null=True)
    deadline = models.DateField(null=True)
    overdue = models.BooleanField(default=False)
    state = models.JSONField()

    class Meta:
        verbose_name = "隐患历史状态"
        verbose_name_plural = "隐患历史状态"
        ordering = ["hazard", "version"]
        constraints = [models.UniqueConstraint(fields=["hazard", "version"], name="hazard_version_once")]
        indexes = [
            models.Index(fields=["valid_from"], name="hazard_version_valid"),
            models.Index(fields=["school", "valid_from"], name="hazard_version_school_valid"),
            models.Index(fields=["hazard", "recorded_at"], name="hazard_version_recorded"),
            models.Index(fields=["event_type", "recorded_at"], name="hazard_version_type_recorded"),
        ]


VERSION_FIELDS = (
    "hazard",
    "version",
    "event_type",
    "valid_from",
    "recorded_at",
    "next_valid",
    "next_recorded",
    "school",
    "campaign",
    "number",
    "status",
    "owner",
    "owner_unit",
    "owner_since",
    "deadline",
    "overdue",
    "state",
)
NEXT_VALID, NEXT_RECORDED, OWNER_SINCE = (
    VERSION_FIELDS.index(f) for f in ("next_valid", "next_recorded", "owner_since")
)
LEDGER_FIELDS = [f.attname for f in HazardLedger._meta.concrete_fields]


# What a hazard's discovery fixes for good: serialized once per hazard and batch, reused for each of its versions.
STATIC_FIELDS = (
    "id",
    "number",
    "campaign",
    "school",
    "category",
    "description",
    "severity",
    "location",
    "discovered_at",
    "item",
)
CHANGING_FIELDS = tuple(f for f in STATE_FIELDS if f not in STATIC_FIELDS)


def state_json(row: HazardLedger, static: dict[UUID, str]) -> JsonText:
    """``STATE_FIELDS`` of the row as JSON text (as ``plain`` makes them), the unchanging part taken from (or
    put into) ``static``."""
    values = row.__dict__
    head = static.get(row.id)
    if head is None:
        head = static[row.id] = _encode({f: values[f] for f in STATIC_FIELDS})[:-1]
    changing = {}
    for f in CHANGING_FIELDS:
        value = values[f]
        to_json = _TO_JSON.get(type(value))
        changing[f] = value if to_json is None else to_json(value)
    return JsonText(head + ", " + _encode(changing)[1:])


_TO_JSON: dict[type, Any] = {UUID: str, date: date.isoformat, datetime: datetime.isoformat}
_encode = json.JSONEncoder(ensure_ascii=False, default=plain).encode


def ledger_values(row: HazardLedger) -> list[Any]:
    values = row.__dict__
    return [values[f] for f in LEDGER_FIELDS]


# --- the history's newest rows: where a batch's events continue it ---------------------------------------


class Latest:
    """A hazard's newest history row: still in memory (``values``) or already in the table (``version``)."""

    __slots__ = ("values", "version", "owner_since")

    def __init__(self, values: list[Any] | None, version: int, owner_since: datetime | None) -> None:
        self.values, self.version, self.owner_since = values, version, owner_since


def open_versions(hazards: set[UUID]) -> dict[UUID, Latest]:
    """The newest history row of each hazard already in the table."""
    if not hazards:
        return {}
    return {h: Latest(None, version, since) for h, version, since in _OPEN_VERSIONS.rows(list(hazards))}


_OPEN_VERSIONS = bulk.KeyedQuery(
    lambda hazards: (
        HazardVersion.objects.filter(bulk.among("hazard", hazards), next_recorded__isnull=True)
        .order_by()
        .values_list("hazard", "version", "owner_since")
    )
)


OWNER_EVENTS = (Hazard.Assigned, Hazard.Transferred)  # the events that may change the owner


def version_values(
    event: Hazard.Event, row: HazardLedger, owner_since: datetime | None, first: bool, static: dict[UUID, str]
) -> list[Any]:
    """The hazard's state right after ``event`` (``row`` already updated), valid from the event's business time,
    as the values of ``VERSION_FIELDS`` (the row is written in bulk; ``next_*`` are filled by its successor)."""
    occurred_at: datetime = event.occurred_at  # type: ignore[attr-defined]
    if first or type(event) in OWNER_EVENTS:
        owner_since = occurred_at if row.owner else None
    return [
        row.id,
        event.originator_version,
        type(event).__name__,
        occurred_at,
        event.timestamp,
        None,
        None,
        row.school,
        row.campaign,
        row.number,
        row.status,
        row.owner,
        row.owner_unit,
        owner_since,
        row.deadline,
        row.overdue,
        state_json(row, static),
    ]
