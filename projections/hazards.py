"""The hazard projector: the ledger (台账, current state) and its bitemporal history, a batch at a time.

Rows are loaded once per batch, changed in memory by the small pure functions of ``projections.ledger``,
and written back in bulk — one transaction per batch, with the tracking position (see ``runner``).
A row only takes an event exactly one version ahead of it, so a replayed batch changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.hazard.aggregate import Hazard
from domain.timerules import business_date
from projections.base import Projector
from projections.directory import UnitView
from projections.history import HazardVersion, version_row
from projections.ledger import APPLY, HazardLedger, discovered

LEDGER_FIELDS = [f.name for f in HazardLedger._meta.concrete_fields if not f.primary_key]
BULK = 500


class Numbers:
    """序号 per school and year, continuing from what the ledger already holds."""

    def __init__(self) -> None:
        self.last: dict[tuple[UUID, int], int] = {}

    def next(self, school: UUID, year: int) -> str:
        key = (school, year)
        if key not in self.last:
            self.last[key] = HazardLedger.objects.filter(school=school, number__startswith=f"{year}-").count()
        self.last[key] += 1
        return f"{year}-{self.last[key]:04d}"


class HazardProjector(Projector):
    def __init__(self) -> None:
        super().__init__("hazards", (HazardVersion, HazardLedger))

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        hazard_events = [e for e in events if isinstance(e, Hazard.Event)]
        if not hazard_events:
            return
        ids = {e.originator_id for e in hazard_events}
        rows: dict[UUID, HazardLedger] = HazardLedger.objects.in_bulk(ids)
        latest = {v.hazard: v for v in HazardVersion.objects.filter(hazard__in=ids, next_recorded__isnull=True)}
        schools = UnitView.objects.in_bulk({e.school for e in hazard_events if isinstance(e, Hazard.Discovered)})
        numbers = Numbers()
        created: dict[UUID, HazardLedger] = {}
        changed: dict[UUID, HazardLedger] = {}
        versions: list[HazardVersion] = []
        ended: dict[int, HazardVersion] = {}
        for event in hazard_events:
            row = rows.get(event.originator_id)
            if isinstance(event, Hazard.Discovered):
                if row is not None:
                    continue
                year = business_date(event.occurred_at).year
                row = rows[event.originator_id] = created[event.originator_id] = discovered(
                    event, numbers.next(event.school, year), schools.get(event.school)
                )
            else:
                apply = APPLY.get(type(event).__name__)
                if row is None or apply is None or row.version != event.originator_version - 1:
                    continue
                apply(row, event)
                row.version, row.updated_at = event.originator_version, event.timestamp
                changed[row.id] = row
            previous = latest.get(row.id)
            if previous is not None:
                previous.next_valid, previous.next_recorded = event.occurred_at, event.timestamp  # type: ignore[attr-defined]
                if previous.pk is not None:
                    ended[previous.pk] = previous
            latest[row.id] = version_row(event, row, previous)
            versions.append(latest[row.id])
        HazardLedger.objects.bulk_create(created.values(), batch_size=BULK)
        updated = [row for hazard, row in changed.items() if hazard not in created]
        HazardLedger.objects.bulk_update(updated, LEDGER_FIELDS, batch_size=BULK)
        HazardVersion.objects.bulk_update(ended.values(), ["next_valid", "next_recorded"], batch_size=BULK)
        HazardVersion.objects.bulk_create(versions, batch_size=BULK)


projector = HazardProjector()
