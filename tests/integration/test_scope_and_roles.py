"""Scope and roles of DESIGN §5 over HTTP: who sees which school, who may write what, and how refusals look."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.demo import World
from domain.application import SafetyApplication
from projections.hazard.rows import HazardLedger

from apihelpers import API, ok, post, refused, with_photo

Client = Callable[[str], APIClient]
Past = Callable[[float], str]
SCHOOLS = ("hongmei_school", "qinglong_school", "lanling_school")
ALL_DEMO_UNITS = ("district_bureau", "city_police", "hongmei_station", "qinglong_station", *SCHOOLS)

# Which of the demo schools each demo user sees (DESIGN §5 "Roles and scope").
VISIBLE_SCHOOLS: dict[str, set[str]] = {
    "hm_staff": {"hongmei_school"},
    "hm_principal": {"hongmei_school"},
    "ql_staff": {"qinglong_school"},
    "lh_principal": {"lanling_school"},
    "hm_officer": {"hongmei_school", "lanling_school"},  # 红梅派出所 is the 属地派出所 of both
    "hm_chief": {"hongmei_school", "lanling_school"},
    "ql_chief": {"qinglong_school"},
    "tn_inspector": set(SCHOOLS),  # 天宁区教育局: its district
    "tn_leader": set(SCHOOLS),
    "cz_police": set(SCHOOLS),  # city bureau: everything under it
    "auditor": set(SCHOOLS),
    "admin": set(SCHOOLS),
}
# Who discovers the per-school fixture hazard and runs its self-inspection.
SCHOOL_STAFF = {"hongmei_school": "hm_staff", "qinglong_school": "ql_staff", "lanling_school": "lh_principal"}








def results(response: Any) -> list[dict[str, Any]]:
    body = ok(response)
    return body["results"] if isinstance(body, dict) else body  # type: ignore[no-any-return]


@contextmanager
def nothing_recorded(app: SafetyApplication) -> Iterator[None]:
    events = app.recorder.max_notification_id()
    yield
    assert app.recorder.max_notification_id() == events, "an event was recorded"


def discover(client: APIClient, world: World, school: str, at: str, severity: str = "general") -> str:
    body = {"campaign": str(world.campaign), "school": str(world.units[school]), "item": "CZ-01",
            "severity": severity, "description": f"{school} 围墙破损", "occurred_at": at}
    return str(post(client, "hazards/", body, 201)["id"])


def hours_ago(hours: float) -> str:
    return (timezone.now() - timedelta(hours=hours)).isoformat()


@pytest.fixture
def school_hazards(world: World, user: Client, past: Past) -> dict[str, str]:
    """One hazard per demo school, discovered by that school's own staff."""
    return {school: discover(user(SCHOOL_STAFF[school]), world, school, past(1)) for school in SCHOOLS}


@pytest.fixture
def school_inspections(world: World, user: Client) -> dict[str, str]:
    """One self-inspection per demo school, recorded by that school's own staff."""
    found = {}
    for school, username in SCHOOL_STAFF.items():
        body = {"campaign": str(world.campaign), "school": str(world.units[school]), "kind": "self",
                "inspectors": [username]}
        found[school] = str(post(user(username), "inspections/", body, 201)["id"])
    return found


def staff_at(client: APIClient, unit: Any, at: str) -> dict[str, str]:
    """``units/{id}/staff/?at=``: username → role."""
    return {item["username"]: item["role"] for item in results(client.get(f"{API}units/{unit}/staff/", {"at": at}))}


# --- who sees what -----------------------------------------------------------------------------------


@pytest.mark.parametrize("username", sorted(VISIBLE_SCHOOLS))
def test_each_user_sees_exactly_the_hazards_of_the_schools_in_scope(
    world: World, user: Client, school_hazards: dict[str, str], username: str
) -> None:
    client, visible = user(username), VISIBLE_SCHOOLS[username]
    listed = {item["id"] for item in results(client.get(f"{API}hazards/"))}
    assert listed == {school_hazards[school] for school in visible}
    for school, hazard in school_hazards.items():
        if school in visible:
            assert ok(client.get(f"{API}hazards/{hazard}/"))["school"] == str(world.units[school])
            assert [item["type"] for item in ok(client.get(f"{API}hazards/{hazard}/history/"))] == ["discovered"]
        else:
            refused(client.get(f"{API}hazards/{hazard}/"), 404, "hazard_not_found")
            refused(client.get(f"{API}hazards/{hazard}/history/"), 404, "hazard_not_found")
            refused(client.get(f"{API}hazards/{hazard}/?version=1"), 404, "hazard_not_found")
            refused(client.post(f"{API}hazards/{hazard}/supervise/", {}, format="json"), 404, "hazard_not_found")
            assert results(client.get(f"{API}hazards/", {"school": str(world.units[school])})) == []


