"""The hazard page in a real headless Chromium: an auditor opens a hazard whose transfer was recorded days after it
happened, moves the time-travel control to before the transfer was known and sees the earlier owner; the school's
principal opens a rectified hazard on a phone and its 整改前/整改后 photos load through the session."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from api import demo
from api.demo import World
from api.services import execute
from domain.application import SafetyApplication
from domain.timerules import BUSINESS_TZ
from projections.runner import catch_up

from browsercheck import check_page

SECRET = "涉校不稳定线索（机密-E2E-HAZARD-5520）"
Shot = Callable[[Any, str], Path]


@pytest.fixture
def late(app: SafetyApplication, world: World) -> dict[str, Any]:
    """The demo hazards; the 南校门 one (owner 李安全) transferred to 赵后勤 on day 20, recorded only now (补录);
    police-only notes on the school's joint form, which no education page may carry."""
    assert world.started is not None
    demo.create_hazards(app, world, world.started + timedelta(hours=2))
    catch_up(app)
    school, staff, officer = world.units["hongmei_school"], world.actor("hm_staff"), world.actor("hm_officer")
    form = execute(lambda app: app.open_joint_form(actor=staff, campaign=world.campaign, school=school)).id
    execute(lambda app: app.update_joint_form(form, actor=officer, changes={"sensitive_notes": SECRET}))
    time.sleep(2.2)  # the browser's fields have whole seconds: the transfer is recorded seconds after the rest
    hazard, happened = world.hazards["assigned"], world.started + timedelta(days=20)
    principal = world.actor("hm_principal")
    execute(
        lambda app: app.transfer_hazard(
            hazard, actor=principal, owner="hm_staff2", owner_unit=school, reason="后勤统一负责", occurred_at=happened
        )
    )
    recorded = execute(lambda app: app.hazard_events(hazard))[-1].timestamp
    return {"hazard": hazard, "happened": happened, "recorded": recorded}


def local(moment: datetime) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def owner(page: Page) -> Any:
    return page.locator("#owner")


def travel(page: Page, *, at: str = "", known_at: str = "", version: str = "") -> None:
    page.get_by_label("状态时点 (at)").fill(at)
    page.get_by_label("记录时点 (known_at)").fill(known_at)
    page.get_by_label("版本号 (version)").fill(version)
    page.get_by_role("button", name="查看当时的状态").click()
    page.wait_for_load_state()


def photos_loaded(page: Page) -> list[int]:
    return page.evaluate("[...document.querySelectorAll('img')].map(i => i.complete ? i.naturalWidth : -1)")  # type: ignore[no-any-return]


def test_an_auditor_travels_to_before_a_late_recorded_transfer_and_sees_the_old_owner(
    late: dict[str, Any], browser_as: Callable[..., Page], screenshot: Shot
) -> None:
    url = f"/hazards/{late['hazard']}/"
    page = browser_as("auditor", next=url)
    expect(page.get_by_role("heading", name="隐患 HM01-")).to_be_visible()
    expect(owner(page)).to_have_text("赵后勤")
    expect(page.locator("ol.timeline > li")).to_have_count(5)
    transfer = page.locator("ol.timeline > li").last
    expect(transfer).to_contain_text("移交")
    expect(transfer.locator(".tag")).to_have_text("补录")
    check_page(page, forbidden=(SECRET,))
    screenshot(page, "desktop-now")

    # Day 22, as the system knew it a second before the transfer was recorded: 李安全 still owned it.
    after_transfer = local(late["happened"] + timedelta(days=2))
    before_recording = local(late["recorded"].replace(microsecond=0) - timedelta(seconds=1))
    travel(page, at=after_transfer, known_at=before_recording)
    expect(page.get_by_role("status")).to_contain_text("正在查看")
    expect(page.get_by_role("status")).to_contain_text("已记录的信息")
    expect(owner(page)).to_have_text("李安全")
    expect(page.locator("ol.timeline > li")).to_have_count(4)
    expect(page.get_by_role("heading", name="可办理的操作")).to_have_count(0)
    check_page(page, forbidden=(SECRET,))
    screenshot(page, "desktop-before-recording")

    # The same day as known now: 赵后勤.
    travel(page, at=after_transfer)
    expect(owner(page)).to_have_text("赵后勤")
    expect(page.locator("ol.timeline > li")).to_have_count(5)

    page.get_by_role("status").get_by_role("link", name="返回当前状态").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_have_count(0)
    expect(owner(page)).to_have_text("赵后勤")

    past = quote(f"{url}?at={after_transfer}&known_at={before_recording}", safe="/")
    phone = browser_as("auditor", next=past, phone=True)
    expect(owner(phone)).to_have_text("李安全")
    check_page(phone, forbidden=(SECRET,))
    screenshot(phone, "phone-before-recording")


def test_a_supervised_major_hazard_on_the_desktop(
    late: dict[str, Any], world: World, browser_as: Callable[..., Page], screenshot: Shot
) -> None:
    page = browser_as("tn_leader", next=f"/hazards/{world.hazards['major']}/")
    expect(page.locator("#escalation-title + dl")).to_contain_text("区教育局挂牌督办")
    check_page(page, forbidden=(SECRET,))
    screenshot(page, "desktop-supervised")


def test_the_principal_sees_before_and_after_photos_on_a_phone(
    late: dict[str, Any], world: World, browser_as: Callable[..., Page], screenshot: Shot
) -> None:
    page = browser_as("hm_principal", next=f"/hazards/{world.hazards['rectified']}/", phone=True)
    expect(page.get_by_role("heading", name="整改前后照片")).to_be_visible()
    expect(page.locator(".photos img")).to_have_count(2)
    for img in page.locator(".photos img").all():  # each thumbnail loads, through the session (CSP img-src 'self')
        expect(img).to_have_js_property("complete", True)
    assert all(width > 0 for width in photos_loaded(page)), photos_loaded(page)
    check_page(page, forbidden=(SECRET,))
    screenshot(page, "phone-photos")
    other = browser_as("ql_principal", next=f"/hazards/{world.hazards['rectified']}/", phone=True)
    expect(other.get_by_role("alert")).to_have_text("隐患不存在")
    expect(other.get_by_text("实验室危险化学品")).to_have_count(0)
    check_page(other)
    screenshot(other, "phone-other-school-404")
