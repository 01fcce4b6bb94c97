"""Browser fixtures: the real headless Chromium of the machine driven by Playwright, the demo district, a live server.

Chromium comes from apt (scripts/test.sh installs it); Playwright never downloads a browser. A missing
Chromium fails the tests: a browser test that silently skips would prove nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from api import demo
from domain.application import SafetyApplication
from projections.runner import catch_up

from browsercheck import UUID_TEXT as UUID_TEXT  # re-exported: the browser tests import them from browsercheck
from browsercheck import check_page as check_page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium per test module.

    Playwright's sync API keeps an asyncio loop running in this thread while it is started, and Django then
    refuses ORM calls from the thread (SynchronousOnlyOperation) although nothing here is async: allow them
    for exactly that span, and stop Playwright with the module so later test modules see no loop.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing ({CHROMIUM}): apt-get install -y chromium (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
        finally:
            playwright.stop()


@pytest.fixture
def world(app: SafetyApplication, live_server: Any, settings: Any) -> demo.World:
    """天宁区 with every role and a campaign, served by the live server (its database is transactional)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    world = demo.load(app, timezone.now(), with_hazards=False)
    get_user_model().objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
    catch_up(app)
    return world


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """test-artifacts/e2e/<test>/: screenshots and downloads, kept for a person to look at."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def screenshot(artifacts: Path) -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        path = artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def browser_as(chromium: Any, live_server: Any) -> Callable[..., Any]:
    """``browser_as(username, next="/", phone=False)``: a page of a fresh browser context, logged in through the
    login page (as people do: each user in a browser of their own), then on ``next``."""

    def login(username: str, next: str = "/", phone: bool = False) -> Any:
        from playwright.sync_api import expect

        context = chromium.new_context(locale="zh-CN", viewport=PHONE if phone else DESKTOP)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/?next={next}")
        expect(page.get_by_role("heading", name="用户登录")).to_be_visible()
        page.fill("#id_username", username)
        page.fill("#id_password", demo.DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return login
