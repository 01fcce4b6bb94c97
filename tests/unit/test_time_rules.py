"""Business time (occurred_at), the Asia/Shanghai deadline day, and dates surviving the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from domain.application import SafetyApplication
from domain.errors import OccurredAtNotAware, OccurredInFuture, OccurredOutOfOrder
from domain.timerules import BUSINESS_TZ, business_date, check_occurred_at, deadline_end

if TYPE_CHECKING:
    from conftest import World

NOW = datetime(2026, 7, 10, 10, 0, tzinfo=BUSINESS_TZ)


# --- the rules themselves ---------------------------------------------------------------------------


def test_naive_occurred_at_is_refused() -> None:
    with pytest.raises(OccurredAtNotAware) as caught:
        check_occurred_at(datetime(2026, 7, 10, 10, 0), now=NOW)

    assert caught.value.code == "occurred_at_naive"


@pytest.mark.parametrize("ahead", [timedelta(0), timedelta(minutes=4), timedelta(minutes=5)])
def test_occurred_at_up_to_five_minutes_ahead_is_accepted(ahead: timedelta) -> None:
    check_occurred_at(NOW + ahead, now=NOW)


def test_occurred_at_more_than_five_minutes_ahead_is_refused() -> None:
    with pytest.raises(OccurredInFuture) as caught:
        check_occurred_at(NOW + timedelta(minutes=5, microseconds=1), now=NOW)

    assert caught.value.code == "occurred_in_future"


def test_occurred_at_before_the_latest_event_is_refused() -> None:
    with pytest.raises(OccurredOutOfOrder) as caught:
        check_occurred_at(NOW - timedelta(seconds=1), now=NOW, latest=NOW)

    assert caught.value.code == "occurred_out_of_order"


def test_occurred_at_equal_to_the_latest_event_is_accepted() -> None:
    check_occurred_at(NOW, now=NOW, latest=NOW)


def test_offsets_are_compared_as_instants() -> None:
    # 02:04 UTC is 10:04 in Shanghai: 4 minutes ahead, not 8 hours behind
    check_occurred_at(datetime(2026, 7, 10, 2, 4, tzinfo=UTC), now=NOW, latest=NOW)


def test_deadline_ends_at_midnight_after_its_date_in_shanghai() -> None:
    end = deadline_end(date(2026, 7, 20))

    assert end == datetime(2026, 7, 21, 0, 0, tzinfo=BUSINESS_TZ)
    assert end == datetime(2026, 7, 20, 16, 0, tzinfo=UTC)
    assert end.tzinfo is BUSINESS_TZ


def test_deadline_end_crosses_month_and_year_ends() -> None:
    assert deadline_end(date(2026, 7, 31)) == datetime(2026, 8, 1, tzinfo=BUSINESS_TZ)
    assert deadline_end(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=BUSINESS_TZ)


def test_business_date_is_the_calendar_date_in_shanghai() -> None:
    assert business_date(datetime(2026, 7, 20, 15, 59, tzinfo=UTC)) == date(2026, 7, 20)
    assert business_date(datetime(2026, 7, 20, 16, 0, tzinfo=UTC)) == date(2026, 7, 21)
    assert business_date(datetime.combine(date(2026, 7, 20), time(23, 59), tzinfo=BUSINESS_TZ)) == date(2026, 7, 20)


# --- the rules applied by the application --------------------------------------------------------------


def test_command_without_occurred_at_happens_at_the_clocks_now(world: World) -> None:
    hazard = world.discover()

    [discovered] = world.app.hazard_events(hazard.id)
    assert discovered.occurred_at == world.clock.now  # type: ignore[attr-defined]


def test_discovery_with_a_naive_occurred_at_is_refused(world: World) -> None:
    with world.refused(OccurredAtNotAware, "occurred_at_naive"):
        world.discover(occurred_at=datetime(2026, 7, 10, 9, 0))


def test_hazard_command_with_a_naive_occurred_at_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(OccurredAtNotAware, "occurred_at_naive", hazard=hazard_id):
        world.app.report_progress(
            hazard_id, actor=world.staff, note="进度", percent=10, occurred_at=datetime(2026, 7, 10, 11, 0)
        )


def test_discovery_more_than_five_minutes_in_the_future_is_refused(world: World) -> None:
    with world.refused(OccurredInFuture, "occurred_in_future"):
        world.discover(occurred_at=world.clock.now + timedelta(minutes=5, seconds=1))


def test_discovery_four_minutes_in_the_future_is_accepted(world: World) -> None:
    hazard = world.discover(occurred_at=world.clock.now + timedelta(minutes=4))

    assert world.app.get_hazard(hazard.id).discovered_at == world.clock.now + timedelta(minutes=4)


def test_hazard_command_more_than_five_minutes_in_the_future_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(OccurredInFuture, "occurred_in_future", hazard=hazard_id):
        world.app.rectify_hazard(
            hazard_id, actor=world.staff, note="已整改", occurred_at=world.clock.now + timedelta(minutes=6)
        )


def test_hazard_command_earlier_than_the_hazards_latest_event_is_refused(world: World) -> None:
    hazard_id = world.assigned()  # both events at the clock's now
    world.clock.advance(timedelta(hours=2))

    with world.refused(OccurredOutOfOrder, "occurred_out_of_order", hazard=hazard_id):
        world.app.report_progress(
            hazard_id, actor=world.staff, note="补录", percent=10, occurred_at=world.clock.now - timedelta(hours=3)
        )


def test_hazard_command_at_the_same_instant_as_the_latest_event_is_accepted(world: World) -> None:
    hazard_id = world.assigned()
    latest = world.app.get_hazard(hazard_id).last_occurred_at
    world.clock.advance(timedelta(hours=2))

    world.app.report_progress(hazard_id, actor=world.staff, note="补录", percent=10, occurred_at=latest)

    assert world.app.get_hazard(hazard_id).last_occurred_at == latest


def test_backdated_commands_are_accepted_when_in_order(world: World) -> None:
    # a hazard found yesterday and assigned an hour later is recorded today with its business times
    found = datetime(2026, 7, 9, 15, 0, tzinfo=BUSINESS_TZ)
    hazard = world.discover(occurred_at=found)

    world.app.assign_hazard(
        hazard.id,
        actor=world.principal,
        owner=world.staff.username,
        owner_unit=world.school,
        deadline=date(2026, 7, 9),
        occurred_at=found + timedelta(hours=1),
    )

    assigned = world.app.get_hazard(hazard.id)
    assert (assigned.deadline, assigned.last_occurred_at) == (date(2026, 7, 9), found + timedelta(hours=1))


def test_the_staff_clock_rules_apply_to_the_directory_too(world: World) -> None:
    staff = world.app.get_staff("staff2")
    world.clock.advance(timedelta(hours=1))

    with world.refused(OccurredOutOfOrder, "occurred_out_of_order", aggregate=staff.id):
        world.app.deactivate_staff(
            actor=world.admin, username="staff2", occurred_at=world.clock.now - timedelta(hours=2)
        )


# --- dates survive the store ---------------------------------------------------------------------------


def test_a_deadline_date_round_trips_through_a_stored_event(
    tmp_path: Path, make_world: Callable[..., World], make_app: Callable[..., SafetyApplication]
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "e.db")}
    world = make_world(env)
    hazard_id = world.assigned(deadline=date(2026, 7, 20))

    reopened_store = make_app(env)
    hazard = reopened_store.get_hazard(hazard_id)

    assert type(hazard.deadline) is date
    assert hazard.deadline == date(2026, 7, 20)
    assert type(reopened_store.hazard_events(hazard_id)[1].deadline) is date  # type: ignore[attr-defined]
    campaign = reopened_store.get_campaign(world.campaign)
    assert (campaign.statistics_cutoff, campaign.report_deadline) == (date(2026, 7, 31), date(2026, 8, 7))
    assert type(campaign.phases[0]["end"]) is date
    assert hazard.discovered_at == world.clock.now
