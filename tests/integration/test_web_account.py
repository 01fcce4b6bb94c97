"""/account/ (issue 17): one's own password change (old password checked, Django's validators, Chinese messages)
and an administrator's reset of another's — each an event of the directory that carries no password or hash."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from api.demo import ADMIN, DEMO_PASSWORD, World
from api.services import execute
from domain.application import SafetyApplication
from domain.directory.account import account_id
from domain.policy import Role

NEW = "Xin-mima-2026"


def _logged_in(username: str, password: str = DEMO_PASSWORD) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the messages are Chinese whatever the browser asks for
    assert client.login(username=username, password=password)
    return client


def _events(app: SafetyApplication, username: str) -> list[str]:
    return [e.topic.rsplit(".", 1)[-1] for e in app.recorder.select_events(account_id(username))]


def _can_log_in(username: str, password: str) -> bool:
    return Client().login(username=username, password=password)


@pytest.mark.django_db
def test_anonymous_goes_to_the_login_page(world: World) -> None:
    response = Client().get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_page_is_in_chinese_with_labelled_fields(world: World) -> None:
    page = _logged_in("hm_staff").get("/account/").content.decode()
    assert "修改密码" in page and "李安全" in page
    for label in ("原密码", "新密码", "再次输入新密码"):
        assert f">{label}</label>" in page
    assert "重置他人密码" not in page  # only for administrators
    assert str(world.units["hongmei_school"]) not in page


@pytest.mark.django_db
def test_a_wrong_old_password_changes_nothing(app: SafetyApplication, world: World) -> None:
    client = _logged_in("hm_staff")
    answer = client.post(
        "/account/", {"action": "change", "old_password": "wrong-one", "new_password1": NEW, "new_password2": NEW}
    )
    assert answer.status_code == 400
    assert "原密码不正确" in answer.content.decode()
    assert _can_log_in("hm_staff", DEMO_PASSWORD) and not _can_log_in("hm_staff", NEW)
    assert _events(app, "hm_staff") == []


@pytest.mark.django_db
def test_the_validators_speak_chinese(app: SafetyApplication, world: World) -> None:
    client = _logged_in("hm_staff")
    short = client.post(
        "/account/", {"action": "change", "old_password": DEMO_PASSWORD, "new_password1": "a1", "new_password2": "a1"}
    )
    assert short.status_code == 400
    assert "密码长度太短" in short.content.decode() and "too short" not in short.content.decode()
    mismatch = client.post(
        "/account/",
        {"action": "change", "old_password": DEMO_PASSWORD, "new_password1": NEW, "new_password2": NEW + "x"},
    )
    assert "两次输入的新密码不一致" in mismatch.content.decode()
    assert _events(app, "hm_staff") == [] and _can_log_in("hm_staff", DEMO_PASSWORD)


@pytest.mark.django_db
def test_a_change_is_recorded_and_the_new_password_works(app: SafetyApplication, world: World) -> None:
    client = _logged_in("hm_staff")
    done = client.post(
        "/account/", {"action": "change", "old_password": DEMO_PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert done.status_code == 302
    assert "密码已修改" in client.get("/account/").content.decode()  # this session stays logged in
    assert _can_log_in("hm_staff", NEW) and not _can_log_in("hm_staff", DEMO_PASSWORD)
    assert _events(app, "hm_staff") == ["Opened", "PasswordChanged"]
    [stored] = [e for e in app.recorder.select_events(account_id("hm_staff")) if e.topic.endswith("PasswordChanged")]
    hashed = get_user_model().objects.get(username="hm_staff").password
    assert NEW.encode() not in stored.state and hashed.encode() not in stored.state  # no password, no hash
    assert b"hm_staff" in stored.state


@pytest.mark.django_db
def test_an_administrator_resets_another_ones_password(app: SafetyApplication, world: World) -> None:
    admin = _logged_in("admin")
    assert "重置他人密码" in admin.get("/account/").content.decode()
    done = admin.post(
        "/account/", {"action": "reset", "username": "hm_staff2", "new_password1": NEW, "new_password2": NEW}
    )
    assert done.status_code == 302
    assert _can_log_in("hm_staff2", NEW)
    assert _events(app, "hm_staff2") == ["Opened", "PasswordReset"]
    [stored] = [e for e in app.recorder.select_events(account_id("hm_staff2")) if e.topic.endswith("PasswordReset")]
    assert b'"admin"' in stored.state and NEW.encode() not in stored.state

    unknown = admin.post(
        "/account/", {"action": "reset", "username": "nobody", "new_password1": NEW, "new_password2": NEW}
    )
    assert unknown.status_code == 400 and "用户不存在" in unknown.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["hm_principal", "tn_leader", "auditor"])
def test_nobody_else_resets_another_ones_password(app: SafetyApplication, world: World, username: str) -> None:
    refused = _logged_in(username).post(
        "/account/", {"action": "reset", "username": "hm_staff", "new_password1": NEW, "new_password2": NEW}
    )
    assert refused.status_code == 403
    assert "无权重置他人密码" in refused.content.decode() or "只能查阅" in refused.content.decode()
    assert _can_log_in("hm_staff", DEMO_PASSWORD) and not _can_log_in("hm_staff", NEW)
    assert _events(app, "hm_staff") == []


@pytest.mark.django_db
def test_an_auditor_changes_his_own_password(app: SafetyApplication, world: World) -> None:
    client = _logged_in("auditor")
    done = client.post(
        "/account/", {"action": "change", "old_password": DEMO_PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert done.status_code == 302 and _can_log_in("auditor", NEW)
    assert _events(app, "auditor") == ["Opened", "PasswordChanged"]


@pytest.mark.django_db
def test_an_appointed_administrator_resets_staff_but_not_the_superuser(app: SafetyApplication, world: World) -> None:
    get_user_model().objects.create_user(username="it_admin", password=DEMO_PASSWORD)
    execute(
        lambda app: app.appoint_staff(
            actor=ADMIN, username="it_admin", display_name="信息科", phone="", unit=None, role=Role.ADMIN
        )
    )
    client = _logged_in("it_admin")
    refused = client.post(
        "/account/", {"action": "reset", "username": "admin", "new_password1": NEW, "new_password2": NEW}
    )
    assert refused.status_code == 403 and "只有超级管理员可以重置超级管理员的密码" in refused.content.decode()
    assert _can_log_in("admin", DEMO_PASSWORD) and _events(app, "admin") == []
    done = client.post(
        "/account/", {"action": "reset", "username": "hm_staff", "new_password1": NEW, "new_password2": NEW}
    )
    assert done.status_code == 302 and _can_log_in("hm_staff", NEW)
