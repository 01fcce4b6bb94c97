"""A deadline that has passed is a fact in the log: recorded once, at 24:00 of its date, before later events."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from domain.timerules import deadline_end

if TYPE_CHECKING:
    from conftest import World

DEADLINE = date(2026, 7, 20)  # the deadline World.assigned() gives


def types(world: World, hazard: object) -> list[str]:
    return [type(e).__name__ for e in world.app.hazard_events(hazard)]  # type: ignore[arg-type]


def test_given_a_deadline_passed_when_the_owner_reports_progress_then_the_miss_is_recorded_first(world: World) -> None:
    hazard = world.assigned()
    world.clock.now = deadline_end(DEADLINE) + timedelta(days=2)

    world.app.report_progress(hazard, actor=world.staff, note="材料已到", percent=60)

    assert types(world, hazard)[-2:] == ["DeadlineMissed", "ProgressReported"]
    missed = world.app.hazard_events(hazard)[-2]
    assert (missed.deadline, missed.occurred_at, missed.actor) == (DEADLINE, deadline_end(DEADLINE), "system")  # type: ignore[attr-defined]
    assert world.app.get_hazard(hazard).overdue is True


def test_given_a_deadline_not_yet_passed_when_progress_is_reported_then_no_miss_is_recorded(world: World) -> None:
    hazard = world.assigned()
    world.clock.now = deadline_end(DEADLINE) - timedelta(minutes=1)

    world.app.report_progress(hazard, actor=world.staff, note="进行中", percent=30)

    assert "DeadlineMissed" not in types(world, hazard)


def test_given_a_refused_command_after_the_deadline_then_nothing_at_all_is_recorded(world: World) -> None:
    hazard = world.assigned()
    world.clock.now = deadline_end(DEADLINE) + timedelta(days=1)
    before = types(world, hazard)

    try:
        world.app.report_progress(hazard, actor=world.staff2, note="不是责任人", percent=10)
    except Exception as refusal:  # noqa: BLE001 — any refusal; the point is what was recorded
        assert getattr(refusal, "code", "") == "not_current_owner"

    assert types(world, hazard) == before


def test_the_watchers_command_records_a_due_miss_once_and_reports_nothing_due_after(world: World) -> None:
    hazard = world.assigned()
    later = deadline_end(DEADLINE) + timedelta(hours=3)

    assert world.app.record_due_deadline_miss(hazard, now=deadline_end(DEADLINE) - timedelta(seconds=1)) is None
    assert world.app.record_due_deadline_miss(hazard, now=later) is not None
    assert world.app.record_due_deadline_miss(hazard, now=later) is None
    assert types(world, hazard).count("DeadlineMissed") == 1


def test_a_rectified_hazard_has_no_due_deadline(world: World) -> None:
    hazard = world.assigned()
    world.app.rectify_hazard(hazard, actor=world.staff, note="已整改")

    assert world.app.record_due_deadline_miss(hazard, now=deadline_end(DEADLINE) + timedelta(days=9)) is None