@pytest.mark.parametrize("username", sorted(VISIBLE_SCHOOLS))
def test_each_user_sees_exactly_the_inspections_of_the_schools_in_scope(
    world: World, user: Client, school_inspections: dict[str, str], username: str
) -> None:
    client, visible = user(username), VISIBLE_SCHOOLS[username]
    listed = {item["id"] for item in results(client.get(f"{API}inspections/"))}
    assert listed == {school_inspections[school] for school in visible}
    for school, inspection in school_inspections.items():
        if school in visible:
            assert ok(client.get(f"{API}inspections/{inspection}/"))["school"] == str(world.units[school])
        else:
            refused(client.get(f"{API}inspections/{inspection}/"), 404, "inspection_not_found")
            refused(client.post(f"{API}inspections/{inspection}/complete/", {}, format="json"),
                    404, "inspection_not_found")


@pytest.mark.parametrize(("username", "expected"), [
    # a school or station sees itself, its schools, their 属地派出所, its district bureau and the city bureaus
    ("hm_staff", {"hongmei_school", "hongmei_station", "district_bureau", "city_police"}),
    ("lh_principal", {"lanling_school", "hongmei_station", "district_bureau", "city_police"}),
    ("hm_officer", {"hongmei_station", "hongmei_school", "lanling_school", "district_bureau", "city_police"}),
    ("ql_chief", {"qinglong_station", "qinglong_school", "district_bureau", "city_police"}),
    ("tn_inspector", set(ALL_DEMO_UNITS)),  # every unit of 天宁区
    ("cz_police", set(ALL_DEMO_UNITS)),
    ("auditor", set(ALL_DEMO_UNITS)),
    ("admin", set(ALL_DEMO_UNITS)),
])
def test_units_list_holds_only_the_units_in_scope(
    world: World, user: Client, username: str, expected: set[str]
) -> None:
    names = {str(unit_id): key for key, unit_id in world.units.items()}
    listed = {names[item["id"]] for item in results(user(username).get(f"{API}units/"))}
    assert listed == expected


# --- writes: who may discover, manage the directory, launch campaigns (the full table: test_role_matrix.py)


@pytest.mark.parametrize(("username", "school"), [
    ("hm_staff", "hongmei_school"), ("hm_principal", "hongmei_school"), ("lh_principal", "lanling_school"),
    ("hm_officer", "lanling_school"), ("hm_chief", "hongmei_school"), ("ql_chief", "qinglong_school"),
    ("tn_inspector", "qinglong_school"), ("tn_leader", "lanling_school"), ("cz_police", "hongmei_school"),
    ("admin", "qinglong_school"),
])
def test_each_allowed_role_discovers_hazards_at_a_school_in_scope(
    world: World, user: Client, past: Past, username: str, school: str
) -> None:
    client = user(username)
    hazard = discover(client, world, school, past(1))
    history = ok(client.get(f"{API}hazards/{hazard}/history/"))
    assert [(item["type"], item["actor"]) for item in history] == [("discovered", username)]
    assert hazard in {item["id"] for item in results(client.get(f"{API}hazards/"))}
    assert ok(user(SCHOOL_STAFF[school]).get(f"{API}hazards/{hazard}/"))["status"] == "reported"


def test_admin_manages_units_and_users(world: World, user: Client) -> None:
    admin, station = user("admin"), str(world.units["hongmei_station"])
    school = post(admin, "units/", {"kind": "school", "name": "新学校", "district": "天宁区",
                                    "police_station": station}, 201)
    assert post(admin, "users/", {"username": "someone_new", "password": "long-enough-1", "display_name": "新人",
                                  "unit": school["id"], "role": "school_staff"}, 201)["active"] is True
    assert post(admin, "users/someone_new/role/", {"unit": school["id"], "role": "school_principal"})["role"] == \
        "school_principal"
    assert post(admin, "users/someone_new/deactivate/", {})["active"] is False


