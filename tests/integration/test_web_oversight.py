"""The supervisor's and auditor's pages: 督办一览, 谁负责, 审计, 报表 — what each shows whom, over the API's queries."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from test_integrity import intruder

from api import demo
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.timerules import business_date
from projections import integrity
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up

from apihelpers import other_district_inspector

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


@pytest.fixture
def hazards(app: SafetyApplication, world: demo.World) -> demo.World:
    """The demo's hazards (one overdue, one 挂牌督办 and escalated, others with deadlines ahead) and one transferred
    ten days ago from 赵后勤 to 李安全."""
    demo.create_hazards(app, world, world.started + timedelta(hours=2))  # type: ignore[operator]
    now, school = timezone.now(), world.units["hongmei_school"]
    h = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,
        school=school,
        description="配电房门锁损坏",
        item="CZ-03",
        severity=Severity.GENERAL,
        code="HM01",
        occurred_at=now - timedelta(days=20),
    ).id
    principal = world.actor("hm_principal")
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
    world.hazards["power_room"] = h
    unanswered = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,
        school=school,
        description="教学楼外墙瓷砖脱落",
        item="CZ-03",
        severity=Severity.GENERAL,
        code="HM01",
        occurred_at=now - timedelta(days=12),
    ).id
    app.escalate_hazard(
        unanswered,
        actor=principal,
        to_unit=world.units["district_bureau"],
        reason="需区教育局安排维修资金",
        occurred_at=now - timedelta(days=11),
    )
    world.hazards["unanswered"] = unanswered
    catch_up(app)
    return world


@pytest.fixture
def page_as(world: demo.World) -> Any:
    def login(username: str) -> Client:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        return client

    return login


def text_of(response: Any) -> str:
    """The visible text of a page (tags and attributes dropped)."""
    body = response.content.decode()
    body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def section(response: Any, key: str) -> str:
    body = response.content.decode()
    return body.split(f'<section id="{key}">', 1)[1].split("</section>", 1)[0]


def test_supervision_lists_the_overdue_hazard_not_one_whose_deadline_is_ahead(hazards: demo.World, page_as: Any):
    response = page_as("tn_inspector").get("/supervision/")
    assert response.status_code == 200
    overdue = HazardLedger.objects.get(id=hazards.hazards["overdue"])
    ahead = HazardLedger.objects.get(id=hazards.hazards["assigned"])
    late = section(response, "overdue")
    assert overdue.number in late and "保安员超龄、无证上岗" in late
    assert f'href="/hazards/{overdue.id}/"' in late
    assert "赵后勤" in late and "红梅实验小学" in late  # owner and owner's unit by name
    days = (business_date(timezone.now()) - overdue.deadline).days
    assert f"逾期 {days} 天" in late and overdue.deadline.isoformat() in late
    assert ahead.number not in late, "a deadline still ahead is never overdue"
    major = HazardLedger.objects.get(id=hazards.hazards["major"])
    assert major.number in section(response, "supervised") and major.number in section(response, "escalated")
    assert major.number not in late, "its deadline was extended: no longer overdue"
    waiting = HazardLedger.objects.get(id=hazards.hazards["unanswered"]).number
    assert waiting in section(response, "unanswered") and "上报至天宁区教育局" in section(response, "unanswered")
    assert major.number not in section(response, "unanswered"), "the bureau answered its escalation in time"
    assert not UUID_TEXT.search(text_of(response))


def test_supervision_is_refused_to_school_users_and_empty_for_other_areas(
    app: SafetyApplication, hazards: demo.World, page_as: Any
):
    refused = page_as("hm_principal").get("/supervision/")
    assert refused.status_code == 403 and "督办一览仅供" in refused.content.decode()
    overdue = HazardLedger.objects.get(id=hazards.hazards["overdue"]).number
    station = page_as("ql_chief").get("/supervision/")  # 青龙派出所: not 红梅实验小学's station
    assert station.status_code == 200 and overdue not in station.content.decode()
    assert "红梅实验小学" not in text_of(station)
    elsewhere = page_as(other_district_inspector()).get("/supervision/")
    assert elsewhere.status_code == 200
    body = text_of(elsewhere)
    assert overdue not in body and "红梅实验小学" not in body and "青龙中学" not in body
    for path in ("/ownership/", "/audit/", "/reports/"):
        body = text_of(page_as("wj_inspector").get(path))
        assert overdue not in body and "红梅实验小学" not in body, path
    assert page_as("hm_officer").get("/supervision/").status_code == 200  # 红梅派出所 sees its school
    assert overdue in page_as("hm_officer").get("/supervision/").content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(hazards: demo.World):
    for path in ("/supervision/", "/ownership/", "/audit/", "/reports/"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_ownership_on_a_past_date_shows_the_earlier_owner(hazards: demo.World, page_as: Any):
    number = HazardLedger.objects.get(id=hazards.hazards["power_room"]).number
    client = page_as("tn_inspector")
    before = business_date(timezone.now() - timedelta(days=15)).isoformat()
    past = client.get("/ownership/", {"at": before, "school": str(hazards.units["hongmei_school"])})
    assert past.status_code == 200
    row = _row(past, number)
    assert "赵后勤" in row and "李安全" not in row and "红梅实验小学" in row
    now = client.get("/ownership/", {"school": str(hazards.units["hongmei_school"])})
    assert "李安全" in _row(now, number) and "赵后勤" not in _row(now, number)
    overdue = HazardLedger.objects.get(id=hazards.hazards["overdue"]).number
    assert "逾期" in _row(now, overdue)
    assert not UUID_TEXT.search(text_of(past))
    other_school = client.get("/ownership/", {"school": str(hazards.units["qinglong_school"])})
    assert number not in other_school.content.decode()


def test_ownership_refuses_a_moment_ahead_in_chinese_and_shows_another_school_nothing(
    hazards: demo.World, page_as: Any
):
    ahead = business_date(timezone.now() + timedelta(days=3)).isoformat()
    response = page_as("tn_inspector").get("/ownership/", {"at": ahead})
    assert response.status_code == 200 and "不能晚于当前时间" in text_of(response)
    bad = page_as("tn_inspector").get("/ownership/", {"school": "not-a-school"})
    assert bad.status_code == 200 and "所选学校无效" in text_of(bad)
    mine = page_as("ql_principal").get("/ownership/", {"school": str(hazards.units["hongmei_school"])})
    number = HazardLedger.objects.get(id=hazards.hazards["power_room"]).number
    assert mine.status_code == 200 and number not in mine.content.decode()


def _row(response: Any, number: str) -> str:
    body = response.content.decode()
    rows = [r for r in body.split("<tr>") if f">{number}</a>" in r]
    assert rows, f"{number} not listed"
    return unescape(re.sub(r"<[^>]+>", " ", rows[0]))


@pytest.mark.django_db(transaction=True)
def test_audit_verify_shows_ok_then_names_the_tampering(
    app: SafetyApplication, settings: Any, hazards: demo.World, page_as: Any
):
    settings.CHECKPOINT_EVERY = 5
    integrity.maybe_checkpoint(force=True)
    auditor = page_as("auditor")
    page = auditor.get("/audit/")
    assert page.status_code == 200 and "立即校验" in page.content.decode()
    ok = auditor.post("/audit/")
    body = text_of(ok)
    assert ok.status_code == 200 and "校验通过" in body
    assert f"{app.recorder.max_notification_id()} 条" in body
    head = integrity.ChainLink.objects.order_by("-position").first()
    assert head.hash in body
    assert "无力整改也不上报" in body or "发现问题有能力整改而未整改" in body  # 倒查追责 findings listed
    assert not UUID_TEXT.search(body)
    with intruder(app) as sql:
        sql("DELETE FROM {t} WHERE {id} = ?", (5,))
    tampered = text_of(auditor.post("/audit/"))
    assert "校验未通过" in tampered and "事件缺失（被删除）" in tampered
    assert "“红梅实验小学”的第1版 不在原位置" in tampered  # the event named by what it is about, not its id
    assert not UUID_TEXT.search(tampered)
    assert page_as("hm_principal").get("/audit/").status_code == 403
    assert page_as("tn_leader").get("/audit/").status_code == 200


def test_audit_findings_name_their_subjects_and_link_the_evidence(hazards: demo.World, page_as: Any):
    response = page_as("tn_inspector").get("/audit/")
    body = response.content.decode()
    overdue = hazards.hazards["overdue"]
    assert "发现问题有能力整改而未整改" in body and "赵后勤" in body and "王校长" in body
    assert f'href="/hazards/{overdue}/?version=' in body
    assert f"/api/v1/reports/hazard-dossier/?hazard={overdue}&amp;format=pdf" in body
    assert not UUID_TEXT.search(text_of(response))


def test_reports_page_lists_every_report_with_working_links(hazards: demo.World, page_as: Any):
    client = page_as("tn_inspector")
    response = client.get("/reports/")
    assert response.status_code == 200
    body = response.content.decode()
    for title in ("学校安全隐患台账", "倒查追责", "学校及周边安全排查整改情况汇总表"):
        assert title in body
    assert not UUID_TEXT.search(text_of(response))
    links = dict(
        re.findall(r'<a href="(/api/v1/reports/changzhou-district-summary/[^"]+)" class="download">(\w+)', body)
    )
    assert set(links.values()) == {"PDF", "XLSX", "JSON"}
    types = {"PDF": "application/pdf", "XLSX": "spreadsheetml", "JSON": "application/json"}
    for url, fmt in links.items():
        got = client.get(unescape(url))
        assert got.status_code == 200 and types[fmt] in got["Content-Type"], (fmt, got.content[:200])
    ledger = re.search(r'<a href="(/api/v1/reports/school-ledger/[^"]+format=json)"', body)
    assert ledger and client.get(unescape(ledger.group(1))).status_code == 200


def test_a_report_asked_for_a_past_date_links_that_moment_and_is_submitted_with_receipts(
    hazards: demo.World, page_as: Any
):
    client = page_as("tn_inspector")
    day = business_date(timezone.now() - timedelta(days=5)).isoformat()
    asked = client.get(
        "/reports/", {"report": "changzhou-district-summary", "campaign": str(hazards.campaign), "at": day}
    )
    card = asked.content.decode().split('id="changzhou-district-summary"', 1)[1].split('<div class="card"', 1)[0]
    assert "at=" in card and day[:8] in unescape(card)
    submitted = client.post(
        "/reports/", {"report": "changzhou-district-summary", "campaign": str(hazards.campaign)}, follow=True
    )
    body = text_of(submitted)
    assert submitted.status_code == 200 and "已报送" in body
    receipts = body.split("报送记录与回执", 1)[1]
    assert "教育线" in receipts and "公安线" in receipts and "天宁区教育局" in receipts and "常州市公安局" in receipts
    refused = page_as("auditor").post("/reports/", {"report": "changzhou-district-summary"})
    assert refused.status_code == 403 and "报送未成功" in text_of(refused)
