"""The joint form's commands (常州 附件1): opened, updated (police-only content sealed), signed, submitted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.attachments import AttachmentRef
from domain.core import Core
from domain.errors import (
    AlreadyExists,
    Conflict,
    InvalidValue,
    JointFormNotFound,
    VersionConflict,
)
from domain.jointform.aggregate import JointForm, party_of
from domain.jointform.police import Cipher, PoliceNotes, notes_id
from domain.policy import Actor
from domain.submission.aggregate import Submission


class JointFormCommands(Core):
    """The school-and-police joint form."""

    police_cipher: Cipher | None  # set by SafetyApplication

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
        attachments: dict[str, Sequence[AttachmentRef]] | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> JointForm:
        """The form's own fields on the form; police-only values and attachments sealed into its ``PoliceNotes``, in one
        save.
        ``attachments``: field key → the field's attachments from now on (``JointForm.update``)."""
        joint = self.get_joint_form(form)
        if expected_version is not None and expected_version != joint.version:
            raise VersionConflict(expected=expected_version, actual=joint.version)
        notes = self.get_police_notes(form)
        latest = max(joint.last_occurred_at, notes.last_occurred_at) if notes else joint.last_occurred_at
        when = self._when(occurred_at, latest=latest)
        boarding = self.get_unit(joint.school).boarding
        police = joint.update(
            changes=changes, attachments=attachments, boarding=boarding, actor=actor, occurred_at=when
        )
        if police:
            if notes is None:
                notes = PoliceNotes(
                    form=form, school=joint.school, station=joint.station, actor=actor.username, occurred_at=when
                )
            notes.record(
                values=police.values,
                attachments=police.attachments,
                cipher=self._cipher(),
                actor=actor.username,
                occurred_at=when,
            )
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