CAMPAIGN = {"title": "天宁区学校安全专项排查", "template": "changzhou", "statistics_cutoff": "2099-01-01",
            "report_deadline": "2099-01-08"}


@pytest.mark.parametrize("username", ["tn_inspector", "tn_leader"])
def test_campaign_launch_by_education_bureau_roles_works(world: World, user: Client, username: str) -> None:
    campaign = post(user(username), "campaigns/", CAMPAIGN, 201)
    assert campaign["launched_by"] == username
    assert campaign["issuer"] == str(world.units["district_bureau"])


# --- appointments over time -------------------------------------------------------------------------------


def _appoint_then_demote(user: Client, world: World) -> None:
    """new_head: 校长 of 红梅实验小学 from 20 days ago, an ordinary staff member from 5 days ago."""
    admin, school = user("admin"), str(world.units["hongmei_school"])
    post(admin, "users/", {"username": "new_head", "password": "long-enough-1", "display_name": "新校长",
                           "unit": school, "role": "school_principal", "effective_from": hours_ago(20 * 24)}, 201)
    changed = post(admin, "users/new_head/role/",
                   {"unit": school, "role": "school_staff", "effective_from": hours_ago(5 * 24)})
    assert (changed["role"], changed["unit"], changed["active"]) == ("school_staff", school, True)


def test_role_change_takes_effect_for_the_users_permissions(world: World, user: Client, past: Past) -> None:
    _appoint_then_demote(user, world)
    hazard = discover(user("hm_staff"), world, "hongmei_school", past(1))
    refused(user("new_head").post(f"{API}hazards/{hazard}/assign/", {
        "owner": "hm_staff", "owner_unit": str(world.units["hongmei_school"]), "deadline": "2099-01-01",
    }, format="json"), 403, "role_not_permitted")


def test_staff_at_answers_who_held_which_role_before_and_after_a_role_change(world: World, user: Client) -> None:
    _appoint_then_demote(user, world)
    admin, school = user("admin"), world.units["hongmei_school"]
    assert staff_at(admin, school, hours_ago(25 * 24)).get("new_head") is None
    before = staff_at(admin, school, hours_ago(10 * 24))
    assert before["new_head"] == "school_principal" and before["hm_principal"] == "school_principal"
    now = staff_at(admin, school, timezone.now().isoformat())
    assert now["new_head"] == "school_staff" and now["hm_principal"] == "school_principal"
    item = next(i for i in results(admin.get(f"{API}units/{school}/staff/", {"at": hours_ago(10 * 24)}))
                if i["username"] == "new_head")
    assert item["display_name"] == "新校长" and item["from"] and item["to"]


def test_deactivated_user_is_gone_from_current_staff_but_listed_earlier(world: World, user: Client) -> None:
    admin, school = user("admin"), world.units["hongmei_school"]
    post(admin, "users/hm_staff2/deactivate/", {"effective_from": hours_ago(24)})
    assert "hm_staff2" not in staff_at(admin, school, timezone.now().isoformat())
    assert staff_at(admin, school, hours_ago(48))["hm_staff2"] == "school_staff"


# --- verification rules over HTTP ---------------------------------------------------------------------


def test_major_hazard_is_verified_only_by_a_bureau(app: SafetyApplication, world: World, user: Client,
                                                   past: Past) -> None:
    school = str(world.units["hongmei_school"])
    hazard = discover(user("tn_inspector"), world, "hongmei_school", past(1), severity="major")
    post(user("hm_principal"), f"hazards/{hazard}/assign/",
         {"owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01", "occurred_at": past(2)})
    staff = user("hm_staff")
    post(staff, f"hazards/{hazard}/rectify/", with_photo(staff, {"note": "已修复围墙", "occurred_at": past(3)}))
    with nothing_recorded(app):
        for username, code in (("hm_principal", "major_requires_bureau"), ("hm_chief", "role_not_permitted")):
            refused(user(username).post(f"{API}hazards/{hazard}/verify/", {"accepted": True}, format="json"),
                    403, code)
    closed = post(user("tn_inspector"), f"hazards/{hazard}/verify/", {"accepted": True, "note": "验收合格"})
    assert (closed["status"], closed["version"]) == ("closed", 4)
    assert HazardLedger.objects.get(id=hazard).verified_by == "tn_inspector"


