"""One hazard driven through its whole life over HTTP: ledger row, history and a refusal after each step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.test import APIClient

from api.demo import World
from projections.hazard.rows import HazardLedger

from apihelpers import with_photo

Client = Callable[[str], APIClient]


def post(client: APIClient, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = client.post(f"/api/v1/{path}", body, format="json")
    assert response.status_code == status, response.content.decode()
    return response.json()


def history_types(client: APIClient, hazard: str) -> list[str]:
    response = client.get(f"/api/v1/hazards/{hazard}/history/")
    assert response.status_code == 200
    return [item["type"] for item in response.json()]


def test_hazard_lives_from_discovery_to_closure_over_http(world: World, client_for: Client, past: Callable) -> None:
    staff, staff2 = client_for("hm_staff"), client_for("hm_staff2")
    principal = client_for("hm_principal")
    other_school = client_for("ql_principal")
    school = str(world.units["hongmei_school"])

    # discover
    hazard = post(
        staff,
        "hazards/",
        {
            "campaign": str(world.campaign),
            "school": school,
            "item": "CZ-01",
            "severity": "general",
            "description": "南校门缺少升降柱",
            "location": "南校门",
            "occurred_at": past(1),
        },
        201,
    )
    hid = hazard["id"]
    assert hazard["status"] == "reported" and hazard["version"] == 1 and hazard["category"]
    assert history_types(staff, hid) == ["discovered"]
    assert other_school.get(f"/api/v1/hazards/{hid}/").status_code == 404  # another school cannot see it

    steps: list[tuple[APIClient, str, dict[str, Any], dict[str, Any], tuple[APIClient, int, str]]] = [
        (
            principal,
            "assign",
            {"owner": "hm_staff2", "owner_unit": school, "deadline": "2099-01-01", "standard": "按标准设置升降柱"},
            {"status": "assigned", "owner": "hm_staff2"},
            (staff, 403, "role_not_permitted"),
        ),
        (
            principal,
            "transfer",
            {"owner": "hm_staff", "owner_unit": school, "reason": "调岗"},
            {"status": "assigned", "owner": "hm_staff"},
            (other_school, 404, "hazard_not_found"),
        ),
        (
            staff,
            "plan",
            {"measures": "安装升降柱两组", "funds": "4万元", "deadline": "2098-12-01"},
            {"status": "assigned"},
            (staff2, 403, "not_current_owner"),
        ),
        (
            staff,
            "progress",
            {"note": "已采购", "percent": 50},
            {"status": "assigned"},
            (staff2, 403, "not_current_owner"),
        ),
        (
            staff,
            "rectify",
            with_photo(staff, {"note": "已安装", "evidence": ["照片1"]}),
            {"status": "rectified"},
            (client_for("auditor"), 403, "read_only_role"),
        ),
        (
            principal,
            "verify",
            {"accepted": False, "note": "缺少验收资料"},
            {"status": "assigned"},
            (staff, 403, "role_not_permitted"),
        ),
        (
            staff,
            "rectify",
            with_photo(staff, {"note": "补充验收资料"}),
            {"status": "rectified"},
            (staff2, 403, "not_current_owner"),
        ),
        (
            principal,
            "verify",
            {"accepted": True, "note": "验收合格"},
            {"status": "closed"},
            (staff2, 403, "role_not_permitted"),
        ),
    ]
    expected_types = ["discovered"]
    for hour, (client, command, body, expect, (wrong, code, error)) in enumerate(steps, start=2):
        # The refusal first: it must change nothing.
        refused = wrong.post(f"/api/v1/hazards/{hid}/{command}/", {**body, "occurred_at": past(hour)}, format="json")
        assert refused.status_code == code, (command, refused.content.decode())
        assert refused.json()["code"] == error
        before = HazardLedger.objects.get(id=hid).version

        result = post(client, f"hazards/{hid}/{command}/", {**body, "occurred_at": past(hour)})
        row = HazardLedger.objects.get(id=hid)
        assert row.version == before + 1 == result["version"]
        for field, value in expect.items():
            assert result[field] == value, (command, field)
            assert getattr(row, field) == value, (command, field)
        expected_types.append(
            {"plan": "plan_recorded", "progress": "progress_reported"}.get(
                command, {"assign": "assigned", "transfer": "transferred", "rectify": "rectified"}.get(command, "")
            )
            or ("verified" if body.get("accepted") else "rejected")
        )
        assert history_types(staff, hid) == expected_types

    closed = staff.post(f"/api/v1/hazards/{hid}/rectify/", {"note": "再次整改"}, format="json")
    assert closed.status_code == 409 and closed.json()["code"] == "invalid_transition"

    history = staff.get(f"/api/v1/hazards/{hid}/history/").json()
    assert [item["version"] for item in history] == list(range(1, 10))
    assert [item["actor"] for item in history] == [
        "hm_staff",
        "hm_principal",
        "hm_principal",
        "hm_staff",
        "hm_staff",
        "hm_staff",
        "hm_principal",
        "hm_staff",
        "hm_principal",
    ]
    assert history[1]["data"]["owner"] == "hm_staff2" and history[1]["data"]["deadline"] == "2099-01-01"
    assert all(item["recorded_at"] > item["occurred_at"] for item in history)  # business time lies in the past
    row = HazardLedger.objects.get(id=hid)
    assert row.closed_at is not None and row.verified_by == "hm_principal"
    assert staff.get(f"/api/v1/hazards/{hid}/?version=5").json()["status"] == "assigned"
    # What the system knew at the record time of version 6 (the first rectification):
    as_of = staff.get(f"/api/v1/hazards/{hid}/", {"as_of": history[5]["recorded_at"]}).json()
    assert (as_of["version"], as_of["status"], as_of["owner"]) == (6, "rectified", "hm_staff")
