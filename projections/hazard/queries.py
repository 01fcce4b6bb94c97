"""Queries over the hazard history (``HazardVersion``): every hazard's state at ``at`` as the system knew it at
``known_at``, one hazard's state as of a version or time, its ownership intervals. Answers "who owned what at T,
as the system showed it at R", ``?version=``, ``?at=`` and ``?known_at=``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from django.db.models import OuterRef, QuerySet, Subquery

from domain.hazard.status import NOT_CLOSED_STATUSES
from projections import bulk
from projections.bitemporal import in_force
from projections.directory import UnitView
from projections.hazard.rows import HazardLedger, HazardVersion


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


class HazardKey(NamedTuple):
    """What a command needs of the hazard before it runs: its id, owner and number, and its school's directory row
    (``kind``, ``id``, ``district``, ``police_station``; None if not in the directory) for the scope rule."""

    id: UUID
    owner: str | None
    number: str
    school: dict[str, Any] | None


_SCHOOL_FIELDS = ("kind", "id", "district", "police_station")


def _school(field: str) -> Subquery:
    return Subquery(UnitView.objects.filter(id=OuterRef("school")).values(field)[:1])


_KEY = bulk.KeyedQuery(
    lambda ids: (
        HazardLedger.objects.filter(bulk.among("id", ids))
        .annotate(**{f"unit_{f}": _school(f) for f in _SCHOOL_FIELDS})
        .order_by()
        .values_list("id", "owner", "number", *(f"unit_{f}" for f in _SCHOOL_FIELDS))
    )
)


def hazard_key(hazard: UUID) -> HazardKey | None:
    """The hazard's ``HazardKey`` in one statement, compiled once (``bulk.KeyedQuery``); None for no such hazard."""
    for pk, owner, number, *school in _KEY.rows([hazard]):
        found = dict(zip(_SCHOOL_FIELDS, school, strict=True)) if school[0] is not None else None
        return HazardKey(pk, owner, number, found)
    return None
