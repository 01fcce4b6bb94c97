"""What the joint-form endpoints and web page share: counts at the cutoff, the form as a party sees it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from django.utils import timezone

from api.policeaccess import record_read
from domain.errors import JointFormNotFound
from domain.jointform.aggregate import content_hash
from domain.jointform.fields import BY_KEY, COUNT_LABELS, FIELDS
from domain.policy import Actor
from domain.timerules import deadline_end
from projections import scope
from projections.campaigns import CampaignView
from projections.directory import DisplayNames
from projections.history import counts_at
from projections.jointforms import JointFormView


def cutoff_counts(campaign: UUID, school: UUID, known_at: datetime | None = None) -> dict[str, int]:
    """总隐患数/整改数/未整改数 from the ledger as of the campaign's statistics cutoff (24:00 of that day)."""
    cutoff = CampaignView.objects.get(id=campaign).statistics_cutoff
    return counts_at(campaign, school, deadline_end(cutoff), known_at or timezone.now())


def form_counts(row: JointFormView) -> dict[str, int]:
    """The counts on the form: those both signatories signed once locked, else live as of the cutoff."""
    return row.frozen_counts or cutoff_counts(row.campaign, row.school)


def visible_form(actor: Actor, form: UUID) -> JointFormView:
    row = scope.filter_by_school(JointFormView.objects.filter(id=form), actor).first()
    if row is None:
        raise JointFormNotFound(id=str(form))
    return row


def police_content(row: JointFormView, actor: Actor, *, via: str) -> dict[str, Any] | None:
    """The form's police-only values for a user of a police unit (the read recorded when there are any), or None."""
    if not scope.sees_police_content(actor):
        return None
    if any(value not in (None, "") for value in row.police_only.values()):
        record_read(actor, via=via, form=row.id, school=row.school)
    return {k: row.police_only.get(k) for k, f in BY_KEY.items() if f.police_only}


def form_json(
    row: JointFormView, actor: Actor, *, via: str = "api", names: DisplayNames | None = None
) -> dict[str, Any]:
    """The form as the caller may see it: police-only content only for users of police units. ``names``: the
    directory names read for a whole page of forms (``form_names``)."""
    names = names or form_names([row])
    counts = form_counts(row)
    current = content_hash(row.campaign, row.school, row.fields, counts)
    fields = {f.key: row.fields.get(f.key) for f in FIELDS if not f.police_only}
    fields.update(police_content(row, actor, via=via) or {})
    signatures = [
        {
            "role": s.get("role", role),
            "user": s.get("signer"),
            "user_name": names.person_name(s.get("signer")),
            "hash": s.get("content_hash"),
            "signed_at": s.get("signed_at"),
            "valid": not s.get("voided") and s.get("content_hash") == current,
            "voided": bool(s.get("voided")),
        }
        for role, s in row.signatures.items()
    ]
    return {
        "id": row.id,
        "campaign": row.campaign,
        "school": row.school,
        "school_name": names.unit_name(row.school),
        "station": row.station,
        "station_name": names.unit_name(row.station),
        "status": row.status,
        "version": row.version,
        "content_hash": current,
        "fields": fields,
        "counts": counts,
        "count_labels": COUNT_LABELS,
        "signatures": signatures,
        "submitted_at": row.submitted_at,
    }


def form_names(rows: Iterable[JointFormView]) -> DisplayNames:
    """The names a page of forms shows (schools, stations, signers), read at once."""
    rows = list(rows)
    signers = [s.get("signer") for row in rows for s in row.signatures.values()]
    return DisplayNames().load([u for row in rows for u in (row.school, row.station)], signers)
