"""``/dashboard/`` 统计 in a real headless Chromium: the bureau's page draws its charts from ``statistics/`` (a canvas
appears, no CSP violation), its 整改率 is the 常州 附件2 report's for the same moments; a principal's on a phone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from api import demo
from api.demo import World
from domain.application import SafetyApplication
from projections.runner import catch_up

from browsercheck import check_page

Shot = Callable[[Any, str], Path]


def console_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_the_dashboard_draws_its_charts_and_its_rate_is_the_reports(
    app: SafetyApplication, world: World, browser_as: Callable[..., Any], screenshot: Shot, live_server: Any
) -> None:
    assert world.started is not None
    demo.create_hazards(app, world, world.started + timedelta(hours=2))
    catch_up(app)

    bureau = browser_as("tn_inspector", next="/dashboard/")
    errors = console_errors(bureau)
    bureau.goto(f"{live_server.url}/dashboard/?campaign={world.campaign}")
    expect(bureau.get_by_role("heading", name="统计", exact=True)).to_be_visible()
    chart = bureau.locator("#chart-school")
    expect(chart).to_have_attribute("data-drawn", "true")
    expect(chart.locator("canvas")).to_have_count(1)
    for group in ("category", "week"):
        expect(bureau.locator(f"#chart-{group} canvas")).to_have_count(1)
    page_rate = bureau.locator("#stats-total td.rate").inner_text()

    # The 常州 附件2 report for the very moments the page shows (the chart's own query names them).
    query = parse_qs(urlsplit(chart.get_attribute("data-src") or "").query)
    params = {"campaign": str(world.campaign), "at": query["at"][0], "known_at": query["known_at"][0]}
    summary = bureau.request.get(f"{live_server.url}/api/v1/reports/changzhou-district-summary/", params=params)
    assert summary.ok, summary.text()
    total = summary.json()["tables"][0]["total"]
    found, rectified = total[5], total[6]
    assert found > 0
    assert page_rate == f"{rectified / found * 100:.1f}%"
    assert float(chart.get_attribute("data-total-rate") or "nan") == rectified / found  # what the chart drew
    assert int(chart.get_attribute("data-total-found") or -1) == found
    check_page(bureau)
    screenshot(bureau, "01-bureau-desktop")
    assert errors == []

    # A principal on a phone: only their school, no sideways scrolling, the chart drawn.
    principal = browser_as("hm_principal", next="/dashboard/", phone=True)
    phone_errors = console_errors(principal)
    principal.goto(f"{live_server.url}/dashboard/")
    expect(principal.locator("#chart-school canvas")).to_have_count(1)
    expect(principal.locator("#stats-school tbody tr")).to_have_count(1)
    expect(principal.locator("#stats-school tbody tr td").first).to_have_text("红梅实验小学")
    check_page(principal, forbidden=("青龙中学",))
    screenshot(principal, "02-principal-phone")
    assert phone_errors == []
