"""倒查追责 findings for the API: the pure rules of domain/accountability fed from the log and the read models."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from eventsourcing.domain import Aggregate

from domain.accountability import Finding, SelfCheck, Thresholds, findings
from domain.application import SafetyApplication
from domain.inspection.aggregate import Inspection
from domain.policy import Role
from projections import bulk
from projections.directory import DisplayNames, StaffInterval
from projections.eventlog import events_of
from projections.hazard.rows import HazardLedger
from projections.inspections import InspectionView

FINDINGS_READ = ("id", "campaign", "school", "inspection")  # what ``findings_for`` reads of a HazardLedger row


def thresholds() -> Thresholds:
    return Thresholds(**settings.ACCOUNTABILITY_THRESHOLDS)


def hazard_findings(
    app: SafetyApplication, hazard: HazardLedger, at: datetime, known_at: datetime, names: DisplayNames | None = None
) -> list[Finding]:
    """Findings on one hazard at business time ``at``, as knowable at record time ``known_at``."""
    return findings_for(app, [hazard], at, known_at, names)[hazard.id]


def findings_for(
    app: SafetyApplication,
    hazards: Sequence[HazardLedger],
    at: datetime,
    known_at: datetime,
    names: DisplayNames | None = None,
) -> dict[UUID, list[Finding]]:
    """Findings on each hazard (keyed in the order given) at business time ``at``, as knowable at record time
    ``known_at``, their summaries worded with the directory's names (``names``, or those of the people and units
    the events name).

    Each thing is read once for all of them: the schools' self-inspections in their campaigns, the events of
    those and of the hazards (one read of the log), the inspections' kinds, the staff intervals of everyone
    the events name, and their names.
    """
    inspections = _self_inspections(dict.fromkeys((h.campaign, h.school) for h in hazards))
    log = events_of(app, [*(h.id for h in hazards), *(i.id for rows in inspections.values() for i in rows)])
    histories = {h.id: log[h.id] or app.hazard_events(h.id) for h in hazards}  # none: HazardNotFound
    checks = {key: _self_checks(rows, log) for key, rows in inspections.items()}
    kinds = _inspection_kinds({h.inspection for h in hazards if h.inspection is not None})
    people = _named(histories.values(), checks.values())
    directory = KnownDirectory(people, {h.school for h in hazards})
    if names is None:
        names = DisplayNames().load(_units(histories.values(), directory, {h.school for h in hazards}), people)
    limits = thresholds()
    return {
        h.id: findings(
            histories[h.id],
            at=at,
            known_at=known_at,
            directory=directory,
            inspection_kind=kinds.get(h.inspection) if h.inspection is not None else None,
            self_checks=checks[h.campaign, h.school],
            thresholds=limits,
            names=names,
        )
        for h in hazards
    }


def _self_inspections(pairs: Iterable[tuple[UUID, UUID]]) -> dict[tuple[UUID, UUID], list[InspectionView]]:
    """Each (campaign, school)'s own self-inspections (kind "self"), latest first."""
    found: dict[tuple[UUID, UUID], list[InspectionView]] = {key: [] for key in pairs}
    if not found:
        return found
    rows = InspectionView.objects.filter(
        bulk.among("campaign", {c for c, _ in found}), bulk.among("school", {s for _, s in found}), kind="self"
    )
    for row in rows.only("id", "campaign", "school", "inspectors"):
        found.get((row.campaign, row.school), []).append(row)
    return found


def _self_checks(inspections: list[InspectionView], log: dict[UUID, list[Any]]) -> list[SelfCheck]:
    """Every item assessment of these self-inspections, from their events."""
    return [
        SelfCheck(
            inspection=inspection.id,
            inspectors=tuple(inspection.inspectors),
            item=event.item,
            result=event.result,
            assessed_at=event.occurred_at,
            recorded_at=event.timestamp,
        )
        for inspection in inspections
        for event in log[inspection.id]
        if isinstance(event, Inspection.ItemAssessed)
    ]


class KnownDirectory:
    """The domain's ``StaffDirectory`` port over staff intervals read up front: one query for the people and
    schools a batch of findings will ask about (anyone else is read when first asked), then answered in memory
    by the same rule as ``projections.directory.appointment_at`` and ``holders``."""

    def __init__(self, usernames: Iterable[str], units: Iterable[UUID]) -> None:
        self._of_user: dict[str, list[StaffInterval]] = {}
        self._of_unit: dict[UUID, list[StaffInterval]] = {}
        self._read(set(usernames), set(units))

    def holders(self, unit: UUID, role: Role, at: datetime, known_at: datetime) -> list[str]:
        if unit not in self._of_unit:
            self._read(set(), {unit})
        rows = self._of_unit[unit]
        return sorted(r.username for r in rows if r.role == role.value and r.in_force_at(at, known_at))

    def appointment(self, username: str, at: datetime, known_at: datetime) -> tuple[UUID | None, Role] | None:
        if username not in self._of_user:
            self._read({username}, set())
        row = next((r for r in self._of_user[username] if r.in_force_at(at, known_at)), None)
        return (row.unit, Role(row.role)) if row is not None and row.role else None

    def intervals(self) -> Iterable[list[StaffInterval]]:
        """The staff intervals read so far."""
        return [*self._of_user.values(), *self._of_unit.values()]

    def _read(self, usernames: set[str], units: set[UUID]) -> None:
        self._of_user.update((name, []) for name in usernames)
        self._of_unit.update((unit, []) for unit in units)
        if not usernames and not units:
            return
        wanted = bulk.among("username", usernames) | bulk.among("unit", units)
        for row in StaffInterval.objects.filter(wanted).order_by("username", "version"):
            if row.username in usernames:
                self._of_user[row.username].append(row)
            if row.unit in units:
                self._of_unit[row.unit].append(row)


def _inspection_kinds(inspections: set[UUID]) -> dict[UUID, str]:
    if not inspections:
        return {}
    return dict(InspectionView.objects.filter(bulk.among("id", inspections)).values_list("id", "kind"))


def _named(histories: Iterable[list[Aggregate.Event]], checks: Iterable[list[SelfCheck]]) -> set[str]:
    """Everyone the rules may look up: the events' actors and owners, the self-checks' inspectors."""
    names = {
        value
        for events in histories
        for event in events
        for value in (vars(event).get("actor"), vars(event).get("owner"))
        if isinstance(value, str)
    }
    names.update(name for found in checks for check in found for name in check.inspectors)
    return names


def _units(histories: Iterable[list[Aggregate.Event]], directory: KnownDirectory, schools: set[UUID]) -> set[UUID]:
    """Every unit a summary may name: the schools, the units in the events, those the staff held posts in."""
    units = {v for events in histories for event in events for v in vars(event).values() if isinstance(v, UUID)}
    units.update(r.unit for rows in directory.intervals() for r in rows if r.unit is not None)
    return units | schools
