"""What the joint-form endpoints and web page share: counts at the cutoff, the form as a party sees it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from api.policeaccess import record_read
from domain.errors import JointFormNotFound
from domain.jointform.aggregate import content_hash
from domain.jointform.fields import BY_KEY, COUNT_LABELS, FIELDS
from domain.policy import Actor
from projections import scope
from projections.jointforms import JointFormView
from reports.changzhou import form_counts, live_counts


def cutoff_counts(campaign: UUID, school: UUID) -> dict[str, int]:
    """总隐患数/整改数/未整改数 as a signature fixes them: the ledger at the campaign's statistics cutoff (or now,
    if earlier), as known now."""
    return live_counts(campaign, school)


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


def form_json(row: JointFormView, actor: Actor, *, via: str = "api") -> dict[str, Any]:
    """The form as the caller may see it: police-only content only for users of police units."""
    counts = form_counts(row)
    current = content_hash(row.campaign, row.school, row.fields, counts)
    fields = {f.key: row.fields.get(f.key) for f in FIELDS if not f.police_only}
    fields.update(police_content(row, actor, via=via) or {})
    signatures = [
        {
            "role": s.get("role", role),
            "user": s.get("signer"),
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
        "station": row.station,
        "status": row.status,
        "version": row.version,
        "content_hash": current,
        "fields": fields,
        "counts": counts,
        "count_labels": COUNT_LABELS,
        "signatures": signatures,
        "submitted_at": row.submitted_at,
    }
