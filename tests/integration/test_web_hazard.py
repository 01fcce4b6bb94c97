"""The hazard page ``/hazards/<id>/``: state with names, the timeline with both times, photos, time travel across a
transfer recorded days after it happened, scope (404) and police-only content."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from api import demo
from api.demo import World
from api.services import execute
from domain.application import SafetyApplication
from domain.timerules import BUSINESS_TZ
from projections.runner import catch_up

from apihelpers import POLICE_FILLED, SCHOOL_FILLED

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
SECRET = "涉校不稳定线索（机密-HAZARD-PAGE-9931）"


@pytest.fixture
def hazards(app: SafetyApplication, world: World) -> World:
    """The demo hazards, discovered from the campaign's start (30 days ago) on."""
    assert world.started is not None
    demo.create_hazards(app, world, world.started + timedelta(hours=2))
    catch_up(app)
    return world


@pytest.fixture
def late_transfer(hazards: World) -> dict[str, Any]:
    """The 南校门 hazard (owner 李安全 since day 1) transferred to 赵后勤 on day 20 — recorded only now (补录)."""
    assert hazards.started is not None
    hazard = hazards.hazards["assigned"]
    happened = hazards.started + timedelta(days=20)
    school = hazards.units["hongmei_school"]
    principal = hazards.actor("hm_principal")
    done = execute(
        lambda app: app.transfer_hazard(
            hazard, actor=principal, owner="hm_staff2", owner_unit=school, reason="后勤统一负责", occurred_at=happened
        )
    )
    recorded = execute(lambda app: app.hazard_events(hazard))[-1].timestamp
    assert done.version == len(execute(lambda app: app.hazard_events(hazard)))
    return {"hazard": hazard, "happened": happened, "recorded": recorded}


