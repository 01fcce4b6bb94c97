"""隐患登记 (/hazards/new/) and the hazard's action forms (/hazards/<id>/do/<command>/) through Django's test client:
photos stored as uploads and attached to the event, the school in scope, refusals in Chinese with nothing
recorded, and each role offered only the actions the domain lets it take now."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from PIL import Image

from api.demo import World
from api.services import execute
from api.web.hazard_actions import action_forms
from domain.application import SafetyApplication
from domain.eventinfo import event_type
from domain.hazard.aggregate import Severity
from domain.timerules import business_date
from projections.attachments import Attachment
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def jpeg(name: str, color: tuple[int, int, int]) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="JPEG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def not_a_photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("照片.jpg", b"<html><body>not a photo</body></html>", content_type="image/jpeg")


@pytest.fixture
def page_as(world: World) -> Callable[[str], Client]:
    def login(username: str) -> Client:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        return client

    return login


def visible_text(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)  # attributes (ids in URLs and values) are not on screen
    return unescape(body)


def capture(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "campaign": str(world.campaign),
        "school": str(world.units["hongmei_school"]),
        "item": "CZ-01",
        "description": "南门防冲撞升降柱损坏",
        "severity": "general",
        "location": "南校门",
        **extra,
    }


def hazard_count() -> int:
    return HazardLedger.objects.count()


def test_school_staff_records_a_hazard_with_two_photos(world: World, page_as: Any, app: SafetyApplication) -> None:
    client = page_as("hm_staff")
    form = client.get("/hazards/new/")
    assert form.status_code == 200
    html = form.content.decode()
    assert 'capture="environment"' in html and 'accept="image/*"' in html and "multiple" in html
    assert "红梅" in visible_text(html)  # the school preset, by name
    assert 'name="school"' in html and 'id="f-school"' not in html  # fixed: no choice of school
    assert not UUID_TEXT.search(visible_text(html))

    photos = [jpeg("前门.jpg", (200, 30, 30)), jpeg("侧门.jpg", (30, 30, 200))]
    response = client.post("/hazards/new/", {**capture(world), "photos": photos})

    assert response.status_code == 302
    hazard_id = UUID(response["Location"].strip("/").split("/")[-1])
    assert response["Location"] == f"/hazards/{hazard_id}/"
    discovered = app.hazard_events(hazard_id)[0]
    assert event_type(discovered) == "discovered"
    refs = discovered.attachments  # type: ignore[attr-defined]
    assert len(refs) == 2
    uploads = Attachment.objects.in_bulk([r.id for r in refs])
    assert sorted(u.filename for u in uploads.values()) == ["侧门.jpg", "前门.jpg"]
    assert all(u.uploaded_by == "hm_staff" and u.content_type == "image/jpeg" for u in uploads.values())
    row = HazardLedger.objects.get(id=hazard_id)
    assert row.school == world.units["hongmei_school"] and row.location == "南校门"


def test_rectified_on_spot_closes_the_hazard(world: World, page_as: Any) -> None:
    response = page_as("hm_staff").post("/hazards/new/", capture(world, rectified_on_spot="true"))
    assert response.status_code == 302
    assert HazardLedger.objects.get().status == "closed"


def test_a_bureau_picks_a_school(world: World, page_as: Any) -> None:
    client = page_as("tn_inspector")
    html = client.get("/hazards/new/").content.decode()
    assert 'id="f-school"' in html and "青龙" in html and "红梅" in html
    qinglong = str(world.units["qinglong_school"])
    response = client.post("/hazards/new/", capture(world, school=qinglong))
    assert response.status_code == 302
    assert HazardLedger.objects.get().school == world.units["qinglong_school"]

    station = page_as("hm_officer").get("/hazards/new/").content.decode()  # a station: its own schools only
    assert 'id="f-school"' in station and "红梅" in station and "青龙" not in station


def test_a_school_user_cannot_pick_another_school(world: World, page_as: Any) -> None:
    client = page_as("hm_staff")
    assert str(world.units["qinglong_school"]) not in client.get("/hazards/new/").content.decode()
    response = client.post(
        "/hazards/new/",
        {**capture(world, school=str(world.units["qinglong_school"])), "photos": [jpeg("a.jpg", (1, 2, 3))]},
    )
    assert response.status_code == 403
    assert "管辖范围" in visible_text(response.content.decode())
    assert hazard_count() == 0 and Attachment.objects.count() == 0


def test_a_file_that_is_no_photo_is_refused_in_chinese_and_nothing_recorded(world: World, page_as: Any) -> None:
    response = page_as("hm_staff").post(
        "/hazards/new/", {**capture(world), "photos": [jpeg("好.jpg", (9, 9, 9)), not_a_photo()]}
    )
    assert response.status_code == 415
    text = visible_text(response.content.decode())
    assert "照片.jpg：不支持的文件类型" in text and "未登记" in text
    assert "南门防冲撞升降柱损坏" in response.content.decode()  # what was typed is kept
    assert hazard_count() == 0 and Attachment.objects.count() == 0


def test_invalid_input_and_domain_refusals_shown_in_chinese(world: World, page_as: Any) -> None:
    client = page_as("hm_staff")
    empty = client.post("/hazards/new/", capture(world, description=""))
    assert empty.status_code == 400 and "问题表现" in visible_text(empty.content.decode())
    major_on_spot = client.post(
        "/hazards/new/",
        {**capture(world, severity="major", rectified_on_spot="true"), "photos": [jpeg("x.jpg", (5, 5, 5))]},
    )
    assert major_on_spot.status_code in (400, 409)
    assert "立行立改" in visible_text(major_on_spot.content.decode())
    assert hazard_count() == 0 and Attachment.objects.count() == 0


def test_anonymous_goes_to_login_and_auditor_may_not_record(world: World, page_as: Any) -> None:
    response = Client().get("/hazards/new/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    refused = page_as("auditor").get("/hazards/new/")
    assert refused.status_code == 403 and "审计" in visible_text(refused.content.decode())


# --- the action forms --------------------------------------------------------------------------------------------


@pytest.fixture
def hazard(world: World) -> UUID:
    staff = world.actor("hm_staff")
    found = execute(
        lambda app: app.discover_hazard(
            actor=staff,
            campaign=world.campaign,  # type: ignore[arg-type]
            school=world.units["hongmei_school"],
            description="消防通道堆放杂物",
            severity=Severity.GENERAL,
            item="CZ-01",
        )
    )
    return found.id


def offered(world: World, username: str, hazard: UUID) -> list[str]:
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username=username)
    return [form["command"] for form in action_forms(request, hazard)]


def owner_value(world: World, username: str) -> str:
    return f"{world.units['hongmei_school']} {username}"


def assign(world: World, hazard: UUID, owner: str = "hm_staff2") -> None:
    principal = world.actor("hm_principal")
    deadline = business_date(execute(lambda app: app.clock())) + timedelta(days=5)
    execute(
        lambda app: app.assign_hazard(
            hazard, actor=principal, owner=owner, owner_unit=world.units["hongmei_school"], deadline=deadline
        )
    )


def test_each_role_sees_only_the_actions_it_may_take(world: World, hazard: UUID, page_as: Any) -> None:
    assert offered(world, "hm_principal", hazard)[0] == "assign"
    assert "assign" not in offered(world, "hm_staff", hazard)
    assert "rectify" not in offered(world, "hm_staff", hazard)
    assert offered(world, "ql_principal", hazard) == []  # another school: nothing, not even the hazard
    assert offered(world, "auditor", hazard) == []

    assign(world, hazard)
    owner = offered(world, "hm_staff2", hazard)
    assert "rectify" in owner and "plan" in owner and "progress" in owner and "assign" not in owner
    assert "rectify" not in offered(world, "hm_staff", hazard)  # not the owner
    bureau = offered(world, "tn_inspector", hazard)
    assert "supervise" in bureau and "extend" in bureau and "verify" not in bureau  # not rectified yet

    staff2 = world.actor("hm_staff2")
    execute(lambda app: app.rectify_hazard(hazard, actor=staff2, note="已清理", attachments=_photo(staff2)))
    assert "verify" in offered(world, "tn_inspector", hazard)
    assert "verify" in offered(world, "hm_principal", hazard)
    assert "verify" not in offered(world, "hm_staff2", hazard)
    assert "rectify" not in offered(world, "hm_staff2", hazard)

    page = page_as("hm_staff2").get(f"/hazards/{hazard}/do/rectify/")
    assert page.status_code == 403 and "登记整改完成" in visible_text(page.content.decode())
    page = page_as("tn_inspector").get(f"/hazards/{hazard}/do/verify/")
    assert page.status_code == 200
    text = visible_text(page.content.decode())
    assert "验收" in text and "赵后勤" in text and not UUID_TEXT.search(text)


def _photo(actor: Any) -> Any:
    from api.demo import photo

    return (photo(actor, "后.jpg", "", (10, 200, 10), fixed=True),)


def test_principal_assigns_owner_rectifies_inspector_accepts(world: World, hazard: UUID, page_as: Any) -> None:
    principal = page_as("hm_principal")
    form = principal.get(f"/hazards/{hazard}/do/assign/").content.decode()
    assert "赵后勤（红梅" in form  # people picked by name, with their unit and role
    deadline = (business_date(execute(lambda app: app.clock())) + timedelta(days=3)).isoformat()
    done = principal.post(
        f"/hazards/{hazard}/do/assign/", {"owner": owner_value(world, "hm_staff2"), "deadline": deadline}
    )
    assert done.status_code == 302 and done["Location"] == f"/hazards/{hazard}/"
    row = HazardLedger.objects.get(id=hazard)
    assert row.owner == "hm_staff2" and row.deadline.isoformat() == deadline

    owner = page_as("hm_staff2")
    without_photo = owner.post(f"/hazards/{hazard}/do/rectify/", {"note": "已清理"})
    assert without_photo.status_code == 400
    html = without_photo.content.decode()
    assert "照片" in visible_text(html) and "未记录" in visible_text(html)
    assert 'class="hz-action failed' in html and "已清理" in html  # next to its form, what was typed kept
    assert HazardLedger.objects.get(id=hazard).status == "assigned"

    rectified = owner.post(
        f"/hazards/{hazard}/do/rectify/", {"note": "已清理", "photos": [jpeg("后.jpg", (1, 200, 1))]}
    )
    assert rectified.status_code == 302
    assert HazardLedger.objects.get(id=hazard).status == "rectified"

    accepted = page_as("tn_inspector").post(f"/hazards/{hazard}/do/verify/", {"accepted": "true", "note": "合格"})
    assert accepted.status_code == 302
    assert HazardLedger.objects.get(id=hazard).status == "closed"


def test_a_refused_action_shows_the_chinese_error_and_records_nothing(
    world: World, hazard: UUID, page_as: Any, app: SafetyApplication
) -> None:
    before = len(app.hazard_events(hazard))
    staff = page_as("hm_staff")  # may not assign
    refused = staff.post(
        f"/hazards/{hazard}/do/assign/", {"owner": owner_value(world, "hm_staff2"), "deadline": "2099-01-01"}
    )
    assert refused.status_code == 403
    assert "当前角色无权分派整改责任人" in visible_text(refused.content.decode())

    principal = page_as("hm_principal")
    past = principal.post(
        f"/hazards/{hazard}/do/assign/", {"owner": owner_value(world, "hm_staff2"), "deadline": "2020-01-01"}
    )
    assert past.status_code in (400, 409)
    assert "整改时限" in visible_text(past.content.decode()) or "时限" in visible_text(past.content.decode())
    missing = principal.post(f"/hazards/{hazard}/do/assign/", {"owner": "", "deadline": "2099-01-01"})
    assert missing.status_code == 400 and "整改责任人" in visible_text(missing.content.decode())
    catch_up(app)
    assert len(app.hazard_events(hazard)) == before

    other = page_as("ql_principal").post(f"/hazards/{hazard}/do/assign/", {"owner": "x", "deadline": "2099-01-01"})
    assert other.status_code == 404
    assert page_as("hm_principal").post(f"/hazards/{hazard}/do/nonsense/", {}).status_code == 404


def test_every_command_of_the_api_is_probed_and_offered() -> None:
    from api.hazards.views import COMMAND_SPECS
    from api.web.hazard_actions import BY_COMMAND
    from domain.hazard.probe import PROBES

    assert set(PROBES) == set(COMMAND_SPECS)
    assert set(BY_COMMAND) == set(COMMAND_SPECS) - {"void"}  # 作废 is not among the page's actions (issue 17)


def test_a_form_sent_twice_is_refused_the_second_time(world: World, hazard: UUID, page_as: Any) -> None:
    assign(world, hazard)
    owner = page_as("hm_staff2")
    html = owner.get(f"/hazards/{hazard}/do/progress/").content.decode()
    version = re.search(r'name="expected_version" value="(\d+)"', html)
    assert version is not None
    sent = {"percent": "50", "note": "已采购", "expected_version": version.group(1)}
    assert owner.post(f"/hazards/{hazard}/do/progress/", sent).status_code == 302
    again = owner.post(f"/hazards/{hazard}/do/progress/", sent)
    assert again.status_code == 409 and "已被他人修改" in visible_text(again.content.decode())


def test_photos_of_a_phone_pass_the_request_size_guard(world: World, page_as: Any, app: SafetyApplication) -> None:
    """A phone's photo is several MB: the page's form takes bodies over the 1 MiB every other request is held to."""
    noise = Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3))
    out = io.BytesIO()
    noise.save(out, format="JPEG", quality=95)
    assert out.tell() > 1024 * 1024
    big = SimpleUploadedFile("大图.jpg", out.getvalue(), content_type="image/jpeg")
    response = page_as("hm_staff").post("/hazards/new/", {**capture(world), "photos": [big]})
    assert response.status_code == 302
    hazard_id = UUID(response["Location"].strip("/").split("/")[-1])
    assert len(app.hazard_events(hazard_id)[0].attachments) == 1  # type: ignore[attr-defined]
