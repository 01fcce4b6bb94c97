"""The joint form (常州 附件1) over the API: two parties, field ownership, signing, locking, dual submission."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.demo import World
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from projections.jointforms import JointFormCopy
from projections.runner import catch_up

from apihelpers import API, fill_joint_form, ok, post, refused

Client = Any
SECRET = "线索：某人员近期多次在校门口徘徊（绝密-7731）"


@pytest.fixture
def form(world: World, user: Client) -> str:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    return str(post(user("hm_staff"), "joint-forms/", body, 201)["id"])


def patch(client: APIClient, form: str, body: dict[str, Any], status: int = 200) -> Any:
    return ok(client.patch(f"{API}joint-forms/{form}/", body, format="json"), status)


def sign(client: APIClient, form: str, content_hash: str, status: int = 200) -> Any:
    return ok(client.post(f"{API}joint-forms/{form}/sign/", {"content_hash": content_hash}, format="json"), status)


def current(client: APIClient, form: str) -> dict[str, Any]:
    return ok(client.get(f"{API}joint-forms/{form}/"))  # type: ignore[no-any-return]


def test_either_party_opens_the_form_once(world: World, user: Client) -> None:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    opened = post(user("hm_officer"), "joint-forms/", body, 201)
    assert opened["station"] == str(world.units["hongmei_station"]) and opened["status"] == "draft"
    refused(user("hm_staff").post(f"{API}joint-forms/", body, format="json"), 409, "already_exists")
    refused(user("ql_staff").post(f"{API}joint-forms/", body, format="json"), 403, "out_of_scope")


def test_each_party_fills_only_its_own_fields(app: SafetyApplication, form: str, user: Client) -> None:
    school, station = user("hm_staff"), user("hm_officer")
    filled = patch(
        school,
        form,
        {
            "task_force_established": True,
            "task_force_lead": "李安全",
            "guards_total": 4,
            "guards_licensed": 4,
            "panic_button_dormitory": None,
        },
    )
    assert filled["fields"]["task_force_lead"] == "李安全" and filled["version"] == 2
    patch(station, form, {"surrounding_order_hotspots": "校门口流动摊贩", "hotspots_rectified": False})

    before = app.recorder.max_notification_id()
    refused(
        school.patch(f"{API}joint-forms/{form}/", {"hotspots_rectified": True}, format="json"),
        403,
        "field_not_yours",
        "hotspots_rectified",
    )
    refused(
        station.patch(f"{API}joint-forms/{form}/", {"guards_total": 9}, format="json"),
        403,
        "field_not_yours",
        "guards_total",
    )
    refused(school.patch(f"{API}joint-forms/{form}/", {"hazards_total": 0}, format="json"), 400, "unknown_field")
    refused(school.patch(f"{API}joint-forms/{form}/", {"colour": "red"}, format="json"), 400, "unknown_field")
    refused(school.patch(f"{API}joint-forms/{form}/", {"guards_total": "four"}, format="json"), 400, "invalid_value")
    refused(school.patch(f"{API}joint-forms/{form}/", {"guards_over_age": 5}, format="json"), 400, "invalid_value")
    refused(
        user("ql_staff").patch(f"{API}joint-forms/{form}/", {"guards_total": 1}, format="json"),
        404,
        "joint_form_not_found",
    )
    assert app.recorder.max_notification_id() == before

    history = ok(school.get(f"{API}joint-forms/{form}/history/"))
    assert [(h["type"], h["actor"]) for h in history] == [
        ("opened", "hm_staff"),
        ("fields_updated", "hm_staff"),
        ("fields_updated", "hm_officer"),
    ]
    assert history[1]["data"]["changes"]["task_force_lead"] == "李安全"


def test_counts_come_from_the_ledger_as_of_the_cutoff(
    app: SafetyApplication, world: World, form: str, user: Client
) -> None:
    school = world.units["hongmei_school"]
    start = timezone.now() - timedelta(days=3)
    for i, fixed in enumerate((True, False, False)):
        hazard = app.discover_hazard(
            actor=world.actor("hm_staff"),
            campaign=world.campaign,
            school=school,  # type: ignore[arg-type]
            description=f"隐患{i}",
            severity=Severity.GENERAL,
            occurred_at=start,
            rectified_on_spot=fixed,
        )
        assert hazard.id
    catch_up(app)
    counts = current(user("hm_staff"), form)["counts"]
    assert counts == {"hazards_total": 3, "hazards_rectified": 1, "hazards_open": 2}


def test_principal_and_chief_in_post_sign_then_the_form_locks_and_goes_to_both_lines(
    world: World, form: str, user: Client
) -> None:
    staff, officer, principal, chief = user("hm_staff"), user("hm_officer"), user("hm_principal"), user("hm_chief")
    fill_joint_form(staff, officer, form, guards_total=3, sensitive_notes=SECRET)
    content_hash = current(principal, form)["content_hash"]

    refused(
        staff.post(f"{API}joint-forms/{form}/sign/", {"content_hash": content_hash}, format="json"),
        403,
        "not_signatory",
    )
    refused(
        officer.post(f"{API}joint-forms/{form}/sign/", {"content_hash": content_hash}, format="json"),
        403,
        "not_signatory",
    )
    refused(
        principal.post(f"{API}joint-forms/{form}/sign/", {"content_hash": "0" * 64}, format="json"), 409, "stale_hash"
    )
    signed = sign(principal, form, content_hash)
    assert [(s["role"], s["user"], s["valid"]) for s in signed["signatures"]] == [
        ("school_principal", "hm_principal", True)
    ]

    # An edit after one signature voids it, visibly, and changes the hash.
    edited = patch(staff, form, {"guards_total": 4})
    assert edited["content_hash"] != content_hash
    assert [(s["role"], s["voided"], s["valid"]) for s in edited["signatures"]] == [("school_principal", True, False)]
    assert "signature_voided" in [h["type"] for h in ok(staff.get(f"{API}joint-forms/{form}/history/"))]
    # A police-only note changes nothing on the form, so it voids nothing.
    new_hash = edited["content_hash"]
    sign(principal, form, new_hash)
    patch(officer, form, {"sensitive_notes": SECRET + "（补充）"})
    assert [s["valid"] for s in current(principal, form)["signatures"] if not s["voided"]] == [True]

    both = sign(chief, form, new_hash)
    assert both["status"] == "signed"
    refused(staff.patch(f"{API}joint-forms/{form}/", {"guards_total": 5}, format="json"), 409, "form_locked")
    refused(officer.patch(f"{API}joint-forms/{form}/", {"sensitive_notes": "x"}, format="json"), 409, "form_locked")

    submitted = ok(staff.post(f"{API}joint-forms/{form}/submit/", {}, format="json"))
    assert submitted["status"] == "submitted"
    assert [(c["line"], "sha256" in c) for c in submitted["copies"]] == [("education", True), ("police", False)]
    copies = {c.line: c for c in JointFormCopy.objects.filter(form_id=form)}
    assert set(copies) == {"education", "police"}
    assert SECRET not in json.dumps(copies["education"].content, ensure_ascii=False)
    assert SECRET in json.dumps(copies["police"].content, ensure_ascii=False)
    police_view = ok(officer.post(f"{API}joint-forms/{form}/submit/", {}, format="json"), 409)
    assert police_view["code"] == "form_locked"


def test_a_signatory_must_hold_the_role_at_signing_time(world: World, form: str, user: Client) -> None:
    principal = user("hm_principal")
    content_hash = fill_joint_form(user("hm_staff"), user("hm_officer"), form)["content_hash"]
    post(
        user("admin"), "users/hm_principal/role/", {"unit": str(world.units["hongmei_school"]), "role": "school_staff"}
    )
    post(
        user("admin"), "users/hm_staff2/role/", {"unit": str(world.units["hongmei_school"]), "role": "school_principal"}
    )

    refused(
        principal.post(f"{API}joint-forms/{form}/sign/", {"content_hash": content_hash}, format="json"),
        403,
        "not_signatory",
    )
    assert sign(user("hm_staff2"), form, content_hash)["signatures"][0]["user"] == "hm_staff2"
    refused(
        user("admin").post(f"{API}joint-forms/{form}/sign/", {"content_hash": content_hash}, format="json"),
        403,
        "not_signatory",
    )
    refused(
        user("ql_chief").post(f"{API}joint-forms/{form}/sign/", {"content_hash": content_hash}, format="json"),
        404,
        "joint_form_not_found",
    )


@pytest.mark.parametrize("username", ["hm_staff", "hm_principal", "tn_inspector", "tn_leader", "auditor"])
def test_police_only_content_never_reaches_the_education_side(form: str, user: Client, username: str) -> None:
    patch(user("hm_officer"), form, {"sensitive_notes": SECRET, "surrounding_order_hotspots": "摊贩占道"})
    client = user(username)
    responses = [
        client.get(f"{API}joint-forms/{form}/"),
        client.get(f"{API}joint-forms/"),
        client.get(f"{API}joint-forms/{form}/history/"),
        client.get(f"{API}joint-forms/", {"search": SECRET}),
        client.patch(f"{API}joint-forms/{form}/", {"sensitive_notes": "覆盖"}, format="json"),
        client.post(f"{API}joint-forms/{form}/submit/", {}, format="json"),
    ]
    for response in responses:
        assert response.status_code < 500
        assert SECRET not in response.content.decode(), response.request["PATH_INFO"]
        if response.status_code < 400:
            assert '"sensitive_notes"' not in response.content.decode(), response.request["PATH_INFO"]
    assert "sensitive_notes" not in ok(client.get(f"{API}joint-forms/{form}/"))["fields"]


@pytest.mark.parametrize("username", ["hm_officer", "hm_chief", "cz_police"])
def test_police_users_see_the_sensitive_notes(form: str, user: Client, username: str) -> None:
    patch(user("hm_officer"), form, {"sensitive_notes": SECRET})
    assert current(user(username), form)["fields"]["sensitive_notes"] == SECRET


def _late_hazard(app: SafetyApplication, world: World, description: str) -> None:
    """A hazard entered now but dated before the cutoff: it changes the counts the form shows."""
    app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,
        school=world.units["hongmei_school"],  # type: ignore[arg-type]
        description=description,
        severity=Severity.GENERAL,
        occurred_at=timezone.now() - timedelta(days=2),
    )
    catch_up(app)


def test_counts_that_move_between_the_signatures_void_the_first_one(
    app: SafetyApplication, world: World, form: str, user: Client
) -> None:
    principal, chief = user("hm_principal"), user("hm_chief")
    fill_joint_form(user("hm_staff"), user("hm_officer"), form)
    sign(principal, form, current(principal, form)["content_hash"])
    _late_hazard(app, world, "补录：消防栓无水")

    refreshed = current(chief, form)
    assert refreshed["counts"]["hazards_total"] == 1
    after = sign(chief, form, refreshed["content_hash"])

    assert after["status"] == "draft"  # not locked: the 校长 signed other figures
    states = {(s["role"], s["voided"]) for s in after["signatures"]}
    assert states == {("school_principal", True), ("station_chief", False)}


def test_once_locked_the_form_keeps_the_counts_both_signed(
    app: SafetyApplication, world: World, form: str, user: Client
) -> None:
    principal, chief, staff = user("hm_principal"), user("hm_chief"), user("hm_staff")
    content_hash = fill_joint_form(staff, user("hm_officer"), form)["content_hash"]
    sign(principal, form, content_hash)
    sign(chief, form, content_hash)
    _late_hazard(app, world, "补录：围墙裂缝")

    locked = current(staff, form)
    assert locked["counts"]["hazards_total"] == 0 and locked["content_hash"] == content_hash
    assert all(s["valid"] for s in locked["signatures"])
    ok(staff.post(f"{API}joint-forms/{form}/submit/", {}, format="json"))
    copy = JointFormCopy.objects.get(form_id=form, line="education")
    assert copy.content["counts"]["hazards_total"] == 0 and copy.content["content_hash"] == content_hash
