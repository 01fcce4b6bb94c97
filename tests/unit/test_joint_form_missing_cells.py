"""Complete before signed: which cells of 附件1 are still to fill, judged with the school's boarding flag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from domain.errors import FormIncomplete, InvalidValue
from domain.jointform.fields import BY_KEY, FIELDS, missing

if TYPE_CHECKING:
    from conftest import World

SAMPLE: dict[str, Any] = {"bool": False, "int": 0, "text": "无"}
COMPLETE = {f.key: SAMPLE[f.kind] for f in FIELDS if not f.police_only}
COUNTS = {"hazards_total": 0, "hazards_rectified": 0, "hazards_open": 0}


def keys(fields: dict[str, Any], *, boarding: bool) -> list[str]:
    return [f.key for f in missing(fields, boarding=boarding)]


def test_a_blank_form_misses_every_cell_but_the_police_only_note_and_a_dormitory_the_school_lacks() -> None:
    shown = [f.key for f in FIELDS if not f.police_only]
    assert keys({}, boarding=True) == shown
    assert keys({}, boarding=False) == [k for k in shown if k != "panic_button_dormitory"]
    assert "sensitive_notes" not in keys({}, boarding=True)


def test_zero_and_no_are_answers_but_empty_text_is_not() -> None:
    assert keys(COMPLETE, boarding=True) == []
    assert keys({**COMPLETE, "work_report": ""}, boarding=True) == ["work_report"]
    assert keys({**COMPLETE, "task_force_lead": None}, boarding=True) == ["task_force_lead"]


@pytest.mark.parametrize("slash", ["/", None])  # None: how "/" was recorded before it was spelled "/"
def test_slash_answers_the_bus_everywhere_and_the_dormitory_only_without_one(slash: str | None) -> None:
    assert keys({**COMPLETE, "school_bus_hazards": slash}, boarding=True) == []
    assert keys({**COMPLETE, "panic_button_dormitory": slash}, boarding=False) == []
    assert keys({**COMPLETE, "panic_button_dormitory": slash}, boarding=True) == ["panic_button_dormitory"]


def test_signing_an_incomplete_form_is_refused_naming_the_cells_and_records_nothing(world: World) -> None:
    form = world.app.open_joint_form(actor=world.staff, campaign=world.campaign, school=world.school)
    school = {k: v for k, v in COMPLETE.items() if BY_KEY[k].party == "school" and k != "cctv_cameras"}
    world.app.update_joint_form(form.id, actor=world.staff, changes=school)
    before = world.app.recorder.max_notification_id()

    with world.refused(FormIncomplete, "form_incomplete") as refusal:
        world.app.sign_joint_form(
            form.id, actor=world.principal, content_hash=world.app.get_joint_form(form.id).hash(COUNTS), counts=COUNTS
        )

    assert world.app.recorder.max_notification_id() == before
    assert [m["key"] for m in refusal.value.context["missing"]] == [
        "cctv_cameras",
        "surrounding_order_hotspots",
        "hotspots_rectified",
        "school_instability_factors",
    ]
    assert refusal.value.detail == "以下栏目尚未填写：视频探头数量、校园周边治安乱点情况、是否整改、涉校不稳定因素情况"


def test_the_not_applicable_slash_is_refused_for_a_boarding_schools_dormitory(world: World) -> None:
    form = world.app.open_joint_form(actor=world.staff, campaign=world.campaign, school=world.school)
    world.app.update_joint_form(form.id, actor=world.staff, changes={"panic_button_dormitory": "/"})
    assert world.app.get_joint_form(form.id).fields["panic_button_dormitory"] == "/"  # a day school: no dormitory
    joint = world.app.get_joint_form(form.id)
    with pytest.raises(InvalidValue, match="寄宿制"):
        joint.update(
            changes={"panic_button_dormitory": True, "school_bus_hazards": "/"},
            boarding=True,
            actor=world.staff,
            occurred_at=world.clock(),
        )  # a yes/no is an answer, "/" for a bus too
        joint.update(
            changes={"panic_button_dormitory": "/"}, boarding=True, actor=world.staff, occurred_at=world.clock()
        )
