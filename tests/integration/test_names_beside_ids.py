"""Officials read names: every JSON naming a unit or a person gives its name beside the id, findings' summaries
name people and schools, and a hazard's number (学校代码-年份-序号) is unique across the district."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.demo import ADMIN, World
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.policy import UnitKind
from domain.timerules import business_date
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up

from apihelpers import API, ok, post, refused

Client = Callable[[str], Any]
Past = Callable[[float], str]
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
USERNAME = re.compile(r"(?<![A-Za-z0-9_])[a-z]+_[a-z0-9_]+")


def discover(client: Any, world: World, school: str, when: str, description: str = "南校门缺少升降柱") -> Any:
    body = {
        "campaign": str(world.campaign),
        "school": str(world.units[school]),
        "severity": "general",
        "description": description,
        "occurred_at": when,
    }
    return post(client, "hazards/", body, 201)


def results(response: Any) -> list[Any]:
    body = ok(response)
    return body["results"] if isinstance(body, dict) else body


def test_a_hazard_its_history_owners_and_the_ownership_list_name_the_school_and_the_people(
    world: World, user: Client, past: Past
) -> None:
    school = str(world.units["hongmei_school"])
    hazard = discover(user("hm_staff"), world, "hongmei_school", past(1))["id"]
    assigned = post(
        user("hm_principal"),
        f"hazards/{hazard}/assign/",
        {"owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01", "occurred_at": past(2)},
    )

    for body in (
        assigned,
        ok(user("tn_inspector").get(f"{API}hazards/{hazard}/")),
        *results(user("tn_inspector").get(f"{API}hazards/")),
    ):
        assert (body["school"], body["school_name"]) == (school, "红梅实验小学")
        assert (body["owner"], body["owner_name"]) == ("hm_staff", "李安全")
        assert body["owner_unit_name"] == "红梅实验小学"
    history = ok(user("tn_inspector").get(f"{API}hazards/{hazard}/history/"))
    assert [(e["actor"], e["actor_name"]) for e in history] == [("hm_staff", "李安全"), ("hm_principal", "王校长")]
    (owner,) = ok(user("tn_inspector").get(f"{API}hazards/{hazard}/owners/"))
    assert (owner["owner_name"], owner["owner_unit_name"]) == ("李安全", "红梅实验小学")
    (row,) = results(user("tn_inspector").get(f"{API}ownership/"))
    assert (row["school_name"], row["owner_name"], row["owner_unit_name"]) == ("红梅实验小学", "李安全", "红梅实验小学")


def test_two_schools_of_the_district_number_their_first_hazards_apart_in_the_ownership_list(
    world: World, user: Client, past: Past
) -> None:
    discover(user("hm_staff"), world, "hongmei_school", past(1), "消防通道堆放杂物")
    discover(user("ql_staff"), world, "qinglong_school", past(1), "宿舍楼灭火器过期")

    rows = results(user("tn_leader").get(f"{API}ownership/"))
    year = business_date(datetime.fromisoformat(past(1))).year
    numbers = {row["school_name"]: row["number"] for row in rows}
    assert numbers == {"红梅实验小学": f"HM01-{year}-0001", "青龙中学": f"QL01-{year}-0001"}


def test_a_school_without_a_code_gets_the_districts_next_default_and_a_code_is_unique_in_its_district(
    app: SafetyApplication, world: World, user: Client, past: Past
) -> None:
    admin = user("admin")
    school = {"kind": "school", "district": "天宁区", "police_station": str(world.units["hongmei_station"])}
    refused(
        admin.post(f"{API}units/", {**school, "name": "红梅二小", "code": "hm01"}, format="json"),
        400,
        "school_code_taken",
    )
    refused(
        admin.post(f"{API}units/", {**school, "name": "红梅二小", "code": "S12"}, format="json"),
        400,
        "invalid_value",
        "code",
    )
    other = post(admin, "units/", {**school, "name": "湖塘小学", "district": "武进区", "code": "hm01"}, 201)
    assert other["code"] == "HM01"  # codes are unique within a district, not across the city
    plain = post(admin, "units/", {**school, "name": "红梅二小"}, 201)
    assert plain["code"] == "S004"  # the fourth school registered in 天宁区
    assert plain["police_station_name"] == "红梅派出所"

    # the default is fixed into the number at discovery, like a registered code
    post(
        admin,
        "users/",
        {
            "username": "hm2_staff",
            "password": "long-enough-1",
            "display_name": "钱二",
            "unit": plain["id"],
            "role": "school_staff",
        },
        201,
    )
    body = {
        "campaign": str(world.campaign),
        "school": plain["id"],
        "severity": "general",
        "description": "楼梯扶手松动",
        "occurred_at": past(1),
    }
    assert re.fullmatch(r"S004-\d{4}-0001", post(user("hm2_staff"), "hazards/", body, 201)["number"])


def test_a_hazard_discovered_without_a_code_keeps_its_per_school_number_through_a_rebuild(
    app: SafetyApplication, world: World
) -> None:
    """Hazards recorded before codes existed carry none in their Discovered: numbered 年份-序号 per school, as
    they were printed then — and a rebuild gives every hazard the number it had."""
    old_school = app.register_unit(
        actor=ADMIN,
        kind=UnitKind.SCHOOL,
        name="老城小学",
        district="天宁区",
        police_station=world.units["hongmei_station"],
    )
    when = timezone.now()
    for school in (old_school.id, old_school.id, world.units["hongmei_school"]):
        app.discover_hazard(
            actor=world.actor("tn_inspector"),
            campaign=world.campaign,
            school=school,
            description="旧编号隐患",
            severity=Severity.GENERAL,
            occurred_at=when,
        )
    catch_up(app)
    year = business_date(when).year
    numbers = sorted(HazardLedger.objects.values_list("number", flat=True))
    assert numbers == [f"{year}-0001", f"{year}-0002", f"HM01-{year}-0001"]

    call_command("rebuild_projections")
    assert sorted(HazardLedger.objects.values_list("number", flat=True)) == numbers


@pytest.fixture
def demo(app: SafetyApplication) -> None:
    call_command("load_demo")


def test_findings_name_people_with_their_school_and_never_an_id(demo: None, client_for: Client) -> None:
    findings = results(client_for("tn_leader").get(f"{API}accountability/"))
    assert findings
    for finding in findings:
        assert not UUID_TEXT.search(finding["summary"]), finding["summary"]
        assert not USERNAME.search(finding["summary"]), finding["summary"]
        for subject in finding["subjects"]:
            assert subject["unit_name"] and (subject["username"] is None or subject["name"])
    r1 = next(f for f in findings if f["code"] == "R1_OVERDUE_UNRECTIFIED" and "赵后勤" in f["summary"])
    assert "整改责任人赵后勤（红梅实验小学）" in r1["summary"] and "时任校长王校长（红梅实验小学）" in r1["summary"]
    r7 = next(f for f in findings if f["code"] == "R7_SUPERVISED_OVERDUE")
    assert "单位天宁区教育局负有责任" in r7["summary"] and "何局长（天宁区教育局）" in r7["summary"]


def test_forms_inspections_and_campaigns_name_their_units_and_people(world: World, user: Client) -> None:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    form = post(user("hm_staff"), "joint-forms/", body, 201)
    assert (form["school_name"], form["station_name"]) == ("红梅实验小学", "红梅派出所")
    (listed,) = results(user("hm_chief").get(f"{API}joint-forms/"))
    assert listed["station_name"] == "红梅派出所"

    inspection = post(
        user("hm_staff"), "inspections/", {**body, "kind": "self", "inspectors": ["hm_staff", "hm_principal"]}, 201
    )
    assert inspection["school_name"] == "红梅实验小学"
    assert inspection["inspector_names"] == ["李安全", "王校长"] and inspection["recorded_by_name"] == "李安全"

    campaign = ok(user("hm_staff").get(f"{API}campaigns/{world.campaign}/"))
    assert campaign["issuer_name"] == "天宁区教育局"
    assert all(campaign["recipient_names"]) and len(campaign["recipient_names"]) == len(campaign["recipients"])


def test_the_names_of_a_page_of_hazards_are_read_at_once(world: World, user: Client, past: Past) -> None:
    inspector = user("tn_inspector")

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert all(h["school_name"] for h in results(inspector.get(f"{API}hazards/")))
        return len(queries)

    def discover_and_assign(school: str, client: str) -> None:
        hazard = discover(user(client), world, school, past(1))
        body = {"owner": client, "owner_unit": hazard["school"], "deadline": "2099-01-01", "occurred_at": past(2)}
        post(inspector, f"hazards/{hazard['id']}/assign/", body)

    discover_and_assign("hongmei_school", "hm_staff")
    one = queries_for_the_list()
    for school, client in (
        ("qinglong_school", "ql_staff"),
        ("hongmei_school", "hm_staff2"),
        ("lanling_school", "lh_principal"),
    ):
        discover_and_assign(school, client)
    assert queries_for_the_list() == one  # the schools' and owners' names of the whole page at once


def test_a_schools_code_changes_for_the_hazards_after_it_and_the_numbers_given_before_stay(
    app: SafetyApplication, world: World, user: Client, past: Past
) -> None:
    """学校代码 is changeable (units/{id}/change/), unique in the district; numbers already printed never move."""
    admin, school = user("admin"), str(world.units["hongmei_school"])
    before = discover(user("hm_staff"), world, "hongmei_school", past(1), "消防通道堆放杂物")
    change = f"units/{school}/change/"
    taken = admin.post(API + change, {"code": "ql01", "effective_from": past(2)}, format="json")
    refused(taken, 400, "school_code_taken")
    refused(admin.post(API + change, {"code": "S9", "effective_from": past(2)}, format="json"), 400, "invalid_value")
    assert post(admin, change, {"code": "hmsy", "effective_from": past(2)})["code"] == "HMSY"

    after = discover(user("hm_staff"), world, "hongmei_school", past(3), "宿舍楼灭火器过期")
    year = business_date(datetime.fromisoformat(past(1))).year
    assert ok(user("hm_staff").get(f"{API}hazards/{before['id']}/"))["number"] == f"HM01-{year}-0001"
    assert after["number"] == f"HMSY-{year}-0001"
    call_command("rebuild_projections")
    numbers = set(HazardLedger.objects.filter(school=school).values_list("number", flat=True))
    assert numbers == {f"HM01-{year}-0001", f"HMSY-{year}-0001"}
