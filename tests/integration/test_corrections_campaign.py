"""The issuing bureau amends its campaign (a corrected 通知): phases, cutoff, deadline, scope — validated as at launch,
kept as an event, shown with its history; reports default to the amended cutoff."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from api.demo import World
from domain.application import SafetyApplication
from domain.timerules import business_date
from projections.campaigns import CampaignView

from apihelpers import API, ok, post, refused

Client = Any


def chinese(day: Any) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@pytest.fixture
def campaign(world: World, user: Client) -> str:
    """天宁区教育局 launches for its district: 截至 ten days ahead, 报送 a week after."""
    today = business_date(timezone.now())
    body = {
        "title": "暑期校园安全隐患排查",
        "template": "changzhou",
        "statistics_cutoff": (today + timedelta(days=10)).isoformat(),
        "report_deadline": (today + timedelta(days=17)).isoformat(),
        "scope": [str(world.units["district_bureau"])],
        "recipients": [str(world.units["district_bureau"])],
    }
    return str(post(user("tn_leader"), "campaigns/", body, 201)["id"])


def test_an_amended_cutoff_is_the_one_reports_default_to(world: World, user: Client, campaign: str) -> None:
    """The notice is corrected: 截至 yesterday, 报送 within six days; the district summary made now follows it."""
    today = business_date(timezone.now())
    cutoff, deadline = today - timedelta(days=1), today + timedelta(days=6)

    amended = post(
        user("tn_inspector"),
        f"campaigns/{campaign}/amend/",
        {"statistics_cutoff": cutoff.isoformat(), "report_deadline": deadline.isoformat()},
    )

    assert (amended["statistics_cutoff"], amended["report_deadline"]) == (cutoff.isoformat(), deadline.isoformat())
    (change,) = amended["amendments"]
    assert change["amended_by"] == "tn_inspector" and change["version"] == 2
    assert change["changes"]["statistics_cutoff"] == {
        "from": (today + timedelta(days=10)).isoformat(),
        "to": cutoff.isoformat(),
    }
    assert "scope" not in change["changes"]
    shown = ok(user("hm_principal").get(f"{API}campaigns/{campaign}/"))
    assert shown["statistics_cutoff"] == cutoff.isoformat() and len(shown["amendments"]) == 1
    response = user("tn_inspector").get(
        f"{API}reports/changzhou-district-summary/", {"format": "json", "campaign": campaign}
    )
    assert response.status_code == 200, response.content[:300]
    assert f"有关统计数据截至{chinese(cutoff)}" in json.loads(response.content)["subtitle"]


def test_an_amended_scope_must_cover_a_school_and_narrows_the_campaign(
    world: World, user: Client, campaign: str
) -> None:
    leader = user("tn_leader")
    narrowed = post(leader, f"campaigns/{campaign}/amend/", {"scope": [str(world.units["qinglong_school"])]})
    assert [s["name"] for s in narrowed["schools_covered"]] == ["青龙中学"]
    body = {
        "campaign": campaign,
        "school": str(world.units["hongmei_school"]),
        "severity": "general",
        "description": "围墙破损",
    }
    refused(user("hm_staff").post(f"{API}hazards/", body, format="json"), 400, "school_not_in_campaign")
    unknown = {"scope": [f"{'1' * 8}-0000-0000-0000-{'0' * 12}"]}
    refused(leader.post(f"{API}campaigns/{campaign}/amend/", unknown, format="json"), 403, "out_of_scope")


def test_amend_refusals_come_in_order_and_record_nothing(
    app: SafetyApplication, world: World, user: Client, anonymous: Client, campaign: str
) -> None:
    today = business_date(timezone.now())
    url = f"{API}campaigns/{campaign}/amend/"
    good = {"report_deadline": (today + timedelta(days=20)).isoformat()}
    events = app.recorder.max_notification_id()
    refused(anonymous.post(url, good, format="json"), 401, "not_authenticated")
    refused(user("hm_principal").post(url, good, format="json"), 403, "role_not_permitted")
    refused(user("cz_police").post(url, good, format="json"), 403, "role_not_permitted")
    refused(user("auditor").post(url, good, format="json"), 403, "read_only_role")
    leader = user("tn_leader")
    refused(
        leader.post(f"{API}campaigns/{'0' * 8}-0000-0000-0000-{'0' * 12}/amend/", good, format="json"),
        404,
        "campaign_not_found",
    )
    late_cutoff = {"statistics_cutoff": (today + timedelta(days=30)).isoformat()}
    refused(leader.post(url, late_cutoff, format="json"), 400, "invalid_value")
    refused(leader.post(url, {}, format="json"), 400, "invalid_value")
    refused(leader.post(url, {"report_deadline": "tomorrow"}, format="json"), 400, "invalid")
    refused(leader.post(url, good | {"expected_version": 5}, format="json"), 409, "version_conflict")
    assert app.recorder.max_notification_id() == events
    assert CampaignView.objects.get(id=campaign).amendments == []
