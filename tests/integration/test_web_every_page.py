"""Every page a user can reach by following links, crawled as that user: no dead link or refusal behind a link, no
UUID in the visible text, no police-only text on any page an education user opens, and nothing of another school's
hazards for a user outside it (issue 17: "Police-only content never reaches an education page";
scope applies to everything)."""

from __future__ import annotations

import re
from collections import deque
from datetime import timedelta
from html import unescape
from urllib.parse import urldefrag, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from api import demo
from api.demo import World
from api.services import execute
from domain.application import SafetyApplication
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up

from apihelpers import POLICE_FILLED, SCHOOL_FILLED

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
SECRET = "涉校线索（机密-CRAWL-4471）"
LINK = re.compile(r'href="(/[^"]*)"')
# Not pages: downloads and data (the API has its own scope tests), logging out, Django's admin.
NOT_PAGES = ("/api/", "/accounts/logout", "/admin/", "/static/")
MAX_PAGES = 80


@pytest.fixture
def district(app: SafetyApplication, world: World) -> World:
    """The demo hazards, and a joint form of 红梅 whose police part holds a police-only note."""
    assert world.started is not None
    demo.create_hazards(app, world, world.started + timedelta(hours=2))
    school = world.units["hongmei_school"]
    staff, officer = world.actor("hm_staff"), world.actor("hm_officer")
    form = execute(lambda a: a.open_joint_form(actor=staff, campaign=world.campaign, school=school)).id
    execute(lambda a: a.update_joint_form(form, actor=staff, changes=dict(SCHOOL_FILLED)))
    execute(lambda a: a.update_joint_form(form, actor=officer, changes={**POLICE_FILLED, "sensitive_notes": SECRET}))
    catch_up(app)
    return world


def visible_text(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def crawl(username: str) -> dict[str, str]:
    """Every page reachable from ``/`` by links, as ``username`` sees it: {path: html}."""
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    seen: dict[str, str] = {}
    queue = deque(["/"])
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url)
        # a link shown to this user leads somewhere they may go: no dead link, no 403 behind a menu entry
        assert response.status_code in (200, 302), f"{username} was shown a link to {url}: {response.status_code}"
        if response.status_code in (301, 302):
            continue
        if "text/html" not in response.get("Content-Type", ""):
            seen[url] = ""
            continue
        html = response.content.decode()
        seen[url] = html
        for link in LINK.findall(html):
            link = unescape(urldefrag(link).url)
            if not link.startswith(NOT_PAGES) and urlsplit(link).path and link not in seen:
                queue.append(link)
    return seen


@pytest.mark.parametrize("username", ["hm_staff", "hm_principal", "tn_inspector", "tn_leader", "auditor"])
def test_no_education_page_holds_a_uuid_on_screen_or_police_only_text(district: World, username: str) -> None:
    pages = crawl(username)
    assert any(path.startswith("/hazards/") and path != "/hazards/" for path in pages), sorted(pages)
    for path, html in pages.items():
        assert SECRET not in html, f"police-only text on {path} for {username}"
        found = UUID_TEXT.search(visible_text(html))
        assert not found, f"a UUID on screen at {path} for {username}: {found.group(0) if found else ''}"


@pytest.mark.parametrize("username", ["ql_staff", "ql_principal", "ql_chief"])
def test_a_user_of_another_school_or_station_reaches_nothing_of_hongmei(district: World, username: str) -> None:
    descriptions = list(
        HazardLedger.objects.filter(school=district.units["hongmei_school"]).values_list("description", flat=True)
    )
    assert len(descriptions) >= 5
    for path, html in crawl(username).items():
        text = visible_text(html)
        assert not [d for d in descriptions if d in text], f"红梅's hazard on {path} for {username}"
        assert SECRET not in html
