"""Hazard history, bitemporal: the hazard's state after each event, valid from its business time and known
from its record time. Answers "who owned what at T, as the system showed it at R", ``?version=``, ``?at=`` and
``?known_at=``."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.db import models
from django.db.models import QuerySet

from domain.eventinfo import plain
from domain.hazard.aggregate import Hazard
from domain.hazard.status import NOT_CLOSED_STATUSES
from projections.bitemporal import Bitemporal, in_force
from projections.bulk import JsonText
from projections.ledger import HazardLedger

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
OWNER_EVENTS = (Hazard.Assigned, Hazard.Transferred)  # the events that may change the owner


def version_values(
    event: Hazard.Event, row: HazardLedger, owner_since: datetime | None, first: bool, static: dict[UUID, str]
) -> list[Any]:
    """The hazard's state right after ``event`` (``row`` already updated), valid from the event's business time,
    as the values of ``VERSION_FIELDS`` (the row is written in bulk; ``next_*`` are filled by its successor)."""
    name = type(event).__name__
    occurred_at: datetime = event.occurred_at  # type: ignore[attr-defined]
    if first or type(event) in OWNER_EVENTS:
        owner_since = occurred_at if row.owner else None
    return [
        row.id,
        event.originator_version,
        name,
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


# --- queries -------------------------------------------------------------------------------------


def states_at(at: datetime, known_at: datetime) -> QuerySet[HazardVersion]:
    """Every hazard's state at ``at`` as the system knew it at ``known_at``, without the hazards known by then to
    be voided (作废): a void corrects the record — the hazard was entered by mistake — so once it is known the
    hazard is in no count or list, at any ``at``; what was known before the void (an earlier ``known_at``, e.g. a
    report already sent) still counts it, so the same (``at``, ``known_at``) gives the same figures."""
    return HazardVersion.objects.filter(in_force(at, known_at)).exclude(hazard__in=voided_by(known_at))


def voided_by(known_at: datetime) -> QuerySet[HazardVersion]:
    """The ids (``hazard``) of the hazards whose void was recorded by ``known_at``."""
    return HazardVersion.objects.filter(event_type="Voided", recorded_at__lte=known_at).values("hazard")


def open_at(at: datetime, known_at: datetime) -> QuerySet[HazardVersion]:
    """Every hazard not closed at ``at``, in the state the system knew at ``known_at`` (voided ones left out)."""
    return states_at(at, known_at).filter(status__in=sorted(NOT_CLOSED_STATUSES))


def state_as_of(
    hazard: UUID, *, version: int | None = None, at: datetime | None = None, known_at: datetime | None = None
) -> HazardVersion | None:
    """The hazard's state at a version, or the latest one in force at ``at`` as recorded by ``known_at``."""
    rows = HazardVersion.objects.filter(hazard=hazard)
    if at is not None:
        rows = rows.filter(valid_from__lte=at)
    if known_at is not None:
        rows = rows.filter(recorded_at__lte=known_at)
    if version is not None:
        rows = rows.filter(version__lte=version)
    return rows.order_by("-version").first()


def owners(hazard: UUID, known_at: datetime) -> list[dict[str, Any]]:
    """The hazard's ownership intervals ``{owner, owner_unit, from, to}`` as known at ``known_at``."""
    rows = list(HazardVersion.objects.filter(hazard=hazard, recorded_at__lte=known_at).order_by("version"))
    intervals: list[dict[str, Any]] = []
    for row in rows:
        current = intervals[-1] if intervals else None
        if current is not None and (current["owner"], current["owner_unit"]) == (row.owner, row.owner_unit):
            continue
        if current is not None:
            current["to"] = row.valid_from
        if row.owner is not None:
            intervals.append({"owner": row.owner, "owner_unit": row.owner_unit, "from": row.valid_from, "to": None})
    return [i for i in intervals if i["owner"] is not None]

