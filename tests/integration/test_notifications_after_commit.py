"""Without Kafka, the notifications lag the command (issue 15, point 4): they are not written by the command's
transaction but right after its commit, in process, in a transaction of their own; a reader of ``notifications/``
always sees them, also when that after-commit pass never ran (a crash between the two) or failed."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api.demo import World
from domain.application import SafetyApplication
from projections import djangorecorder
from projections.notifications import NotificationView
from projections.runner import NOTIFICATIONS_POSITION, POSITION_NAME
from projections.tracking import ProjectionPosition

from apihelpers import assigned_hazard

Client = Callable[[str], APIClient]


def _supervise(client_for: Client, hid: str) -> None:
    answer = client_for("tn_leader").post(f"/api/v1/hazards/{hid}/supervise/", {"note": "挂牌督办"}, format="json")
    assert answer.status_code == 200, answer.content


def _noticed(hid: str) -> bool:
    """The 挂牌督办 notice is stored (read straight from the table: no catch-up on the way)."""
    return NotificationView.objects.filter(hazard=hid, kind="supervised").exists()


def _supervised_for(client: APIClient, hid: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/notifications/")
    assert response.status_code == 200, response.content
    return [n for n in response.json()["results"] if n["hazard"] == hid and n["kind"] == "supervised"]


def _positions() -> dict[str, int]:
    return dict(ProjectionPosition.objects.values_list("name", "position"))


@pytest.mark.django_db
def test_the_command_transaction_writes_no_notice_the_commit_then_does(
    world: World,
    client_for: Client,
    past: Callable[[float], str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    hid = assigned_hazard(client_for, world, past)
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        with CaptureQueriesContext(connection) as queries:
            _supervise(client_for, hid)
    written = [q["sql"] for q in queries.captured_queries if "projections_notification" in q["sql"].lower()]
    assert not [sql for sql in written if not sql.lstrip().upper().startswith("SELECT")], written
    assert not _noticed(hid), "the command's transaction wrote the notice"

    for callback in after_commit:  # what runs once the command's transaction has committed
        callback()

    assert _noticed(hid)
    positions = _positions()
    assert positions[NOTIFICATIONS_POSITION] == positions[POSITION_NAME]


@pytest.mark.django_db(transaction=True)  # real commits: the after-commit pass runs as in the server
def test_after_the_commit_the_notice_is_there_without_a_read(
    app: SafetyApplication, world: World, client_for: Client, past: Callable[[float], str]
) -> None:
    hid = assigned_hazard(client_for, world, past)
    _supervise(client_for, hid)

    assert _noticed(hid)  # nobody read notifications/
    assert _positions()[NOTIFICATIONS_POSITION] == app.recorder.max_notification_id()
    assert len(_supervised_for(client_for("hm_staff2"), hid)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("hook", ["never ran", "failed"])
def test_a_lost_after_commit_pass_loses_no_notice(
    app: SafetyApplication,
    world: World,
    client_for: Client,
    past: Callable[[float], str],
    monkeypatch: pytest.MonkeyPatch,
    hook: str,
) -> None:
    hid = assigned_hazard(client_for, world, past)
    if hook == "never ran":  # as if the process died between the command's commit and the pass
        monkeypatch.setattr(djangorecorder, "notify_after_commit", lambda app: None)
    else:

        def fail(app: Any) -> int:
            raise RuntimeError("disk I/O error")

        monkeypatch.setattr(djangorecorder, "catch_up_notifications", fail)

    _supervise(client_for, hid)  # recorded and answered 200 either way

    assert not _noticed(hid)
    assert app.get_hazard(UUID(hid)).supervised
    monkeypatch.undo()
    notices = _supervised_for(client_for("hm_staff2"), hid)  # the read applies what the pass did not
    assert len(notices) == 1 and notices[0]["title"].startswith("隐患挂牌督办：")
    assert _positions()[NOTIFICATIONS_POSITION] == app.recorder.max_notification_id()
    assert len(_supervised_for(client_for("hm_principal"), hid)) == 1  # the school's; applied once


@pytest.mark.django_db
def test_a_rebuild_leaves_both_positions_at_the_head(
    app: SafetyApplication, world: World, client_for: Client, past: Callable[[float], str]
) -> None:
    hid = assigned_hazard(client_for, world, past)
    _supervise(client_for, hid)
    before = _supervised_for(client_for("hm_staff2"), hid)

    call_command("rebuild_projections", stdout=io.StringIO())

    head = app.recorder.max_notification_id()
    assert _positions()[POSITION_NAME] == _positions()[NOTIFICATIONS_POSITION] == head
    assert _noticed(hid)  # rebuilt with the read models, not left to a read
    after = _supervised_for(client_for("hm_staff2"), hid)
    assert [(n["kind"], n["message"]) for n in after] == [(n["kind"], n["message"]) for n in before]


@pytest.mark.django_db(transaction=True)
def test_a_command_no_notice_concerns_has_no_pass_of_its_own(
    app: SafetyApplication, world: World, client_for: Client, past: Callable[[float], str]
) -> None:
    """A progress report changes no notice: no after-commit transaction follows it (on a durable server, one fsync
    fewer per command); the next pass — a command that does concern the notices, or a read — moves over it."""
    hid = assigned_hazard(client_for, world, past)
    assert _positions()[NOTIFICATIONS_POSITION] == app.recorder.max_notification_id()
    owner = client_for("hm_staff2")
    with CaptureQueriesContext(connection) as queries:
        answer = owner.post(
            f"/api/v1/hazards/{hid}/progress/", {"note": "已订购升降柱", "percent": 40}, format="json"
        )
    assert answer.status_code == 200, answer.content
    commits = [q["sql"] for q in queries.captured_queries if q["sql"].strip().upper() == "COMMIT"]
    # the command's own commit; no notifications' transaction after it
    assert len(commits) == 1, [q["sql"][:90] for q in queries.captured_queries]
    assert _positions()[NOTIFICATIONS_POSITION] == app.recorder.max_notification_id() - 1

    _supervise(client_for, hid)  # concerns the notices: its pass applies both events

    assert _positions()[NOTIFICATIONS_POSITION] == app.recorder.max_notification_id()
    assert len(_supervised_for(client_for("hm_staff2"), hid)) == 1
