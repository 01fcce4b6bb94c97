"""Small HTTP helpers shared by the integration tests."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from api import demo
from api.services import execute
from domain.policy import Role, UnitKind

API = "/api/v1/"
HAZARD_COMMANDS = (
    "assign",
    "transfer",
    "plan",
    "interim-measures",
    "progress",
    "extend",
    "escalate",
    "supervise",
    "rectify",
    "verify",
    "reopen",
)


def ok(response: Any, status: int = 200) -> Any:
    """The response has this status; its JSON body."""
    assert response.status_code == status, response.content.decode()[:500]
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is a JSON error with this status and code (and, for 400 ``invalid``, names ``field``)."""
    assert response.status_code == status, response.content.decode()[:500]
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body.get("detail"), body
    if field is not None:
        assert field in body.get("errors", {}) or body.get("field") == field, body
    return body


def post(client: APIClient, path: str, body: dict[str, Any], status: int = 200) -> Any:
    return ok(client.post(API + path, body, format="json"), status)


def jpeg(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (60, 140, 90)) -> bytes:
    """A small photo made here (Pillow): a colour and a band, so different colours are different bytes."""
    image = Image.new("RGB", size, color)
    image.paste((240, 240, 240), (0, size[1] // 3, size[0], size[1] // 2))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def upload(client: APIClient, data: bytes, name: str = "整改后.jpg", content_type: str = "image/jpeg") -> Any:
    """``POST attachments/`` (multipart ``file``) by the client's user: the upload's JSON (201)."""
    body = {"file": SimpleUploadedFile(name, data, content_type=content_type)}
    return ok(client.post(f"{API}attachments/", body, format="multipart"), 201)


def with_photo(client: APIClient, body: dict[str, Any]) -> dict[str, Any]:
    """A command's body with one photo the client's user uploads now (rectify needs one by default)."""
    return {**body, "attachments": [*body.get("attachments", []), upload(client, jpeg())["id"]]}


# A joint form (常州 附件1) as the two parties fill it before signing: every cell the seed asks for. The
# dormitory's panic button is left to the school's boarding flag (a school without a dormitory reads "/");
# the school says it has no bus ("/"). Police-only content is optional and left out.
SCHOOL_FILLED: dict[str, Any] = {
    "task_force_established": True,
    "task_force_lead": "李安全",
    "holiday_duty_roster": True,
    "leader_on_duty": True,
    "rules_sound": True,
    "guards_total": 4,
    "guards_licensed": 3,
    "guards_over_age": 0,
    "cctv_retention_30_days": True,
    "cctv_cameras": 36,
    "perimeter_alarm": True,
    "key_area_alarm": True,
    "panic_button_gate": True,
    "tech_systems_working": True,
    "barriers": True,
    "anti_ram": True,
    "bollards": False,
    "electrical_fire_campaign": True,
    "electrical_fire_rectification": "已全部整改",
    "hazchem_measures": True,
    "school_bus_hazards": "/",
    "holiday_safety_education": "已开展假期安全教育",
    "holiday_activities_count": 2,
    "holiday_activities_people": 80,
    "holiday_activities_leader_responsible": True,
    "work_report": "已完成自查，发现隐患已整改。",
}
POLICE_FILLED: dict[str, Any] = {
    "surrounding_order_hotspots": "无",
    "hotspots_rectified": True,
    "school_instability_factors": "无",
}


def fill_joint_form(
    school: APIClient, station: APIClient, form: str, *, leave: tuple[str, ...] = (), **values: Any
) -> dict[str, Any]:
    """Each party PATCHes its cells of a complete form; ``values`` replace or add cells (either party's, by key),
    ``leave`` names cells left unfilled. Returns the form as the station sees it after both PATCHes.
    """
    police_keys = {*POLICE_FILLED, "sensitive_notes"}
    own = {k: v for k, v in {**SCHOOL_FILLED, **POLICE_FILLED, **values}.items() if k not in leave}
    ok(school.patch(f"{API}joint-forms/{form}/", {k: v for k, v in own.items() if k not in police_keys}, format="json"))
    body = {k: v for k, v in own.items() if k in police_keys}
    return ok(station.patch(f"{API}joint-forms/{form}/", body, format="json"))  # type: ignore[no-any-return]


def assigned_hazard(client_for: Callable[[str], APIClient], world: Any, past: Callable[[float], str]) -> str:
    """A hazard of 红梅实验小学 recorded by hm_staff and assigned by the 校长 to hm_staff2 (deadline far ahead)."""
    school = str(world.units["hongmei_school"])
    hazard = client_for("hm_staff").post(
        "/api/v1/hazards/",
        {"campaign": str(world.campaign), "school": school, "item": "CZ-01", "severity": "general",
         "description": "南校门缺少升降柱", "location": "南校门", "occurred_at": past(2)},
        format="json",
    )  # fmt: skip
    assert hazard.status_code == 201, hazard.content
    hid = str(hazard.json()["id"])
    assigned = client_for("hm_principal").post(
        f"/api/v1/hazards/{hid}/assign/",
        {"owner": "hm_staff2", "owner_unit": school, "deadline": "2099-01-01", "standard": "按标准设置升降柱"},
        format="json",
    )
    assert assigned.status_code == 200, assigned.content
    return hid


def other_district_inspector() -> str:
    """武进区教育局 with an inspector of its own (``wj_inspector``, with a login): a user of another district than
    天宁区, for the scope tests of every read path."""
    bureau = execute(
        lambda app: app.register_unit(
            actor=demo.ADMIN, kind=UnitKind.DISTRICT_EDU_BUREAU, name="武进区教育局", district="武进区"
        )
    ).id
    execute(
        lambda app: app.appoint_staff(
            actor=demo.ADMIN, username="wj_inspector", display_name="武督查", phone="0519-86000000",
            unit=bureau, role=Role.EDU_INSPECTOR,
        )
    )  # fmt: skip
    get_user_model().objects.create_user("wj_inspector", password=demo.DEMO_PASSWORD)
    return "wj_inspector"
