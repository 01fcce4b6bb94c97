"""双报送 of the joint form: the form marked submitted and the report submission carrying its copies, saved together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import FormLocked, FormNotSigned, NotAParty
from domain.jointform.fields import FIELDS
from domain.submission.aggregate import Submission

if TYPE_CHECKING:
    from conftest import World

COUNTS = {"hazards_total": 0, "hazards_rectified": 0, "hazards_open": 0}


def opened_form(world: World) -> UUID:
    return world.app.open_joint_form(actor=world.staff, campaign=world.campaign, school=world.school).id


def signed_form(world: World, form: UUID | None = None) -> UUID:
    """Both parties fill every cell of theirs, then 校长 and 所长 sign."""
    form = form or opened_form(world)
    for actor, party in ((world.staff, "school"), (world.officer, "police")):
        cells = {f.key: {"bool": True, "int": 1}.get(f.kind, "无") for f in FIELDS if f.party == party}
        world.app.update_joint_form(form, actor=actor, changes=cells)
    content_hash = world.app.get_joint_form(form).hash(COUNTS)
    for signatory in (world.principal, world.chief):
        world.app.sign_joint_form(form, actor=signatory, content_hash=content_hash, counts=COUNTS)
    return form


def sending(world: World, form: UUID) -> dict[str, Any]:
    copy = {"line": "education", "recipients": [str(world.bureau)], "sha256": "a" * 64, "size": 10}
    police = {"line": "police", "recipients": [str(world.city_police)], "sha256": "b" * 64, "size": 12}
    return {
        "report": "changzhou-school-form",
        "campaign": world.campaign,
        "unit": world.school,
        "at": world.clock.now,
        "known_at": world.clock.now,
        "parameters": {"form": str(form)},
        "copies": [copy, police],
    }


def test_a_submitted_form_names_the_submission_saved_with_it(world: World) -> None:
    form = signed_form(world)
    before = world.app.recorder.max_notification_id() or 0

    joint = world.app.submit_joint_form(form, actor=world.staff, counts=COUNTS, sending=sending(world, form))

    assert joint.status == "submitted" and joint.submission is not None
    submission = world.app.repository.get(joint.submission)
    assert isinstance(submission, Submission)
    assert [(c["line"], c["recipients"]) for c in submission.copies] == [
        ("education", [str(world.bureau)]),
        ("police", [str(world.city_police)]),
    ]
    assert submission.submitted_at == joint.submitted_at
    assert world.app.recorder.max_notification_id() == before + 2  # one save: the form's event and the submission's
    assert world.app.get_joint_form(form).submission == joint.submission  # as it loads from the log


def test_a_form_is_submitted_once_by_a_party_after_both_signed(world: World) -> None:
    form = opened_form(world)
    with world.refused(FormNotSigned, "form_not_signed", aggregate=form):
        world.app.submit_joint_form(form, actor=world.staff, counts=COUNTS, sending=sending(world, form))

    signed_form(world, form)
    with world.refused(NotAParty, "not_a_party", aggregate=form):
        world.app.submit_joint_form(form, actor=world.inspector, counts=COUNTS, sending=sending(world, form))
    world.app.submit_joint_form(form, actor=world.officer, counts=COUNTS, sending=sending(world, form))
    with world.refused(FormLocked, "form_locked", aggregate=form):
        world.app.submit_joint_form(form, actor=world.staff, counts=COUNTS, sending=sending(world, form))
