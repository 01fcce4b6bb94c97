"""The hazard's commands of discovery and oversight: discovered, assigned, transferred, escalated, supervised,
reopened, voided; and the hazard as it was (its rectification: ``domain.hazard.rectification``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import cast
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.attachments import AttachmentRef
from domain.core import Core
from domain.errors import (
    HazardNotFound,
    InvalidEscalationTarget,
    InvalidValue,
    StaffNotFound,
    UnknownChecklistItem,
)
from domain.hazard.aggregate import Hazard, Severity
from domain.policy import (
    BUREAU_KINDS,
    Actor,
    Role,
)


class HazardCommands(Core):
    """A hazard found, given an owner, overseen (rectification work: ``domain.hazard.rectification``)."""

    def discover_hazard(
        self,
        *,
        actor: Actor,
        campaign: UUID,
        school: UUID,
        description: str,
        severity: Severity,
        inspection: UUID | None = None,
        item: str = "",
        category: str = "",
        location: str = "",
        rectified_on_spot: bool = False,
        occurred_at: datetime | None = None,
        code: str = "",
        attachments: Sequence[AttachmentRef] = (),
    ) -> Hazard:
        """``code``: the school's code as the directory gives it (its own or its default), fixed into the hazard's
        number at discovery; the code registered on the unit when none is given."""
        when = self._when(occurred_at)
        the_campaign = self.get_campaign(campaign)
        self._school_in_campaign(the_campaign, school)
        if inspection is not None:
            found = self.get_inspection(inspection)
            if found.campaign != campaign or found.school != school:
                raise InvalidValue("该检查不属于此学校或此专项排查", field="inspection")
        if item:
            checklist_item = the_campaign.item(item)
            if checklist_item is None:
                raise UnknownChecklistItem(item=item)
            category = category or checklist_item["category"]
        hazard = Hazard.discover(
            campaign=campaign,
            school=school,
            inspection=inspection,
            item=item,
            category=category.strip() or "其他",
            description=description,
            severity=severity,
            location=location,
            rectified_on_spot=rectified_on_spot,
            actor=actor,
            occurred_at=when,
            code=code or getattr(self.get_unit(school), "code", ""),
            attachments=attachments,
        )
        self._save(hazard)
        return hazard

    def assign_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        owner: str,
        owner_unit: UUID,
        deadline: date,
        standard: str = "",
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        def assign(hazard: Hazard, when: datetime) -> None:
            self._check_owner(owner, owner_unit, when)
            hazard.assign(
                owner=owner, owner_unit=owner_unit, deadline=deadline, standard=standard, actor=actor, occurred_at=when
            )

        return self._hazard(hazard_id, expected_version, occurred_at, assign)

    def transfer_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        owner: str,
        owner_unit: UUID,
        reason: str,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        def transfer(hazard: Hazard, when: datetime) -> None:
            self._check_owner(owner, owner_unit, when)
            hazard.transfer(owner=owner, owner_unit=owner_unit, reason=reason, actor=actor, occurred_at=when)

        return self._hazard(hazard_id, expected_version, occurred_at, transfer)

    def escalate_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        to_unit: UUID,
        reason: str,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        def escalate(hazard: Hazard, when: datetime) -> None:
            if self.get_unit(to_unit).kind not in BUREAU_KINDS:
                raise InvalidEscalationTarget(to_unit=str(to_unit))
            hazard.escalate(to_unit=to_unit, reason=reason, actor=actor, occurred_at=when)

        return self._hazard(hazard_id, expected_version, occurred_at, escalate)

    def supervise_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        note: str = "",
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.supervise(note=note, actor=actor, occurred_at=when),
        )

    def reopen_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        reason: str,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
        attachments: Sequence[AttachmentRef] = (),
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.reopen(reason=reason, actor=actor, occurred_at=when, attachments=attachments),
        )

    def void_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        reason: str,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.void(reason=reason, actor=actor, occurred_at=when),
        )

    def get_hazard(self, hazard_id: UUID, *, version: int | None = None, known_at: datetime | None = None) -> Hazard:
        """The hazard now, at a version, or as it was recorded at ``known_at`` (record time)."""
        if known_at is not None:
            known = [e.originator_version for e in self.hazard_events(hazard_id) if e.timestamp <= known_at]
            if not known:
                raise HazardNotFound("该时间点尚无此隐患的记录", id=str(hazard_id))
            version = known[-1] if version is None else min(version, known[-1])
        if version is not None and version < 1:
            raise InvalidValue("版本号必须大于0", field="version")
        hazard = self._load(Hazard, hazard_id, HazardNotFound, version=version)
        return hazard

    def hazard_events(self, hazard_id: UUID) -> list[Aggregate.Event]:
        events = cast(list[Aggregate.Event], list(self.events.get(hazard_id)))
        if not events or not type(events[0]).__qualname__.startswith("Hazard."):
            raise HazardNotFound(id=str(hazard_id))
        return events

    def _check_owner(self, owner: str, owner_unit: UUID, when: datetime) -> None:
        self.get_unit(owner_unit)
        try:
            appointment = self.get_staff(owner).appointment_at(when)
        except StaffNotFound:
            raise InvalidValue("整改责任人不存在", field="owner") from None
        if appointment is None or appointment.unit != owner_unit:
            raise InvalidValue("整改责任人不在该责任单位任职", field="owner")
        if appointment.role in (Role.AUDITOR, Role.ADMIN):
            raise InvalidValue("审计人员和管理员不能担任整改责任人", field="owner")
