"""The hazard projector: the ledger (台账, current state) and its bitemporal history, a batch at a time.

Rows are loaded once per batch, changed in memory by the small pure functions of ``projections.ledger``,
and written back in bulk (``projections.bulk``) — one transaction per batch, with the tracking position
(see ``runner``). A row only takes an event exactly one version ahead of it, so a replayed batch changes
nothing. A history row's end (``next_*``) is its successor's start: set in memory when both are in the
batch, updated in the table when the predecessor was written by an earlier batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Count
from eventsourcing.domain import Aggregate

from domain.hazard.aggregate import Hazard
from domain.timerules import business_date
from projections import bulk, ledger
from projections.base import Projector
from projections.directory import UnitView
from projections.history import NEXT_RECORDED, NEXT_VALID, OWNER_SINCE, VERSION_FIELDS, HazardVersion, version_values
from projections.ledger import HazardLedger, LedgerHandler

LEDGER_FIELDS = [f.attname for f in HazardLedger._meta.concrete_fields]


class Numbers:
    """隐患编号, fixed by the order of the log: ``{series}-{sequence}`` counted per school and series, the series
    being ``{school code}-{year}`` for a hazard whose Discovered carries its school's code (HM01-2026-0001: unique
    across the district, codes being unique there) and ``{year}`` for one discovered before codes existed
    (2026-0001, as it was numbered then). Per school, so a parallel rebuild can share the schools out among its
    workers (``projections.rebuild``). Continues from what the ledger already holds (one query per batch)."""

    def __init__(self, discoveries: Iterable[Hazard.Discovered]) -> None:
        wanted = {(e.school, series(e)) for e in discoveries}
        self.last: dict[tuple[UUID, str], int] = dict.fromkeys(wanted, 0)
        if wanted:
            counted = (
                HazardLedger.objects.filter(
                    bulk.among("school", {school for school, _ in wanted}),
                    bulk.among("series", {name for _, name in wanted}),
                )
                .values_list("school", "series")
                .annotate(n=Count("id"))
                .order_by()
            )
            for school, name, n in counted:
                if (school, name) in self.last:
                    self.last[school, name] = n

    def next(self, event: Hazard.Discovered) -> str:
        key = (event.school, series(event))
        self.last[key] += 1
        return f"{key[1]}-{self.last[key]:04d}"


def series(event: Hazard.Discovered) -> str:
    """The numbers a hazard is counted among in its school: ``HM01-2026``, or ``2026`` for one without a code."""
    year = business_date(event.occurred_at).year
    code: str = getattr(event, "code", "")  # absent from events recorded before codes existed
    return f"{code}-{year}" if code else str(year)


class Latest:
    """A hazard's newest history row: still in memory (``values``) or already in the table (``version``)."""

    __slots__ = ("values", "version", "owner_since")

    def __init__(self, values: list[Any] | None, version: int, owner_since: datetime | None) -> None:
        self.values, self.version, self.owner_since = values, version, owner_since


