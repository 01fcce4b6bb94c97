"""The joint form web page (附件1) server-side: login, who edits which cell, refusals on the page, the PDF."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from api.demo import ADMIN, DEMO_PASSWORD, World
from api.services import execute
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.jointform.fields import BY_KEY, FIELDS, FOOTER, TITLE
from projections.jointforms import JointFormView
from projections.runner import catch_up
from reports.joint_form import keys_in, table_rows

from apihelpers import POLICE_FILLED, SCHOOL_FILLED

SECRET = "线索：校门口可疑人员多次徘徊（机密-PAGE-4711）"


@pytest.fixture
def form(world: World) -> str:
    school, actor = world.units["hongmei_school"], world.actor("hm_staff")
    opened = execute(lambda app: app.open_joint_form(actor=actor, campaign=world.campaign, school=school))
    return str(opened.id)


@pytest.fixture
def browser_as(world: World) -> Any:
    def login(username: str) -> Client:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        return client

    return login


def fill(world: World, form: str, *, leave: tuple[str, ...] = (), **values: Any) -> None:
    """Both parties fill every cell of the form (apihelpers' complete form), ``values`` replacing some."""
    cells = {k: v for k, v in {**SCHOOL_FILLED, **POLICE_FILLED, **values}.items() if k not in leave}
    for username, party in (("hm_staff", "school"), ("hm_officer", "police")):
        actor, own = world.actor(username), {k: v for k, v in cells.items() if BY_KEY[k].party == party}
        execute(lambda app, actor=actor, own=own: app.update_joint_form(UUID(form), actor=actor, changes=own))  # type: ignore[misc]


def page_url(form: str) -> str:
    return f"/forms/joint/{form}/"


def page(client: Client, form: str) -> str:
    response = client.get(page_url(form))
    assert response.status_code == 200, response.content.decode()[:300]
    return response.content.decode()


def save(client: Client, form: str, cells: dict[str, str], status: int = 302) -> str:
    version = JointFormView.objects.get(id=form).version
    response = client.post(page_url(form), {"action": "save", "version": str(version), **cells})
    assert response.status_code == status, response.content.decode()[:500]
    return response.content.decode()


def stored(form: str) -> JointFormView:
    return JointFormView.objects.get(id=form)


def alert(html: str) -> tuple[str, str]:
    found = re.search(r'<div class="error" role="alert" data-code="([a-z_]+)">([^<]*)</div>', html)
    assert found, "no visible error message on the page"
    return found.group(1), unescape(found.group(2))


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "joint_form_page"


def pdf_text(content: bytes, tmp_path: Path, keep_as: str = "") -> str:
    path = tmp_path / "form.pdf"
    path.write_bytes(content)
    if keep_as:  # kept to be looked at as a picture (pdftoppm), as a person would check it
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / keep_as).write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_every_field_on_the_form_has_its_cell_in_the_seed_layout() -> None:
    assert keys_in(table_rows()) == {f.key for f in FIELDS if not f.police_only} | {
        "hazards_total",
        "hazards_rectified",
        "hazards_open",
    }
    carried = 0  # columns taken by a label spanning from the row above
    for row in table_rows():
        assert carried + sum(c["colspan"] for c in row) == 12, row
        carried = sum(c["colspan"] for c in row if c["rowspan"] > 1)


def test_an_anonymous_visitor_is_sent_to_the_chinese_login_page(form: str) -> None:
    anonymous = Client()
    for path in (page_url(form), page_url(form) + "pdf/", "/forms/joint/"):
        response = anonymous.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    login_page = anonymous.get("/accounts/login/").content.decode()
    assert "用户登录" in login_page and "用户名" in login_page and "密码" in login_page


