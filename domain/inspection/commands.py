"""The inspection's commands: scheduled, each checklist item assessed, completed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.attachments import AttachmentRef
from domain.core import Core
from domain.directory.aggregate import staff_id
from domain.errors import (
    InspectionNotFound,
    InvalidValue,
    UnknownChecklistItem,
)
from domain.inspection.aggregate import AssessmentResult, Inspection, InspectionKind
from domain.policy import Actor


class InspectionCommands(Core):
    """Inspections (检查) of a school in a campaign."""

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
        attachments: Sequence[AttachmentRef] = (),
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
            lambda insp, when: insp.assess(
                item=item, result=result, note=note, actor=actor, occurred_at=when, attachments=attachments
            ),
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
