"""The supervisor and the auditor in a real headless Chromium: 钱督查 (天宁区教育局) finds an overdue item on
督办一览, asks 谁负责 who owned a hazard on a past date and gets the owner before its transfer; 许督导 runs verify."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from django.utils import timezone
from playwright.sync_api import expect

from api import demo
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.timerules import business_date
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up

from browsercheck import check_page

Shot = Callable[[Any, str], Path]


def transferred_ten_days_ago(app: SafetyApplication, world: demo.World) -> UUID:
    """A hazard of 红梅实验小学 owned by 赵后勤 from 20 days ago, transferred to 李安全 10 days ago."""
    now, school, principal = timezone.now(), world.units["hongmei_school"], world.actor("hm_principal")
    h = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,  # type: ignore[arg-type]
        school=school,
        description="配电房门锁损坏",
        item="CZ-03",
        severity=Severity.GENERAL,
        code="HM01",
        occurred_at=now - timedelta(days=20),
    ).id
    app.assign_hazard(
        h,
        actor=principal,
        owner="hm_staff2",
        owner_unit=school,
        deadline=business_date(now) + timedelta(days=30),
        occurred_at=now - timedelta(days=20, hours=-1),
    )
    app.transfer_hazard(
        h, actor=principal, owner="hm_staff", owner_unit=school, reason="调岗", occurred_at=now - timedelta(days=10)
    )
    return h


def test_the_supervisor_finds_the_overdue_item_and_who_owned_it_then_and_the_auditor_verifies(
    app: SafetyApplication,
    world: demo.World,
    browser_as: Callable[..., Any],
    screenshot: Shot,
) -> None:
    demo.create_hazards(app, world, world.started + timedelta(hours=2))  # type: ignore[operator]
    transferred = transferred_ten_days_ago(app, world)
    catch_up(app)
    number = HazardLedger.objects.get(id=transferred).number
    overdue = HazardLedger.objects.get(id=world.hazards["overdue"])

    page = browser_as("tn_inspector", next="/supervision/", phone=True)
    expect(page.get_by_role("heading", name="督办一览")).to_be_visible()
    late = page.locator("#overdue")
    expect(late).to_contain_text(overdue.number)
    expect(late).to_contain_text("保安员超龄、无证上岗")
    expect(late).to_contain_text("赵后勤")
    expect(late).to_contain_text(re.compile(r"逾期 \d+ 天"))
    expect(late).not_to_contain_text(HazardLedger.objects.get(id=world.hazards["assigned"]).number)
    check_page(page)
    screenshot(page, "supervision-phone")

    page.get_by_role("link", name="谁负责").first.click()
    expect(page.get_by_role("heading", name="谁负责")).to_be_visible()
    past = business_date(timezone.now() - timedelta(days=15)).isoformat()
    page.get_by_label("日期").first.fill(past)
    page.get_by_label("学校").select_option(label="红梅实验小学")
    page.get_by_role("button", name="查询").click()
    row = page.locator("#owners tr", has_text=number)
    expect(row).to_contain_text("赵后勤")
    expect(row).not_to_contain_text("李安全")
    expect(page.locator("#as-of")).to_contain_text(past[:4])
    check_page(page)
    screenshot(page, "ownership-past-phone")
    page.get_by_label("日期").first.fill("")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#owners tr", has_text=number)).to_contain_text("李安全")
    screenshot(page, "ownership-now-phone")
    page.context.close()

    auditor = browser_as("auditor", next="/audit/")
    expect(auditor.get_by_role("heading", name="审计", exact=True)).to_be_visible()
    auditor.get_by_role("button", name="立即校验").click()
    expect(auditor.locator("#verify-result")).to_contain_text("校验通过")
    expect(auditor.locator("#verify-result")).to_contain_text("已校验事件")
    expect(auditor.locator(".finding").first).to_be_visible()
    check_page(auditor)
    screenshot(auditor, "audit-verified")
    auditor.goto(auditor.url.split("/audit/")[0] + "/reports/")
    expect(auditor.get_by_role("heading", name="报表", exact=True)).to_be_visible()
    check_page(auditor)
    screenshot(auditor, "reports")
    ledger = auditor.locator("#school-ledger")
    for fmt, content_type in (("JSON", "application/json"), ("PDF", "application/pdf")):
        href = ledger.get_by_role("link", name=fmt, exact=True).get_attribute("href")
        assert href.startswith("/api/v1/reports/school-ledger/")
        got = auditor.request.get(auditor.url.split("/reports/")[0] + href)  # the browser's session cookie
        assert got.status == 200 and got.headers["content-type"].startswith(content_type)
    auditor.set_viewport_size({"width": 390, "height": 844})
    check_page(auditor)
    screenshot(auditor, "reports-phone")
    auditor.goto(auditor.url.split("/reports/")[0] + "/audit/")
    check_page(auditor)
    screenshot(auditor, "audit-phone")
