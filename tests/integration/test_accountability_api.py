"""倒查追责 over HTTP: findings on the demo district, by hazard and by campaign/unit, as of a record time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command

from domain.application import SafetyApplication
from domain.timerules import deadline_end
from projections.hazard.rows import HazardLedger
from projections.models import UnitView

from apihelpers import API, ok, refused

Client = Any


@pytest.fixture
def demo(app: SafetyApplication) -> None:
    call_command("load_demo")


def codes(items: list[dict[str, Any]]) -> set[str]:
    return {item["code"] for item in items}


def test_an_overdue_hazard_names_its_owner_and_the_principal_then(demo: None, client_for: Client) -> None:
    overdue = HazardLedger.objects.get(description="保安员超龄、无证上岗")
    findings = ok(client_for("tn_inspector").get(f"{API}hazards/{overdue.id}/accountability/"))

    (r1,) = [f for f in findings if f["code"] == "R1_OVERDUE_UNRECTIFIED"]
    assert r1["wording"] == "发现问题有能力整改而未整改"
    assert {(s["username"], s["role"]) for s in r1["subjects"]} == {
        ("hm_staff2", "school_staff"),
        ("hm_principal", "school_principal"),
    }
    assert datetime.fromisoformat(r1["from"]) == deadline_end(overdue.deadline)
    assert r1["to"] is None and r1["evidence"] and "赵后勤（红梅实验小学）" in r1["summary"]


def test_findings_as_of_a_record_time_before_the_deadline_passed_are_empty(demo: None, client_for: Client) -> None:
    overdue = HazardLedger.objects.get(description="保安员超龄、无证上岗")
    before = deadline_end(overdue.deadline) - timedelta(hours=1)

    findings = ok(
        client_for("tn_inspector").get(f"{API}hazards/{overdue.id}/accountability/", {"as_of": before.isoformat()})
    )

    assert "R1_OVERDUE_UNRECTIFIED" not in codes(findings)


def test_a_supervised_hazard_that_missed_its_deadline_names_the_supervising_unit(
    demo: None, client_for: Client
) -> None:
    major = HazardLedger.objects.get(description__startswith="围墙周界无防入侵报警系统")
    findings = ok(client_for("tn_inspector").get(f"{API}hazards/{major.id}/accountability/"))

    (r7,) = [f for f in findings if f["code"] == "R7_SUPERVISED_OVERDUE"]
    bureau = str(UnitView.objects.get(name="天宁区教育局").id)
    assert {"username": None, "name": None, "unit": bureau, "unit_name": "天宁区教育局", "role": None} in r7["subjects"]


def test_a_reopened_hazard_names_its_verifier(demo: None, client_for: Client) -> None:
    reopened = HazardLedger.objects.get(description="食堂燃气报警器失效")
    findings = ok(client_for("tn_inspector").get(f"{API}hazards/{reopened.id}/accountability/"))

    (r5,) = [f for f in findings if f["code"] == "R5_VERIFIED_BUT_RECURRED"]
    assert [(s["username"], s["role"]) for s in r5["subjects"]] == [("hm_principal", "school_principal")]


def test_campaign_findings_are_limited_to_the_callers_scope_and_the_unit_asked(demo: None, client_for: Client) -> None:
    everything = ok(client_for("tn_inspector").get(f"{API}accountability/"))["results"]
    assert {"R1_OVERDUE_UNRECTIFIED", "R5_VERIFIED_BUT_RECURRED", "R7_SUPERVISED_OVERDUE"} <= codes(everything)

    qinglong = ok(client_for("ql_principal").get(f"{API}accountability/"))["results"]
    hongmei_hazards = {
        str(h)
        for h in HazardLedger.objects.filter(school=UnitView.objects.get(name="红梅实验小学").id).values_list(
            "id", flat=True
        )
    }
    assert not {f["hazard"] for f in qinglong} & hongmei_hazards

    bureau = UnitView.objects.get(name="天宁区教育局").id
    campaign = HazardLedger.objects.first().campaign  # type: ignore[union-attr]
    for_bureau = ok(
        client_for("tn_inspector").get(f"{API}accountability/", {"unit": str(bureau), "campaign": str(campaign)})
    )["results"]
    assert codes(for_bureau) == codes(everything)


def test_bad_accountability_parameters_are_400_and_unknown_units_404(demo: None, client_for: Client) -> None:
    client = client_for("tn_inspector")
    refused(client.get(f"{API}accountability/", {"as_of": "yesterday"}), 400, "invalid_value", "as_of")
    refused(client.get(f"{API}accountability/", {"unit": "not-a-uuid"}), 400, "invalid_value", "unit")
    refused(
        client.get(f"{API}accountability/", {"unit": "8b1d1f7e-0000-4000-8000-000000000000"}), 404, "unit_not_found"
    )
