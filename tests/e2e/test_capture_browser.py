"""隐患登记 on a phone and the hazard's action forms in a real headless Chromium: 李安全 records a hazard with two
photos, 王校长 assigns it on the hazard page, the owner rectifies with a photo (refused first without one), 钱督查
accepts it — each logged in through the login page, each page checked (no UUID on screen, no sideways scroll,
labelled controls)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from PIL import Image, ImageDraw
from playwright.sync_api import expect

from api.demo import World
from domain.eventinfo import event_type
from domain.hazard.aggregate import Hazard
from projections.eventstore import get_application
from projections.hazard.rows import HazardLedger

from browsercheck import check_page

Shot = Callable[[Any, str], Path]
HAZARD_URL = re.compile(r"/hazards/([0-9a-f-]{36})/$")


def photo(name: str, color: tuple[int, int, int]) -> dict[str, Any]:
    image = Image.new("RGB", (640, 480), color)
    ImageDraw.Draw(image).line([(40, 60), (600, 420)], fill=(20, 20, 20), width=12)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return {"name": name, "mimeType": "image/jpeg", "buffer": out.getvalue()}


def test_record_on_a_phone_then_assign_rectify_and_accept(
    world: World, browser_as: Callable[..., Any], screenshot: Shot
) -> None:
    # 李安全 records a hazard on a phone, with two photos from the camera.
    staff = browser_as("hm_staff", next="/hazards/new/", phone=True)
    expect(staff.get_by_role("heading", name="隐患登记")).to_be_visible()
    expect(staff.locator("#school-name")).to_have_text("红梅实验小学")
    expect(staff.locator("#f-photos")).to_have_attribute("capture", "environment")
    check_page(staff)
    screenshot(staff, "01-capture-empty")
    staff.select_option("#f-item", "CZ-01")
    staff.fill("#f-description", "南门防冲撞升降柱无法升起")
    staff.fill("#f-location", "南校门")
    staff.set_input_files("#f-photos", [photo("南门-1.jpg", (190, 60, 50)), photo("南门-2.jpg", (60, 90, 190))])
    screenshot(staff, "02-capture-filled")
    staff.click("#capture-submit")
    expect(staff).to_have_url(HAZARD_URL)
    match = HAZARD_URL.search(staff.url)
    assert match is not None
    hazard = UUID(match.group(1))
    discovered = get_application().hazard_events(hazard)[0]
    assert event_type(discovered) == "discovered" and len(discovered.attachments) == 2  # type: ignore[attr-defined]

    # 王校长 assigns it to 赵后勤, picked by name.
    principal = browser_as("hm_principal", next=f"/hazards/{hazard}/", phone=True)
    expect(principal.locator("#action-assign")).to_be_visible()
    expect(principal.locator("#hazard-status")).to_have_text("已上报")
    principal.select_option("#a-assign-owner", label="赵后勤（红梅实验小学·学校工作人员）")
    check_page(principal)
    screenshot(principal, "03-assign")
    principal.click("#action-assign button[type=submit]")
    expect(principal).to_have_url(HAZARD_URL)
    expect(principal.locator("#owner")).to_have_text("赵后勤")  # back on the hazard page, which shows the new owner
    assert HazardLedger.objects.get(id=hazard).owner == "hm_staff2"

    # The owner rectifies: without a photo the page says why, next to the form; then with one.
    owner = browser_as("hm_staff2", next=f"/hazards/{hazard}/", phone=True)
    owner.fill("#a-rectify-note", "已更换升降柱电机，试运行正常")
    owner.click("#action-rectify button[type=submit]")
    refusal = owner.locator("#action-rectify .error")
    expect(refusal).to_contain_text("照片")
    expect(refusal).to_contain_text("未记录")
    check_page(owner)
    screenshot(owner, "04-rectify-refused")
    assert HazardLedger.objects.get(id=hazard).status == "assigned"
    expect(owner.locator("#a-rectify-note")).to_have_value("已更换升降柱电机，试运行正常")
    owner.set_input_files("#a-rectify-photos", [photo("整改后.jpg", (60, 170, 80))])
    owner.click("#action-rectify button[type=submit]")
    expect(owner).to_have_url(HAZARD_URL)
    assert HazardLedger.objects.get(id=hazard).status == "rectified"

    # 钱督查 of the district bureau accepts it (验收).
    inspector = browser_as("tn_inspector", next=f"/hazards/{hazard}/", phone=True)
    expect(inspector.locator("#hazard-status")).to_have_text("待验收")
    inspector.select_option("#a-verify-accepted", "true")
    inspector.fill("#a-verify-note", "现场复查合格")
    check_page(inspector)
    screenshot(inspector, "05-verify")
    inspector.click("#action-verify button[type=submit]")
    expect(inspector).to_have_url(HAZARD_URL)
    expect(inspector.locator("#hazard-status")).to_have_text("已销号")
    check_page(inspector)
    screenshot(inspector, "06-closed")
    state: Hazard = get_application().get_hazard(hazard)
    assert state.status == "closed" and state.verified_by == "tn_inspector"
    assert len(state.attachments) == 3