class HazardProjector(Projector[LedgerHandler]):
    """The ledger's handlers (``projections.ledger``), given the hazard's row, and its history after each."""

    def __init__(self) -> None:
        super().__init__("hazards", (HazardVersion, HazardLedger), handlers=ledger.handlers)
        # Set only in a rebuild's worker process (``rebuilding``), which projects a share of the log:
        self.static: dict[UUID, str] | None = None  # state JSON's unchanging part, kept from batch to batch
        self.static_limit = 0
        self.numbers: dict[UUID, str] | None = None  # every hazard's 序号, counted over the whole log

    def rebuilding(self, numbers: dict[UUID, str], static_limit: int = 20_000) -> None:
        """For a rebuild's worker, which sees only some of a school's hazards: their 序号 as ``numbers`` gives them
        (``projections.rebuild.numbers_up_to``), and the unchanging part of each hazard's state JSON
        (``history.state_json``) encoded once rather than once per batch (up to ``static_limit`` hazards at a time,
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
            Batch(hazard_events, static, self.numbers).apply()


class Batch:
    """One batch of hazard events: the rows they touch, loaded once, changed in memory, written in bulk."""

    def __init__(
        self,
        events: list[Hazard.Event],
        static: dict[UUID, str] | None = None,
        numbers: dict[UUID, str] | None = None,
    ) -> None:
        self.events = events
        discoveries = [e for e in events if isinstance(e, Hazard.Discovered)]
        self.rows = bulk.by_pk(HazardLedger, {e.originator_id for e in events})
        self.stored = set(self.rows)
        self.latest = _open_versions(self.stored)
        self.schools = bulk.by_pk(UnitView, {e.school for e in discoveries})
        self.numbers: Numbers | dict[UUID, str] = (
            numbers if numbers is not None else Numbers(e for e in discoveries if e.originator_id not in self.rows)
        )
        self.static: dict[UUID, str] = {} if static is None else static  # see history.state_json
        self.ended: list[tuple[datetime, datetime, UUID, int]] = []  # history rows of earlier batches to end

    def apply(self) -> None:
        with bulk.together(len(self.events) < bulk.FEW):
            self.write(self.work_out())

    def work_out(self) -> set[UUID]:
        """Every event applied in memory; history rows written as they are done. Returns the hazards changed."""
        changed: set[UUID] = set()
        # A history row goes to the table as soon as its successor has ended it (or at the end of the batch),
        # so the server stores it while the next events are worked out.
        with bulk.inserting(HazardVersion, VERSION_FIELDS, expected=len(self.events)) as write_version:
            for event in self.events:
                if self.apply_event(event, write_version):
                    changed.add(event.originator_id)
            for last in self.latest.values():
                if last.values is not None:
                    write_version(last.values)
        return changed

    def write(self, changed: set[UUID]) -> None:
        created = [_ledger_values(self.rows[h]) for h in changed if h not in self.stored]
        updated = [_ledger_values(self.rows[h]) for h in changed if h in self.stored]
        bulk.insert(HazardLedger, LEDGER_FIELDS, created)
        bulk.upsert(HazardLedger, LEDGER_FIELDS, updated, key=["id"])
        bulk.update(HazardVersion, ["next_valid", "next_recorded"], self.ended, key=["hazard", "version"])

    def apply_event(self, event: Hazard.Event, write_version: Callable[[list[Any]], None]) -> bool:
        """Apply one event to its ledger row and history; False if it does not apply (replayed, or its hazard
        unknown). An event without a handler raises ``UnhandledEvent``; an ignored one moves the version only."""
        row = self.rows.get(event.originator_id)
        apply = ledger.handlers.handler_for(event)
        if isinstance(event, Hazard.Discovered):
            if row is not None:
                return False
            number = self.numbers[event.originator_id] if isinstance(self.numbers, dict) else self.numbers.next(event)
            row = self.rows[event.originator_id] = apply(event, number, self.schools.get(event.school))  # type: ignore[misc]
        else:
            if row is None or row.version != event.originator_version - 1:
                return False
            if apply is not None:
                apply(row, event)
            row.version, row.updated_at = event.originator_version, event.timestamp
        previous = self.latest.get(row.id)
        valid, recorded = event.occurred_at, event.timestamp  # type: ignore[attr-defined]
        if previous is not None and previous.values is not None:
            previous.values[NEXT_VALID], previous.values[NEXT_RECORDED] = valid, recorded
            write_version(previous.values)
        elif previous is not None:
            self.ended.append((valid, recorded, row.id, previous.version))
        owner_since = previous.owner_since if previous else None
        values = version_values(event, row, owner_since, previous is None, self.static)
        self.latest[row.id] = Latest(values, event.originator_version, values[OWNER_SINCE])
        return True


def _open_versions(hazards: set[UUID]) -> dict[UUID, Latest]:
    """The newest history row of each hazard already in the table."""
    if not hazards:
        return {}
    rows = HazardVersion.objects.filter(bulk.among("hazard", hazards), next_recorded__isnull=True).order_by()
    return {
        h: Latest(None, version, since) for h, version, since in rows.values_list("hazard", "version", "owner_since")
    }


def _ledger_values(row: HazardLedger) -> list[Any]:
    values = row.__dict__
    return [values[f] for f in LEDGER_FIELDS]


projector = HazardProjector()
