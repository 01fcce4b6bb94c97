"""Notifications: a missed deadline reaches the owner, the 校长 and the district bureau; an escalation the
receiving unit; 挂牌督办 the owner and the school — each user sees exactly theirs (embedded mode here; the
Kafka `notifications` group is checked in test_kafka_groups.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from api import demo
from domain.application import SafetyApplication
from projections.runner import catch_up, clear_read_models

pytestmark = pytest.mark.django_db


@pytest.fixture
def district(app: SafetyApplication) -> demo.World:
    world = demo.load(app, timezone.now())  # hazards with an escalation, 挂牌督办 and two missed deadlines
    get_user_model().objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
    catch_up(app)
    return world


def kinds(client: APIClient) -> Counter[str]:
    response = client.get("/api/v1/notifications/")
    assert response.status_code == 200
    return Counter(n["kind"] for n in response.json()["results"])


EXPECTED = {
    # owner of the major hazard and its 校长 (one notice each, however addressed): both misses, 挂牌督办
    "hm_principal": {"deadline_missed": 2, "supervised": 1},
    "hm_staff2": {"deadline_missed": 1, "supervised": 1},  # owner of the overdue one; school member
    "hm_staff": {"supervised": 1},
    "tn_inspector": {"deadline_missed": 2, "escalated": 1},  # the district bureau
    "tn_leader": {"deadline_missed": 2, "escalated": 1},
    "ql_principal": {},
    "hm_chief": {},
    "auditor": {},
}


@pytest.mark.parametrize("username", sorted(EXPECTED))
def test_each_user_sees_theirs(district: demo.World, client_for: Callable[[str], APIClient], username: str):
    assert kinds(client_for(username)) == Counter(EXPECTED[username])


def test_a_notice_reads_in_chinese_and_names_the_hazard(district: demo.World, client_for: Callable[[str], APIClient]):
    notices = client_for("tn_inspector").get("/api/v1/notifications/").json()["results"]
    missed = [n for n in notices if n["kind"] == "deadline_missed"]
    assert all(n["title"].startswith("隐患整改逾期：") and "已过" in n["message"] for n in missed)
    assert {n["hazard"] for n in missed} == {str(district.hazards["overdue"]), str(district.hazards["major"])}


def test_replay_and_rebuild_make_the_same_notices(
    district: demo.World, app: SafetyApplication, client_for: Callable[[str], APIClient]
):
    before = client_for("hm_principal").get("/api/v1/notifications/").json()["results"]
    clear_read_models()
    catch_up(app)
    catch_up(app)
    after = client_for("hm_principal").get("/api/v1/notifications/").json()["results"]
    strip = lambda rows: sorted((n["kind"], n["hazard"], n["message"]) for n in rows)  # noqa: E731
    assert strip(after) == strip(before) and len(after) == 3


def test_anonymous_is_refused(district: demo.World, anonymous: APIClient):
    assert anonymous.get("/api/v1/notifications/").status_code == 401
