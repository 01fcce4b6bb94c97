"""What the joint-form endpoints and web page share: counts at the cutoff, the form as a party sees it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest

from api.policeaccess import record_read
from api.reports.query import build_query
from api.reports.submissions import JOINT_FORM_REPORT, render_copies, sending, store
from domain.application import SafetyApplication
from domain.errors import JointFormNotFound
from domain.jointform.aggregate import content_hash
from domain.jointform.fields import BY_KEY, COUNT_LABELS, FIELDS, missing
from domain.policy import Actor
from projections import scope
from projections.directory import DisplayNames, boarding
from projections.eventstore import get_application
from projections.jointforms import JointFormView
from projections.submissions import SubmissionView
from reports.changzhou import form_counts, live_counts
from reports.registry import ReportQuery, load_all


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
    if any(value not in (None, "") for value in row.police_only.values()) or row.police_attachments:
        record_read(actor, via=via, form=row.id, school=row.school)
    return {k: row.police_only.get(k) for k, f in BY_KEY.items() if f.police_only}


def form_json(
    row: JointFormView, actor: Actor, *, via: str = "api", names: DisplayNames | None = None
) -> dict[str, Any]:
    """The form as the caller may see it: police-only content only for users of police units. ``names``: the
    directory names read for a whole page of forms (``form_names``)."""
    names = names or form_names([row])
    counts = form_counts(row)
    current = content_hash(row.campaign, row.school, row.fields, counts, row.attachments)
    fields = {f.key: row.fields.get(f.key) for f in FIELDS if not f.police_only}
    police = police_content(row, actor, via=via)
    fields.update(police or {})
    attachments = {**row.attachments, **(row.police_attachments if police is not None else {})}
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
        "attachments": attachments,
        "counts": counts,
        "count_labels": COUNT_LABELS,
        "signatures": signatures,
        "submitted_at": row.submitted_at,
        "submission": row.submission,
        "missing": missing_cells(row),
    }


def form_query(row: JointFormView, actor: Actor) -> ReportQuery:
    """The form as the report ``changzhou-school-form`` prints it, in its school's name (填报单位)."""
    return build_query(load_all()[JOINT_FORM_REPORT], {"form": str(row.id), "unit": str(row.school)}, actor)


def submit_form(
    request: HttpRequest,
    row: JointFormView,
    actor: Actor,
    *,
    occurred_at: datetime | None = None,
    expected_version: int | None = None,
) -> SubmissionView:
    """双报送 of a signed form: a report submission of ``changzhou-school-form`` whose copies (education, police)
    are rendered once and kept byte for byte; refused before anything is rendered when the form may not go."""
    get_application().get_joint_form(row.id).check_submit(actor)
    spec, query = load_all()[JOINT_FORM_REPORT], form_query(row, actor)
    params = {"form": str(row.id), "unit": str(row.school)}
    copies = render_copies(request, spec, query)
    counts = cutoff_counts(row.campaign, row.school)
    sent = sending(spec, query, params, copies)

    def submit(app: SafetyApplication) -> UUID:
        joint = app.submit_joint_form(
            row.id, actor=actor, counts=counts, sending=sent, occurred_at=occurred_at, expected_version=expected_version
        )
        assert joint.submission is not None  # given ``sending``, the form names its submission
        return joint.submission

    return store(copies, submit)


def missing_cells(row: JointFormView) -> list[dict[str, str]]:
    """The cells still to fill before the form may be signed (none once signed: it was complete then)."""
    if row.status != "draft":
        return []
    return [
        {"key": f.key, "label": f.label, "party": f.party} for f in missing(row.fields, boarding=boarding(row.school))
    ]


def form_names(rows: Iterable[JointFormView]) -> DisplayNames:
    """The names a page of forms shows (schools, stations, signers), read at once."""
    rows = list(rows)
    signers = [s.get("signer") for row in rows for s in row.signatures.values()]
    return DisplayNames().load([u for row in rows for u in (row.school, row.station)], signers)
