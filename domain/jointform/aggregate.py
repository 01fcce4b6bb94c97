"""The joint form (常州 附件1): filled by a school and its 属地派出所, signed by 校长 and 所长, then locked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.attachments import AttachmentRef, Attachments
from domain.errors import (
    AlreadyExists,
    FormIncomplete,
    FormLocked,
    FormNotSigned,
    NotAParty,
    NotSignatory,
    StaleHash,
)
from domain.eventversions import added, versions
from domain.jointform.checks import Value, check_guards, checked_refs, checked_value
from domain.jointform.fields import BY_KEY, Party, missing
from domain.policy import SCHOOL_ROLES, STATION_ROLES, Actor, Role, require_writer
from domain.timerules import beijing_iso

FORM_NAMESPACE = uuid5(NAMESPACE_URL, "school-safety/joint-form")
SIGNING_ROLES: dict[Role, Party] = {Role.SCHOOL_PRINCIPAL: "school", Role.STATION_CHIEF: "police"}
Counts = dict[str, int]
FieldAttachments = dict[str, list[AttachmentRef]]  # field key → the attachments on it, in order


class PoliceOnly(NamedTuple):
    """What ``JointForm.update`` checked but did not record: police-only values and attachments, for ``PoliceNotes``."""

    values: dict[str, Value]
    attachments: dict[str, Attachments]

    def __bool__(self) -> bool:
        return bool(self.values or self.attachments)


def form_id(campaign: UUID, school: UUID) -> UUID:
    """One form per school and campaign."""
    return uuid5(FORM_NAMESPACE, f"{campaign}/{school}")


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def content_hash(
    campaign: UUID,
    school: UUID,
    fields: dict[str, Value],
    counts: Counts,
    attachments: dict[str, Any] | None = None,
) -> str:
    """SHA-256 of the form's canonical content, police-only content excluded (it is not on the form).

    ``attachments`` (field key → refs, as ``AttachmentRef`` or their plain dicts) count only when some field has
    any: a form without attachments hashes as it did before they existed, so its signatures stay valid."""
    shown = {k: v for k, v in fields.items() if not BY_KEY[k].police_only}
    content: dict[str, Any] = {"campaign": str(campaign), "school": str(school), "fields": shown, "counts": counts}
    attached = {k: [_ref_plain(r) for r in refs] for k, refs in (attachments or {}).items() if refs}
    if attached:
        content["attachments"] = attached
    return hashlib.sha256(canonical(content)).hexdigest()


def _ref_plain(ref: AttachmentRef | dict[str, Any]) -> dict[str, Any]:
    data = ref.as_dict() if isinstance(ref, AttachmentRef) else ref
    return {k: str(v) if isinstance(v, UUID) else v for k, v in data.items()}


@versions(
    FieldsUpdated=[added(attachments=None)],  # field key → its attachments from now on; none before issue 16
    Submitted=[added(submission=None)],  # the submission carrying the copies; none before submissions existed
)
class JointForm(Aggregate):
    @staticmethod
    def create_id(campaign: UUID, school: UUID, **_: object) -> UUID:
        return form_id(campaign, school)

    @event("Opened")
    def __init__(self, *, campaign: UUID, school: UUID, station: UUID, actor: str, occurred_at: datetime) -> None:
        self.campaign, self.school, self.station = campaign, school, station
        self.fields: dict[str, Value] = {}
        self.attachments: dict[str, Attachments] = {}  # per field of the form (never a police-only one)
        self.signatures: dict[str, dict[str, str]] = {}  # role -> {"signer", "content_hash", "signed_at"}
        self.submitted_at: datetime | None = None
        self.submission: UUID | None = None
        self.frozen_counts: Counts | None = None  # the counts both signed for: fixed once the form locks
        self.last_occurred_at = occurred_at

    @classmethod
    def open(cls, *, campaign: UUID, school: UUID, station: UUID, actor: Actor, occurred_at: datetime) -> JointForm:
        party_of(actor, school, station)
        return cls(campaign=campaign, school=school, station=station, actor=actor.username, occurred_at=occurred_at)

    @property
    def locked(self) -> bool:
        return len(self.signatures) == len(SIGNING_ROLES)

    @property
    def status(self) -> str:
        return "submitted" if self.submitted_at else "signed" if self.locked else "draft"

    def hash(self, counts: Counts) -> str:
        """The content hash with ``counts`` — or, once locked, with the counts both signatories signed."""
        return content_hash(
            self.campaign, self.school, self.fields, self.frozen_counts or counts, self.field_attachments
        )

    @property
    def field_attachments(self) -> dict[str, Attachments]:
        # ``getattr``: a form loaded from a snapshot taken before attachments existed has no such attribute
        return {k: refs for k, refs in getattr(self, "attachments", {}).items() if refs}

    # --- commands -------------------------------------------------------------------------------

    def update(
        self,
        *,
        changes: dict[str, Any],
        boarding: bool,
        actor: Actor,
        occurred_at: datetime,
        attachments: dict[str, Sequence[AttachmentRef]] | None = None,
    ) -> PoliceOnly:
        """PATCH: only the caller's party's fields; a change after one signature voids it.

        ``attachments``: field key → the attachments the field has from now on (replacing its earlier ones; an
        empty list removes them), the caller's party's fields only. A change of a field's attachments is a change
        of the form like a value's.

        ``boarding``: the school's flag in the unit directory now; a boarding school has a dormitory, so "/"
        (not applicable) is no answer for the dormitory's panic button.

        Police-only values and attachments are checked here but not recorded on the form: they are returned for the
        form's ``PoliceNotes``, sealed, so that neither the form's version nor its history shows a police-only edit.
        """
        party = party_of(actor, self.school, self.station)
        if self.locked:
            raise FormLocked()
        values = {key: checked_value(key, value, party, boarding) for key, value in changes.items()}
        checked = {key: checked_refs(key, given, party) for key, given in (attachments or {}).items()}
        refs = {k: v for k, v in checked.items() if not BY_KEY[k].police_only}
        shown = {k: v for k, v in values.items() if not BY_KEY[k].police_only}
        check_guards({**self.fields, **shown})
        changed = {k: v for k, v in shown.items() if k not in self.fields or self.fields[k] != v}
        current = self.field_attachments
        moved = {k: list(v) for k, v in refs.items() if current.get(k, ()) != v}
        if changed or moved:
            self._fields_updated(
                party=party, changes=changed, actor=actor.username, occurred_at=occurred_at, attachments=moved
            )
            for role, signature in list(self.signatures.items()):
                self._signature_voided(
                    role=role,
                    signer=signature["signer"],
                    reason="签字后表格内容被修改",
                    actor=actor.username,
                    occurred_at=occurred_at,
                )
        return PoliceOnly(
            {k: v for k, v in values.items() if BY_KEY[k].police_only},
            {k: v for k, v in checked.items() if BY_KEY[k].police_only},
        )

    @event("FieldsUpdated")
    def _fields_updated(
        self,
        *,
        party: str,
        changes: dict[str, Value],
        actor: str,
        occurred_at: datetime,
        attachments: FieldAttachments | None = None,
    ) -> None:
        # Events recorded before police-only values were sealed may carry them here in plaintext: kept as
        # they are (the log is forever), never part of the content hash, superseded by the form's PoliceNotes.
        # ``attachments`` (field key → its attachments from now on) is None in events recorded before (upcast).
        self.fields.update(changes)
        if not hasattr(self, "attachments"):
            self.attachments = {}
        for key, refs in (attachments or {}).items():
            self.attachments[key] = tuple(refs)
        self.last_occurred_at = occurred_at

    @event("SignatureVoided")
    def _signature_voided(self, *, role: str, signer: str, reason: str, actor: str, occurred_at: datetime) -> None:
        self.signatures.pop(role, None)
        self.last_occurred_at = occurred_at

    def sign(self, *, signed_hash: str, counts: Counts, boarding: bool, actor: Actor, occurred_at: datetime) -> None:
        """校长 / 所长 holding the role now sign the hash they were shown; a stale hash is refused.

        Only a complete form is signed: every cell of both parties filled, "/" only where the seed allows it
        (``boarding``: whether the school has a dormitory, from the unit directory now).
        """
        require_writer(actor)
        if actor.role not in SIGNING_ROLES or actor.unit != (
            self.school if actor.role is Role.SCHOOL_PRINCIPAL else self.station
        ):
            raise NotSignatory()
        if self.locked:
            raise FormLocked()
        if actor.role.value in self.signatures:
            raise AlreadyExists("您已签字", role=actor.role.value)
        absent = missing(self.fields, boarding=boarding)
        if absent:
            raise FormIncomplete(
                f"以下栏目尚未填写：{'、'.join(f.label for f in absent)}",
                missing=[{"key": f.key, "label": f.label} for f in absent],
            )
        if signed_hash != self.hash(counts):
            raise StaleHash(current=self.hash(counts))
        for role, signature in list(self.signatures.items()):
            # The counts moved since the other signature (a late entry before the cutoff): it no longer
            # covers what is on the form, so it is voided rather than locked in.
            if signature["content_hash"] != signed_hash:
                self._signature_voided(
                    role=role,
                    signer=signature["signer"],
                    reason="统计数据已变化，原签字内容已不一致",
                    actor=actor.username,
                    occurred_at=occurred_at,
                )
        self._signed(
            role=actor.role.value,
            content_hash=signed_hash,
            counts=counts,
            actor=actor.username,
            occurred_at=occurred_at,
        )

    @event("Signed")
    def _signed(self, *, role: str, content_hash: str, counts: Counts, actor: str, occurred_at: datetime) -> None:
        self.signatures[role] = {"signer": actor, "content_hash": content_hash, "signed_at": beijing_iso(occurred_at)}
        if self.locked:
            self.frozen_counts = counts
        self.last_occurred_at = occurred_at

    def check_submit(self, actor: Actor) -> None:
        """Who may submit, and when: a party of the form, once both have signed, once."""
        party_of(actor, self.school, self.station)
        if not self.locked:
            raise FormNotSigned()
        if self.submitted_at is not None:
            raise FormLocked("报表已报送")

    def submit(self, *, counts: Counts, actor: Actor, occurred_at: datetime, submission: UUID | None = None) -> None:
        """Dual submission: the education copy to the education line, the police copy to the police line —
        ``submission`` is the report submission (报送记录) that carries both copies' bytes."""
        self.check_submit(actor)
        counts = self.frozen_counts or counts
        self._submitted(
            content_hash=self.hash(counts),
            counts=counts,
            actor=actor.username,
            occurred_at=occurred_at,
            submission=submission,
        )

    @event("Submitted")
    def _submitted(
        self, *, content_hash: str, counts: Counts, actor: str, occurred_at: datetime, submission: UUID | None = None
    ) -> None:
        # ``submission`` is None for forms submitted before submissions carried their copies (upcast).
        self.submitted_at = occurred_at
        self.submission = submission
        self.last_occurred_at = occurred_at


def party_of(actor: Actor, school: UUID, station: UUID | None) -> Party:
    """The party the actor fills the form for: the school's own staff, or its station's officers."""
    require_writer(actor)
    if actor.role in SCHOOL_ROLES and actor.unit == school:
        return "school"
    if actor.role in STATION_ROLES and actor.unit == station:
        return "police"
    raise NotAParty()
