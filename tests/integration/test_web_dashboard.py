"""``/dashboard/`` 统计 with Django's test client: the tables rendered on the server (no script needed), at the
moments picked, in the visitor's scope, with names, the definitions and the chart's sources."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from statisticshelpers import build_ledger

from api.demo import World
from domain.application import SafetyApplication
from domain.timerules import BUSINESS_TZ

from apihelpers import other_district_inspector

pytestmark = pytest.mark.usefixtures("rectify_without_photo")

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def ledger(app: SafetyApplication, world: World) -> dict[str, Any]:
    return build_ledger(app, world)


def page(username: str, **params: Any) -> Any:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client.get("/dashboard/", params)


def picker(moment: Any) -> str:
    """As <input type="datetime-local" step="1"> sends it: Beijing time to the second, no offset."""
    return str(moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M:%S"))


def table(html: str, group: str) -> dict[str, list[str]]:
    """The rows of one table on the page: first cell → the other cells' text."""
    found = re.search(rf'<table class="stats" id="stats-{group}">(.*?)</table>', html, re.S)
    assert found, f"no table {group}"
    rows: dict[str, list[str]] = {}
    for body in re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S))


def test_the_tables_by_school_category_and_week_at_the_moments_picked(world: World, ledger: dict[str, Any]) -> None:
    # a link may carry the API's ISO moments; the pickers send Beijing time without an offset
    response = page("tn_inspector", campaign=str(world.campaign), at=picker(ledger["at"]), known_at=ledger["mark"])
    assert response.status_code == 200
    html = response.content.decode()
    schools = table(html, "school")
    # 发现数, 整改数, 整改率, 未整改数, 逾期数, 逾期率, 重大隐患, 挂牌督办
    assert schools["红梅实验小学"][:4] == ["5", "2", "40.0%", "3"]  # the late hazard: not yet known at ``mark``
    assert schools["兰陵幼儿园"] == ["0", "0", "—", "0", "0", "—", "0", "0"]
    assert set(table(html, "category")) >= {"人防物防技防", "危险化学品", "消防安全"}
    assert all("至" in week for week in table(html, "week"))
    assert "合计" in table(html, "total")

    now = page("tn_inspector", campaign=str(world.campaign), at=picker(ledger["at"])).content.decode()
    assert table(now, "school")["红梅实验小学"][:4] == ["6", "2", "33.3%", "4"]  # the late hazard, known now
    overdue = table(now, "school")["红梅实验小学"]
    assert overdue[4:6] == ["1", "25.0%"]  # 逾期数 1 of 4 open
    assert overdue[6:] == ["1", "1"]  # 重大隐患, 挂牌督办


def test_the_page_says_what_each_figure_means_and_names_never_ids(world: World, ledger: dict[str, Any]) -> None:
    html = page("tn_inspector", campaign=str(world.campaign)).content.decode()
    text = visible_text(html)
    for words in (
        "发现数",
        "整改率 = 整改数 ÷ 发现数",
        "逾期率 = 逾期数 ÷ 统计时点未整改的隐患数",
        "时限未到的不算逾期",
    ):
        assert words in text, words
    assert "已作废的不计" in text and "事后补录" in text
    assert not UUID_TEXT.search(text)
    for label in ("专项排查", "统计时点", "按此时系统所知"):
        assert re.search(rf"<label[^>]*>{label}", html), label
    # the charts: the vendored library and the page's own script, each a file (CSP: no inline script)
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/web/vendor/echarts.min.js">',
        '<script src="/static/web/dashboard.js">',
    ]
    sources = re.findall(r'data-src="([^"]+)"', html)
    assert len(sources) == 3 and all(s.startswith("/api/v1/statistics/?") for s in sources)
    assert {re.search(r"group=(\w+)", s).group(1) for s in sources} == {"school", "category", "week"}  # type: ignore[union-attr]


def test_scope_another_district_sees_none_of_tianning_and_a_school_only_itself(
    world: World, ledger: dict[str, Any]
) -> None:
    other_district_inspector()
    elsewhere = page("wj_inspector").content.decode()
    assert "红梅" not in elsewhere and "青龙" not in elsewhere and "天宁" not in visible_text(elsewhere)
    assert table(elsewhere, "total")["合计"][0] == "0"
    school = page("ql_staff").content.decode()
    assert set(table(school, "school")) == {"青龙中学"} and "红梅" not in school


def test_bad_moments_are_refused_in_chinese_and_anonymous_goes_to_login(world: World) -> None:
    response = page("tn_inspector", at="昨天")
    assert response.status_code == 400
    assert "统计时点（业务时间）不是有效的日期时间" in response.content.decode()
    future = page("tn_inspector", known_at=picker(timezone.now() + timedelta(days=2)))
    assert future.status_code == 400 and "known_at 不能晚于当前时间" in future.content.decode()
    response = Client().get("/dashboard/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
