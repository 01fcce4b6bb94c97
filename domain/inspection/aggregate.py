"""Inspection (检查): self-inspection, on-site, supervision or joint, with per-item assessments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.attachments import AttachmentRef, Attachments, checked
from domain.errors import InspectionCompleted, InvalidValue
from domain.eventversions import added, versions
from domain.policy import BUREAU_ROLES, SCHOOL_ROLES, Actor, require_role, require_writer


class InspectionKind(StrEnum):
    SELF = "self"  # 自查
    ONSITE = "onsite"  # 教育局现场指导/全覆盖检查
    SUPERVISION = "supervision"  # 督查
    JOINT = "joint"  # 多部门联合检查组


class AssessmentResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"


@versions(ItemAssessed=[added(attachments=[])])  # issue 16: photos of an assessed item; none before
class Inspection(Aggregate):
    @event("Scheduled")
    def __init__(
        self,
        *,
        campaign: UUID,
        school: UUID,
        kind: str,
        inspectors: list[str],
        leader_participated: bool,
        departments: list[str],
        actor: str,
        occurred_at: datetime,
    ) -> None:
        self.campaign = campaign
        self.school = school
        self.kind = InspectionKind(kind)
        self.inspectors = inspectors
        self.leader_participated = leader_participated
        self.departments = departments
        self.assessments: dict[str, tuple[AssessmentResult, str]] = {}
        self.attachments: list[AttachmentRef] = []
        self.completed_at: datetime | None = None
        self.started_at = occurred_at
        self.last_occurred_at = occurred_at

    @classmethod
    def schedule(
        cls,
        *,
        campaign: UUID,
        school: UUID,
        kind: InspectionKind,
        inspectors: list[str],
        leader_participated: bool,
        departments: list[str],
        actor: Actor,
        occurred_at: datetime,
    ) -> Inspection:
        if kind is InspectionKind.SELF:
            require_role(actor, SCHOOL_ROLES, "组织学校自查")
        else:
            require_role(actor, BUREAU_ROLES, "组织现场检查、督查或联合检查")
        if not inspectors:
            raise InvalidValue("至少需要一名检查人员", field="inspectors")
        return cls(
            campaign=campaign,
            school=school,
            kind=kind.value,
            inspectors=list(dict.fromkeys(inspectors)),
            leader_participated=leader_participated,
            departments=departments,
            actor=actor.username,
            occurred_at=occurred_at,
        )

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None

    def assess(
        self,
        *,
        item: str,
        result: AssessmentResult,
        note: str,
        actor: Actor,
        occurred_at: datetime,
        attachments: Sequence[AttachmentRef] = (),
    ) -> None:
        self._check_open(actor)
        self._assessed(
            item=item,
            result=result.value,
            note=note,
            actor=actor.username,
            occurred_at=occurred_at,
            attachments=checked(attachments),
        )

    @event("ItemAssessed")
    def _assessed(
        self, *, item: str, result: str, note: str, actor: str, occurred_at: datetime, attachments: Attachments = ()
    ) -> None:
        self.assessments[item] = (AssessmentResult(result), note)
        self.attachments.extend(attachments)
        self.last_occurred_at = occurred_at

    def complete(self, *, actor: Actor, occurred_at: datetime) -> None:
        self._check_open(actor)
        self._completed(actor=actor.username, occurred_at=occurred_at)

    @event("Completed")
    def _completed(self, *, actor: str, occurred_at: datetime) -> None:
        self.completed_at = occurred_at
        self.last_occurred_at = occurred_at

    def _check_open(self, actor: Actor) -> None:
        require_writer(actor)
        allowed = SCHOOL_ROLES if self.kind is InspectionKind.SELF else BUREAU_ROLES
        if actor.username not in self.inspectors:
            require_role(actor, allowed, "记录此次检查")
        if self.is_completed:
            raise InspectionCompleted()
