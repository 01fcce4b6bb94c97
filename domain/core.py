"""The application's shared core: load → decide → save, the clock, and lookups every context uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.campaign.aggregate import Campaign
from domain.directory.aggregate import Staff, Unit, staff_id
from domain.errors import (
    CampaignNotFound,
    Conflict,
    HazardNotFound,
    InspectionNotFound,
    NotASchool,
    NotFound,
    SchoolNotInCampaign,
    StaffNotFound,
    UnitNotFound,
    VersionConflict,
)
from domain.hazard.aggregate import Hazard
from domain.inspection.aggregate import Inspection
from domain.policy import (
    SYSTEM_ACTOR,
    UnitKind,
)
from domain.timerules import check_occurred_at, deadline_end

A = TypeVar("A", bound=Aggregate)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _mutate_all(aggregate: Aggregate | None, events: Iterable[Aggregate.Event]) -> Aggregate | None:
    """The library's ``project_aggregate`` without its per-event runtime check against a ``Protocol`` (~0.1 ms
    an event): the events of this application are all ``Aggregate.Event``s, which mutate."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class _Collected(ProcessingEvent[UUID]):
    """The library's ``ProcessingEvent``, an aggregate's pending events collected without its two runtime checks
    against ``Protocol`` classes (~0.05 ms each, a command saving one aggregate)."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            else:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


class Core(Application[UUID]):
    """The mechanics each context's commands (``domain/<context>/commands.py``) share."""

    clock: Clock  # set by SafetyApplication
    rectify_requires_photo: bool = True  # 整改完成须附照片; an installation's setting can relax it

    def get_unit(self, unit_id: UUID) -> Unit:
        return self._load(Unit, unit_id, UnitNotFound)

    def get_staff(self, username: str) -> Staff:
        return self._load(Staff, staff_id(username), StaffNotFound)

    def get_campaign(self, campaign_id: UUID) -> Campaign:
        return self._load(Campaign, campaign_id, CampaignNotFound)

    def get_inspection(self, inspection_id: UUID) -> Inspection:
        return self._load(Inspection, inspection_id, InspectionNotFound)

    def _hazard(
        self,
        hazard_id: UUID,
        expected_version: int | None,
        occurred_at: datetime | None,
        decide: Callable[[Hazard, datetime], None],
    ) -> Hazard:
        def decide_after_due_miss(hazard: Hazard, when: datetime) -> None:
            # A deadline that passed before this command is recorded first, at its own 24:00, so the log
            # says it was missed even if the watcher has not run yet, and stays in business-time order.
            due = hazard.due_deadline(when)
            if due is not None:
                hazard.record_deadline_missed(deadline=due, actor=SYSTEM_ACTOR, occurred_at=deadline_end(due))
            decide(hazard, when)

        return self._change(Hazard, hazard_id, HazardNotFound, expected_version, occurred_at, decide_after_due_miss)

    def _change(
        self,
        cls: type[A],
        aggregate_id: UUID,
        not_found: type[NotFound],
        expected_version: int | None,
        occurred_at: datetime | None,
        decide: Callable[[A, datetime], None],
    ) -> A:
        aggregate = self._load(cls, aggregate_id, not_found)
        loaded = aggregate.version
        stale = VersionConflict(expected=expected_version, actual=loaded)
        try:
            when = self._when(occurred_at, latest=getattr(aggregate, "last_occurred_at", None))
            decide(aggregate, when)
        except Conflict:
            # Refusals in the order 403/404 → 400 → 409: who may act and what is valid are judged first.
            if expected_version not in (None, loaded):
                raise stale from None
            raise
        if expected_version not in (None, loaded):
            raise stale
        self._save(aggregate)
        return aggregate

    def _load(self, cls: type[A], aggregate_id: UUID, not_found: type[NotFound], version: int | None = None) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id, version=version, projector_func=_mutate_all)
        except AggregateNotFoundError:
            raise not_found(id=str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise not_found(id=str(aggregate_id))
        return aggregate

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's ``save`` (eventsourcing 9.5), with ``_Collected``."""
        processing_event = _Collected()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as its save calls it
        return recordings

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def _save(self, *aggregates: Aggregate, conflict: Exception | None = None) -> None:
        try:
            self.save(*aggregates)
        except IntegrityError:
            # Another command saved the same aggregate version first: one wins, nothing is lost.
            raise (conflict or VersionConflict()) from None

    def _when(self, occurred_at: datetime | None, latest: datetime | None = None) -> datetime:
        now = self.clock()
        when = occurred_at or now
        check_occurred_at(when, now=now, latest=latest)
        return when

    def _school_in_campaign(self, campaign: Campaign, school_id: UUID) -> None:
        school = self.get_unit(school_id)
        if school.kind is not UnitKind.SCHOOL:
            raise NotASchool(unit=str(school_id))
        if not self._covers(campaign, school):
            raise SchoolNotInCampaign(school=str(school_id))

    def _covers(self, campaign: Campaign, school: Unit) -> bool:
        """Judged against the directory as it is now: the scope's units and the school's district and station."""
        scope_units = [self.get_unit(unit) for unit in campaign.scope]
        return campaign.covers(school, scope_units, self.get_unit(campaign.issuer) if campaign.issuer else None)

    def campaign_covers(self, campaign: UUID, school: UUID) -> bool:
        """Whether a campaign reaches a school (``domain.campaign.aggregate.scope_covers``)."""
        return self._covers(self.get_campaign(campaign), self.get_unit(school))
