"""The joint form (附件1) in a real headless Chromium: two parties fill it, 校长 and 所长 sign, it locks, the PDF.

Every user logs in through the login page in a browser context of their own, as people at a school and at its
police station would.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from api.demo import DEMO_PASSWORD, World
from api.services import execute
from domain.jointform.fields import TITLE
from projections.jointforms import JointFormView

SECRET = "线人报告：校门口可疑车辆（绝密-E2E-9931）"
Shot = Callable[[Any, str], Path]


@pytest.fixture
def form_url(world: World, live_server: Any) -> str:
    school, actor = world.units["hongmei_school"], world.actor("hm_staff")
    opened = execute(lambda app: app.open_joint_form(actor=actor, campaign=world.campaign, school=school))
    return f"{live_server.url}/forms/joint/{opened.id}/"


@pytest.fixture
def login_as(chromium: Any, form_url: str) -> Callable[[str], Page]:
    """A page of a fresh browser context, logged in as ``username`` through the login page, on the form."""

    def login(username: str) -> Page:
        page = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
        page.goto(form_url)
        expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
        expect(page.get_by_role("heading", name="用户登录")).to_be_visible()
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(form_url)
        expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
        return page

    return login


def save(page: Page) -> None:
    page.click("#save")
    page.wait_for_load_state()


def cell(page: Page, key: str) -> Any:
    return page.locator(f'td[data-key="{key}"]')


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_school_and_station_fill_sign_lock_and_download_the_form(
    login_as: Callable[[str], Page], form_url: str, screenshot: Shot, artifacts: Path, chromium: Any
) -> None:
    # The login page itself, as an anonymous visitor sees it.
    anonymous = chromium.new_context(locale="zh-CN").new_page()
    anonymous.goto(form_url)
    expect(anonymous.locator("label[for=id_username]")).to_have_text("用户名")
    screenshot(anonymous, "01-login")

    # The school fills its part.
    school = login_as("hm_staff")
    expect(school.locator("#school-name")).to_have_text("红梅实验小学")
    expect(cell(school, "surrounding_order_hotspots").locator("textarea")).to_have_count(0)
    screenshot(school, "02-school-empty")
    school.select_option("#f-task_force_established", "true")
    school.fill("#f-task_force_lead", "李安全")
    school.select_option("#f-holiday_duty_roster", "true")
    school.select_option("#f-leader_on_duty", "true")
    school.fill("#f-guards_total", "4")
    school.fill("#f-guards_licensed", "4")
    school.fill("#f-guards_over_age", "0")
    school.fill("#f-cctv_cameras", "36")
    school.select_option("#f-panic_button_gate", "true")
    school.select_option("#f-panic_button_dormitory", "/")
    school.fill("#f-school_bus_hazards", "/")
    for yes in ("rules_sound", "cctv_retention_30_days", "perimeter_alarm", "key_area_alarm", "tech_systems_working"):
        school.select_option(f"#f-{yes}", "true")
    for yes in ("barriers", "anti_ram", "electrical_fire_campaign", "hazchem_measures"):
        school.select_option(f"#f-{yes}", "true")
    school.select_option("#f-bollards", "false")
    school.fill("#f-electrical_fire_rectification", "老化线路已全部更换")
    school.fill("#f-holiday_safety_education", "开学第一课、防溺水专题教育")
    school.fill("#f-holiday_activities_count", "3")
    school.fill("#f-holiday_activities_people", "120")
    school.select_option("#f-holiday_activities_leader_responsible", "true")
    school.fill("#f-work_report", "全面排查隐患8处，已整改6处，其余2处已落实临时防范措施。")
    save(school)
    expect(school.get_by_role("status")).to_contain_text("已保存本方填写内容")
    expect(cell(school, "task_force_lead").locator("textarea")).to_have_value("李安全")
    expect(school.locator("#f-panic_button_dormitory")).to_have_value("/")
    screenshot(school, "03-school-filled")

    # A police cell slipped into the school's form is refused on the page, and nothing changes.
    version = JointFormView.objects.get().version
    school.evaluate(
        """() => {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = "surrounding_order_hotspots"; input.value = "已全部整改";
            document.querySelector("#fields-form").appendChild(input);
        }"""
    )
    save(school)
    alert = school.get_by_role("alert")
    expect(alert).to_contain_text("该栏目由另一方填写，您不能修改")
    expect(alert).to_contain_text("校园周边治安乱点情况")
    expect(alert).to_have_attribute("data-code", "field_not_yours")
    screenshot(school, "04-school-refused-police-cell")
    assert JointFormView.objects.get().version == version
    assert "surrounding_order_hotspots" not in JointFormView.objects.get().fields

    # Before the station has filled its part the 校长 is shown what is missing, and cannot sign yet.
    principal = login_as("hm_principal")
    missing = principal.locator("#missing")
    expect(missing).to_contain_text("以下栏目尚未填写")
    expect(missing.locator("li")).to_have_text(
        ["校园周边治安乱点情况（派出所填写）", "是否整改（派出所填写）", "涉校不稳定因素情况（派出所填写）"]
    )
    expect(principal.locator("#sign")).to_be_disabled()
    expect(principal.locator("#sign")).to_have_text("校长签字（表格未填写完整）")
    expect(principal.locator("#sign-blocked")).to_contain_text("表格尚有3项未填写")
    expect(cell(principal, "hotspots_rectified")).to_have_class(re.compile(r"\bmissing\b"))
    screenshot(principal, "05a-principal-form-incomplete")

    # The station fills its part, including the notes that never go on the form.
    station = login_as("hm_officer")
    expect(cell(station, "guards_total").locator("input")).to_have_count(0)
    expect(cell(station, "guards_total")).to_contain_text("4")
    station.fill("#f-surrounding_order_hotspots", "校门口上下学时段流动摊贩聚集，已联合城管清理。")
    station.select_option("#f-hotspots_rectified", "true")
    station.fill("#f-school_instability_factors", "无")
    station.fill("#f-sensitive_notes", SECRET)
    save(station)
    expect(station.get_by_role("status")).to_contain_text("已保存本方填写内容")
    expect(station.locator("#police-only")).to_contain_text("E2E-9931")
    screenshot(station, "05-station-filled")

    # The 校长 sees the hash being signed, signs, and the signature line shows it.
    principal.reload()
    expect(principal.locator("#missing")).to_have_count(0)
    expect(principal.locator("#sign")).to_be_enabled()
    assert "E2E-9931" not in principal.content()
    expect(principal.locator("#police-only")).to_have_count(0)
    shown = principal.locator(".sign-hash").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", shown) and shown == principal.locator("#content-hash").inner_text()
    principal.click("#sign")
    principal.wait_for_load_state()
    line = principal.locator("#sig-school_principal")
    expect(line).to_have_attribute("data-state", "valid")
    expect(line).to_contain_text("王校长")
    expect(line.locator(".signed-hash")).to_have_text(shown)
    screenshot(principal, "06-principal-signed")

    # An edit by the school voids that signature, visibly.
    school.reload()
    school.fill("#f-guards_over_age", "1")
    save(school)
    line = school.locator("#sig-school_principal")
    expect(line).to_have_attribute("data-state", "voided")
    expect(line).to_contain_text("签字已作废")
    screenshot(school, "07-signature-voided")

    # The 校长 signs the new content, then the 所长.
    principal.reload()
    expect(principal.locator("#sig-school_principal")).to_have_attribute("data-state", "voided")
    new_hash = principal.locator(".sign-hash").inner_text()
    assert new_hash != shown
    principal.click("#sign")
    principal.wait_for_load_state()
    expect(principal.locator("#sig-school_principal")).to_have_attribute("data-state", "valid")
    chief = login_as("hm_chief")
    expect(chief.locator("#police-only")).to_contain_text("E2E-9931")
    expect(chief.locator("#sig-school_principal .signed-hash")).to_have_text(new_hash)
    chief.click("#sign")
    chief.wait_for_load_state()
    expect(chief.locator("#sig-station_chief")).to_have_attribute("data-state", "valid")
    expect(chief.locator("#sig-station_chief")).to_contain_text("郑所长")

    # Locked: nothing left to type into or to press but the submission.
    for page in (chief, school.reload() and school, station.reload() and station):
        expect(page.locator("#form-status")).to_have_attribute("data-status", "signed")
        expect(page.locator(".sheet input:not([type=hidden]), .sheet select, .sheet textarea")).to_have_count(0)
        expect(page.locator(".sheet button:enabled")).to_have_count(1)
        expect(page.locator(".sheet button:enabled")).to_have_id("submit")
    screenshot(chief, "08-locked")

    # The PDF downloads from the page: the values are in it, the sensitive notes are not.
    with school.expect_download() as download_info:
        school.click("#pdf-link")
    path = artifacts / "joint_form.pdf"
    download_info.value.save_as(str(path))
    text = pdf_text(path)
    flat = re.sub(r"\s+", "", text)
    for value in (
        "红梅实验小学",
        "李安全",
        "全面排查隐患8处",
        "校门口上下学时段流动摊贩聚集",
        "王校长",
        "郑所长",
        new_hash,
    ):
        assert value in flat, value
    assert "E2E-9931" not in text and "可疑车辆" not in text

    # Submitted to both lines: afterwards the page offers nothing to press.
    school.click("#submit")
    school.wait_for_load_state()
    expect(school.locator("#form-status")).to_have_attribute("data-status", "submitted")
    expect(school.locator(".sheet button:enabled")).to_have_count(0)
    screenshot(school, "09-submitted")
