"""签收 (issue 17): a user signs for a notice — an event of their account, in the hash chain; a second 签收 answers
the same; nobody signs another's notice; the sender of a 挂牌督办 sees who has not signed yet."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from api.demo import DEMO_PASSWORD, World
from domain.application import SafetyApplication
from domain.directory.account import Account, account_id
from projections.integrity import ChainLink

from apihelpers import assigned_hazard

ApiLogin = Callable[[str], APIClient]


def _supervised(client_for: ApiLogin, world: World, past: Callable[[float], str]) -> str:
    hid = assigned_hazard(client_for, world, past)  # owner 赵后勤 (hm_staff2) of 红梅实验小学
    answer = client_for("tn_leader").post(f"/api/v1/hazards/{hid}/supervise/", {"note": "限期整改"}, format="json")
    assert answer.status_code == 200, answer.content
    return hid


def _notice(client: APIClient, hid: str) -> dict[str, Any]:
    response = client.get("/api/v1/notifications/")
    assert response.status_code == 200, response.content
    [notice] = [n for n in response.json()["results"] if n["hazard"] == hid and n["kind"] == "supervised"]
    return notice


def _sent(client: APIClient, hid: str) -> dict[str, Any]:
    response = client.get("/api/v1/notifications/sent/")
    assert response.status_code == 200, response.content
    [sent] = [s for s in response.json() if s["hazard"] == hid]
    return sent


@pytest.mark.django_db
def test_the_owner_signs_once_and_the_sender_sees_who_has_not(
    app: SafetyApplication, world: World, client_for: ApiLogin, past: Callable[[float], str]
) -> None:
    hid = _supervised(client_for, world, past)
    owner = client_for("hm_staff2")
    notice = _notice(owner, hid)
    assert notice["acknowledged_at"] is None

    before = _sent(client_for("tn_leader"), hid)
    assert sorted(before["unsigned"]) == sorted(["赵后勤", "红梅实验小学"])
    assert not any(world.units["hongmei_school"].hex in str(r) for r in before["recipients"])  # names, not ids

    # the school's copy is signed by anyone of the school: the 校长 signs first, the owner has not yet
    principal = client_for("hm_principal")
    assert principal.post(f"/api/v1/notifications/{_notice(principal, hid)['id']}/acknowledge/").status_code == 200
    partly = _sent(client_for("tn_leader"), hid)
    assert partly["unsigned"] == ["赵后勤"]
    by_school = [r for r in partly["recipients"] if r["recipient"] == "红梅实验小学"]
    assert by_school[0]["acknowledged_by"] == "王校长" and by_school[0]["acknowledged_at"]

    first = owner.post(f"/api/v1/notifications/{notice['id']}/acknowledge/")
    assert first.status_code == 200, first.content
    assert first.json()["acknowledged_at"]
    again = owner.post(f"/api/v1/notifications/{notice['id']}/acknowledge/")
    assert again.status_code == 200, again.content
    assert again.json()["acknowledged_at"] == first.json()["acknowledged_at"]  # the same 签收, nothing new
    assert _notice(owner, hid)["acknowledged_at"] == first.json()["acknowledged_at"]

    # the event: one 签收 in the owner's account, for the hazard's 督办 event, chained like every event
    events = app.recorder.select_events(account_id("hm_staff2"))
    signed = [e for e in events if e.topic.endswith("Account.NoticeAcknowledged")]
    assert len(signed) == 1
    account = app.repository.get(account_id("hm_staff2"))
    assert isinstance(account, Account)
    hazard = app.repository.get(UUID(hid))
    assert account.acknowledged_at(UUID(hid), hazard.version) is not None
    assert ChainLink.objects.filter(
        originator_id=account_id("hm_staff2"), originator_version=signed[0].originator_version
    ).exists()

    done = _sent(client_for("tn_leader"), hid)
    assert done["unsigned"] == []
    assert {r["recipient"]: r["acknowledged_by"] for r in done["recipients"]} == {
        "赵后勤": "赵后勤",
        "红梅实验小学": "王校长",
    }


@pytest.mark.django_db
def test_nobody_signs_another_ones_notice(world: World, client_for: ApiLogin, past: Callable[[float], str]) -> None:
    hid = _supervised(client_for, world, past)
    notice = _notice(client_for("hm_staff2"), hid)
    for other in ("ql_staff", "hm_officer", "tn_inspector"):  # another school, the station, the bureau
        refused = client_for(other).post(f"/api/v1/notifications/{notice['id']}/acknowledge/")
        assert refused.status_code == 404, (other, refused.content)
        assert refused.json()["code"] == "notification_not_found"
    assert client_for("hm_staff2").post("/api/v1/notifications/999999/acknowledge/").status_code == 404
    assert _notice(client_for("hm_staff2"), hid)["acknowledged_at"] is None
    assert _sent(client_for("tn_leader"), hid)["unsigned"]  # nothing signed
    # another bureau's user sees none of what tn_leader sent; the school sent nothing
    assert client_for("ql_staff").get("/api/v1/notifications/sent/").json() == []


def _session(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=DEMO_PASSWORD)
    return client


@pytest.mark.django_db
def test_the_page_button_signs_and_the_sender_page_names_who_has_not(
    world: World, client_for: ApiLogin, past: Callable[[float], str]
) -> None:
    hid = _supervised(client_for, world, past)
    notice = _notice(client_for("hm_staff2"), hid)

    refused = _session("ql_staff").post(f"/notifications/{notice['id']}/ack/", {"next": "/"})
    assert refused.status_code == 404 and "提醒不存在" in refused.content.decode()

    sender = _session("tn_leader").get("/notifications/sent/").content.decode()
    assert "未签收：赵后勤、红梅实验小学" in sender or "未签收：红梅实验小学、赵后勤" in sender
    assert hid not in sender and str(world.units["hongmei_school"]) not in sender  # names, not ids

    owner = _session("hm_staff2")
    done = owner.post(f"/notifications/{notice['id']}/ack/", {"next": "/account/"})
    assert done.status_code == 302 and done["Location"] == "/account/"
    assert "已签收" in owner.get("/account/").content.decode()
    away = owner.post(f"/notifications/{notice['id']}/ack/", {"next": "https://evil.example/"})
    assert away.status_code == 302 and away["Location"] == "/"  # never off the site; a second 签收 is fine
    assert _notice(client_for("hm_staff2"), hid)["acknowledged_at"]

    after = _session("tn_leader").get("/notifications/sent/").content.decode()
    assert "均已签收" in after and "赵后勤" in after  # 赵后勤 of the school signed the school's copy too
    assert _session("ql_chief").get("/notifications/sent/").content.decode().count("未签收") == 0


@pytest.mark.django_db(transaction=True)  # a parallel rebuild's workers (PostgreSQL) have their own connections
def test_a_rebuild_gives_back_the_signatures(
    app: SafetyApplication, world: World, client_for: ApiLogin, past: Callable[[float], str]
) -> None:
    hid = _supervised(client_for, world, past)
    owner = client_for("hm_staff2")
    signed = owner.post(f"/api/v1/notifications/{_notice(owner, hid)['id']}/acknowledge/").json()["acknowledged_at"]
    before = _sent(client_for("tn_leader"), hid)

    call_command("rebuild_projections", workers=2, stdout=io.StringIO())  # in parallel on PostgreSQL

    assert _notice(owner, hid)["acknowledged_at"] == signed
    assert _sent(client_for("tn_leader"), hid) == before


@pytest.mark.django_db
def test_the_inbox_page_signs_with_a_button(world: World, client_for: ApiLogin, past: Callable[[float], str]) -> None:
    hid = _supervised(client_for, world, past)
    owner = _session("hm_staff2")
    page = owner.get("/notifications/").content.decode()
    assert "隐患挂牌督办：南校门缺少升降柱" in page and ">签收</button>" in page
    assert hid not in re.sub(r"<[^>]+>", "", page)  # no id on screen
    notice = _notice(client_for("hm_staff2"), hid)
    done = owner.post(f"/notifications/{notice['id']}/ack/")
    assert done.status_code == 302 and done["Location"] == "/notifications/"
    after = owner.get("/notifications/").content.decode()
    assert "已签收。" in after and "签收</span>" in after and ">签收</button>" not in after
    assert "南校门" not in _session("ql_staff").get("/notifications/").content.decode()  # another school's
