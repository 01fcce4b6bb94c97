"""The 工作台 (``/``), the 台账 (``/hazards/``) and the layout's navigation, server-side: each role's items and
links, scope (another school's user sees none of 红梅's hazards), names not UUIDs, login landing on ``/``."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from api import demo
from api.demo import DEMO_PASSWORD, World
from api.services import execute
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from projections.runner import catch_up

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# descriptions of demo hazards (api/demo.py create_hazards)
ASSIGNED = "校门口缺少硬质防冲撞设施（升降柱）"
RECTIFIED = "实验室危险化学品未双人双锁管理"
OVERDUE = "保安员超龄、无证上岗"
MAJOR = "围墙周界无防入侵报警系统，部分围墙破损"
GAS = "食堂燃气报警器失效"
QINGLONG = "学生宿舍一键报警装置故障"
HONGMEI = (ASSIGNED, RECTIFIED, OVERDUE, MAJOR, GAS, "视频监控保存天数不足30天", "学校假期值班表未张贴")


@pytest.fixture
def hazards(app: SafetyApplication, world: World) -> World:
    assert world.started is not None
    demo.create_hazards(app, world, world.started + timedelta(hours=2))
    catch_up(app)
    return world


@pytest.fixture
def browser_as(world: World) -> Any:
    def login(username: str) -> Client:
        client = Client(raise_request_exception=False)
        client.force_login(get_user_model().objects.get(username=username))
        return client

    return login


def visible_text(html: str) -> str:
    """The page's text as a reader sees it: no tags, attributes, style or script."""
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def page(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    html = response.content.decode()
    assert not UUID_TEXT.search(visible_text(html)), f"a UUID on screen at {path}"
    return html


def section(html: str, name: str) -> str:
    """One card of the 工作台 by its id."""
    match = re.search(rf'<section class="card[^"]*" id="{name}">(.*?)</section>', html, flags=re.S)
    assert match, name
    return match.group(1)


def nav(html: str) -> list[str]:
    match = re.search(r'<nav class="menu"[^>]*>(.*?)</nav>', html, flags=re.S)
    assert match
    return re.findall(r">([^<>]+)</a>", match.group(1))


# --- login, anonymous, admin --------------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_login_and_lands_on_the_workbench_after(world: World) -> None:
    anonymous = Client()
    for path in ("/", "/hazards/"):
        response = anonymous.get(path)
        assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"
    response = anonymous.post("/accounts/login/", {"username": "hm_staff", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    home = anonymous.get("/").content.decode()
    assert "工作台" in home and "李安全" in home and "学校工作人员" in home and "红梅实验小学" in home


def test_the_admins_view_site_link_goes_to_the_workbench(world: World) -> None:
    admin = Client()
    admin.force_login(get_user_model().objects.get(username="admin"))
    html = admin.get("/admin/").content.decode()
    assert re.search(r'<a href="/">\s*查看站点', html), "查看站点 should link to /"
    assert admin.get("/").status_code == 200


# --- navigation by role ----------------------------------------------------------------------------------------------


def test_the_navigation_shows_each_role_its_pages(world: World, browser_as: Any) -> None:
    links = {u: nav(page(browser_as(u), "/")) for u in ("hm_staff", "hm_officer", "tn_inspector", "auditor")}
    every = ["工作台", "隐患台账", "统计", "报表", "联合检查表", "账户"]
    assert all(set(every) <= set(shown) for shown in links.values())
    assert "隐患登记" in links["hm_staff"] and "督办" not in links["hm_staff"] and "审计" not in links["hm_staff"]
    assert {"隐患登记", "督办", "谁负责"} <= set(links["hm_officer"]) and "审计" not in links["hm_officer"]
    assert {"隐患登记", "督办", "谁负责", "审计"} <= set(links["tn_inspector"])
    assert "审计" in links["auditor"] and "隐患登记" not in links["auditor"] and "督办" not in links["auditor"]
    # the joint form pages keep the layout: the same bar, the visitor named
    forms = page(browser_as("hm_staff"), "/forms/joint/")
    assert nav(forms) == links["hm_staff"] and 'aria-current="page">联合检查表' in forms and "李安全" in forms


# --- the 工作台 ---------------------------------------------------------------------------------------------------


def test_a_staff_members_workbench_lists_what_he_owns_and_not_another_schools(hazards: World, browser_as: Any) -> None:
    html = page(browser_as("hm_staff"), "/")
    owned = section(html, "owned")
    assert ASSIGNED in owned and GAS in owned and RECTIFIED not in owned  # rectified: his work is done
    assert "红梅实验小学" in owned and "李安全" in owned
    assert f'href="/hazards/{hazards.hazards["assigned"]}/"' in owned
    assert "没有逾期的隐患" in section(html, "overdue")  # the overdue hazard is 赵后勤's
    assert "没有等待您验收的隐患" in section(html, "to-verify")  # staff do not 验收
    assert QINGLONG not in html

    other = page(browser_as("hm_staff2"), "/")
    overdue = section(other, "overdue")
    assert OVERDUE in overdue and "已逾期" in overdue and "赵后勤" in overdue
    notices = section(other, "notifications")
    assert "已过，尚未整改销号" in notices and OVERDUE in notices


def test_the_principal_sees_the_schools_overdue_items_and_what_awaits_his_acceptance(
    hazards: World, browser_as: Any
) -> None:
    html = page(browser_as("hm_principal"), "/")
    assert OVERDUE in section(html, "overdue")
    assert RECTIFIED in section(html, "to-verify")  # a general hazard rectified by 李安全
    assert MAJOR in section(html, "owned")
    assert QINGLONG not in html
    qinglong = page(browser_as("ql_principal"), "/")
    assert QINGLONG in section(qinglong, "owned")
    assert not any(d in qinglong for d in HONGMEI)


def test_the_bureau_and_the_auditor(hazards: World, browser_as: Any) -> None:
    bureau = page(browser_as("tn_inspector"), "/")
    assert RECTIFIED in section(bureau, "to-verify") and OVERDUE in section(bureau, "overdue")
    auditor = page(browser_as("auditor"), "/")
    assert "没有等待您验收的隐患" in section(auditor, "to-verify")  # auditors only read


def test_forms_awaiting_a_signature_are_the_signers(world: World, browser_as: Any) -> None:
    school, actor = world.units["hongmei_school"], world.actor("hm_staff")
    form = execute(lambda app: app.open_joint_form(actor=actor, campaign=world.campaign, school=school))
    link = f'href="/forms/joint/{form.id}/"'
    assert link in section(page(browser_as("hm_principal"), "/"), "forms")
    assert link in section(page(browser_as("hm_chief"), "/"), "forms")
    for username in ("hm_staff", "ql_principal", "ql_chief"):
        assert link not in page(browser_as(username), "/")


# --- the 台账 -------------------------------------------------------------------------------------------------------


def rows(html: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, flags=re.S)
    assert body
    return [r for r in re.findall(r"<tr>(.*?)</tr>", body.group(1), flags=re.S) if "没有符合条件的隐患" not in r]


def test_the_ledger_is_the_callers_scope_with_names(hazards: World, browser_as: Any) -> None:
    staff = browser_as("hm_staff")
    html = page(staff, "/hazards/")
    listed = rows(html)
    assert len(listed) == len(HONGMEI) + 1  # and the 立行立改 one
    assert all(d in html for d in HONGMEI) and QINGLONG not in html
    text = visible_text(html)
    assert "红梅实验小学" in text and "李安全" in text and "赵后勤" in text and "王校长" in text
    assert "待验收" in text and "重大隐患" in text and "已逾期" in text and "挂牌督办" in text
    assert "hm_staff2" not in text  # owners by name

    other = page(browser_as("ql_staff"), "/hazards/")
    assert not any(d in other for d in HONGMEI) and QINGLONG in other
    school = hazards.units["hongmei_school"]
    assert not rows(page(browser_as("ql_staff"), f"/hazards/?school={school}"))  # no way round the scope


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=rectified", {RECTIFIED}),
        ("severity=major", {MAJOR}),
        ("overdue=true", {OVERDUE}),
        ("supervised=true", {MAJOR}),
        ("owner=hm_staff2", {OVERDUE}),
        ("text=燃气", {GAS}),
        ("text=报警+围墙", {MAJOR}),
        ("status=assigned&owner=hm_staff", {ASSIGNED, GAS}),
    ],
)
def test_the_ledger_filters_as_the_api_does(hazards: World, browser_as: Any, query: str, expected: set[str]) -> None:
    html = page(browser_as("hm_principal"), f"/hazards/?{query}")
    listed = rows(html)
    assert len(listed) == len(expected), query
    assert all(any(d in r for r in listed) for d in expected), query


def test_the_ledger_filters_by_campaign_and_school_and_keeps_them_in_the_form(hazards: World, browser_as: Any) -> None:
    bureau = browser_as("tn_inspector")
    school, campaign = hazards.units["qinglong_school"], hazards.campaign
    html = page(bureau, f"/hazards/?school={school}&campaign={campaign}")
    assert [QINGLONG] == [d for d in (QINGLONG, *HONGMEI) if d in html]
    assert f'<option value="{school}" selected>' in html and f'<option value="{campaign}" selected>' in html
    assert f"/api/v1/reports/school-ledger/?school={school}&amp;campaign={campaign}&amp;format=xlsx" in html


def test_a_wrong_filter_is_told_in_chinese(hazards: World, browser_as: Any) -> None:
    html = page(browser_as("hm_principal"), "/hazards/?status=nonsense")
    assert "筛选条件有误：状态" in html and not rows(html)


def test_the_ledger_pages(hazards: World, browser_as: Any, app: SafetyApplication) -> None:
    staff, school = hazards.actor("hm_staff"), hazards.units["hongmei_school"]
    for n in range(20):
        app.discover_hazard(
            actor=staff,
            campaign=hazards.campaign,
            school=school,
            description=f"补充隐患{n:02}",
            item="CZ-01",
            severity=Severity.GENERAL,
        )
    catch_up(app)
    client = browser_as("hm_staff")
    first, second = page(client, "/hazards/?severity=general"), page(client, "/hazards/?severity=general&page=2")
    assert len(rows(first)) == 20 and "第 1/2 页" in first and "severity=general&amp;page=2" in first
    assert len(rows(second)) == len(HONGMEI) + 1 + 20 - 1 - 20  # all but the major one, less the first page


def test_the_export_buttons_download_the_school_ledger_with_the_session(hazards: World, browser_as: Any) -> None:
    client = browser_as("hm_staff")
    html = page(client, "/hazards/")
    links = re.findall(r'href="(/api/v1/reports/school-ledger/\?[^"]+)"', html)
    assert len(links) == 2  # a school user has one school: no need to pick it
    for link, content_type in zip(links, ("spreadsheetml", "application/pdf"), strict=True):
        response = client.get(unescape(link))
        assert response.status_code == 200, response.content[:300]
        assert content_type in response["Content-Type"]
    bureau = page(browser_as("tn_inspector"), "/hazards/")
    assert "选择一所学校后可导出" in bureau  # the report is one school's


def test_owner_and_school_choices_are_names(hazards: World, browser_as: Any) -> None:
    html = page(browser_as("hm_principal"), "/hazards/")
    owners = re.search(r'<select id="f-owner".*?</select>', html, flags=re.S)
    assert owners and '<option value="hm_staff2">赵后勤</option>' in owners.group(0)
    school = str(UUID(str(hazards.units["hongmei_school"])))
    assert f'<option value="{school}">红梅实验小学</option>' in html


def test_the_api_lists_hazards_by_text_as_the_ledger_does(hazards: World, client_for: Any) -> None:
    """``hazards/?text=``: every word found in the number, description, location or category."""
    api = client_for("hm_principal")
    found = api.get("/api/v1/hazards/?text=燃气").json()["results"]
    assert [h["description"] for h in found] == [GAS]
    assert [h["description"] for h in api.get("/api/v1/hazards/?text=门卫室+保安").json()["results"]] == [OVERDUE]
    assert api.get("/api/v1/hazards/?text=宿舍").json()["results"] == []  # 青龙中学's: out of scope
