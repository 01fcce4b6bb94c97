"""The Django admin: units and roles are edited through commands; read models cannot be edited."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

from api.demo import World
from domain.application import SafetyApplication
from projections.models import HazardLedger, StaffInterval, UnitView


def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def test_admin_registers_a_unit_as_an_event(app: SafetyApplication, world: World) -> None:
    before = app.recorder.max_notification_id()
    response = admin_client().post(
        "/admin/projections/unitview/add/",
        {
            "kind": "school",
            "name": "雕庄中学",
            "district": "天宁区",
            "parent": "",
            "police_station": str(world.units["qinglong_station"]),
            "stage": "初中",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    unit = UnitView.objects.get(name="雕庄中学")
    assert unit.police_station == world.units["qinglong_station"]
    assert app.recorder.max_notification_id() == before + 1  # type: ignore[operator]


def test_admin_changes_a_role_over_time(app: SafetyApplication, world: World) -> None:
    response = admin_client().post(
        "/admin/projections/staffview/hm_staff2/change/",
        {
            "unit": str(world.units["hongmei_school"]),
            "role": "school_principal",
            "effective_from": "2099-01-01 08:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    intervals = list(StaffInterval.objects.filter(username="hm_staff2").order_by("version"))
    assert [i.role for i in intervals] == ["school_staff", "school_principal"]
    assert intervals[0].next_valid == intervals[1].valid_from


def test_admin_cannot_edit_or_delete_read_models(world: World) -> None:
    client = admin_client()
    assert client.get("/admin/projections/hazardledger/").status_code == 200
    assert client.get("/admin/projections/hazardledger/add/").status_code == 403
    assert HazardLedger.objects.count() == 0
    unit = world.units["hongmei_school"]
    assert client.post(f"/admin/projections/unitview/{unit}/delete/", {"post": "yes"}).status_code == 403
    assert UnitView.objects.filter(id=unit).exists()
