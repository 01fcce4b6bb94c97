"""The application: one method per command — load → decide (aggregate rules) → save."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording

from domain.campaign.aggregate import Campaign, SchoolPlace
from domain.directory.aggregate import Staff, Unit, school_code, staff_id
from domain.errors import (
    AlreadyExists,
    CampaignNotFound,
    Conflict,
    HazardNotFound,
    InspectionNotFound,
    InvalidEscalationTarget,
    InvalidValue,
    JointFormNotFound,
    NotASchool,
    NotFound,
    SchoolCodeTaken,
    SchoolNotInCampaign,
    StaffNotFound,
    UnitNotFound,
    UnknownChecklistItem,
    VersionConflict,
)
from domain.hazard.aggregate import Hazard, Severity
from domain.inspection.aggregate import AssessmentResult, Inspection, InspectionKind
from domain.jointform.aggregate import JointForm, party_of
from domain.jointform.police import Cipher, PoliceNotes, notes_id
from domain.policy import (
    AMEND_CAMPAIGN,
    BUREAU_KINDS,
    CHANGE_ROLE,
    CHANGE_UNIT,
    CREATE_USER,
    DEACTIVATE_USER,
    LAUNCH_CAMPAIGN,
    REGISTER_UNIT,
    SYSTEM_ACTOR,
    Actor,
    Role,
    UnitKind,
)
from domain.submission.aggregate import Submission
from domain.timerules import check_occurred_at, deadline_end
from domain.transcodings import DateAsISO

A = TypeVar("A", bound=Aggregate)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SafetyApplication(Application[UUID]):
    """School-safety hazard ledger (校园安全隐患排查整治) as an event-sourced application."""

    name = "SafetyApp"

    def __init__(
        self, env: dict[str, str] | None = None, *, clock: Clock = utc_now, police_cipher: Cipher | None = None
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.police_cipher = police_cipher  # seals police-only content (domain.jointform.police)
        self._recorded = threading.local()

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        positions = [r.notification.id for r in recordings if r.notification.id is not None]
        if positions:
            self._recorded.position = max(positions + [getattr(self._recorded, "position", 0) or 0])
        versions = getattr(self._recorded, "versions", None)
        if versions is not None:
            for r in recordings:
                event = r.domain_event
                versions[event.originator_id] = max(versions.get(event.originator_id, 0), event.originator_version)

    def recording(self) -> Callable[[], int | None]:
        """Start noting what this thread records; the answer tells the log position of the last event since."""
        self._recorded.position = None
        self._recorded.versions = {}
        return lambda: getattr(self._recorded, "position", None)

    def recorded_versions(self) -> dict[UUID, int]:
        """The latest version of each aggregate this thread recorded since ``recording()``."""
        return dict(getattr(self._recorded, "versions", None) or {})

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # --- unit directory ---------------------------------------------------------------------------

    def register_unit(
        self,
        *,
        actor: Actor,
        kind: UnitKind,
        name: str,
        district: str = "",
        parent: UUID | None = None,
        police_station: UUID | None = None,
        stage: str = "",
        boarding: bool = False,
        code: str = "",
        code_in_use: Callable[[str, str], bool] | None = None,
        occurred_at: datetime | None = None,
    ) -> Unit:
        """``code_in_use(district, code)``: whether a school of the district already goes by the code (the
        directory's read model answers it; codes are unique within a district)."""
        REGISTER_UNIT.check(actor)
        when = self._when(occurred_at)
        unit = Unit.register(
            kind=kind,
            name=name,
            district=district,
            parent=self.get_unit(parent) if parent else None,
            police_station=self.get_unit(police_station) if police_station else None,
            stage=stage,
            boarding=boarding,
            actor=actor.username,
            occurred_at=when,
            code=code,
        )
        if unit.code and code_in_use is not None and code_in_use(unit.district, unit.code):
            raise SchoolCodeTaken(field="code", district=unit.district, value=unit.code)
        self._save(unit)
        return unit

    def change_unit(
        self,
        unit_id: UUID,
        *,
        actor: Actor,
        effective_from: datetime,
        name: str | None = None,
        district: str | None = None,
        police_station: UUID | None = None,
        code: str | None = None,
        code_in_use: Callable[[str, str], bool] | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Unit:
        """``code_in_use(district, code)`` as for ``register_unit``: a new code must be free in the unit's district."""
        CHANGE_UNIT.check(actor)
        current = self.get_unit(unit_id)  # 404 before the input is judged
        try:
            station = self.get_unit(police_station) if police_station else None
        except UnitNotFound:
            raise InvalidValue("属地派出所不存在", field="police_station") from None
        wanted = school_code(code, current.kind) if code is not None else ""
        target = current.district if district is None else district.strip()
        if wanted and wanted != current.code and code_in_use is not None and code_in_use(target, wanted):
            raise SchoolCodeTaken(field="code", district=target, value=wanted)
        return self._change(
            Unit,
            unit_id,
            UnitNotFound,
            expected_version,
            occurred_at,
            lambda unit, when: unit.change(
                name=name,
                district=district,
                police_station=station,
                code=code,
                effective_from=effective_from,
                actor=actor.username,
                occurred_at=when,
            ),
        )

    def appoint_staff(
        self,
        *,
        actor: Actor,
        username: str,
        display_name: str,
        phone: str,
        unit: UUID | None,
        role: Role,
        effective_from: datetime | None = None,
        occurred_at: datetime | None = None,
    ) -> Staff:
        CREATE_USER.check(actor)
        when = self._when(occurred_at)
        if self._exists(staff_id(username)):
            raise AlreadyExists("用户名已存在", username=username)
        staff = Staff.appoint(
            username=username,
            display_name=display_name,
            phone=phone,
            unit_id=unit,
            unit_kind=self.get_unit(unit).kind if unit else None,
            role=role,
            effective_from=effective_from or when,
            actor=actor.username,
            occurred_at=when,
        )
        self._save(staff, conflict=AlreadyExists("用户名已存在", username=username))
        return staff

    def change_role(
        self,
        *,
        actor: Actor,
        username: str,
        unit: UUID | None,
        role: Role,
        effective_from: datetime | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Staff:
        CHANGE_ROLE.check(actor)
        unit_kind = self.get_unit(unit).kind if unit else None
        return self._change(
            Staff,
            staff_id(username),
            StaffNotFound,
            expected_version,
            occurred_at,
            lambda staff, when: staff.change_role(
                unit_id=unit,
                unit_kind=unit_kind,
                role=role,
                effective_from=effective_from or when,
                actor=actor.username,
                occurred_at=when,
            ),
        )

    def deactivate_staff(
        self,
        *,
        actor: Actor,
        username: str,
        effective_from: datetime | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Staff:
        DEACTIVATE_USER.check(actor)
        return self._change(
            Staff,
            staff_id(username),
            StaffNotFound,
            expected_version,
            occurred_at,
            lambda staff, when: staff.leave(
                effective_from=effective_from or when, actor=actor.username, occurred_at=when
            ),
        )

    def get_unit(self, unit_id: UUID) -> Unit:
        return self._load(Unit, unit_id, UnitNotFound)

    def get_staff(self, username: str) -> Staff:
        return self._load(Staff, staff_id(username), StaffNotFound)

    # --- campaigns and inspections -----------------------------------------------------------------

    def launch_campaign(
        self,
        *,
        actor: Actor,
        title: str,
        document_no: str,
        template: str,
        checklist: Sequence[dict[str, str]],
        phases: Sequence[dict[str, Any]],
        statistics_cutoff: date,
        report_deadline: date,
        scope: Sequence[UUID],
        recipients: Sequence[UUID],
        schools: Iterable[SchoolPlace] | None = None,
        occurred_at: datetime | None = None,
    ) -> Campaign:
        """``schools``: the directory's schools now (the API passes them), so that a scope covering none is refused."""
        LAUNCH_CAMPAIGN.check(actor)
        when = self._when(occurred_at)
        for unit in recipients:
            self.get_unit(unit)
        campaign = Campaign.launch(
            scope_units=[self.get_unit(unit) for unit in scope],
            schools=schools,
            title=title.strip(),
            document_no=document_no.strip(),
            issuer=actor.unit,
            template=template,
            checklist=[dict(item) for item in checklist],
            phases=[dict(phase) for phase in phases],
            statistics_cutoff=statistics_cutoff,
            report_deadline=report_deadline,
            scope=list(dict.fromkeys(scope)),
            recipients=list(dict.fromkeys(recipients)),
            actor=actor.username,
            occurred_at=when,
        )
        self._save(campaign)
        return campaign

    def amend_campaign(
        self,
        campaign_id: UUID,
        *,
        actor: Actor,
        phases: Sequence[dict[str, Any]] | None = None,
        statistics_cutoff: date | None = None,
        report_deadline: date | None = None,
        scope: Sequence[UUID] | None = None,
        schools: Iterable[SchoolPlace] | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Campaign:
        """``schools``: the directory's schools now (the API passes them), so that a scope covering none is refused."""
        AMEND_CAMPAIGN.check(actor)
        scope_units = [self.get_unit(unit) for unit in scope or ()]
        return self._change(
            Campaign,
            campaign_id,
            CampaignNotFound,
            expected_version,
            occurred_at,
            lambda campaign, when: campaign.amend(
                phases=None if phases is None else [dict(phase) for phase in phases],
                statistics_cutoff=statistics_cutoff,
                report_deadline=report_deadline,
                scope=None if scope is None else list(scope),
                scope_units=scope_units,
                schools=schools,
                actor=actor,
                occurred_at=when,
            ),
        )

    def get_campaign(self, campaign_id: UUID) -> Campaign:
        return self._load(Campaign, campaign_id, CampaignNotFound)

    def schedule_inspection(
        self,
        *,
        actor: Actor,
        campaign: UUID,
        school: UUID,
        kind: InspectionKind,
        inspectors: Sequence[str],
        leader_participated: bool = False,
        departments: Sequence[str] = (),
        occurred_at: datetime | None = None,
    ) -> Inspection:
        when = self._when(occurred_at)
        self._school_in_campaign(self.get_campaign(campaign), school)
        for username in inspectors:
            if not self._exists(staff_id(username)):
                raise InvalidValue("检查人员不存在", field="inspectors", username=username)
        inspection = Inspection.schedule(
            campaign=campaign,
            school=school,
            kind=kind,
            inspectors=list(inspectors),
            leader_participated=leader_participated,
            departments=list(departments),
            actor=actor,
            occurred_at=when,
        )
        self._save(inspection)
        return inspection

    def assess_item(
        self,
        inspection_id: UUID,
        *,
        actor: Actor,
        item: str,
        result: AssessmentResult,
        note: str = "",
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Inspection:
        inspection = self.get_inspection(inspection_id)
        if self.get_campaign(inspection.campaign).item(item) is None:
            raise UnknownChecklistItem(item=item)
        return self._change(
            Inspection,
            inspection_id,
            InspectionNotFound,
            expected_version,
            occurred_at,
            lambda insp, when: insp.assess(item=item, result=result, note=note, actor=actor, occurred_at=when),
        )

    def complete_inspection(
        self,
        inspection_id: UUID,
        *,
        actor: Actor,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Inspection:
        return self._change(
            Inspection,
            inspection_id,
            InspectionNotFound,
            expected_version,
            occurred_at,
            lambda insp, when: insp.complete(actor=actor, occurred_at=when),
        )

    def get_inspection(self, inspection_id: UUID) -> Inspection:
        return self._load(Inspection, inspection_id, InspectionNotFound)

    # --- hazards -----------------------------------------------------------------------------------

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

    def record_plan(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        measures: str,
        funds: str,
        deadline: date,
        contingency: str = "",
        beyond_capacity: bool = False,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.record_plan(
                measures=measures,
                funds=funds,
                deadline=deadline,
                contingency=contingency,
                beyond_capacity=beyond_capacity,
                actor=actor,
                occurred_at=when,
            ),
        )

    def record_interim_measures(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        measures: str,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.record_interim_measures(measures=measures, actor=actor, occurred_at=when),
        )

    def report_progress(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        note: str,
        percent: int,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.report_progress(note=note, percent=percent, actor=actor, occurred_at=when),
        )

    def extend_deadline(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        new_deadline: date,
        reason: str,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.extend_deadline(
                new_deadline=new_deadline, reason=reason, actor=actor, occurred_at=when
            ),
        )

    def record_deadline_missed(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        deadline: date,
        occurred_at: datetime,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._change(
            Hazard,
            hazard_id,
            HazardNotFound,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.record_deadline_missed(deadline=deadline, actor=actor, occurred_at=when),
        )

    def record_due_deadline_miss(self, hazard_id: UUID, *, now: datetime | None = None) -> Hazard | None:
        """The deadline watcher's command: record the miss of a passed deadline at its 24:00, once.

        Returns None when nothing is due (already recorded, extended, rectified, or not yet passed).
        """
        hazard = self._load(Hazard, hazard_id, HazardNotFound)
        due = hazard.due_deadline(now or self.clock())
        if due is None:
            return None
        hazard.record_deadline_missed(deadline=due, actor=SYSTEM_ACTOR, occurred_at=deadline_end(due))
        self._save(hazard)
        return hazard

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

    def rectify_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        note: str,
        evidence: Sequence[str] = (),
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.rectify(note=note, evidence=list(evidence), actor=actor, occurred_at=when),
        )

    def verify_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        accepted: bool,
        note: str = "",
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.verify(accepted=accepted, note=note, actor=actor, occurred_at=when),
        )

    def reopen_hazard(
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
            lambda hazard, when: hazard.reopen(reason=reason, actor=actor, occurred_at=when),
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

    # --- joint form (常州 附件1) ----------------------------------------------------------------------

    def open_joint_form(
        self, *, actor: Actor, campaign: UUID, school: UUID, occurred_at: datetime | None = None
    ) -> JointForm:
        station = self.get_unit(school).police_station
        party_of(actor, school, station)  # who may open it is judged before any invalid value or conflict
        when = self._when(occurred_at)
        self._school_in_campaign(self.get_campaign(campaign), school)
        if station is None:
            raise InvalidValue("该学校未登记属地派出所", field="school")
        # Opened (in memory: who may is judged there) before asking whether it exists: 403 before 409.
        form = JointForm.open(campaign=campaign, school=school, station=station, actor=actor, occurred_at=when)
        if self._exists(form.id):
            raise AlreadyExists("该校本次专项排查的报表已存在", id=str(form.id))
        self._save(form, conflict=AlreadyExists("该校本次专项排查的报表已存在", id=str(form.id)))
        return form

    def update_joint_form(
        self,
        form: UUID,
        *,
        actor: Actor,
        changes: dict[str, Any],
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> JointForm:
        """The form's own fields on the form; police-only ones sealed into its ``PoliceNotes``, in one save."""
        joint = self.get_joint_form(form)
        if expected_version is not None and expected_version != joint.version:
            raise VersionConflict(expected=expected_version, actual=joint.version)
        notes = self.get_police_notes(form)
        latest = max(joint.last_occurred_at, notes.last_occurred_at) if notes else joint.last_occurred_at
        when = self._when(occurred_at, latest=latest)
        boarding = self.get_unit(joint.school).boarding
        police = joint.update(changes=changes, boarding=boarding, actor=actor, occurred_at=when)
        if police:
            if notes is None:
                notes = PoliceNotes(
                    form=form, school=joint.school, station=joint.station, actor=actor.username, occurred_at=when
                )
            notes.record(values=police, cipher=self._cipher(), actor=actor.username, occurred_at=when)
        self._save(joint, *([notes] if notes else []))
        return joint

    def get_police_notes(self, form: UUID) -> PoliceNotes | None:
        """The form's police-only content (sealed), or None while there is none."""
        if not self._exists(notes_id(form)):
            return None
        return self._load(PoliceNotes, notes_id(form), JointFormNotFound)

    def _cipher(self) -> Cipher:
        if self.police_cipher is None:
            raise RuntimeError("no police key: SafetyApplication(police_cipher=...) is needed for police-only content")
        return self.police_cipher

    def sign_joint_form(
        self,
        form: UUID,
        *,
        actor: Actor,
        content_hash: str,
        counts: dict[str, int],
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> JointForm:
        return self._change(
            JointForm,
            form,
            JointFormNotFound,
            expected_version,
            occurred_at,
            lambda f, when: f.sign(
                signed_hash=content_hash,
                counts=counts,
                boarding=self.get_unit(f.school).boarding,
                actor=actor,
                occurred_at=when,
            ),
        )

    def submit_joint_form(
        self,
        form: UUID,
        *,
        actor: Actor,
        counts: dict[str, int],
        sending: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> JointForm:
        """双报送: the form marked submitted and, with ``sending`` (``Submission.submit``'s report, unit, moment,
        parameters and copies), the report submission that carries each line's copy — both saved together."""
        joint = self._load(JointForm, form, JointFormNotFound)
        stale = VersionConflict(expected=expected_version, actual=joint.version)
        try:
            when = self._when(occurred_at, latest=joint.last_occurred_at)
            joint.check_submit(actor)
        except Conflict:
            if expected_version not in (None, joint.version):
                raise stale from None
            raise
        if expected_version not in (None, joint.version):
            raise stale
        submission = Submission.submit(**sending, actor=actor, occurred_at=when) if sending else None
        joint.submit(counts=counts, actor=actor, occurred_at=when, submission=submission.id if submission else None)
        self._save(joint, *([submission] if submission else []))
        return joint

    def get_joint_form(self, form: UUID) -> JointForm:
        return self._load(JointForm, form, JointFormNotFound)

    # --- report submissions (报送) ------------------------------------------------------------------------

    def submit_report(
        self,
        *,
        actor: Actor,
        report: str,
        campaign: UUID | None,
        unit: UUID | None,
        at: datetime,
        known_at: datetime,
        parameters: dict[str, Any],
        copies: list[dict[str, Any]],
        occurred_at: datetime | None = None,
    ) -> Submission:
        submission = Submission.submit(
            report=report,
            campaign=campaign,
            unit=unit,
            at=at,
            known_at=known_at,
            parameters=parameters,
            copies=copies,
            actor=actor,
            occurred_at=self._when(occurred_at),
        )
        self._save(submission)
        return submission

    # --- shared mechanics ---------------------------------------------------------------------------

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
            aggregate: Aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise not_found(id=str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise not_found(id=str(aggregate_id))
        return aggregate

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
