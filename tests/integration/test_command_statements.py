"""What a command sends to PostgreSQL beyond its rows (issue 15, point 7: fewer round trips under the lock)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from api.demo import World

from apihelpers import assigned_hazard


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # real commits: a NOTIFY is delivered only when its transaction commits
def test_a_command_sends_no_notify_nobody_listens_for(
    world: World, client_for: Callable[[str], APIClient], past: Callable[[float], str]
) -> None:
    """The library NOTIFYs its channel with every insert; nothing in this product LISTENs (the relay and the
    consumers read the log by position), so a command does not: no notice queued, no notify-queue lock at commit."""
    assert connection.vendor == "postgresql", "this test needs the PostgreSQL run (scripts/test.sh)"
    hid = assigned_hazard(client_for, world, past)
    owner = client_for("hm_staff2")
    settings = connection.settings_dict
    listener = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
        autocommit=True,
    )
    with listener:
        listener.execute('LISTEN "safetyapp_events"')
        answer = owner.post(f"/api/v1/hazards/{hid}/progress/", {"note": "已订购升降柱", "percent": 40}, format="json")
        assert answer.status_code == 200, answer.content
        assert answer.json()["version"] > 2
        heard = list(listener.notifies(timeout=1.0))
    assert heard == []
