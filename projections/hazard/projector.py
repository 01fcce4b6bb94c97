"""The hazard projector: the one class that writes the hazard read model (``projections.hazard.rows``: the ledger,
台账, and its bitemporal history), one small pure handler per event class registered on it below.

Rows are loaded once per batch, changed in memory by the handlers, and written back in bulk (``projections.bulk``)
— one transaction per batch, with the tracking position (see ``runner``). A row only takes an event exactly one
version ahead of it, so a replayed batch changes nothing. A history row's end (``next_*``) is its successor's
start: set in memory when both are in the batch, updated in the table when the predecessor was written by an
earlier batch. A school's change of district or police station reaches its hazards' rows here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.attachments import attachments_of
from domain.directory.aggregate import Unit
from domain.eventinfo import plain
from domain.hazard.aggregate import Hazard
from domain.hazard.status import initial_status, next_status
from projections import bulk
from projections.base import Projector
from projections.directory import UnitView
from projections.hazard import rows
from projections.hazard.numbers import Numbers
from projections.hazard.rows import HazardLedger, HazardVersion, new_row

# (row, event); the discovery makes the row: (event, number, school) → row; a school's change: (event)
HazardHandler = Callable[..., Any]


class HazardProjector(Projector[HazardHandler]):
    """Hazard events, each given its hazard's ledger row by its handler, then the row's state as a history row;
    a school's ``Unit.Changed`` copied to its hazards' rows after them."""

    def __init__(self) -> None:
        super().__init__("hazards", (HazardVersion, HazardLedger), consumes=(Hazard, Unit))
        # Set only in a rebuild's worker process (``rebuilding``), which projects a share of the log:
        self.static: dict[UUID, str] | None = None  # state JSON's unchanging part, kept from batch to batch
        self.static_limit = 0
        self.numbers: dict[UUID, str] | None = None  # every hazard's 序号, counted over the whole log

    def rebuilding(self, numbers: dict[UUID, str], static_limit: int = 20_000) -> None:
        """For a rebuild's worker, which sees only some of a school's hazards: their 序号 as ``numbers`` gives them
        (``projections.rebuild.numbers_up_to``), and the unchanging part of each hazard's state JSON
        (``rows.state_json``) encoded once rather than once per batch (up to ``static_limit`` hazards at a time,
        ~0.5 KB each)."""
        self.numbers, self.static, self.static_limit = numbers, {}, static_limit

    def apply(self, event: Aggregate.Event) -> None:
        self.apply_batch([event])

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        # Every hazard event, an ignored one too: a row takes only the event one version ahead of it.
        hazard_events = [e for e in events if isinstance(e, Hazard.Event)]
        if hazard_events:
            static = self.static
            if static is not None and len(static) > self.static_limit:
                static.clear()
            Batch(self, hazard_events, static, self.numbers).apply()
        # After the batch's rows are written: the directory has already taken the batch's unit changes, so a hazard
        # discovered in it read its school's newest district, and a row written above is not written back over.
        for event in events:
            if isinstance(event, Unit.Event) and (handler := self.handler_for(event)) is not None:
                handler(event)


projector = HazardProjector()


# --- one small pure apply(row, event) per event class -------------------------------------------------------


@projector.on(Hazard.Discovered)
def discovered(event: Hazard.Discovered, number: str, school: UnitView | None) -> HazardLedger:
    return new_row(
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


@projector.on(Hazard.Assigned)
def assigned(row: HazardLedger, event: Hazard.Assigned) -> None:
    row.status = _status_after(row, event)
    row.owner, row.owner_unit, row.deadline, row.standard = (
        event.owner,
        event.owner_unit,
        event.deadline,
        event.standard,
    )


@projector.on(Hazard.Transferred)
def transferred(row: HazardLedger, event: Hazard.Transferred) -> None:
    row.owner, row.owner_unit = event.owner, event.owner_unit


@projector.on(Hazard.PlanRecorded)
def plan_recorded(row: HazardLedger, event: Hazard.PlanRecorded) -> None:
    row.plan = plain(
        {"measures": event.measures, "funds": event.funds, "deadline": event.deadline, "contingency": event.contingency}
    )
    row.beyond_capacity = event.beyond_capacity


@projector.on(Hazard.InterimMeasuresRecorded)
def interim_measures_recorded(row: HazardLedger, event: Hazard.InterimMeasuresRecorded) -> None:
    row.interim_measures = [*row.interim_measures, event.measures]
    _count_attachments(row, event)


@projector.on(Hazard.ProgressReported)
def progress_reported(row: HazardLedger, event: Hazard.ProgressReported) -> None:
    row.progress, row.progress_note = event.percent, event.note
    _count_attachments(row, event)


@projector.on(Hazard.DeadlineExtended)
def deadline_extended(row: HazardLedger, event: Hazard.DeadlineExtended) -> None:
    row.deadline, row.overdue = event.new_deadline, False


@projector.on(Hazard.DeadlineMissed)
def deadline_missed(row: HazardLedger, event: Hazard.DeadlineMissed) -> None:
    row.missed_deadlines = [*row.missed_deadlines, event.deadline.isoformat()]
    row.overdue = True


@projector.on(Hazard.Escalated)
def escalated(row: HazardLedger, event: Hazard.Escalated) -> None:
    row.escalated, row.escalated_to = True, [*row.escalated_to, str(event.to_unit)]


@projector.on(Hazard.Supervised)
def supervised(row: HazardLedger, event: Hazard.Supervised) -> None:
    row.supervised, row.supervised_by = True, event.by_unit


@projector.on(Hazard.Rectified)
def rectified(row: HazardLedger, event: Hazard.Rectified) -> None:
    row.status, row.rectified_by, row.progress, row.overdue = _status_after(row, event), event.actor, 100, False
    _count_attachments(row, event)


@projector.on(Hazard.Verified)
def verified(row: HazardLedger, event: Hazard.Verified) -> None:
    row.status, row.verified_by, row.closed_at = _status_after(row, event), event.actor, event.occurred_at
    _count_attachments(row, event)


@projector.on(Hazard.Rejected)
def rejected(row: HazardLedger, event: Hazard.Rejected) -> None:
    row.status, row.rectified_by, row.overdue = _status_after(row, event), None, _missed(row)
    _count_attachments(row, event)


@projector.on(Hazard.Reopened)
def reopened(row: HazardLedger, event: Hazard.Reopened) -> None:
    row.status = _status_after(row, event)
    row.closed_at, row.rectified_by, row.progress, row.overdue = None, None, 0, _missed(row)
    _count_attachments(row, event)


@projector.on(Hazard.Voided)
def voided(row: HazardLedger, event: Hazard.Voided) -> None:
    row.voided, row.voided_at, row.void_reason = True, event.occurred_at, event.reason


@projector.on(Unit.Changed)
def school_changed(event: Unit.Changed) -> None:
    """The rows keep a copy of their school's district and station. Written by the unit's newest change only (the
    directory, projected first, is at its version): a replayed or superseded one changes nothing."""
    if UnitView.objects.filter(id=event.originator_id, version=event.originator_version).exists():
        HazardLedger.objects.filter(school=event.originator_id).update(
            district=event.district, police_station=event.police_station
        )


projector.ignore(Unit.Registered)  # a school's hazards come after it: the discovery reads its row


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


# --- a batch: rows loaded once, changed in memory, written in bulk ------------------------------------------


class Batch:
    """One batch of hazard events: the rows they touch, loaded once, changed in memory, written in bulk."""

    def __init__(
        self,
        projector: HazardProjector,
        events: list[Hazard.Event],
        static: dict[UUID, str] | None = None,
        numbers: dict[UUID, str] | None = None,
    ) -> None:
        self.handler_for = projector.handlers.handler_for
        self.events = events
        discoveries = [e for e in events if isinstance(e, Hazard.Discovered)]
        self.ledger = bulk.by_pk(HazardLedger, {e.originator_id for e in events})  # the rows, by hazard
        self.stored = set(self.ledger)
        self.latest = rows.open_versions(self.stored)
        self.schools = bulk.by_pk(UnitView, {e.school for e in discoveries})
        self.numbers: Numbers | dict[UUID, str] = (
            numbers if numbers is not None else Numbers(e for e in discoveries if e.originator_id not in self.ledger)
        )
        self.static: dict[UUID, str] = {} if static is None else static  # see rows.state_json
        self.ended: list[tuple[datetime, datetime, UUID, int]] = []  # history rows of earlier batches to end

    def apply(self) -> None:
        with bulk.together(len(self.events) < bulk.FEW):
            self.write(self.work_out())

    def work_out(self) -> set[UUID]:
        """Every event applied in memory; history rows written as they are done. Returns the hazards changed."""
        changed: set[UUID] = set()
        # A history row goes to the table as soon as its successor has ended it (or at the end of the batch),
        # so the server stores it while the next events are worked out.
        with bulk.inserting(HazardVersion, rows.VERSION_FIELDS, expected=len(self.events)) as write_version:
            for event in self.events:
                if self.apply_event(event, write_version):
                    changed.add(event.originator_id)
            for last in self.latest.values():
                if last.values is not None:
                    write_version(last.values)
        return changed

    def write(self, changed: set[UUID]) -> None:
        created = [rows.ledger_values(self.ledger[h]) for h in changed if h not in self.stored]
        updated = [rows.ledger_values(self.ledger[h]) for h in changed if h in self.stored]
        bulk.insert(HazardLedger, rows.LEDGER_FIELDS, created)
        bulk.upsert(HazardLedger, rows.LEDGER_FIELDS, updated, key=["id"])
        bulk.update(HazardVersion, ["next_valid", "next_recorded"], self.ended, key=["hazard", "version"])

    def apply_event(self, event: Hazard.Event, write_version: Callable[[list[Any]], None]) -> bool:
        """Apply one event to its ledger row and history; False if it does not apply (replayed, or its hazard
        unknown). An event without a handler raises ``UnhandledEvent``; an ignored one moves the version only."""
        row = self.ledger.get(event.originator_id)
        apply = self.handler_for(event)
        if isinstance(event, Hazard.Discovered):
            if row is not None:
                return False
            number = self.numbers[event.originator_id] if isinstance(self.numbers, dict) else self.numbers.next(event)
            row = self.ledger[event.originator_id] = apply(event, number, self.schools.get(event.school))  # type: ignore[misc]
        else:
            if row is None or row.version != event.originator_version - 1:
                return False
            if apply is not None:
                apply(row, event)
            row.version, row.updated_at = event.originator_version, event.timestamp
        previous = self.latest.get(row.id)
        valid, recorded = event.occurred_at, event.timestamp  # type: ignore[attr-defined]
        if previous is not None and previous.values is not None:
            previous.values[rows.NEXT_VALID], previous.values[rows.NEXT_RECORDED] = valid, recorded
            write_version(previous.values)
        elif previous is not None:
            self.ended.append((valid, recorded, row.id, previous.version))
        owner_since = previous.owner_since if previous else None
        values = rows.version_values(event, row, owner_since, previous is None, self.static)
        self.latest[row.id] = rows.Latest(values, event.originator_version, values[rows.OWNER_SINCE])
        return True
