"""A campaign scoped to units of any kind (issue 14), the way a district runs one: 天宁区教育局 launches it for its
whole district by naming itself; every school of the district records in it, one registered after the launch too;
a school of another district does not; a station's scope covers the schools it is 属地派出所 of."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from api.demo import World

from apihelpers import API, ok, post, refused

Client = Callable[[str], APIClient]
DATES = {"statistics_cutoff": "2099-07-31", "report_deadline": "2099-08-07"}
CHECKLIST = [{"code": "X-01", "title": "消防通道是否畅通", "category": "消防安全"}]


def launch(client: APIClient, scope: list[str]) -> Any:
    return client.post(
        f"{API}campaigns/",
        {"title": "暑期校园安全专项排查", "checklist": CHECKLIST, "scope": scope, **DATES},
        format="json",
    )


def discover(client: APIClient, campaign: str, school: str) -> Any:
    body = {
        "campaign": campaign,
        "school": school,
        "item": "X-01",
        "severity": "general",
        "description": "消防通道被杂物堵塞",
        "location": "教学楼一楼东侧",
        "occurred_at": (timezone.now() - timedelta(days=3)).isoformat(),
    }
    return client.post(f"{API}hazards/", body, format="json")


def register_school(admin: APIClient, name: str, district: str, station: str, username: str) -> str:
    school: str = post(admin, "units/", {"kind": "school", "name": name, "district": district, "stage": "小学",
                                         "police_station": station}, 201)["id"]
    post(admin, "users/", {"username": username, "password": "pass-2099-x", "display_name": "钱老师",
                           "phone": "0519-2", "role": "school_staff", "unit": school}, 201)
    return school


def test_a_district_bureau_launches_a_campaign_for_its_whole_district(world: World, user: Client) -> None:
    # given: 天宁区教育局 launches a campaign whose scope names itself
    bureau = str(world.units["district_bureau"])
    campaign = ok(launch(user("tn_leader"), [bureau]), 201)
    # when / then: a school of the district records a hazard in it
    ok(discover(user("hm_staff"), campaign["id"], str(world.units["hongmei_school"])), 201)
    covered = {s["name"] for s in campaign["schools_covered"]}
    assert campaign["scope"] == [bureau]
    assert covered == {"红梅实验小学", "青龙中学", "兰陵幼儿园"} and campaign["schools_covered_count"] == 3
    # a school registered in the district after the launch records in it too
    station = str(world.units["hongmei_station"])
    later = register_school(user("admin"), "茶山小学", "天宁区", station, "cs_staff")
    ok(discover(user("cs_staff"), campaign["id"], later), 201)
    assert ok(user("tn_leader").get(f"{API}campaigns/{campaign['id']}/"))["schools_covered_count"] == 4
    # a school of another district is not in the campaign
    elsewhere = register_school(user("admin"), "湖塘小学", "武进区", station, "ht_staff")
    refused(discover(user("admin"), campaign["id"], elsewhere), 400, "school_not_in_campaign")


def test_a_station_scoped_campaign_covers_the_schools_it_is_the_local_station_of(world: World, user: Client) -> None:
    # given: a campaign scoped to 青龙派出所 (属地派出所 of 青龙中学 only)
    campaign = ok(launch(user("tn_leader"), [str(world.units["qinglong_station"])]), 201)
    # then
    ok(discover(user("ql_staff"), campaign["id"], str(world.units["qinglong_school"])), 201)
    assert [s["name"] for s in campaign["schools_covered"]] == ["青龙中学"]
    refused(discover(user("hm_staff"), campaign["id"], str(world.units["hongmei_school"])), 400,
            "school_not_in_campaign")


def test_a_scope_that_covers_no_school_is_refused_at_launch(world: World, user: Client) -> None:
    # given: a station that is the 属地派出所 of no school
    idle = post(user("admin"), "units/", {"kind": "police_station", "name": "茶山派出所", "district": "天宁区",
                                          "parent": str(world.units["city_police"])}, 201)["id"]
    # when / then
    refused(launch(user("admin"), [idle]), 400, "invalid_value", "scope")
    assert not [c for c in ok(user("admin").get(f"{API}campaigns/"))["results"] if c["scope"] == [idle]]
