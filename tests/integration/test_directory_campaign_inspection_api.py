"""The directory, campaign, inspection, schema, docs and health endpoints, end to end over HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

from api.demo import World
from domain.application import SafetyApplication
from domain.campaign.templates import get_template

from apihelpers import API, HAZARD_COMMANDS, ok, post, refused

Client = Callable[[str], APIClient]
TEMPLATE_KEYS = {"suzhou", "qingpu", "changzhou", "nanyang", "yanzhou"}
DATES = {"statistics_cutoff": "2099-01-01", "report_deadline": "2099-01-08"}








def results(response: Any) -> list[dict[str, Any]]:
    body = ok(response)
    return body["results"] if isinstance(body, dict) else body  # type: ignore[no-any-return]


# --- units -------------------------------------------------------------------------------------------


def test_admin_registers_a_station_and_a_school_under_it(world: World, user: Client) -> None:
    admin = user("admin")
    station = post(admin, "units/", {"kind": "police_station", "name": "茶山派出所", "district": "天宁区",
                                     "parent": str(world.units["city_police"])}, 201)
    school = post(admin, "units/", {"kind": "school", "name": "茶山小学", "district": "天宁区", "stage": "小学",
                                    "boarding": True, "parent": str(world.units["district_bureau"]),
                                    "police_station": station["id"]}, 201)
    assert {k: school[k] for k in ("kind", "name", "district", "stage", "boarding", "police_station", "version")} == {
        "kind": "school", "name": "茶山小学", "district": "天宁区", "stage": "小学", "boarding": True,
        "police_station": station["id"], "version": 1,
    }
    assert station["parent"] == str(world.units["city_police"]) and station["police_station"] is None
    listed = {item["id"]: item for item in results(admin.get(f"{API}units/"))}
    assert listed[school["id"]] == school and listed[station["id"]] == station
    schools = {item["name"] for item in results(admin.get(f"{API}units/", {"kind": "school"}))}
    assert schools == {"红梅实验小学", "青龙中学", "兰陵幼儿园", "茶山小学"}
    # The new school is in the district bureau's and the new station's scope at once.
    assert school["id"] in {item["id"] for item in results(user("tn_inspector").get(f"{API}units/"))}


@pytest.mark.parametrize(("extra", "why"), [
    ({}, "no station"),
    ({"police_station": "{school}"}, "a school is not a police station"),
])
def test_a_school_requires_a_police_station(app: SafetyApplication, world: World, user: Client,
                                            extra: dict[str, str], why: str) -> None:
    extra = {k: str(world.units["hongmei_school"]) for k in extra}
    before = app.recorder.max_notification_id()
    response = user("admin").post(f"{API}units/", {"kind": "school", "name": "无所小学", **extra}, format="json")
    refused(response, 400, "invalid_value", "police_station")
    assert app.recorder.max_notification_id() == before, why


def test_only_schools_name_a_police_station(world: World, user: Client) -> None:
    response = user("admin").post(f"{API}units/", {"kind": "district_edu_bureau", "name": "某区教育局",
                                                   "police_station": str(world.units["hongmei_station"])},
                                  format="json")
    refused(response, 400, "invalid_value", "police_station")


# --- users, tokens and roles ----------------------------------------------------------------------------


NEW_USER = {"username": "hm_guard", "password": "guard-pass-2026", "display_name": "孙保安", "phone": "0519-1",
            "role": "school_staff"}


def test_admin_creates_a_user_who_logs_in_with_a_token_and_uses_the_api(
    world: World, user: Client, anonymous: APIClient, past: Callable[[float], str]
) -> None:
    school = str(world.units["hongmei_school"])
    created = post(user("admin"), "users/", {**NEW_USER, "unit": school}, 201)
    assert created == {"username": "hm_guard", "display_name": "孙保安", "phone": "0519-1", "unit": school,
                       "unit_name": "红梅实验小学", "role": "school_staff", "active": True, "version": 1}
    assert "password" not in created

    token = ok(anonymous.post(f"{API}auth/token/", {"username": "hm_guard", "password": "guard-pass-2026"},
                              format="json"))["token"]
    guard = APIClient(raise_request_exception=False)
    guard.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert school in [unit["id"] for unit in results(guard.get(f"{API}units/"))]
    hazard = post(guard, "hazards/", {"campaign": str(world.campaign), "school": school, "severity": "general",
                                      "description": "门卫室监控黑屏", "occurred_at": past(1)}, 201)
    history = ok(guard.get(f"{API}hazards/{hazard['id']}/history/"))
    assert history[0]["actor"] == "hm_guard"


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"username": "hm_staff"}, 409, "already_exists"),
    ({"password": "short"}, 400, "invalid"),
    ({"username": "has space"}, 400, "invalid"),
    ({"role": "station_officer"}, 400, "role_not_for_unit"),
    ({"role": "system"}, 400, "invalid"),
    ({"unit": None}, 400, "role_not_for_unit"),
])
def test_user_creation_refusals(app: SafetyApplication, world: World, user: Client, change: dict[str, Any],
                                status: int, code: str) -> None:
    before = app.recorder.max_notification_id()
    body = {**NEW_USER, "unit": str(world.units["hongmei_school"]), **change}
    refused(user("admin").post(f"{API}users/", body, format="json"), status, code)
    assert app.recorder.max_notification_id() == before


def test_role_change_moves_a_user_to_another_unit_and_role(world: World, user: Client, past: Callable) -> None:
    admin, lanling = user("admin"), str(world.units["lanling_school"])
    changed = post(admin, "users/hm_staff2/role/", {"unit": lanling, "role": "school_principal",
                                                    "effective_from": past(1), "expected_version": 1})
    assert (changed["unit"], changed["role"], changed["version"]) == (lanling, "school_principal", 2)
    moved = user("hm_staff2")
    assert {item["school"] for item in results(moved.get(f"{API}hazards/"))} <= {lanling}
    moved_units = [item["id"] for item in results(moved.get(f"{API}units/"))]
    assert lanling in moved_units and str(world.units["qinglong_school"]) not in moved_units


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("users/nobody/role/", {"unit": "{school}", "role": "school_staff"}, 404, "user_not_found"),
    ("users/nobody/deactivate/", {}, 404, "user_not_found"),
    ("users/hm_staff2/role/", {"unit": "{school}", "role": "school_principal",
                               "effective_from": "2000-01-01T00:00:00+08:00"}, 400, "effective_from_out_of_order"),
    ("users/hm_staff2/role/", {"unit": "{school}", "role": "school_principal", "expected_version": 5},
     409, "version_conflict"),
    ("users/hm_staff2/role/", {"unit": "{station}", "role": "school_principal"}, 400, "role_not_for_unit"),
    ("users/hm_staff2/role/", {"unit": "{school}", "role": "king"}, 400, "invalid"),
])
def test_role_change_refusals(app: SafetyApplication, world: World, user: Client, path: str, body: dict[str, Any],
                              status: int, code: str) -> None:
    units = {"{school}": str(world.units["hongmei_school"]), "{station}": str(world.units["hongmei_station"])}
    body = {k: units.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = app.recorder.max_notification_id()
    refused(user("admin").post(API + path, body, format="json"), status, code)
    assert app.recorder.max_notification_id() == before


def test_a_deactivated_user_cannot_be_deactivated_again(world: World, user: Client) -> None:
    admin = user("admin")
    assert post(admin, "users/hm_staff2/deactivate/", {})["active"] is False
    refused(admin.post(f"{API}users/hm_staff2/deactivate/", {}, format="json"), 409, "staff_left")


# --- campaign templates and campaigns -----------------------------------------------------------------------


def test_campaign_templates_are_the_five_seed_notices_with_their_items(world: World, user: Client) -> None:
    templates = {t["key"]: t for t in ok(user("hm_staff").get(f"{API}campaign-templates/"))}
    assert set(templates) == TEMPLATE_KEYS
    assert "常州" in templates["changzhou"]["title"]
    for key, template in templates.items():
        assert template["title"] and template["items"], key
        codes = [item["code"] for item in template["items"]]
        assert len(codes) == len(set(codes)), key
        for item in template["items"]:
            assert set(item) == {"code", "title", "category"}, key
            assert all(isinstance(item[f], str) and item[f].strip() for f in item), (key, item)


@pytest.mark.parametrize("template", sorted(TEMPLATE_KEYS))
def test_a_campaign_from_a_template_takes_its_checklist(world: World, user: Client, template: str) -> None:
    leader = user("tn_leader")
    campaign = post(leader, "campaigns/", {
        "title": f"{template} 专项排查", "document_no": "常教安〔2099〕1号", "template": template,
        "phases": [{"kind": "self_check", "start": "2098-12-01", "end": "2098-12-20"}],
        "scope": [str(world.units["hongmei_school"])], "recipients": [str(world.units["district_bureau"])],
        **DATES,
    }, 201)
    expected = [{"code": i.code, "title": i.title, "category": i.category} for i in get_template(template).items]
    assert campaign["checklist"] == expected
    assert (campaign["template"], campaign["document_no"], campaign["version"]) == (template, "常教安〔2099〕1号", 1)
    assert campaign["scope"] == [str(world.units["hongmei_school"])]
    assert ok(leader.get(f"{API}campaigns/{campaign['id']}/")) == campaign
    assert campaign["id"] in {c["id"] for c in results(leader.get(f"{API}campaigns/"))}


def test_a_campaign_with_an_explicit_checklist(world: World, user: Client) -> None:
    checklist = [{"code": "X-01", "title": "消防通道是否畅通", "category": "消防安全"},
                 {"code": "X-02", "title": "食堂原料是否索证索票", "category": "食品安全"}]
    campaign = post(user("tn_inspector"), "campaigns/", {"title": "秋季开学检查", "checklist": checklist, **DATES},
                    201)
    assert campaign["checklist"] == checklist and campaign["template"] == ""
    explicit_wins = post(user("tn_inspector"), "campaigns/", {"title": "模板加自定义清单", "template": "suzhou",
                                                             "checklist": checklist, **DATES}, 201)
    assert explicit_wins["checklist"] == checklist


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"template": "atlantis"}, "invalid_value", "template"),
    ({}, "invalid_value", "checklist"),
    ({"checklist": []}, "invalid_value", "checklist"),
    ({"checklist": [{"code": "A", "title": "t", "category": "c"}, {"code": "A", "title": "u", "category": "c"}]},
     "invalid_value", "checklist"),
    ({"checklist": [{"code": "A", "title": "t"}]}, "invalid", "checklist"),
    ({"template": "suzhou", "statistics_cutoff": "2099-02-01"}, "invalid_value", "statistics_cutoff"),
    ({"template": "suzhou", "phases": [{"kind": "onsite", "start": "2099-01-05", "end": "2099-01-01"}]},
     "invalid_value", "phases"),
])
def test_campaign_launch_refusals(app: SafetyApplication, world: World, user: Client, body: dict[str, Any],
                                  code: str, field: str) -> None:
    before = app.recorder.max_notification_id()
    response = user("tn_leader").post(f"{API}campaigns/", {"title": "专项排查", **DATES, **body}, format="json")
    refused(response, 400, code, field)
    assert app.recorder.max_notification_id() == before


# --- inspections ----------------------------------------------------------------------------------------


def self_inspection(client: APIClient, world: World, campaign: Any = None, **extra: Any) -> dict[str, Any]:
    return post(client, "inspections/", {
        "campaign": str(campaign or world.campaign), "school": str(world.units["hongmei_school"]), "kind": "self",
        "inspectors": ["hm_staff", "hm_staff2"], "departments": ["总务处"], **extra}, 201)  # type: ignore[no-any-return]


def test_a_self_inspection_is_recorded_item_by_item_and_completed(
    app: SafetyApplication, world: World, user: Client, past: Callable[[float], str]
) -> None:
    staff = user("hm_staff")
    inspection = self_inspection(staff, world, occurred_at=past(1))
    assert (inspection["kind"], inspection["status"], inspection["assessments"]) == ("self", "open", [])
    assert inspection["inspectors"] == ["hm_staff", "hm_staff2"] and inspection["recorded_by"] == "hm_staff"
    iid = inspection["id"]

    post(staff, f"inspections/{iid}/assessments/", {"item": "CZ-01", "result": "pass", "occurred_at": past(2)}, 201)
    assessed = post(user("hm_staff2"), f"inspections/{iid}/assessments/",
                    {"item": "CZ-03", "result": "fail", "note": "危化品未双锁", "occurred_at": past(3)}, 201)
    assert [(a["item"], a["result"], a["assessed_by"]) for a in assessed["assessments"]] == [
        ("CZ-01", "pass", "hm_staff"), ("CZ-03", "fail", "hm_staff2")]
    assert assessed["version"] == 3

    before = app.recorder.max_notification_id()
    refused(staff.post(f"{API}inspections/{iid}/assessments/", {"item": "ZZ-99", "result": "pass"}, format="json"),
            400, "unknown_item")
    assert app.recorder.max_notification_id() == before

    completed = post(staff, f"inspections/{iid}/complete/", {"occurred_at": past(4)})
    assert completed["status"] == "completed" and completed["completed_at"]
    before = app.recorder.max_notification_id()
    refused(staff.post(f"{API}inspections/{iid}/assessments/", {"item": "CZ-02", "result": "pass"}, format="json"),
            409, "inspection_completed")
    refused(staff.post(f"{API}inspections/{iid}/complete/", {}, format="json"), 409, "inspection_completed")
    assert app.recorder.max_notification_id() == before
    assert ok(staff.get(f"{API}inspections/{iid}/")) == completed


def test_inspection_refusals(world: World, user: Client) -> None:
    school = str(world.units["hongmei_school"])
    base = {"campaign": str(world.campaign), "school": school, "inspectors": ["hm_staff"]}
    refused(user("tn_inspector").post(f"{API}inspections/", {**base, "kind": "self"}, format="json"),
            403, "role_not_permitted")
    refused(user("hm_staff").post(f"{API}inspections/", {**base, "kind": "onsite"}, format="json"),
            403, "role_not_permitted")
    refused(user("hm_staff").post(f"{API}inspections/", {**base, "kind": "self", "inspectors": ["ghost"]},
                                  format="json"), 400, "invalid_value", "inspectors")
    refused(user("hm_staff").post(f"{API}inspections/", {**base, "kind": "self", "inspectors": []}, format="json"),
            400, "invalid", "inspectors")
    joint = post(user("tn_inspector"), "inspections/", {
        **base, "kind": "joint", "inspectors": ["tn_inspector", "hm_officer"], "leader_participated": True,
        "departments": ["教育局", "公安局"]}, 201)
    assert (joint["kind"], joint["leader_participated"]) == ("joint", True)
    # A station officer named on a joint inspection may record it.
    assert post(user("hm_officer"), f"inspections/{joint['id']}/assessments/",
                {"item": "CZ-02", "result": "not_applicable"}, 201)["assessments"][0]["result"] == "not_applicable"


def test_inspections_list_filters_by_campaign_school_and_kind(world: World, user: Client) -> None:
    other = post(user("tn_leader"), "campaigns/", {"title": "寒假前检查", "template": "suzhou", **DATES}, 201)
    staff = user("hm_staff")
    first = self_inspection(staff, world)["id"]
    second = self_inspection(staff, world, campaign=other["id"])["id"]
    onsite = post(user("tn_inspector"), "inspections/", {
        "campaign": other["id"], "school": str(world.units["qinglong_school"]), "kind": "onsite",
        "inspectors": ["tn_inspector"]}, 201)["id"]
    inspector = user("tn_inspector")

    def ids(**query: str) -> set[str]:
        return {item["id"] for item in results(inspector.get(f"{API}inspections/", query))}

    assert ids() == {first, second, onsite}
    assert ids(campaign=str(world.campaign)) == {first}
    assert ids(campaign=other["id"]) == {second, onsite}
    assert ids(school=str(world.units["qinglong_school"])) == {onsite}
    assert ids(kind="self") == {first, second}
    assert ids(campaign=other["id"], kind="onsite") == {onsite}


# --- schema, docs, health, root -----------------------------------------------------------------------------


def test_schema_is_an_openapi_3_document_with_every_hazard_command(world: World, anonymous: APIClient) -> None:
    schema = ok(anonymous.get(f"{API}schema/", {"format": "json"}))
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for command in HAZARD_COMMANDS:
        assert any(re.fullmatch(rf"/api/v1/hazards/\{{\w+\}}/{command}/", p) for p in paths), command
        matching = next(p for p in paths if p.endswith(f"/{command}/") and "hazards" in p)
        assert "post" in schema["paths"][matching]
    for path in ("/api/v1/hazards/", "/api/v1/units/", "/api/v1/inspections/", "/api/v1/campaigns/"):
        assert path in paths


def test_docs_page_uses_only_local_assets(world: World, anonymous: APIClient) -> None:
    response = anonymous.get(f"{API}docs/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r"<script[^>]*\bsrc=[\"']([^\"']+)", html) + re.findall(
        r"<link[^>]*\bhref=[\"']([^\"']+)", html)
    assert assets, "the Swagger UI page references its scripts and styles"
    for asset in assets:
        parsed = urlparse(asset)
        assert parsed.scheme in ("", "http", "https") and parsed.netloc in ("", "testserver"), asset
        assert not asset.startswith("//"), asset
    assert not re.search(r"(src|href)=[\"']https?://(?!testserver)", html)
    assert "swagger-ui" in html


def test_health_check_is_ok(world: World, anonymous: APIClient) -> None:
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_api_root_lists_links(world: World, anonymous: APIClient, user: Client) -> None:
    links = ok(anonymous.get(API))["links"]
    for name in ("auth-token", "units", "users", "campaign-templates", "campaigns", "inspections", "hazards",
                 "schema", "docs"):
        assert urlparse(links[name]).path.startswith(API), name
    assert urlparse(links["hazards"]).path == f"{API}hazards/"
    for name in ("units", "campaign-templates", "campaigns", "inspections", "hazards"):
        assert user("auditor").get(urlparse(links[name]).path).status_code == 200, name