def test_principal_who_rectified_cannot_verify(app: SafetyApplication, world: World, user: Client,
                                               past: Past) -> None:
    school, principal = str(world.units["hongmei_school"]), user("hm_principal")
    hazard = discover(user("hm_staff"), world, "hongmei_school", past(1))
    post(principal, f"hazards/{hazard}/assign/",
         {"owner": "hm_principal", "owner_unit": school, "deadline": "2099-01-01", "occurred_at": past(2)})
    post(principal, f"hazards/{hazard}/rectify/",
         with_photo(principal, {"note": "校长亲自整改", "occurred_at": past(3)}))
    with nothing_recorded(app):
        refused(principal.post(f"{API}hazards/{hazard}/verify/", {"accepted": True}, format="json"),
                403, "separation_of_duties")
        refused(principal.post(f"{API}hazards/{hazard}/verify/", {"accepted": False, "note": "自己驳回"},
                               format="json"), 403, "separation_of_duties")
    assert post(user("tn_inspector"), f"hazards/{hazard}/verify/", {"accepted": True})["status"] == "closed"


# --- a second district -----------------------------------------------------------------------------


@pytest.fixture
def wujin(world: World, user: Client) -> dict[str, str]:
    """武进区 registered over the API: its bureau, a station, a school, an inspector and a staff member."""
    admin = user("admin")

    def unit(kind: str, name: str, **extra: Any) -> str:
        return str(post(admin, "units/", {"kind": kind, "name": name, "district": "武进区", **extra}, 201)["id"])

    units = {"bureau": unit("district_edu_bureau", "武进区教育局")}
    units["station"] = unit("police_station", "湖塘派出所", parent=str(world.units["city_police"]))
    units["school"] = unit("school", "湖塘小学", parent=units["bureau"], police_station=units["station"])
    staff = (("wj_inspector", "bureau", "edu_inspector"), ("ht_staff", "school", "school_staff"))
    for username, unit_key, role in staff:
        post(admin, "users/", {"username": username, "password": "long-enough-1", "display_name": username,
                               "unit": units[unit_key], "role": role}, 201)
    return units


def test_a_district_bureau_sees_only_its_own_district(world: World, user: Client, past: Past,
                                                      wujin: dict[str, str]) -> None:
    campaign = post(user("wj_inspector"), "campaigns/", {**CAMPAIGN, "title": "武进区专项排查"}, 201)["id"]
    wujin_hazard = post(user("ht_staff"), "hazards/", {
        "campaign": campaign, "school": wujin["school"], "severity": "general", "description": "操场围网破损",
        "occurred_at": past(1)}, 201)["id"]
    tianning_hazard = discover(user("hm_staff"), world, "hongmei_school", past(1))

    for username, sees, hidden in (("wj_inspector", wujin_hazard, tianning_hazard),
                                   ("tn_inspector", tianning_hazard, wujin_hazard),
                                   ("hm_officer", tianning_hazard, wujin_hazard)):
        client = user(username)
        assert {item["id"] for item in results(client.get(f"{API}hazards/"))} == {sees}, username
        refused(client.get(f"{API}hazards/{hidden}/"), 404, "hazard_not_found")
    assert {item["id"] for item in results(user("cz_police").get(f"{API}hazards/"))} == {wujin_hazard,
                                                                                        tianning_hazard}
    wujin_units = {item["id"] for item in results(user("wj_inspector").get(f"{API}units/"))}
    assert wujin_units == set(wujin.values()) | {str(world.units["city_police"])}
    tianning_units = {item["id"] for item in results(user("tn_inspector").get(f"{API}units/"))}
    assert not tianning_units & set(wujin.values())


def test_a_school_cannot_file_into_another_districts_campaign(app: SafetyApplication, world: World, user: Client,
                                                             past: Past, wujin: dict[str, str]) -> None:
    body = {"campaign": str(world.campaign), "school": wujin["school"], "severity": "general",
            "description": "越区登记", "occurred_at": past(1)}
    with nothing_recorded(app):
        refused(user("ht_staff").post(f"{API}hazards/", body, format="json"), 400, "school_not_in_campaign")

