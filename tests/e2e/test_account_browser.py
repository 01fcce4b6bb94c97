"""/account/ in a real headless Chromium on a phone: 李安全 mistypes his old password (a Chinese error, nothing
changed), changes it, logs out and logs in with the new one; the bureau's leader sees who has not signed a 督办."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import expect

from api.demo import DEMO_PASSWORD, World
from api.services import execute
from domain.hazard.aggregate import Severity

from browsercheck import check_page

NEW = "Anquan-2026-new"
Shot = Callable[[Any, str], Path]


def test_a_user_changes_his_password_and_logs_in_with_it(
    world: World, browser_as: Callable[..., Any], screenshot: Shot, live_server: Any
) -> None:
    page = browser_as("hm_staff", next="/account/", phone=True)
    expect(page.get_by_role("heading", name="我的账户")).to_be_visible()
    check_page(page)
    screenshot(page, "1-account")

    page.get_by_label("原密码").fill("not-my-password")
    page.locator("#own-new_password1").fill(NEW)
    page.locator("#own-new_password2").fill(NEW)
    page.get_by_role("button", name="修改密码").click()
    expect(page.get_by_text("原密码不正确，请重新输入。")).to_be_visible()
    check_page(page)
    screenshot(page, "2-wrong-old-password")

    page.get_by_label("原密码").fill(DEMO_PASSWORD)
    page.locator("#own-new_password1").fill(NEW)
    page.locator("#own-new_password2").fill(NEW)
    page.locator("#own-new_password2").press("Enter")  # the keyboard is enough
    expect(page.get_by_text("密码已修改，请牢记新密码。")).to_be_visible()
    check_page(page)
    screenshot(page, "3-changed")

    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="用户登录")).to_be_visible()
    page.goto(f"{live_server.url}/accounts/login/?next=/account/")
    page.fill("#id_username", "hm_staff")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_text("用户名或密码不正确。")).to_be_visible()  # the old one no longer works
    page.fill("#id_username", "hm_staff")
    page.fill("#id_password", NEW)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="我的账户")).to_be_visible()
    expect(page.get_by_text("上次修改")).to_be_visible()
    screenshot(page, "4-logged-in-with-new-password")


def test_the_sender_of_a_supervision_sees_who_has_not_signed(
    world: World, browser_as: Callable[..., Any], screenshot: Shot
) -> None:
    school, staff = world.units["hongmei_school"], world.actor("hm_staff")
    hazard = execute(
        lambda app: app.discover_hazard(
            actor=staff,
            campaign=world.campaign,
            school=school,
            item="CZ-01",
            severity=Severity.GENERAL,
            description="南校门缺少升降柱",
            location="南校门",
        )
    )
    execute(lambda app: app.supervise_hazard(hazard.id, actor=world.actor("tn_leader"), note="限期整改"))
    page = browser_as("tn_leader", next="/notifications/sent/", phone=True)
    expect(page.get_by_role("heading", name="督办签收情况")).to_be_visible()
    expect(page.get_by_text("未签收：红梅实验小学")).to_be_visible()
    check_page(page)
    screenshot(page, "1-sent-unsigned")

    principal = browser_as("hm_principal", next="/notifications/", phone=True)
    expect(principal.get_by_role("heading", name="我的提醒")).to_be_visible()
    check_page(principal)
    screenshot(principal, "2-inbox")
    principal.get_by_role("button", name="签收：隐患挂牌督办：南校门缺少升降柱").click()
    expect(principal.get_by_text("已签收。")).to_be_visible()
    screenshot(principal, "3-signed")

    page.reload()
    expect(page.get_by_text("均已签收")).to_be_visible()
    expect(page.get_by_role("cell", name="王校长")).to_be_visible()
    check_page(page)
    screenshot(page, "4-sent-signed")


def test_the_import_page_lists_every_bad_row_on_a_phone(
    world: World, browser_as: Callable[..., Any], screenshot: Shot, tmp_path: Path
) -> None:
    page = browser_as("admin", next="/admin-tools/import/", phone=True)
    expect(page.get_by_role("heading", name="批量导入单位及人员")).to_be_visible()
    check_page(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载导入模板（.xlsx）").click()
    assert download.value.suggested_filename == "单位及人员导入模板.xlsx"
    filled = tmp_path / "导入.xlsx"
    download.value.save_as(filled)
    book = load_workbook(filled)
    book["单位"].append(["南湖小学", "学校", "天宁区", "天宁区教育局", "", "小学", "否", ""])  # no 属地派出所
    book["人员"].append(["hm_staff", "重名", "", "红梅实验小学", "校长", "Chushi-mima-2026"])  # taken
    book.save(filled)
    page.get_by_label("导入文件（.xlsx）").set_input_files(str(filled))
    page.get_by_role("button", name="校验并导入").click()
    expect(page.get_by_text("发现 2 处错误，未导入任何数据")).to_be_visible()
    expect(page.get_by_text("学校必须指定属地派出所")).to_be_visible()
    expect(page.get_by_text("用户名“hm_staff”已存在")).to_be_visible()
    check_page(page)
    screenshot(page, "import-errors")
