"""Hazard history, bitemporal: the hazard's state after each event, valid from its business time and known
from its record time. Answers "who owned what at T, as the system showed it at R", ``?version=`` and ``?as_of=``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import models
from django.db.models import QuerySet

from domain.eventinfo import plain
from domain.hazard.aggregate import Hazard
from projections.bitemporal import Bitemporal, in_force
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
)


class HazardVersion(Bitemporal):
    hazard = models.UUIDField()
    version = models.IntegerField()
    event_type = models.CharField(max_length=40)
    school = models.UUIDField()
    campaign = models.UUIDField()
    number = models.CharField(max_length=20)
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
        ]


def version_row(event: Hazard.Event, row: HazardLedger, previous: HazardVersion | None) -> HazardVersion:
    """The hazard's state right after ``event`` (``row`` already updated), valid from the event's business time."""
    owner_changed = previous is None or type(event).__name__ in ("Assigned", "Transferred")
    return HazardVersion(
        hazard=row.id,
        version=event.originator_version,
        event_type=type(event).__name__,
        valid_from=event.occurred_at,  # type: ignore[attr-defined]
        recorded_at=event.timestamp,
        school=row.school,
        campaign=row.campaign,
        number=row.number,
        status=row.status,
        owner=row.owner,
        owner_unit=row.owner_unit,
        owner_since=(event.occurred_at if row.owner else None) if owner_changed else previous.owner_since,  # type: ignore[union-attr,attr-defined]
        deadline=row.deadline,
        overdue=row.overdue,
        state=state_of(row),
    )


def state_of(row: HazardLedger) -> dict[str, Any]:
    return {field: plain(getattr(row, field)) for field in STATE_FIELDS}


# --- queries -------------------------------------------------------------------------------------


def open_at(at: datetime, known_at: datetime) -> QuerySet[HazardVersion]:
    """Every hazard not closed at ``at``, in the state the system knew at ``known_at``."""
    return HazardVersion.objects.filter(in_force(at, known_at)).exclude(status="closed")


def state_as_of(hazard: UUID, *, version: int | None = None, known_at: datetime | None = None) -> HazardVersion | None:
    """The hazard's state at a version, or the latest one recorded by ``known_at``."""
    rows = HazardVersion.objects.filter(hazard=hazard)
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


def counts_at(campaign: UUID, school: UUID, at: datetime, known_at: datetime) -> dict[str, int]:
    """排查出的总隐患数 / 隐患整改数 / 未整改隐患数 of a school in a campaign at ``at`` (e.g. the statistics cutoff)."""
    rows = HazardVersion.objects.filter(in_force(at, known_at), campaign=campaign, school=school)
    total = rows.count()
    rectified = rows.filter(status__in=("rectified", "closed")).count()
    return {"hazards_total": total, "hazards_rectified": rectified, "hazards_open": total - rectified}