def test_logging_in_on_the_page_leads_back_to_the_form(form: str) -> None:
    client = Client()
    wrong = client.post("/accounts/login/", {"username": "hm_staff", "password": "wrong", "next": page_url(form)})
    assert wrong.status_code == 200 and "用户名或密码不正确" in wrong.content.decode()
    right = client.post("/accounts/login/", {"username": "hm_staff", "password": DEMO_PASSWORD, "next": page_url(form)})
    assert right.status_code == 302 and right["Location"] == page_url(form)
    assert "学校及周边安全排查整改情况报表" in page(client, form)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get(page_url(form)).status_code == 302


def test_school_staff_edit_school_cells_and_read_police_cells(form: str, browser_as: Any) -> None:
    save(
        browser_as("hm_officer"), form, {"surrounding_order_hotspots": "校门口流动摊贩", "hotspots_rectified": "false"}
    )
    html = page(browser_as("hm_staff"), form)

    assert TITLE in html and '单位名称：<b id="school-name">红梅实验小学</b>' in html and "填表日期：" in html
    assert '<select name="task_force_established"' in html and '<textarea name="task_force_lead"' in html
    assert '<input type="number" name="guards_total"' in html
    assert '<option value="/">/（不适用）</option>' in html  # 学生宿舍 (无宿舍填“/”)
    for police_key in ("surrounding_order_hotspots", "hotspots_rectified", "school_instability_factors"):
        assert f'name="{police_key}"' not in html
    assert "校园周边治安乱点情况" in html and "校门口流动摊贩" in html and "派出所填写" in html
    for count in ("hazards_total", "hazards_rectified", "hazards_open"):
        assert f'name="{count}"' not in html and f'data-key="{count}"' in html
    assert "一键报警有无" in html and ">门卫<" in html and "学生宿舍（无宿舍填“/”）" in html
    assert ">次数<" in html and ">总人数<" in html and "安全是否由校级领导直接负责" in html
    assert FOOTER in html and "校长：" in html and "所长：" in html
    assert 'id="sign"' not in html  # only the 校长 and the 所长 sign

    officer_page = page(browser_as("hm_officer"), form)
    assert '<textarea name="surrounding_order_hotspots"' in officer_page and 'name="guards_total"' not in officer_page


def test_a_save_from_the_page_records_typed_values(form: str, browser_as: Any) -> None:
    school = browser_as("hm_staff")
    cells = {
        "task_force_established": "true",
        "task_force_lead": "李安全",
        "guards_total": "4",
        "guards_licensed": "3",
        "panic_button_dormitory": "/",
        "school_bus_hazards": "/",
        "holiday_activities_leader_responsible": "false",
        "leader_on_duty": "",  # left unanswered
    }
    save(school, form, cells)
    fields = stored(form).fields
    assert fields == {
        "task_force_established": True,
        "task_force_lead": "李安全",
        "guards_total": 4,
        "guards_licensed": 3,
        "panic_button_dormitory": "/",
        "school_bus_hazards": "/",
        "holiday_activities_leader_responsible": False,
    }
    version = stored(form).version
    save(school, form, cells)  # the same values again: nothing to record
    assert stored(form).version == version
    assert "没有修改任何栏目" in page(school, form)
    html = page(school, form)
    assert '<option value="/" selected>' in html and "已保存本方填写内容" not in html


def test_a_refused_save_shows_why_keeps_the_typing_and_changes_nothing(
    app: SafetyApplication, form: str, browser_as: Any
) -> None:
    school = browser_as("hm_staff")
    save(school, form, {"guards_total": "2"})
    before = app.recorder.max_notification_id()
    html = save(school, form, {"guards_total": "2", "guards_licensed": "5"}, status=400)
    code, text = alert(html)
    assert code == "invalid_value" and "保安员持证上岗人数" in text
    assert (
        'name="guards_licensed" id="f-guards_licensed" aria-label="保安员持证上岗人数" min="0" step="1" value="5"'
        in html
    )
    assert app.recorder.max_notification_id() == before and "guards_licensed" not in stored(form).fields