def browser(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def page(client: Client, hazard: UUID, status: int = 200, **params: str) -> str:
    response = client.get(f"/hazards/{hazard}/", params)
    assert response.status_code == status, visible_text(unescape(response.content.decode()))[-1500:]
    return unescape(response.content.decode())


def visible_text(html: str) -> str:
    """The text a reader sees: no tags, no attribute values (ids may sit in URLs)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def local(moment: datetime) -> str:
    """As the page's datetime-local fields send it: Beijing wall-clock time, seconds."""
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def owner_of(html: str) -> str:
    found = re.search(r'<dd id="owner">(.*?)</dd>', html)
    assert found, html[:3000]
    return found.group(1)


def test_the_page_shows_the_state_with_names_not_ids(hazards: World) -> None:
    html = page(browser("hm_principal"), hazards.hazards["assigned"])
    text = visible_text(html)
    assert "校门口缺少硬质防冲撞设施（升降柱）" in text
    assert "红梅" in text and "南校门" in text  # the school by name, the location
    assert "整改中" in text and "一般隐患" in text  # the status and severity in Chinese
    assert owner_of(html) == "李安全"
    assert "采购并安装升降柱两组" in text and "区财政专项 4 万元" in text  # 五落实
    assert "可办理的操作" in text
    assert not UUID_TEXT.search(text), UUID_TEXT.search(text)
    assert "hm_staff" not in text  # a name, never a login


def test_the_timeline_lists_every_event_with_actor_both_times_and_chain_hash(late_transfer: dict[str, Any]) -> None:
    html = page(browser("auditor"), late_transfer["hazard"])
    text = visible_text(html)
    for label in ("发现登记", "分派", "整改方案", "进度报告", "移交"):
        assert label in text
    assert "事件时间线（共 5 条）" in text
    # The late transfer: its business time 20 days after the start, its record time today, marked 补录.
    happened = late_transfer["happened"].astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S")
    recorded = late_transfer["recorded"].astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S")
    assert f"发生时间：{happened}" in text and f"记录时间：{recorded}" in text
    transfer = html[html.index('<li id="v5">') :]
    assert "移交" in transfer and '<span class="tag late">补录</span>' in transfer
    assert "操作人：王校长" in text and "操作人：李安全" in text
    assert len(re.findall(r'<code class="hash" title="[0-9a-f]{64}">[0-9a-f]{16}</code>', html)) == 5


def test_time_travel_across_a_late_recorded_transfer(late_transfer: dict[str, Any]) -> None:
    client, hazard = browser("auditor"), late_transfer["hazard"]
    after_transfer = local(late_transfer["happened"] + timedelta(days=2))
    before_recording = (late_transfer["recorded"] - timedelta(microseconds=1)).isoformat()  # as the API takes it
    assert owner_of(page(client, hazard)) == "赵后勤"  # now

    # Day 22 as the system showed it before the transfer was recorded: still the first owner.
    html = page(client, hazard, at=after_transfer, known_at=before_recording)
    assert owner_of(html) == "李安全"
    assert "正在查看" in html and "已记录的信息" in html and "返回当前状态" in html
    assert "事件时间线（共 4 条）" in html and "后勤统一负责" not in html  # the transfer not yet known
    assert "可办理的操作" not in html  # no actions on a past state

    # The same day as known now: the transferee.
    html = page(client, hazard, at=after_transfer, known_at=local(late_transfer["recorded"] + timedelta(seconds=1)))
    assert owner_of(html) == "赵后勤" and "后勤统一负责" in html
    # Before the transfer happened, as known now: the first owner (and the transfer is not on the timeline yet).
    html = page(client, hazard, at=local(late_transfer["happened"] - timedelta(days=1)))
    assert owner_of(html) == "李安全" and "事件时间线（共 4 条）" in html
    # By version, as the API's ?version=: version 2 is the assignment.
    html = page(client, hazard, version="2")
    assert owner_of(html) == "李安全" and "第 2 版" in html and "事件时间线（共 2 条）" in html


def test_time_travel_refusals_are_shown_in_chinese_by_the_form(late_transfer: dict[str, Any]) -> None:
    client, hazard = browser("auditor"), late_transfer["hazard"]
    html = page(client, hazard, 400, at="不是时间")
    assert "查询参数 at 无效" in html and owner_of(html) == "赵后勤"
    html = page(client, hazard, 404, at=local(late_transfer["happened"] - timedelta(days=40)))
    assert "该时间点尚无此隐患的记录" in html


def test_photos_before_and_after_link_thumbnails_a_session_can_load(hazards: World) -> None:
    client = browser("hm_principal")
    html = page(client, hazards.hazards["rectified"])
    thumbnails = re.findall(r'<img src="([^"]+/thumbnail/)"', html)
    assert len(set(thumbnails)) == 2  # 整改前 (discovery) and 整改后 (rectification)
    before, after, end = html.index("<h3>整改前</h3>"), html.index("<h3>整改后</h3>"), html.index("可办理的操作")
    assert html[before:after].count("<img ") == 1 and "发现登记" in html[before:after]
    assert html[after:end].count("<img ") == 1 and "整改后：双人双锁" in html[after:end]
    for url in set(thumbnails):
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        full = client.get(url.removesuffix("thumbnail/"))
        assert full.status_code == 200 and full["Content-Type"].startswith("image/")


def test_a_user_of_another_school_or_station_gets_a_chinese_404(hazards: World) -> None:
    hazard = hazards.hazards["assigned"]  # 红梅 school
    for username in ("ql_staff", "ql_principal", "ql_chief"):
        html = page(browser(username), hazard, 404)
        assert "隐患不存在" in html and "升降柱" not in html
    assert "升降柱" in page(browser("hm_chief"), hazard)  # its own station sees it
    assert page(browser("tn_inspector"), hazard)


def test_anonymous_is_sent_to_login(hazards: World) -> None:
    response = Client().get(f"/hazards/{hazards.hazards['assigned']}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_education_user_never_sees_police_only_text(hazards: World) -> None:
    school = hazards.units["hongmei_school"]
    staff, officer = hazards.actor("hm_staff"), hazards.actor("hm_officer")
    form = execute(lambda app: app.open_joint_form(actor=staff, campaign=hazards.campaign, school=school)).id
    execute(lambda app: app.update_joint_form(form, actor=staff, changes=dict(SCHOOL_FILLED)))
    police = {**POLICE_FILLED, "sensitive_notes": SECRET}
    execute(lambda app: app.update_joint_form(form, actor=officer, changes=police))
    for username in ("hm_staff", "hm_principal", "tn_inspector", "auditor"):
        for key in ("assigned", "major", "rectified"):
            assert SECRET not in page(browser(username), hazards.hazards[key])


def test_escalation_supervision_and_the_system_s_events_are_shown_by_name(hazards: World) -> None:
    html = page(browser("tn_leader"), hazards.hazards["major"])
    text = visible_text(html)
    assert "重大隐患" in text and "挂牌督办" in text and "已上报" in text and "逾期" in text
    escalation = text[text.index("上报与挂牌督办") : text.index("整改前后照片")]
    assert "上报至：天宁区教育局" in escalation and "学校无力独立整改" in escalation  # to whom, why, by whom
    assert "区教育局挂牌督办" in escalation and "何局长" in escalation
    assert "学校无力整改" in text  # the plan says the school cannot do it alone
    assert "操作人：系统（自动记录）" in text and "逾期" in text  # the missed deadline, recorded by the system
    assert not UUID_TEXT.search(text)
