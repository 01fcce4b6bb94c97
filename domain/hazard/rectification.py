"""The hazard's rectification commands (整改): plan, interim measures, progress, deadlines, rectified, verified."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from domain.attachments import AttachmentRef
from domain.core import Core
from domain.errors import HazardNotFound
from domain.hazard.aggregate import Hazard
from domain.policy import (
    SYSTEM_ACTOR,
    Actor,
)
from domain.timerules import deadline_end


class RectificationCommands(Core):
    """The owner's work on a hazard and its acceptance."""

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
        attachments: Sequence[AttachmentRef] = (),
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.record_interim_measures(
                measures=measures, actor=actor, occurred_at=when, attachments=attachments
            ),
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
        attachments: Sequence[AttachmentRef] = (),
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.report_progress(
                note=note, percent=percent, actor=actor, occurred_at=when, attachments=attachments
            ),
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

    def rectify_hazard(
        self,
        hazard_id: UUID,
        *,
        actor: Actor,
        note: str,
        evidence: Sequence[str] = (),
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
        attachments: Sequence[AttachmentRef] = (),
    ) -> Hazard:
        """``self.rectify_requires_photo`` (the installation's setting) decides whether a photo is required."""
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.rectify(
                note=note,
                evidence=list(evidence),
                actor=actor,
                occurred_at=when,
                attachments=attachments,
                photo_required=self.rectify_requires_photo,
            ),
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
        attachments: Sequence[AttachmentRef] = (),
    ) -> Hazard:
        return self._hazard(
            hazard_id,
            expected_version,
            occurred_at,
            lambda hazard, when: hazard.verify(
                accepted=accepted, note=note, actor=actor, occurred_at=when, attachments=attachments
            ),
        )
