"""A hazard's life from discovery to 销号 and reopening, its history and its concurrency guard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

from domain.errors import HazardNotFound, OnSpotRequiresGeneral, VersionConflict
from domain.hazard.aggregate import Hazard, Severity, Status
from domain.timerules import BUSINESS_TZ

if TYPE_CHECKING:
    from conftest import World


def test_full_lifecycle_moves_through_every_status_and_records_one_event_per_step(world: World) -> None:
    app = world.app
    statuses = []

    # given a hazard discovered by a teacher
    hazard = world.discover()
    statuses.append(hazard.status)

    # when it is worked through to 销号 (with one rejected 验收) and then reopened
    steps: list[Callable[[], object]] = [
        lambda: app.assign_hazard(
            hazard.id,
            actor=world.principal,
            owner=world.staff.username,
            owner_unit=world.school,
            deadline=date(2026, 7, 20),
            standard="通道畅通",
        ),
        lambda: app.transfer_hazard(
            hazard.id, actor=world.principal, owner=world.staff2.username, owner_unit=world.school, reason="分工调整"
        ),
        lambda: app.record_plan(
            hazard.id,
            actor=world.staff2,
            measures="清理杂物、设置禁停标识",
            funds="500元",
            deadline=date(2026, 7, 18),
            contingency="安排专人值守",
        ),
        lambda: app.record_interim_measures(hazard.id, actor=world.staff2, measures="设置警示带"),
        lambda: app.report_progress(hazard.id, actor=world.staff2, note="已清理一半", percent=50),
        lambda: app.rectify_hazard(hazard.id, actor=world.staff2, note="杂物已清理", evidence=["after.jpg"]),
        lambda: app.verify_hazard(hazard.id, actor=world.principal, accepted=False, note="标识未设置"),
        lambda: app.rectify_hazard(hazard.id, actor=world.staff2, note="标识已设置"),
        lambda: app.verify_hazard(hazard.id, actor=world.principal, accepted=True, note="验收合格"),
        lambda: app.reopen_hazard(hazard.id, actor=world.inspector, reason="复查发现再次堵塞"),
    ]
    for step in steps:
        world.clock.advance(timedelta(hours=1))
        step()
        statuses.append(app.get_hazard(hazard.id).status)

    # then each step left the status the rules give, and the log tells the story in order
    assert statuses == [
        Status.REPORTED,
        Status.ASSIGNED,
        Status.ASSIGNED,
        Status.ASSIGNED,
        Status.ASSIGNED,
        Status.ASSIGNED,
        Status.RECTIFIED,
        Status.ASSIGNED,
        Status.RECTIFIED,
        Status.CLOSED,
        Status.ASSIGNED,
    ]
    assert world.event_names(hazard.id) == [
        "Discovered",
        "Assigned",
        "Transferred",
        "PlanRecorded",
        "InterimMeasuresRecorded",
        "ProgressReported",
        "Rectified",
        "Rejected",
        "Rectified",
        "Verified",
        "Reopened",
    ]
    actors = ["staff", "principal", "principal", *["staff2"] * 4, "principal", "staff2", "principal", "inspector"]
    hourly = [datetime(2026, 7, 10, 10 + hour, 0, tzinfo=BUSINESS_TZ) for hour in range(11)]
    assert [(e.actor, e.occurred_at) for e in app.hazard_events(hazard.id)] == list(  # type: ignore[attr-defined]
        zip(actors, hourly, strict=True)
    )


def test_every_event_records_its_actor_and_business_time(world: World) -> None:
    app = world.app
    hazard = world.discover()
    world.clock.advance(timedelta(hours=1))
    app.assign_hazard(
        hazard.id,
        actor=world.principal,
        owner=world.staff.username,
        owner_unit=world.school,
        deadline=date(2026, 7, 20),
    )
    world.clock.advance(timedelta(hours=1))
    app.rectify_hazard(hazard.id, actor=world.staff, note="已整改")
    world.clock.advance(timedelta(hours=1))
    app.verify_hazard(hazard.id, actor=world.inspector, accepted=True)

    events = app.hazard_events(hazard.id)

    start = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)
    assert [(e.actor, e.occurred_at) for e in events] == [  # type: ignore[attr-defined]
        ("staff", start),
        ("principal", start + timedelta(hours=1)),
        ("staff", start + timedelta(hours=2)),
        ("inspector", start + timedelta(hours=3)),
    ]


def test_a_past_occurred_at_is_business_time_while_timestamp_is_record_time(world: World) -> None:
    yesterday = datetime(2026, 7, 9, 16, 30, tzinfo=world.clock.now.tzinfo)

    command_began = datetime.now(UTC)
    hazard = world.discover(occurred_at=yesterday)
    command_ended = datetime.now(UTC)

    [discovered] = world.app.hazard_events(hazard.id)
    assert discovered.occurred_at == yesterday  # type: ignore[attr-defined]
    assert world.app.get_hazard(hazard.id).discovered_at == yesterday
    assert discovered.timestamp != discovered.occurred_at  # type: ignore[attr-defined]
    assert command_began <= discovered.timestamp <= command_ended


def test_general_hazard_rectified_on_the_spot_is_closed_at_once(world: World) -> None:
    # 立行立改: recorded and closed in one event
    hazard = world.discover(rectified_on_spot=True, description="灭火器过期，已当场更换")

    reloaded = world.app.get_hazard(hazard.id)
    assert reloaded.status is Status.CLOSED
    assert reloaded.closed_at == world.clock.now
    assert reloaded.rectified_on_spot is True
    assert world.event_names(hazard.id) == ["Discovered"]


def test_major_hazard_cannot_be_rectified_on_the_spot(world: World) -> None:
    with world.refused(OnSpotRequiresGeneral, "on_spot_requires_general"):
        world.discover(severity=Severity.MAJOR, rectified_on_spot=True)


def test_reopening_a_hazard_closed_on_the_spot_returns_it_to_reported(world: World) -> None:
    hazard = world.discover(rectified_on_spot=True)

    world.app.reopen_hazard(hazard.id, actor=world.leader, reason="复查发现仍有隐患")

    reloaded = world.app.get_hazard(hazard.id)
    assert reloaded.status is Status.REPORTED
    assert reloaded.closed_at is None


def test_verified_hazard_records_its_verifier_and_closing_time(world: World) -> None:
    hazard_id = world.rectified()
    world.clock.advance(timedelta(days=1))

    world.app.verify_hazard(hazard_id, actor=world.principal, accepted=True)

    closed = world.app.get_hazard(hazard_id)
    assert closed.verified_by == "principal"
    assert closed.closed_at == world.clock.now
    assert closed.progress_percent == 100


def test_reopened_hazard_is_back_with_its_owner_and_no_closing_time(world: World) -> None:
    hazard_id = world.closed()

    world.app.reopen_hazard(hazard_id, actor=world.inspector, reason="复发")

    reopened = world.app.get_hazard(hazard_id)
    assert (reopened.status, reopened.owner, reopened.closed_at) == (Status.ASSIGNED, "staff", None)
    assert reopened.rectified_by is None
    assert reopened.progress_percent == 0


def test_past_states_are_read_by_version(world: World) -> None:
    hazard_id = world.rectified()

    assert world.app.get_hazard(hazard_id, version=1).status is Status.REPORTED
    assert world.app.get_hazard(hazard_id, version=2).status is Status.ASSIGNED
    assert world.app.get_hazard(hazard_id, version=3).status is Status.RECTIFIED
    assert world.app.get_hazard(hazard_id).version == 3


def test_past_states_are_read_known_at_a_record_time(world: World) -> None:
    hazard_id = world.rectified()
    discovered, assigned, rectified = world.app.hazard_events(hazard_id)

    assert world.app.get_hazard(hazard_id, known_at=discovered.timestamp).status is Status.REPORTED
    assert world.app.get_hazard(hazard_id, known_at=assigned.timestamp).status is Status.ASSIGNED
    between = assigned.timestamp + (rectified.timestamp - assigned.timestamp) / 2
    assert world.app.get_hazard(hazard_id, known_at=between).version == 2
    assert world.app.get_hazard(hazard_id, known_at=rectified.timestamp).status is Status.RECTIFIED


def test_known_at_before_discovery_is_not_found(world: World) -> None:
    hazard = world.discover()
    [discovered] = world.app.hazard_events(hazard.id)

    with world.refused(HazardNotFound, "hazard_not_found", hazard=hazard.id):
        world.app.get_hazard(hazard.id, known_at=discovered.timestamp - timedelta(microseconds=1))


def test_unknown_hazard_id_is_not_found_for_reads_and_commands(world: World) -> None:
    unknown = uuid4()

    with world.refused(HazardNotFound, "hazard_not_found"):
        world.app.get_hazard(unknown)
    with world.refused(HazardNotFound, "hazard_not_found"):
        world.app.hazard_events(unknown)
    with world.refused(HazardNotFound, "hazard_not_found"):
        world.app.rectify_hazard(unknown, actor=world.principal, note="已整改")


def test_another_aggregates_id_is_not_a_hazard(world: World) -> None:
    with world.refused(HazardNotFound, "hazard_not_found"):
        world.app.get_hazard(world.school)
    with world.refused(HazardNotFound, "hazard_not_found"):
        world.app.hazard_events(world.campaign)


def test_command_with_a_stale_expected_version_is_refused(world: World) -> None:
    hazard_id = world.assigned()  # version 2

    with world.refused(VersionConflict, "version_conflict", hazard=hazard_id):
        world.app.report_progress(hazard_id, actor=world.staff, note="进行中", percent=30, expected_version=1)


def test_command_with_the_current_expected_version_is_accepted(world: World) -> None:
    hazard_id = world.assigned()

    hazard = world.app.report_progress(hazard_id, actor=world.staff, note="进行中", percent=30, expected_version=2)

    assert hazard.version == 3


def test_two_concurrent_changes_to_one_hazard_keep_exactly_one(world: World) -> None:
    app = world.app
    hazard_id = world.assigned()
    before = len(app.hazard_events(hazard_id))

    # given two copies of the same hazard loaded by two requests
    first: Hazard = app.repository.get(hazard_id)
    second: Hazard = app.repository.get(hazard_id)
    now = world.clock.now
    first.report_progress(note="第一位", percent=10, actor=world.staff, occurred_at=now)
    second.report_progress(note="第二位", percent=20, actor=world.principal, occurred_at=now)

    # when both are saved, the second save loses
    app._save(first)
    with world.refused(VersionConflict, "version_conflict", hazard=hazard_id):
        app._save(second)

    # then the log holds the first change only
    events = app.hazard_events(hazard_id)
    assert len(events) == before + 1
    assert [(type(e).__name__, e.percent, e.actor) for e in events[before:]] == [  # type: ignore[attr-defined]
        ("ProgressReported", 10, "staff")
    ]
    assert app.get_hazard(hazard_id).progress_percent == 10
