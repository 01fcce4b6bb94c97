"""Police-only content of the joint form: checked by the form, sealed into its own ``PoliceNotes`` stream."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from domain.attachments import AttachmentRef
from domain.errors import FieldNotYours, FormLocked
from domain.jointform.aggregate import form_id
from domain.jointform.fields import FIELDS, MAX_TEXT
from domain.jointform.police import PADDED_SIZE, Cipher, open_refs, open_value, seal_value

if TYPE_CHECKING:
    from conftest import World

SECRET = "线索：校门口有可疑人员（机密-UNIT-0931）"
SAMPLE = {"bool": True, "int": 1, "text": "无"}
SCHOOL_CELLS = {f.key: SAMPLE[f.kind] for f in FIELDS if f.party == "school"}  # a complete form's
POLICE_CELLS = {f.key: SAMPLE[f.kind] for f in FIELDS if f.party == "police" and not f.police_only}


def cipher(world: World) -> Cipher:
    """The application's police key port (a fake in these tests: see conftest)."""
    assert world.app.police_cipher is not None
    return world.app.police_cipher


def stored_bytes(world: World) -> bytes:
    return b"".join(bytes(n.state) for n in world.app.recorder.select_notifications(start=1, limit=10_000))


def test_a_police_only_note_goes_sealed_to_the_police_notes_and_the_form_records_nothing(world: World) -> None:
    form = world.app.open_joint_form(actor=world.staff, campaign=world.campaign, school=world.school)

    after = world.app.update_joint_form(form.id, actor=world.officer, changes={"sensitive_notes": SECRET})

    assert after.version == 1 and "sensitive_notes" not in after.fields
    notes = world.app.get_police_notes(form.id)
    assert notes is not None and notes.values(cipher(world)) == {"sensitive_notes": SECRET}
    assert SECRET.encode() not in stored_bytes(world)


def test_a_mixed_edit_puts_the_forms_field_on_the_form_and_the_note_apart(world: World) -> None:
    form = world.app.open_joint_form(actor=world.staff, campaign=world.campaign, school=world.school)
    changes = {"surrounding_order_hotspots": "摊贩占道", "sensitive_notes": SECRET}

    after = world.app.update_joint_form(form.id, actor=world.officer, changes=changes)

    assert after.version == 2 and after.fields == {"surrounding_order_hotspots": "摊贩占道"}
    notes = world.app.get_police_notes(form.id)
    assert notes is not None and notes.values(cipher(world)) == {"sensitive_notes": SECRET}


def test_an_unchanged_note_records_nothing(world: World) -> None:
    form = world.app.open_joint_form(actor=world.staff, campaign=world.campaign, school=world.school)
    world.app.update_joint_form(form.id, actor=world.officer, changes={"sensitive_notes": SECRET})
    before = world.app.recorder.max_notification_id()

    world.app.update_joint_form(form.id, actor=world.chief, changes={"sensitive_notes": SECRET})

    assert world.app.recorder.max_notification_id() == before


def test_the_form_still_decides_who_may_write_the_note_and_when(world: World) -> None:
    form = world.app.open_joint_form(actor=world.staff, campaign=world.campaign, school=world.school)
    with world.refused(FieldNotYours, "field_not_yours"):
        world.app.update_joint_form(form.id, actor=world.principal, changes={"sensitive_notes": "越权"})
    world.app.update_joint_form(form.id, actor=world.staff, changes=SCHOOL_CELLS)
    world.app.update_joint_form(form.id, actor=world.officer, changes=POLICE_CELLS)
    counts = {"hazards_total": 0, "hazards_rectified": 0, "hazards_open": 0}
    signed = world.app.get_joint_form(form.id).hash(counts)
    for signer in (world.principal, world.chief):
        world.app.sign_joint_form(form.id, actor=signer, content_hash=signed, counts=counts)
    with world.refused(FormLocked, "form_locked"):
        world.app.update_joint_form(form.id, actor=world.officer, changes={"sensitive_notes": SECRET})


@pytest.mark.parametrize("value", [None, "", "短", "涉" * MAX_TEXT, "\x01" * MAX_TEXT, '"\\' * (MAX_TEXT // 2)])
def test_every_value_a_note_may_hold_seals_to_one_size_and_opens_again(world: World, value: str | None) -> None:
    form = form_id(world.campaign, world.school)
    sealed = seal_value(cipher(world), form, "sensitive_notes", value)

    assert len(bytes.fromhex(sealed["ct"])) == PADDED_SIZE
    assert open_value(cipher(world), form, "sensitive_notes", sealed) == value


def test_attachments_on_a_police_only_field_are_sealed_into_the_notes_never_onto_the_form(world: World) -> None:
    form = world.app.open_joint_form(actor=world.staff, campaign=world.campaign, school=world.school)
    photo = AttachmentRef(uuid4(), "a" * 64, "b" * 64, 1234, "image/jpeg")

    after = world.app.update_joint_form(
        form.id, actor=world.officer, changes={}, attachments={"sensitive_notes": [photo]}
    )

    assert after.version == 1 and after.field_attachments == {}  # the form did not move
    notes = world.app.get_police_notes(form.id)
    assert notes is not None and notes.attachments(cipher(world)) == {"sensitive_notes": (photo,)}
    stored = stored_bytes(world)
    assert str(photo.id).encode() not in stored and b"a" * 64 not in stored
    sealed = notes.sealed_attachments["sensitive_notes"]
    with pytest.raises(Exception):  # noqa: B017, PT011 — bound to its place: not a value's ciphertext
        open_value(cipher(world), form.id, "sensitive_notes", sealed)
    assert open_refs(cipher(world), form.id, "sensitive_notes", sealed) == (photo,)

    world.app.update_joint_form(form.id, actor=world.chief, changes={}, attachments={"sensitive_notes": []})
    notes = world.app.get_police_notes(form.id)
    assert notes is not None and notes.attachments(cipher(world)) == {}
    assert world.app.get_joint_form(form.id).version == 1
