"""Hazard (隐患): discovered, assigned, rectified, verified (验收) and closed (销号), never edited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.attachments import AttachmentRef, Attachments, checked, require_photo
from domain.errors import (
    AlreadySupervised,
    DeadlineAlreadyMissed,
    DeadlineInPast,
    DeadlineNotLater,
    DomainError,
    HazardVoided,
    InvalidTransition,
    InvalidValue,
    MajorRequiresBureau,
    NotCurrentOwner,
    OnSpotRequiresGeneral,
    SeparationOfDuties,
)
from domain.eventversions import added, versions
from domain.hazard.status import NOT_CLOSED_STATUSES, OPEN_STATUSES, initial_status, next_status
from domain.hazard.status import STATUS_LABELS as STATUS_LABELS  # re-exported: the status lives in status.py
from domain.hazard.status import Status as Status
from domain.policy import (
    BUREAU_ROLES,
    EDU_BUREAU_ROLES,
    SCHOOL_ROLES,
    STATION_ROLES,
    Actor,
    Requirement,
    Role,
    require_writer,
)
from domain.timerules import business_date, deadline_end


class Severity(StrEnum):
    GENERAL = "general"
    MAJOR = "major"


SEVERITY_LABELS = {Severity.GENERAL: "一般隐患", Severity.MAJOR: "重大隐患"}

DISCOVERERS = SCHOOL_ROLES | STATION_ROLES | BUREAU_ROLES
ASSIGNERS = frozenset({Role.SCHOOL_PRINCIPAL}) | BUREAU_ROLES
ESCALATORS = ASSIGNERS
SUPERVISORS = EDU_BUREAU_ROLES | {Role.POLICE_OFFICER}
GENERAL_VERIFIERS = ASSIGNERS
OPEN_FOR_WORK = OPEN_STATUSES
# Commands whose right depends on the role alone (the API judges these before the input).
DISCOVER = Requirement(DISCOVERERS, "登记隐患")
ASSIGN = Requirement(ASSIGNERS, "分派整改责任人")
TRANSFER = Requirement(ASSIGNERS, "移交整改责任")
EXTEND = Requirement(SUPERVISORS, "延长整改时限")
ESCALATE = Requirement(ESCALATORS, "上报隐患")
SUPERVISE = Requirement(SUPERVISORS, "挂牌督办")
REOPEN = Requirement(SUPERVISORS, "重新打开隐患")
VERIFY = Requirement(GENERAL_VERIFIERS, "验收")  # a major hazard's 验收 further needs a bureau (judged on the hazard)
VOID = Requirement(frozenset({Role.SCHOOL_PRINCIPAL}) | EDU_BUREAU_ROLES, "作废隐患")


def require_owner_or_principal(actor: Actor, owner: str | None) -> None:
    """Work on a hazard (plan, interim measures, progress, rectify) is for its current owner or the 校长: judged from
    the actor and the owner alone, so the API can refuse (403) before it reads the command's input."""
    require_writer(actor)
    if actor.username == owner or actor.role is Role.SCHOOL_PRINCIPAL or actor.is_admin:
        return
    raise NotCurrentOwner(owner=owner)


def check_verifier(actor: Actor, severity: Severity | str, rectified_by: str | None) -> None:
    """Who may 验收 a rectified hazard: a verifier's role, a bureau for a major hazard, never who rectified it."""
    VERIFY.check(actor)
    if Severity(severity) is Severity.MAJOR and not (actor.is_bureau or actor.is_admin):
        raise MajorRequiresBureau()
    if actor.username == rectified_by:
        raise SeparationOfDuties(rectified_by=rectified_by)


def may_verify(actor: Actor, severity: Severity | str, rectified_by: str | None) -> bool:
    """``check_verifier`` as a question (the 工作台 lists the hazards awaiting the visitor's 验收)."""
    try:
        check_verifier(actor, severity, rectified_by)
    except DomainError:
        return False
    return True


ATTACHMENTS_ADDED = added(attachments=[])  # issue 16: photos on a hazard's events; none before