def test_a_crafted_post_of_a_police_cell_by_the_school_is_refused_visibly(
    app: SafetyApplication, form: str, browser_as: Any
) -> None:
    save(browser_as("hm_officer"), form, {"surrounding_order_hotspots": "无", "sensitive_notes": SECRET})
    school = browser_as("hm_staff")
    before = app.recorder.max_notification_id()

    html = save(school, form, {"task_force_lead": "李安全", "surrounding_order_hotspots": "已全部整改"}, status=403)
    code, text = alert(html)
    assert code == "field_not_yours" and "由另一方填写" in text and "校园周边治安乱点情况" in text
    for crafted, expected in (
        ({"hazards_total": "0"}, "unknown_field"),
        ({"sensitive_notes": SECRET}, "field_not_yours"),
    ):
        html = save(school, form, crafted, status=400 if expected == "unknown_field" else 403)
        assert alert(html)[0] == expected and SECRET not in html
    assert app.recorder.max_notification_id() == before
    assert stored(form).fields == {"surrounding_order_hotspots": "无"}
    assert stored(form).police_only == {"sensitive_notes": SECRET}


@pytest.mark.parametrize("username", ["hm_principal", "hm_staff", "tn_inspector", "auditor"])
def test_the_sensitive_notes_never_reach_an_education_page_or_the_pdf(
    form: str, browser_as: Any, username: str, tmp_path: Path
) -> None:
    save(browser_as("hm_officer"), form, {"sensitive_notes": SECRET, "school_instability_factors": "无"})
    education = browser_as(username)
    for html in (page(education, form), education.get("/forms/joint/").content.decode()):
        assert SECRET not in html and "PAGE-4711" not in html and 'name="sensitive_notes"' not in html
        assert "公安机关内部栏目" not in html
    pdf = education.get(page_url(form) + "pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = pdf_text(pdf.content, tmp_path)
    assert "PAGE-4711" not in text and "校门口可疑人员" not in text and "涉校不稳定因素情况" in text


@pytest.mark.parametrize("username", ["hm_chief", "hm_officer"])
def test_the_station_sees_its_sensitive_notes_but_not_in_the_pdf(
    form: str, browser_as: Any, username: str, tmp_path: Path
) -> None:
    save(browser_as("hm_officer"), form, {"sensitive_notes": SECRET})
    police = browser_as(username)
    html = page(police, form)
    assert SECRET in html and "公安机关内部栏目" in html
    assert "PAGE-4711" not in pdf_text(police.get(page_url(form) + "pdf/").content, tmp_path)


def test_a_visitor_outside_the_scope_gets_a_chinese_not_found_page(form: str, browser_as: Any) -> None:
    for username in ("ql_staff", "ql_chief"):
        response = browser_as(username).get(page_url(form))
        assert response.status_code == 404 and "报表不存在或不在您的管辖范围内" in response.content.decode()
        assert browser_as(username).post(page_url(form), {"action": "save", "guards_total": "1"}).status_code == 404
    assert stored(form).fields == {}


def test_signing_voiding_and_locking_on_the_page(
    app: SafetyApplication, world: World, form: str, browser_as: Any
) -> None:
    staff, principal, chief = browser_as("hm_staff"), browser_as("hm_principal"), browser_as("hm_chief")
    fill(world, form)
    save(staff, form, {"guards_total": "3"})
    html = page(principal, form)
    shown_hash = re.search(r'name="content_hash" value="([0-9a-f]{64})"', html)
    assert shown_hash and f'<code class="hash sign-hash">{shown_hash.group(1)}</code>' in html
    signed_hash = shown_hash.group(1)

    assert alert(staff.post(page_url(form), {"action": "sign", "content_hash": signed_hash}).content.decode())[0] == (
        "not_signatory"
    )
    refused = principal.post(page_url(form), {"action": "sign", "content_hash": "0" * 64})
    assert refused.status_code == 409 and alert(refused.content.decode())[0] == "stale_hash"
    assert principal.post(page_url(form), {"action": "sign", "content_hash": signed_hash}).status_code == 302
    html = page(principal, form)
    assert 'id="sig-school_principal" data-state="valid"' in html and "王校长" in html and signed_hash in html
    assert 'id="sign"' not in html

    save(staff, form, {"guards_total": "4"})
    html = page(principal, form)
    assert 'id="sig-school_principal" data-state="voided"' in html and "签字已作废" in html
    assert 'id="sign"' in html and signed_hash in html  # the voided hash stays visible, a new one is offered
    stale = principal.post(page_url(form), {"action": "sign", "content_hash": signed_hash})
    assert stale.status_code == 409 and alert(stale.content.decode())[0] == "stale_hash"

    current = re.search(r'name="content_hash" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]
    assert principal.post(page_url(form), {"action": "sign", "content_hash": current}).status_code == 302
    assert chief.post(page_url(form), {"action": "sign", "content_hash": current}).status_code == 302

    locked = page(staff, form)
    assert 'data-status="signed"' in locked and "<select" not in locked and "<textarea" not in locked
    assert 'id="save"' not in locked and 'id="sign"' not in locked and 'id="submit"' in locked
    before = app.recorder.max_notification_id()
    assert alert(save(staff, form, {"guards_total": "5"}, status=409))[0] == "form_locked"
    assert app.recorder.max_notification_id() == before

    assert staff.post(page_url(form), {"action": "submit"}).status_code == 302
    submitted = page(chief, form)
    assert 'data-status="submitted"' in submitted and 'id="submit"' not in submitted and "已于" in submitted
    assert alert(staff.post(page_url(form), {"action": "submit"}).content.decode())[0] == "form_locked"


def test_a_deactivated_user_gets_a_chinese_refusal_and_the_list_shows_the_form(
    app: SafetyApplication, form: str, browser_as: Any
) -> None:
    listing = browser_as("hm_staff2").get("/forms/joint/").content.decode()
    assert "红梅实验小学" in listing and page_url(form) in listing
    assert page_url(form) not in browser_as("ql_staff").get("/forms/joint/").content.decode()
    app.deactivate_staff(actor=ADMIN, username="hm_staff2")
    catch_up(app)
    response = browser_as("hm_staff2").get(page_url(form))
    assert response.status_code == 403 and "该账号已停用" in response.content.decode()


def test_a_post_without_the_csrf_token_is_refused(form: str, world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username="hm_staff"))
    assert client.post(page_url(form), {"action": "save", "guards_total": "1"}).status_code == 403
    assert stored(form).fields == {}


def test_the_pdf_carries_the_title_the_values_the_counts_and_the_signatures(
    app: SafetyApplication, world: World, form: str, browser_as: Any, tmp_path: Path
) -> None:
    start = timezone.now() - timedelta(days=3)
    for i, fixed in enumerate((True, False, False)):
        app.discover_hazard(
            actor=world.actor("hm_staff"),
            campaign=world.campaign,
            school=world.units["hongmei_school"],  # type: ignore[arg-type]
            description=f"隐患{i}",
            severity=Severity.GENERAL,
            occurred_at=start,
            rectified_on_spot=fixed,
        )
    catch_up(app)
    staff = browser_as("hm_staff")
    fill(world, form)
    save(staff, form, {"task_force_lead": "李安全", "guards_total": "7", "work_report": "已完成全面排查，整改到位。"})
    save(browser_as("hm_officer"), form, {"surrounding_order_hotspots": "校门口流动摊贩已清理"})
    html = page(browser_as("hm_principal"), form)
    signed_hash = re.search(r'name="content_hash" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]
    browser_as("hm_principal").post(page_url(form), {"action": "sign", "content_hash": signed_hash})

    response = staff.get(page_url(form) + "pdf/")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    text = pdf_text(response.content, tmp_path, keep_as="joint_form.pdf")
    flat = re.sub(r"\s+", "", text)
    assert TITLE in flat and "单位名称：红梅实验小学" in flat and "填表日期：" in flat
    for value in ("李安全", "已完成全面排查，整改到位。", "校门口流动摊贩已清理", "排查出的总隐患数", "未整改隐患数"):
        assert value in flat
    assert re.search(r"排查出的总隐患数\s+3\s+隐患整改数\s+1\s+未整改隐患数\s+2", text), text
    assert re.search(r"保安员人数\s+7", text)
    assert re.sub(r"\s+", "", FOOTER) in flat and "校长：王校长" in flat and "所长：" in flat
    assert signed_hash in flat


def test_the_page_lists_what_is_missing_and_the_sign_button_says_why_it_cannot_sign(
    app: SafetyApplication, world: World, form: str, browser_as: Any
) -> None:
    fill(world, form, leave=("cctv_cameras", "hotspots_rectified"))
    principal = browser_as("hm_principal")

    html = page(principal, form)

    missing = re.search(r'<div class="missing-list" id="missing".*?</div>', html, re.S)
    assert missing, "no list of the missing cells on the page"
    items = re.findall(r'<li data-key="([a-z_]+)">([^<]*)</li>', missing.group(0))
    assert items == [("cctv_cameras", "视频探头数量（学校填写）"), ("hotspots_rectified", "是否整改（派出所填写）")]
    assert re.search(r'<button type="submit" class="primary" id="sign" disabled[^>]*>校长签字（表格未填写完整）', html)
    assert "表格尚有2项未填写" in html, html[html.find('id="sig-school_principal"') :][:1500]
    assert 'data-key="cctv_cameras" data-party="school" class="t-int own missing"' in html
    signed_hash = re.search(r'name="content_hash" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]
    before = app.recorder.max_notification_id()
    refused = principal.post(page_url(form), {"action": "sign", "content_hash": signed_hash})
    code, text = alert(refused.content.decode())
    assert refused.status_code == 409 and code == "form_incomplete" and "视频探头数量、是否整改" in text
    assert app.recorder.max_notification_id() == before

    fill(world, form)
    complete = page(principal, form)
    assert 'id="missing"' not in complete and re.search(r'id="sign">校长签字</button>', complete)


def test_a_school_without_dormitory_reads_slash_there_on_the_page_and_the_pdf(
    world: World, form: str, browser_as: Any, tmp_path: Path
) -> None:
    fill(world, form)  # 红梅实验小学 is not a boarding school: its dormitory cell left empty; no school bus ("/")
    html = page(browser_as("hm_officer"), form)

    assert '<span class="value" data-key="panic_button_dormitory">/</span>' in html
    assert '<span class="value" data-key="school_bus_hazards">/</span>' in html
    text = pdf_text(browser_as("hm_staff").get(page_url(form) + "pdf/").content, tmp_path)
    flat = re.sub(r"\s+", "", text)
    assert "学生宿舍（无宿舍填“/”）/技防系统" in flat, flat


MARKUP = '<script>alert(1)</script> & <b>粗体</b> "引号"'


def test_markup_typed_into_the_form_is_shown_as_text_on_the_page_and_in_the_pdf(
    form: str, browser_as: Any, tmp_path: Path
) -> None:
    save(browser_as("hm_staff"), form, {"task_force_lead": MARKUP, "work_report": MARKUP})
    save(browser_as("hm_officer"), form, {"surrounding_order_hotspots": MARKUP})

    for visitor in ("hm_staff", "hm_officer", "tn_inspector"):
        html = page(browser_as(visitor), form)
        assert "<script>alert(1)" not in html and "<b>粗体</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;粗体&lt;/b&gt;" in html
        assert html.count("&lt;script&gt;") >= 3  # each of the three cells, escaped, whoever looks
    pdf = browser_as("hm_staff").get(page_url(form) + "pdf/")
    assert pdf.status_code == 200
    text = pdf_text(pdf.content, tmp_path)
    assert text.count("<script>alert(1)</script>") == 3 and text.count('& <b>粗体</b> "引号"') == 3
