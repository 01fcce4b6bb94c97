"""Complete before signed: 校长 and 所长 sign only a form whose every cell is filled, "/" only where the seed
allows it (学生宿舍 where the school has no dormitory, 校车 where the school says it has none)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from api.demo import World
from domain.application import SafetyApplication
from domain.jointform.fields import BY_KEY, FIELDS

from apihelpers import API, fill_joint_form, ok, post, refused

Client = Any
DORMITORY = BY_KEY["panic_button_dormitory"].label
BUS = BY_KEY["school_bus_hazards"].label
NOTE = "线索：某人员近期多次在校门口徘徊（绝密-7731）"


def open_form(world: World, user: Client, school: str) -> str:
    body = {"campaign": str(world.campaign), "school": str(world.units[school])}
    return str(post(user("hm_staff" if school == "hongmei_school" else "ql_staff"), "joint-forms/", body, 201)["id"])


def form_of(client: APIClient, form: str) -> dict[str, Any]:
    return ok(client.get(f"{API}joint-forms/{form}/"))  # type: ignore[no-any-return]


def sign(client: APIClient, form: str) -> Any:
    content_hash = form_of(client, form)["content_hash"]
    return client.post(f"{API}joint-forms/{form}/sign/", {"content_hash": content_hash}, format="json")


@pytest.mark.parametrize("signer", ["hm_principal", "hm_chief"])
def test_a_blank_form_is_refused_to_each_signer_with_every_label_missing(
    app: SafetyApplication, world: World, user: Client, signer: str
) -> None:
    form = open_form(world, user, "hongmei_school")
    before = form_of(user("hm_staff"), form)
    recorded = app.recorder.max_notification_id()

    body = refused(sign(user(signer), form), 409, "form_incomplete")

    # Every cell of both parties but the dormitory's (红梅实验小学 has none) and the police-only note.
    expected = [f for f in FIELDS if not f.police_only and f.key != "panic_button_dormitory"]
    assert body["missing"] == [{"key": f.key, "label": f.label} for f in expected]
    assert all(f.label in body["detail"] for f in expected) and body["detail"].startswith("以下栏目尚未填写：")
    after = form_of(user("hm_staff"), form)
    assert (after["version"], after["signatures"], after["status"]) == (before["version"], [], "draft")
    assert app.recorder.max_notification_id() == recorded  # nothing recorded on refusal


def test_a_form_filled_but_one_school_cell_names_that_cell(world: World, user: Client) -> None:
    form = open_form(world, user, "hongmei_school")
    fill_joint_form(user("hm_staff"), user("hm_officer"), form)
    ok(user("hm_staff").patch(f"{API}joint-forms/{form}/", {"work_report": ""}, format="json"))  # cleared again

    body = refused(sign(user("hm_principal"), form), 409, "form_incomplete")

    assert body["missing"] == [{"key": "work_report", "label": "排查整改工作情况报告"}]
    assert body["detail"] == "以下栏目尚未填写：排查整改工作情况报告"
    assert form_of(user("hm_principal"), form)["missing"] == [
        {"key": "work_report", "label": "排查整改工作情况报告", "party": "school"}
    ]


def test_the_police_cells_are_required_but_the_police_only_note_is_not_and_is_never_named(
    world: World, user: Client
) -> None:
    form = open_form(world, user, "hongmei_school")
    fill_joint_form(
        user("hm_staff"), user("hm_officer"), form, leave=("hotspots_rectified",), school_instability_factors=""
    )
    without_note = refused(sign(user("hm_principal"), form), 409, "form_incomplete")
    ok(user("hm_officer").patch(f"{API}joint-forms/{form}/", {"sensitive_notes": NOTE}, format="json"))

    with_note = refused(sign(user("hm_principal"), form), 409, "form_incomplete")

    assert [m["key"] for m in with_note["missing"]] == ["hotspots_rectified", "school_instability_factors"]
    assert with_note == without_note  # the refusal says nothing about the police-only note
    assert "sensitive_notes" not in str(with_note) and BY_KEY["sensitive_notes"].label not in str(with_note)


def test_a_school_without_dormitory_and_bus_signs_with_both_printed_as_slash(world: World, user: Client) -> None:
    form = open_form(world, user, "hongmei_school")
    filled = fill_joint_form(user("hm_staff"), user("hm_officer"), form)  # dormitory left empty, bus "/"
    assert filled["missing"] == [] and filled["fields"]["school_bus_hazards"] == "/"

    ok(sign(user("hm_principal"), form))
    signed = ok(sign(user("hm_chief"), form))

    assert signed["status"] == "signed" and signed["fields"]["school_bus_hazards"] == "/"


def test_the_school_says_it_has_no_bus_with_slash_and_null_reads_as_slash(world: World, user: Client) -> None:
    form = open_form(world, user, "hongmei_school")
    fill_joint_form(user("hm_staff"), user("hm_officer"), form, school_bus_hazards="")
    assert [m["key"] for m in form_of(user("hm_staff"), form)["missing"]] == ["school_bus_hazards"]
    refused(sign(user("hm_chief"), form), 409, "form_incomplete")

    patched = ok(user("hm_staff").patch(f"{API}joint-forms/{form}/", {"school_bus_hazards": None}, format="json"))

    assert patched["fields"]["school_bus_hazards"] == "/" and patched["missing"] == []
    ok(sign(user("hm_chief"), form))


def test_a_boarding_school_must_answer_for_its_dormitory(world: World, user: Client) -> None:
    form = open_form(world, user, "qinglong_school")
    staff, chief = user("ql_staff"), user("ql_chief")
    fill_joint_form(staff, chief, form)  # 青龙中学 is a boarding school: the dormitory cell left empty

    body = refused(sign(user("ql_principal"), form), 409, "form_incomplete")
    assert body["missing"] == [{"key": "panic_button_dormitory", "label": DORMITORY}]
    version = form_of(staff, form)["version"]
    for slash in ("/", None):
        refused(
            staff.patch(f"{API}joint-forms/{form}/", {"panic_button_dormitory": slash}, format="json"),
            400,
            "invalid_value",
            "panic_button_dormitory",
        )
    assert form_of(staff, form)["version"] == version  # nothing recorded on refusal

    ok(staff.patch(f"{API}joint-forms/{form}/", {"panic_button_dormitory": True}, format="json"))
    ok(sign(user("ql_principal"), form))
    assert ok(sign(chief, form))["status"] == "signed"