@versions(
    Discovered=[added(code="", attachments=[])],  # the school's code, then photos: absent from the first events
    InterimMeasuresRecorded=[ATTACHMENTS_ADDED],
    ProgressReported=[ATTACHMENTS_ADDED],
    Rectified=[ATTACHMENTS_ADDED],
    Verified=[ATTACHMENTS_ADDED],
    Rejected=[ATTACHMENTS_ADDED],
    Reopened=[ATTACHMENTS_ADDED],
)
class Hazard(Aggregate):
    """One hazard's life. Every command checks its rules — who may (403), then its input (400), then the hazard's
    state (409) — and records exactly one event."""

    @event("Discovered")
    def __init__(
        self,
        *,
        campaign: UUID,
        school: UUID,
        inspection: UUID | None,
        item: str,
        category: str,
        description: str,
        severity: str,
        location: str,
        rectified_on_spot: bool,
        actor: str,
        occurred_at: datetime,
        code: str = "",  # the school's code at discovery; "" for hazards discovered before codes existed
        attachments: Attachments = (),  # photos of the hazard as found; none before issue 16
    ) -> None:
        self.campaign = campaign
        self.school_code = code
        self.school = school
        self.inspection = inspection
        self.item = item
        self.category = category
        self.description = description
        self.severity = Severity(severity)
        self.location = location
        self.rectified_on_spot = rectified_on_spot
        self.discovered_by = actor
        self.discovered_at = occurred_at
        self.status = initial_status(rectified_on_spot)
        self.closed_at: datetime | None = occurred_at if rectified_on_spot else None
        self.owner: str | None = None
        self.owner_unit: UUID | None = None
        self.deadline: date | None = None
        self.standard = ""
        self.plan: dict[str, Any] | None = None
        self.interim_measures: list[str] = []
        self.progress_percent = 0
        self.escalated = False
        self.escalated_to: list[UUID] = []
        self.supervised = False
        self.supervised_by: UUID | None = None
        self.beyond_capacity = False
        self.missed_deadlines: list[date] = []
        self.rectified_by: str | None = None
        self.verified_by: str | None = None
        self.voided = False
        self.voided_at: datetime | None = None
        self.void_reason = ""
        self.last_occurred_at = occurred_at
        self.attachments: list[AttachmentRef] = list(attachments)

    @classmethod
    def discover(
        cls,
        *,
        campaign: UUID,
        school: UUID,
        inspection: UUID | None,
        item: str,
        category: str,
        description: str,
        severity: Severity,
        location: str,
        rectified_on_spot: bool,
        actor: Actor,
        occurred_at: datetime,
        code: str = "",
        attachments: Sequence[AttachmentRef] = (),
    ) -> Hazard:
        DISCOVER.check(actor)
        if not description.strip():
            raise InvalidValue("问题表现不能为空", field="description")
        if rectified_on_spot and severity is not Severity.GENERAL:
            raise OnSpotRequiresGeneral()
        return cls(
            campaign=campaign,
            school=school,
            inspection=inspection,
            item=item,
            category=category,
            description=description.strip(),
            severity=severity.value,
            location=location,
            rectified_on_spot=rectified_on_spot,
            actor=actor.username,
            occurred_at=occurred_at,
            code=code,
            attachments=checked(attachments),
        )

    # --- derived --------------------------------------------------------------------------------

    @property
    def overdue(self) -> bool:
        """Overdue is a recorded fact: the current deadline was missed and work is still open."""
        return self.deadline is not None and self.deadline in self.missed_deadlines and self.status in OPEN_FOR_WORK

    def due_deadline(self, at: datetime) -> date | None:
        """The current deadline if it has passed by ``at`` while work was open and no miss is recorded yet."""
        if self.deadline is None or self.status not in OPEN_FOR_WORK or self.deadline in self.missed_deadlines:
            return None
        if self.voided:
            return None
        return self.deadline if deadline_end(self.deadline) <= at else None

    # --- commands -------------------------------------------------------------------------------

    def assign(
        self, *, owner: str, owner_unit: UUID, deadline: date, standard: str, actor: Actor, occurred_at: datetime
    ) -> None:
        ASSIGN.check(actor)
        _check_deadline(deadline, occurred_at)
        self._require_status({Status.REPORTED}, "只有新登记的隐患可以分派，已分派的请使用移交")
        self._assigned(
            owner=owner,
            owner_unit=owner_unit,
            deadline=deadline,
            standard=standard,
            actor=actor.username,
            occurred_at=occurred_at,
        )

    @event("Assigned")
    def _assigned(
        self, *, owner: str, owner_unit: UUID, deadline: date, standard: str, actor: str, occurred_at: datetime
    ) -> None:
        self.owner, self.owner_unit, self.deadline, self.standard = owner, owner_unit, deadline, standard
        self.status = self._status_after("Assigned")
        self.last_occurred_at = occurred_at

    def transfer(self, *, owner: str, owner_unit: UUID, reason: str, actor: Actor, occurred_at: datetime) -> None:
        TRANSFER.check(actor)
        _require_text(reason, "reason", "移交原因不能为空")
        self._require_status({Status.ASSIGNED}, "只有已分派、正在整改的隐患可以移交")
        if owner == self.owner and owner_unit == self.owner_unit:
            raise InvalidValue("新责任人与当前责任人相同", field="owner")
        self._transferred(
            owner=owner, owner_unit=owner_unit, reason=reason, actor=actor.username, occurred_at=occurred_at
        )

    @event("Transferred")
    def _transferred(self, *, owner: str, owner_unit: UUID, reason: str, actor: str, occurred_at: datetime) -> None:
        self.owner, self.owner_unit = owner, owner_unit
        self.last_occurred_at = occurred_at

    def record_plan(
        self,
        *,
        measures: str,
        funds: str,
        deadline: date,
        contingency: str,
        beyond_capacity: bool,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self._require_owner_or_principal(actor)
        _require_text(measures, "measures", "整改措施不能为空")
        _check_deadline(deadline, occurred_at)
        self._require_status(OPEN_FOR_WORK, "已整改或已销号的隐患不能再制定整改方案")
        self._plan_recorded(
            measures=measures,
            funds=funds,
            deadline=deadline,
            contingency=contingency,
            beyond_capacity=beyond_capacity,
            actor=actor.username,
            occurred_at=occurred_at,
        )

    @event("PlanRecorded")
    def _plan_recorded(
        self,
        *,
        measures: str,
        funds: str,
        deadline: date,
        contingency: str,
        beyond_capacity: bool,
        actor: str,
        occurred_at: datetime,
    ) -> None:
        self.plan = {"measures": measures, "funds": funds, "deadline": deadline, "contingency": contingency}
        self.beyond_capacity = beyond_capacity
        self.last_occurred_at = occurred_at

    def record_interim_measures(
        self, *, measures: str, actor: Actor, occurred_at: datetime, attachments: Sequence[AttachmentRef] = ()
    ) -> None:
        self._require_owner_or_principal(actor)
        _require_text(measures, "measures", "临时安全防范措施不能为空")
        self._require_status(OPEN_FOR_WORK, "已整改或已销号的隐患不需要临时防范措施")
        self._interim_measures_recorded(
            measures=measures, actor=actor.username, occurred_at=occurred_at, attachments=checked(attachments)
        )

    @event("InterimMeasuresRecorded")
    def _interim_measures_recorded(
        self, *, measures: str, actor: str, occurred_at: datetime, attachments: Attachments = ()
    ) -> None:
        self.interim_measures.append(measures)
        self.attachments.extend(attachments)
        self.last_occurred_at = occurred_at

    def report_progress(
        self,
        *,
        note: str,
        percent: int,
        actor: Actor,
        occurred_at: datetime,
        attachments: Sequence[AttachmentRef] = (),
    ) -> None:
        self._require_owner_or_principal(actor)
        if not 0 <= percent <= 100:
            raise InvalidValue("整改进度必须在0到100之间", field="percent")
        self._require_status({Status.ASSIGNED}, "只有正在整改的隐患可以报告进度")
        self._progress_reported(
            note=note,
            percent=percent,
            actor=actor.username,
            occurred_at=occurred_at,
            attachments=checked(attachments),
        )

    @event("ProgressReported")
    def _progress_reported(
        self, *, note: str, percent: int, actor: str, occurred_at: datetime, attachments: Attachments = ()
    ) -> None:
        self.progress_percent = percent
        self.attachments.extend(attachments)
        self.last_occurred_at = occurred_at

    def extend_deadline(self, *, new_deadline: date, reason: str, actor: Actor, occurred_at: datetime) -> None:
        EXTEND.check(actor)
        self._require_status(OPEN_FOR_WORK, "已整改或已销号的隐患不能延期")
        if self.deadline is None:
            raise InvalidTransition("尚未确定整改时限，不能延期")
        if new_deadline <= self.deadline:
            raise DeadlineNotLater(current=self.deadline.isoformat())
        _require_text(reason, "reason", "延期原因不能为空")
        self._deadline_extended(
            previous_deadline=self.deadline,
            new_deadline=new_deadline,
            reason=reason,
            actor=actor.username,
            occurred_at=occurred_at,
        )

    @event("DeadlineExtended")
    def _deadline_extended(
        self, *, previous_deadline: date, new_deadline: date, reason: str, actor: str, occurred_at: datetime
    ) -> None:
        self.deadline = new_deadline
        self.last_occurred_at = occurred_at

    def record_deadline_missed(self, *, deadline: date, actor: Actor, occurred_at: datetime) -> None:
        """Recorded by the system (the deadline watcher), once per deadline."""
        if actor.role is not Role.SYSTEM:
            raise InvalidTransition("逾期只能由系统记录")
        self._require_not_voided()
        if deadline != self.deadline or self.status not in OPEN_FOR_WORK:
            raise InvalidTransition("该整改时限已不在执行中")
        if deadline in self.missed_deadlines:
            raise DeadlineAlreadyMissed(deadline=deadline.isoformat())
        if occurred_at < deadline_end(deadline):
            raise InvalidTransition("整改时限尚未届满", deadline=deadline.isoformat())
        self._deadline_missed(deadline=deadline, owner=self.owner, actor=actor.username, occurred_at=occurred_at)

    @event("DeadlineMissed")
    def _deadline_missed(self, *, deadline: date, owner: str | None, actor: str, occurred_at: datetime) -> None:
        self.missed_deadlines.append(deadline)
        self.last_occurred_at = occurred_at

    def escalate(self, *, to_unit: UUID, reason: str, actor: Actor, occurred_at: datetime) -> None:
        ESCALATE.check(actor)
        _require_text(reason, "reason", "上报原因不能为空")
        self._require_status(NOT_CLOSED_STATUSES, "已销号的隐患不能上报")
        self._escalated(to_unit=to_unit, reason=reason, actor=actor.username, occurred_at=occurred_at)

    @event("Escalated")
    def _escalated(self, *, to_unit: UUID, reason: str, actor: str, occurred_at: datetime) -> None:
        self.escalated = True
        self.escalated_to.append(to_unit)
        self.last_occurred_at = occurred_at

    def supervise(self, *, note: str, actor: Actor, occurred_at: datetime) -> None:
        SUPERVISE.check(actor)
        self._require_status(NOT_CLOSED_STATUSES, "已销号的隐患不能挂牌督办")
        if self.supervised:
            raise AlreadySupervised()
        self._supervised(by_unit=actor.unit, note=note, actor=actor.username, occurred_at=occurred_at)

    @event("Supervised")
    def _supervised(self, *, by_unit: UUID | None, note: str, actor: str, occurred_at: datetime) -> None:
        self.supervised = True
        self.supervised_by = by_unit
        self.last_occurred_at = occurred_at

    def rectify(
        self,
        *,
        note: str,
        evidence: list[str],
        actor: Actor,
        occurred_at: datetime,
        attachments: Sequence[AttachmentRef] = (),
        photo_required: bool = True,
    ) -> None:
        """整改完成: by default with at least one photo of the result (``photo_required``, a setting can relax it);
        a hazard rectified on the spot (立行立改) is closed at discovery, where photos stay optional."""
        self._require_owner_or_principal(actor)
        _require_text(note, "note", "整改情况说明不能为空")
        self._require_status({Status.ASSIGNED}, "只有已分派、正在整改的隐患可以登记整改完成")
        refs = checked(attachments)
        if photo_required:
            require_photo(refs)
        self._rectified(note=note, evidence=evidence, actor=actor.username, occurred_at=occurred_at, attachments=refs)

    @event("Rectified")
    def _rectified(
        self, *, note: str, evidence: list[str], actor: str, occurred_at: datetime, attachments: Attachments = ()
    ) -> None:
        self.attachments.extend(attachments)
        self.status = self._status_after("Rectified")
        self.rectified_by = actor
        self.progress_percent = 100
        self.last_occurred_at = occurred_at

    def verify(
        self,
        *,
        accepted: bool,
        note: str,
        actor: Actor,
        occurred_at: datetime,
        attachments: Sequence[AttachmentRef] = (),
    ) -> None:
        """验收: accepted closes the hazard (销号); rejected sends it back to the owner."""
        check_verifier(actor, self.severity, self.rectified_by)
        if not accepted:
            _require_text(note, "note", "验收不通过时必须说明原因")
        self._require_status({Status.RECTIFIED}, "只有已登记整改完成的隐患可以验收")
        refs = checked(attachments)
        if accepted:
            self._verified(note=note, actor=actor.username, occurred_at=occurred_at, attachments=refs)
        else:
            self._rejected(note=note, actor=actor.username, occurred_at=occurred_at, attachments=refs)

    @event("Verified")
    def _verified(self, *, note: str, actor: str, occurred_at: datetime, attachments: Attachments = ()) -> None:
        self.attachments.extend(attachments)
        self.status = self._status_after("Verified")
        self.verified_by = actor
        self.closed_at = occurred_at
        self.last_occurred_at = occurred_at

    @event("Rejected")
    def _rejected(self, *, note: str, actor: str, occurred_at: datetime, attachments: Attachments = ()) -> None:
        self.attachments.extend(attachments)
        self.status = self._status_after("Rejected")
        self.rectified_by = None
        self.last_occurred_at = occurred_at

    def reopen(
        self, *, reason: str, actor: Actor, occurred_at: datetime, attachments: Sequence[AttachmentRef] = ()
    ) -> None:
        REOPEN.check(actor)
        _require_text(reason, "reason", "重新打开的原因不能为空")
        self._require_not_voided()
        if self.status is not Status.CLOSED:
            raise InvalidTransition("只有已销号的隐患可以重新打开")
        self._reopened(reason=reason, actor=actor.username, occurred_at=occurred_at, attachments=checked(attachments))

    @event("Reopened")
    def _reopened(self, *, reason: str, actor: str, occurred_at: datetime, attachments: Attachments = ()) -> None:
        self.attachments.extend(attachments)
        self.status = self._status_after("Reopened")
        self.closed_at = None
        self.rectified_by = None
        self.progress_percent = 0
        self.last_occurred_at = occurred_at

    def void(self, *, reason: str, actor: Actor, occurred_at: datetime) -> None:
        """作废: a hazard recorded by mistake leaves every count and list; its events stay in the log."""
        VOID.check(actor)
        _require_text(reason, "reason", "作废原因不能为空")
        self._require_not_voided()
        self._voided(reason=reason.strip(), actor=actor.username, occurred_at=occurred_at)

    @event("Voided")
    def _voided(self, *, reason: str, actor: str, occurred_at: datetime) -> None:
        self.voided, self.voided_at, self.void_reason = True, occurred_at, reason
        self.last_occurred_at = occurred_at

    # --- rule helpers ---------------------------------------------------------------------------

    def _status_after(self, kind: str) -> Status:
        return next_status(self.status, kind, owner=self.owner)

    def _require_not_voided(self) -> None:
        if self.voided:
            raise HazardVoided(voided_at=self.voided_at.isoformat() if self.voided_at else None)

    def _require_status(self, allowed: set[Status] | frozenset[Status], detail: str) -> None:
        self._require_not_voided()
        if self.status is Status.CLOSED and Status.CLOSED not in allowed:
            raise InvalidTransition("已销号的隐患只能重新打开", status=self.status.value)
        if self.status not in allowed:
            raise InvalidTransition(detail, status=self.status.value)

    def _require_owner_or_principal(self, actor: Actor) -> None:
        require_owner_or_principal(actor, self.owner)


def _check_deadline(deadline: date, occurred_at: datetime) -> None:
    if deadline < business_date(occurred_at):
        raise DeadlineInPast(deadline=deadline.isoformat())


def _require_text(value: str, field: str, detail: str) -> None:
    if not value.strip():
        raise InvalidValue(detail, field=field)
