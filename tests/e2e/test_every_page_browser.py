"""Every page each role reaches by following links, in a real headless Chromium on a phone-sized screen (issue 17):
no UUID on screen, no sideways scrolling, every control labelled, and — for education users — no police-only text
in the HTML; a screenshot of every page is kept. And the keyboard alone: logging in and recording a hazard without
a mouse."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from api import demo
from api.demo import World
from api.services import execute
from domain.application import SafetyApplication
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up

from browsercheck import check_page

Shot = Callable[[Any, str], Path]
SECRET = "涉校线索（机密-E2E-CRAWL-7310）"
NOT_PAGES = ("/api/", "/accounts/logout", "/admin/", "/static/")
EDUCATION = ("hm_staff", "hm_principal", "tn_inspector", "auditor")
# Of the pages that differ only by their id, a few are enough (each kind is tested in depth elsewhere).
SAME_KIND = re.compile(r"^/(hazards|forms/joint)/[0-9a-f-]{36}/")
PER_KIND = 3
DOWNLOAD = re.compile(r"/pdf/|format=|\.(xlsx|pdf|json)($|\?)")  # files, not pages


@pytest.fixture
def district(app: SafetyApplication, world: World) -> World:
    """The demo hazards, and 红梅's joint form whose police part holds a police-only note."""
    assert world.started is not None
    demo.create_hazards(app, world, world.started + timedelta(hours=2))
    school = world.units["hongmei_school"]
    staff, officer = world.actor("hm_staff"), world.actor("hm_officer")
    form = execute(lambda a: a.open_joint_form(actor=staff, campaign=world.campaign, school=school)).id
    execute(lambda a: a.update_joint_form(form, actor=officer, changes={"sensitive_notes": SECRET}))
    catch_up(app)
    return world


def links(page: Any) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    return [
        h.split("#")[0] for h in hrefs if h.startswith("/") and not h.startswith(NOT_PAGES) and not DOWNLOAD.search(h)
    ]


@pytest.mark.parametrize("username", [*EDUCATION, "hm_chief", "admin"])
def test_every_page_a_role_reaches_reads_well_on_a_phone(
    district: World, browser_as: Callable[..., Any], live_server: Any, screenshot: Shot, username: str
) -> None:
    page = browser_as(username, next="/", phone=True)
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    forbidden = (SECRET,) if username in EDUCATION else ()
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    queue = deque(["/"])
    while queue:
        path = queue.popleft()
        if path in seen:
            continue
        kind = SAME_KIND.match(path)
        if kind and kinds.get(kind.group(1), 0) >= PER_KIND:
            continue
        if kind:
            kinds[kind.group(1)] = kinds.get(kind.group(1), 0) + 1
        seen.add(path)
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, f"{username}: {path} → {response and response.status}"
        if "text/html" not in (response.headers.get("content-type") or ""):
            continue
        check_page(page, forbidden=forbidden)
        screenshot(page, re.sub(r"[^0-9a-z]+", "-", path.strip("/").lower()) or "home")
        queue.extend(link for link in links(page) if link not in seen)
    pages = {p for p in seen if not SAME_KIND.match(p)}
    assert {"/", "/hazards/", "/dashboard/", "/reports/", "/account/", "/notifications/"} <= pages, sorted(pages)
    assert kinds.get("hazards"), "no hazard page reached"


def test_a_school_user_logs_in_and_records_a_hazard_with_the_keyboard_alone(
    district: World, chromium: Any, live_server: Any, screenshot: Shot
) -> None:
    page = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    page.goto(f"{live_server.url}/hazards/new/")
    page.focus("#id_username")  # where the login page puts the cursor; from here on only keys
    page.keyboard.type("hm_staff")
    page.keyboard.press("Tab")
    page.keyboard.type(demo.DEMO_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="隐患登记")).to_be_visible()

    def tab_to(element_id: str) -> None:
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == element_id:
                return
        raise AssertionError(f"#{element_id} cannot be reached with the Tab key")

    tab_to("f-item")
    page.keyboard.press("ArrowDown")  # the first checklist item
    tab_to("f-description")
    page.keyboard.type("图书馆灭火器过期未更换")
    tab_to("f-location")
    page.keyboard.type("图书馆二楼")
    screenshot(page, "keyboard-filled")
    page.keyboard.press("Enter")  # a text field's Enter sends its form
    expect(page.locator("#hazard-status")).to_be_visible()
    check_page(page)
    assert HazardLedger.objects.filter(description="图书馆灭火器过期未更换", location="图书馆二楼").count() == 1
