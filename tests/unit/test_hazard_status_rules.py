"""The hazard's status rules (domain/hazard/status.py) name only events the hazard records, and say what a reopen
gives with and without an owner."""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from domain.hazard.aggregate import Hazard
from domain.hazard.status import (
    DONE_STATUSES,
    NOT_CLOSED_STATUSES,
    OPEN_STATUSES,
    STATUS_SET_BY,
    Status,
    next_status,
)

HAZARD_EVENTS = {
    name for name, value in vars(Hazard).items() if isinstance(value, type) and issubclass(value, Aggregate.Event)
}


def test_the_rules_name_only_events_a_hazard_records() -> None:
    # given the event classes of the hazard aggregate
    # then every event the rules give a status to is one of them (a renamed event cannot silently keep its status)
    assert {"Discovered", "Assigned", "Reopened", "Voided"} <= HAZARD_EVENTS
    assert set(STATUS_SET_BY) | {"Reopened"} <= HAZARD_EVENTS


def test_a_reopened_hazard_goes_back_to_its_owner_or_waits_to_be_assigned() -> None:
    # given a closed hazard, once with an owner and once rectified on the spot with none
    # when it is reopened
    # then it is being worked on by its owner again, or waits for an owner
    assert next_status(Status.CLOSED, "Reopened", owner="hm_staff") is Status.ASSIGNED
    assert next_status(Status.CLOSED, "Reopened", owner=None) is Status.REPORTED
    assert next_status("closed", "Reopened", owner="") is Status.REPORTED


def test_events_that_do_not_move_the_status_keep_it() -> None:
    for kind in sorted(HAZARD_EVENTS - set(STATUS_SET_BY) - {"Discovered", "Reopened"}):
        for status in Status:
            assert next_status(status, kind, owner="hm_staff") is status


def test_open_and_done_split_the_statuses_and_only_closed_is_closed() -> None:
    assert OPEN_STATUSES | DONE_STATUSES == set(Status)
    assert not OPEN_STATUSES & DONE_STATUSES
    assert set(Status) - NOT_CLOSED_STATUSES == {Status.CLOSED}
