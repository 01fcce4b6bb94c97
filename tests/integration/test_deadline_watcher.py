"""The deadline watcher records each missed deadline once, at 24:00 Asia/Shanghai of its date, by itself."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from uuid import UUID

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from api.deadlines import record_due_misses
from api.demo import World
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.timerules import business_date, deadline_end
from projections.hazard.rows import HazardLedger
from projections.notifications import NotificationView

pytestmark = pytest.mark.usefixtures("rectify_without_photo")  # rectified through the application: no photo


def assigned_hazard(app: SafetyApplication, world: World, *, days_ago: int, deadline: date) -> UUID:
    """A hazard at 红梅实验小学 assigned ``days_ago`` with ``deadline``."""
    start = timezone.now() - timedelta(days=days_ago)
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,
        school=world.units["hongmei_school"],  # type: ignore[arg-type]
        description="楼道应急照明损坏",
        severity=Severity.GENERAL,
        occurred_at=start,
    ).id
    app.assign_hazard(
        hazard,
        actor=world.actor("hm_principal"),
        owner="hm_staff",
        owner_unit=world.units["hongmei_school"],
        deadline=deadline,
        occurred_at=start + timedelta(minutes=5),
    )
    return hazard


def misses(app: SafetyApplication, hazard: UUID) -> list[tuple[date, datetime, str]]:
    return [
        (e.deadline, e.occurred_at, e.actor)
        for e in app.hazard_events(hazard)  # type: ignore[attr-defined]
        if type(e).__name__ == "DeadlineMissed"
    ]


def today() -> date:
    return business_date(timezone.now())


def test_a_passed_deadline_is_recorded_once_at_the_end_of_its_day(app: SafetyApplication, world: World) -> None:
    deadline = today() - timedelta(days=3)
    hazard = assigned_hazard(app, world, days_ago=10, deadline=deadline)

    assert record_due_misses(app) == 1
    assert record_due_misses(app) == 0

    assert misses(app, hazard) == [(deadline, deadline_end(deadline), "system")]
    row = HazardLedger.objects.get(id=hazard)
    assert row.overdue is True and row.status == "assigned"


def test_a_deadline_still_running_is_not_recorded(app: SafetyApplication, world: World) -> None:
    hazard = assigned_hazard(app, world, days_ago=2, deadline=today())

    assert record_due_misses(app) == 0
    assert misses(app, hazard) == []
    # ... and it is, the moment the day has ended.
    assert record_due_misses(app, now=deadline_end(today()) + timedelta(seconds=1)) == 1


def test_after_downtime_every_deadline_that_passed_is_recorded_at_its_own_time(
    app: SafetyApplication, world: World
) -> None:
    deadlines = [today() - timedelta(days=d) for d in (1, 7, 20)]
    hazards = [assigned_hazard(app, world, days_ago=30, deadline=d) for d in deadlines]

    assert record_due_misses(app) == 3

    for hazard, deadline in zip(hazards, deadlines, strict=True):
        assert misses(app, hazard) == [(deadline, deadline_end(deadline), "system")]


@pytest.mark.django_db(transaction=True)  # the watchers' threads have their own database connections
def test_two_watchers_running_at_once_record_each_miss_once(app: SafetyApplication, world: World) -> None:
    hazards = [assigned_hazard(app, world, days_ago=15, deadline=today() - timedelta(days=d)) for d in range(1, 7)]
    barrier = threading.Barrier(2)

    def watch() -> None:
        barrier.wait()
        try:
            record_due_misses(app)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=watch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [len(misses(app, h)) for h in hazards] == [1] * 6


def test_an_extension_before_the_deadline_moves_it(app: SafetyApplication, world: World) -> None:
    old, new = today() - timedelta(days=5), today() + timedelta(days=5)
    hazard = assigned_hazard(app, world, days_ago=10, deadline=old)
    app.extend_deadline(
        hazard,
        actor=world.actor("tn_leader"),
        new_deadline=new,
        reason="等待材料",
        occurred_at=deadline_end(old) - timedelta(hours=2),
    )

    assert record_due_misses(app) == 0
    assert record_due_misses(app, now=deadline_end(new)) == 1
    assert [m[0] for m in misses(app, hazard)] == [new]


def test_a_rectification_before_the_deadline_cancels_it(app: SafetyApplication, world: World) -> None:
    deadline = today() - timedelta(days=2)
    hazard = assigned_hazard(app, world, days_ago=10, deadline=deadline)
    app.rectify_hazard(
        hazard,
        actor=world.actor("hm_staff"),
        note="已更换应急灯",
        occurred_at=deadline_end(deadline) - timedelta(hours=1),
    )

    assert record_due_misses(app) == 0
    assert misses(app, hazard) == []


def test_a_command_after_the_deadline_records_the_miss_first_in_time_order(
    app: SafetyApplication, world: World
) -> None:
    deadline = today() - timedelta(days=4)
    hazard = assigned_hazard(app, world, days_ago=10, deadline=deadline)
    app.rectify_hazard(
        hazard,
        actor=world.actor("hm_staff"),
        note="逾期后完成整改",
        occurred_at=deadline_end(deadline) + timedelta(days=1),
    )

    types = [type(e).__name__ for e in app.hazard_events(hazard)]
    assert types == ["Discovered", "Assigned", "DeadlineMissed", "Rectified"]
    assert misses(app, hazard) == [(deadline, deadline_end(deadline), "system")]
    assert record_due_misses(app) == 0


def test_watch_deadlines_once_processes_what_is_due_and_exits(
    app: SafetyApplication, world: World, capsys: object
) -> None:
    hazard = assigned_hazard(app, world, days_ago=10, deadline=today() - timedelta(days=1))

    call_command("watch_deadlines", "--once")

    assert len(misses(app, hazard)) == 1
    assert "recorded 1 missed deadline" in capsys.readouterr().out  # type: ignore[attr-defined]


def test_a_midnight_with_many_misses_projects_every_notice(app: SafetyApplication, world: World) -> None:
    # 20 misses in one catch-up batch make 60 notices (owner, 校长, district bureau): a few events, many rows
    deadline = today() - timedelta(days=1)
    hazards = [assigned_hazard(app, world, days_ago=5, deadline=deadline) for _ in range(20)]
    record_due_misses(app, now=deadline_end(deadline) - timedelta(seconds=1))  # before midnight: read models now

    assert record_due_misses(app) == 20

    notices = NotificationView.objects.filter(kind="deadline_missed")
    assert notices.count() == 60 and {n.hazard for n in notices} == set(hazards)
    assert HazardLedger.objects.filter(id__in=hazards, overdue=True).count() == 20
