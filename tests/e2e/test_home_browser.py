"""The 工作台 and the 台账 in a real headless Chromium on a phone: a school staff member logs in through the login
page, lands on his 工作台 with the overdue hazard he owns, opens the 台账 from the navigation bar and filters it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from api import demo
from api.demo import World
from domain.application import SafetyApplication
from projections.runner import catch_up

from browsercheck import check_page

Shot = Callable[[Any, str], Path]
OVERDUE = "保安员超龄、无证上岗"
QINGLONG = "学生宿舍一键报警装置故障"


def test_a_staff_member_on_a_phone_finds_his_overdue_hazard_and_filters_the_ledger(
    app: SafetyApplication, world: World, live_server: Any, browser_as: Callable[..., Any], screenshot: Shot
) -> None:
    assert world.started is not None
    demo.create_hazards(app, world, world.started + timedelta(hours=2))
    catch_up(app)

    page = browser_as("hm_staff2", phone=True)  # 赵后勤 of 红梅实验小学 owns the overdue hazard
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    expect(page.locator("header")).to_contain_text("赵后勤")
    overdue = page.locator("#overdue")
    expect(overdue).to_contain_text(OVERDUE)
    expect(overdue).to_contain_text("已逾期")
    expect(overdue).to_contain_text("红梅实验小学")
    expect(page.locator("#notifications")).to_contain_text("尚未整改销号")
    menu = page.get_by_role("navigation", name="主导航")
    expect(menu.get_by_role("link", name="工作台")).to_have_attribute("aria-current", "page")
    expect(menu.get_by_role("link", name="隐患登记")).to_be_visible()
    expect(menu.get_by_role("link", name="督办")).to_have_count(0)  # a school user supervises nobody
    check_page(page)
    screenshot(page, "01-workbench-phone")

    menu.get_by_role("link", name="隐患台账").click()
    expect(page.get_by_role("heading", name="隐患台账")).to_be_visible()
    expect(page.locator("table.ledger tbody tr")).to_have_count(8)  # 红梅's hazards, none of 青龙中学's
    expect(page.locator("body")).not_to_contain_text(QINGLONG)
    expect(page.get_by_role("link", name="XLSX")).to_have_attribute("href", re.compile(r"school-ledger/.*format=xlsx"))
    check_page(page)
    screenshot(page, "02-ledger-phone")
    with page.expect_download() as download:  # the report over the browser's session, no token
        page.get_by_role("link", name="XLSX").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    assert download.value.path().read_bytes()[:2] == b"PK"

    page.get_by_label("逾期").select_option(label="已逾期")
    page.get_by_label("整改责任人").select_option(label="赵后勤")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"overdue=true"))
    rows = page.locator("table.ledger tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(OVERDUE)
    expect(rows.first).to_contain_text("赵后勤")
    expect(page.get_by_label("逾期")).to_have_value("true")  # the filters stay as chosen
    check_page(page)
    screenshot(page, "03-ledger-filtered-phone")

    page.get_by_label("关键字").fill("燃气")
    page.get_by_label("逾期").select_option(label="全部")
    page.get_by_label("整改责任人").select_option(label="全部")
    page.get_by_label("关键字").press("Enter")  # the keyboard submits the form
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("食堂燃气报警器失效")

    rows.first.get_by_role("link").first.click()  # the hazard page (another helper's) is a link away
    expect(page).to_have_url(re.compile(r"/hazards/[0-9a-f-]{36}/$"))

    page.goto(f"{live_server.url}/forms/joint/")  # the joint form list keeps working inside the layout
    expect(page.get_by_role("navigation", name="主导航").get_by_role("link", name="联合检查表")).to_have_attribute(
        "aria-current", "page"
    )
    check_page(page)
    screenshot(page, "04-joint-forms-phone")


def test_a_bureau_inspector_on_a_desktop_sees_the_district(
    app: SafetyApplication, world: World, browser_as: Callable[..., Any], screenshot: Shot
) -> None:
    assert world.started is not None
    demo.create_hazards(app, world, world.started + timedelta(hours=2))
    catch_up(app)
    page = browser_as("tn_inspector")
    expect(page.locator("#to-verify")).to_contain_text("实验室危险化学品未双人双锁管理")
    expect(page.locator("#overdue")).to_contain_text(OVERDUE)
    check_page(page)
    screenshot(page, "01-workbench-desktop")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="隐患台账").click()
    expect(page.locator("table.ledger tbody tr")).to_have_count(9)
    page.get_by_label("学校").select_option(label="青龙中学")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("table.ledger tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="PDF")).to_be_visible()
    check_page(page)
    screenshot(page, "02-ledger-desktop")
