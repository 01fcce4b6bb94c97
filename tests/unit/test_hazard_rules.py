"""Every hazard rule and every refusal: exact error, stable code, and nothing recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    AlreadySupervised,
    CampaignNotFound,
    DeadlineAlreadyMissed,
    DeadlineInPast,
    DeadlineNotLater,
    InvalidEscalationTarget,
    InvalidTransition,
    InvalidValue,
    MajorRequiresBureau,
    NotASchool,
    NotCurrentOwner,
    NotPermitted,
    ReadOnlyRole,
    SchoolNotInCampaign,
    SeparationOfDuties,
    UnknownChecklistItem,
)
from domain.hazard.aggregate import Severity, Status
from domain.inspection.aggregate import InspectionKind
from domain.policy import SYSTEM_ACTOR, Actor, Role
from domain.timerules import BUSINESS_TZ, deadline_end

if TYPE_CHECKING:
    from conftest import World

DEADLINE = date(2026, 7, 20)  # the deadline World.assigned() gives


# --- a table of every write on an existing hazard, in a state where it would be accepted ---------------


@dataclass(frozen=True)
class Command:
    state: str  # "reported" | "assigned" | "rectified" | "major_rectified" | "closed"
    permitted: str  # the World attribute of a user allowed to run it
    run: Callable[[World, UUID, Actor], object]


def _hazard_in(world: World, state: str) -> UUID:
    if state == "reported":
        return world.discover().id
    if state == "assigned":
        return world.assigned()
    if state == "rectified":
        return world.rectified()
    if state == "major_rectified":
        return world.rectified(severity=Severity.MAJOR)
    assert state == "closed", state
    return world.closed()


COMMANDS: dict[str, Command] = {
    "assign": Command(
        "reported",
        "principal",
        lambda w, h, a: w.app.assign_hazard(
            h, actor=a, owner=w.staff2.username, owner_unit=w.school, deadline=date(2026, 7, 25)
        ),
    ),
    "transfer": Command(
        "assigned",
        "principal",
        lambda w, h, a: w.app.transfer_hazard(
            h, actor=a, owner=w.staff2.username, owner_unit=w.school, reason="分工调整"
        ),
    ),
    "plan": Command(
        "assigned",
        "staff",
        lambda w, h, a: w.app.record_plan(
            h, actor=a, measures="清理杂物", funds="300元", deadline=date(2026, 7, 18), contingency="专人值守"
        ),
    ),
    "interim_measures": Command(
        "assigned", "staff", lambda w, h, a: w.app.record_interim_measures(h, actor=a, measures="设置警示带")
    ),
    "progress": Command(
        "assigned", "staff", lambda w, h, a: w.app.report_progress(h, actor=a, note="已完成一半", percent=50)
    ),
    "extend_deadline": Command(
        "assigned",
        "inspector",
        lambda w, h, a: w.app.extend_deadline(h, actor=a, new_deadline=date(2026, 8, 1), reason="需采购设备"),
    ),
    "escalate": Command(
        "assigned", "principal", lambda w, h, a: w.app.escalate_hazard(h, actor=a, to_unit=w.bureau, reason="无力整改")
    ),
    "supervise": Command("assigned", "leader", lambda w, h, a: w.app.supervise_hazard(h, actor=a, note="挂牌督办")),
    "rectify": Command("assigned", "staff", lambda w, h, a: w.app.rectify_hazard(h, actor=a, note="已整改")),
    "verify": Command(
        "rectified", "inspector", lambda w, h, a: w.app.verify_hazard(h, actor=a, accepted=True, note="合格")
    ),
    "verify_major": Command(
        "major_rectified", "inspector", lambda w, h, a: w.app.verify_hazard(h, actor=a, accepted=True, note="合格")
    ),
    "reopen": Command("closed", "inspector", lambda w, h, a: w.app.reopen_hazard(h, actor=a, reason="复发")),
}


def _actor(world: World, name: str) -> Actor:
    actor: Actor = getattr(world, name)
    return actor


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_is_accepted_from_its_table_state_by_a_permitted_user(world: World, name: str) -> None:
    # guards the tables below: each refusal there is the rule under test, not a badly built case
    command = COMMANDS[name]
    hazard_id = _hazard_in(world, command.state)
    version = world.app.get_hazard(hazard_id).version

    command.run(world, hazard_id, _actor(world, command.permitted))

    assert world.app.get_hazard(hazard_id).version == version + 1


# --- 验收 (verify) ----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["reported", "assigned"])
def test_verify_before_rectification_is_refused(world: World, state: str) -> None:
    hazard_id = _hazard_in(world, state)

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        world.app.verify_hazard(hazard_id, actor=world.inspector, accepted=True)


@pytest.mark.parametrize("accepted", [True, False])
def test_verifier_who_recorded_the_rectification_is_refused(world: World, accepted: bool) -> None:
    hazard_id = world.rectified(by=world.principal)

    with world.refused(SeparationOfDuties, "separation_of_duties", hazard=hazard_id):
        world.app.verify_hazard(hazard_id, actor=world.principal, accepted=accepted, note="自己验收")


def test_separation_of_duties_follows_the_latest_rectification(world: World) -> None:
    # the principal rectified first, was rejected, then the owner rectified again: the principal may verify now
    hazard_id = world.rectified(by=world.principal)
    world.app.verify_hazard(hazard_id, actor=world.inspector, accepted=False, note="不合格")
    world.app.rectify_hazard(hazard_id, actor=world.staff, note="重新整改")

    world.app.verify_hazard(hazard_id, actor=world.principal, accepted=True)

    assert world.app.get_hazard(hazard_id).status is Status.CLOSED


def test_major_hazard_verified_by_the_principal_is_refused(world: World) -> None:
    hazard_id = world.rectified(severity=Severity.MAJOR)

    with world.refused(MajorRequiresBureau, "major_requires_bureau", hazard=hazard_id):
        world.app.verify_hazard(hazard_id, actor=world.principal, accepted=True)


@pytest.mark.parametrize("verifier", ["staff2", "officer", "chief"])
def test_major_hazard_verified_by_roles_that_verify_nothing_is_refused_for_their_role(
    world: World, verifier: str
) -> None:
    hazard_id = world.rectified(severity=Severity.MAJOR)

    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard_id):
        world.app.verify_hazard(hazard_id, actor=_actor(world, verifier), accepted=True)


@pytest.mark.parametrize("verifier", ["inspector", "leader", "police"])
def test_major_hazard_is_closed_by_a_bureau_verifier(world: World, verifier: str) -> None:
    hazard_id = world.rectified(severity=Severity.MAJOR)

    world.app.verify_hazard(hazard_id, actor=_actor(world, verifier), accepted=True)

    closed = world.app.get_hazard(hazard_id)
    assert (closed.status, closed.verified_by) == (Status.CLOSED, verifier)


@pytest.mark.parametrize("verifier", ["staff2", "officer", "chief"])
def test_general_hazard_verified_by_a_non_verifier_role_is_refused(world: World, verifier: str) -> None:
    hazard_id = world.rectified()

    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard_id):
        world.app.verify_hazard(hazard_id, actor=_actor(world, verifier), accepted=True)


@pytest.mark.parametrize("note", ["", "   "])
def test_rejection_without_a_note_is_refused(world: World, note: str) -> None:
    hazard_id = world.rectified()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.verify_hazard(hazard_id, actor=world.principal, accepted=False, note=note)


def test_rejected_hazard_goes_back_to_its_owner_for_rework(world: World) -> None:
    hazard_id = world.rectified()

    world.app.verify_hazard(hazard_id, actor=world.principal, accepted=False, note="标识未设置")

    rejected = world.app.get_hazard(hazard_id)
    assert (rejected.status, rejected.owner, rejected.rectified_by, rejected.closed_at) == (
        Status.ASSIGNED,
        "staff",
        None,
        None,
    )


# --- 销号: nothing but reopen on a closed hazard -----------------------------------------------------


CLOSED_REFUSALS = {name: command for name, command in COMMANDS.items() if name not in ("reopen", "verify_major")}


@pytest.mark.parametrize("name", sorted(CLOSED_REFUSALS))
def test_closed_hazard_refuses_every_command_but_reopen(world: World, name: str) -> None:
    hazard_id = world.closed()
    command = CLOSED_REFUSALS[name]

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        command.run(world, hazard_id, _actor(world, command.permitted))


def test_closed_hazard_refuses_a_deadline_missed(world: World) -> None:
    hazard_id = world.closed()
    world.clock.now = deadline_end(DEADLINE)

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        world.app.record_deadline_missed(hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=world.clock.now)


def test_closed_on_the_spot_hazard_refuses_work(world: World) -> None:
    hazard = world.discover(rectified_on_spot=True)

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard.id):
        world.app.assign_hazard(
            hazard.id, actor=world.principal, owner=world.staff.username, owner_unit=world.school, deadline=DEADLINE
        )


@pytest.mark.parametrize("state", ["reported", "assigned", "rectified"])
def test_reopen_is_refused_unless_closed(world: World, state: str) -> None:
    hazard_id = _hazard_in(world, state)

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        world.app.reopen_hazard(hazard_id, actor=world.inspector, reason="复查")


@pytest.mark.parametrize("who", ["principal", "staff", "chief"])
def test_reopen_by_a_non_bureau_role_is_refused(world: World, who: str) -> None:
    hazard_id = world.closed()

    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard_id):
        world.app.reopen_hazard(hazard_id, actor=_actor(world, who), reason="复查")


def test_reopen_without_a_reason_is_refused(world: World) -> None:
    hazard_id = world.closed()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.reopen_hazard(hazard_id, actor=world.inspector, reason=" ")


# --- deadlines (整改时限) and 挂牌督办: bureau roles only ----------------------------------------------


@pytest.mark.parametrize("who", ["principal", "staff", "officer", "chief"])
def test_extending_a_deadline_by_a_non_bureau_role_is_refused(world: World, who: str) -> None:
    hazard_id = world.assigned()

    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard_id):
        world.app.extend_deadline(hazard_id, actor=_actor(world, who), new_deadline=date(2026, 8, 1), reason="延期")


@pytest.mark.parametrize("who", ["principal", "staff", "officer", "chief"])
def test_supervising_by_a_non_bureau_role_is_refused(world: World, who: str) -> None:
    hazard_id = world.assigned()

    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard_id):
        world.app.supervise_hazard(hazard_id, actor=_actor(world, who), note="督办")


@pytest.mark.parametrize("who", ["inspector", "leader", "police"])
def test_bureau_roles_extend_a_deadline(world: World, who: str) -> None:
    hazard_id = world.assigned()

    world.app.extend_deadline(hazard_id, actor=_actor(world, who), new_deadline=date(2026, 8, 1), reason="需采购设备")

    assert world.app.get_hazard(hazard_id).deadline == date(2026, 8, 1)
    [extended] = world.app.hazard_events(hazard_id)[-1:]
    assert (extended.previous_deadline, extended.new_deadline) == (DEADLINE, date(2026, 8, 1))  # type: ignore[attr-defined]


@pytest.mark.parametrize("new_deadline", [DEADLINE, DEADLINE - timedelta(days=1)])
def test_extension_to_a_date_not_later_is_refused(world: World, new_deadline: date) -> None:
    hazard_id = world.assigned()

    with world.refused(DeadlineNotLater, "deadline_not_later", hazard=hazard_id):
        world.app.extend_deadline(hazard_id, actor=world.inspector, new_deadline=new_deadline, reason="延期")


def test_extension_without_a_reason_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.extend_deadline(hazard_id, actor=world.inspector, new_deadline=date(2026, 8, 1), reason="")


def test_extension_before_any_deadline_was_set_is_refused(world: World) -> None:
    hazard = world.discover()

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard.id):
        world.app.extend_deadline(hazard.id, actor=world.inspector, new_deadline=date(2026, 8, 1), reason="延期")


def test_supervising_records_the_supervising_unit(world: World) -> None:
    hazard_id = world.assigned()

    world.app.supervise_hazard(hazard_id, actor=world.leader, note="挂牌督办")

    supervised = world.app.get_hazard(hazard_id)
    assert (supervised.supervised, supervised.supervised_by) == (True, world.bureau)


def test_supervising_twice_is_refused(world: World) -> None:
    hazard_id = world.assigned()
    world.app.supervise_hazard(hazard_id, actor=world.leader, note="挂牌督办")

    with world.refused(AlreadySupervised, "already_supervised", hazard=hazard_id):
        world.app.supervise_hazard(hazard_id, actor=world.police, note="再次督办")


# --- deadline missed: a fact recorded by the system ------------------------------------------------


def _past_deadline(world: World) -> datetime:
    world.clock.now = deadline_end(DEADLINE) + timedelta(minutes=1)
    return world.clock.now


def test_deadline_missed_is_recorded_by_the_system_with_the_owner_then(world: World) -> None:
    hazard_id = world.assigned()

    world.app.record_deadline_missed(
        hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=_past_deadline(world)
    )

    [missed] = world.app.hazard_events(hazard_id)[-1:]
    assert (type(missed).__name__, missed.deadline, missed.owner, missed.actor) == (  # type: ignore[attr-defined]
        "DeadlineMissed",
        DEADLINE,
        "staff",
        "system",
    )


@pytest.mark.parametrize("who", ["principal", "leader", "inspector", "police", "auditor"])
def test_deadline_missed_by_anyone_but_the_system_is_refused(world: World, who: str) -> None:
    hazard_id = world.assigned()
    when = _past_deadline(world)

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        world.app.record_deadline_missed(hazard_id, actor=_actor(world, who), deadline=DEADLINE, occurred_at=when)


def test_deadline_missed_for_a_deadline_that_is_not_current_is_refused(world: World) -> None:
    hazard_id = world.assigned()
    world.app.extend_deadline(hazard_id, actor=world.inspector, new_deadline=date(2026, 8, 1), reason="延期")
    when = _past_deadline(world)

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        world.app.record_deadline_missed(hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=when)


def test_deadline_missed_twice_is_refused(world: World) -> None:
    hazard_id = world.assigned()
    when = _past_deadline(world)
    world.app.record_deadline_missed(hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=when)

    with world.refused(DeadlineAlreadyMissed, "deadline_already_missed", hazard=hazard_id):
        world.app.record_deadline_missed(hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=when)


def test_deadline_missed_on_a_rectified_hazard_is_refused(world: World) -> None:
    hazard_id = world.rectified()
    when = _past_deadline(world)

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        world.app.record_deadline_missed(hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=when)


def test_deadline_missed_before_the_deadline_has_ended_is_refused(world: World) -> None:
    hazard_id = world.assigned()
    world.clock.now = datetime(2026, 7, 20, 23, 0, tzinfo=BUSINESS_TZ)  # the deadline ends at 24:00

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        world.app.record_deadline_missed(hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=world.clock.now)


def test_a_passed_deadline_is_not_overdue_until_the_miss_is_recorded(world: World) -> None:
    hazard_id = world.assigned()
    _past_deadline(world)

    assert world.app.get_hazard(hazard_id).overdue is False


def test_hazard_is_overdue_after_its_deadline_was_missed(world: World) -> None:
    hazard_id = world.assigned()

    world.app.record_deadline_missed(
        hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=_past_deadline(world)
    )

    assert world.app.get_hazard(hazard_id).overdue is True


def test_hazard_is_no_longer_overdue_after_its_deadline_is_extended(world: World) -> None:
    hazard_id = world.assigned()
    world.app.record_deadline_missed(
        hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=_past_deadline(world)
    )

    world.app.extend_deadline(hazard_id, actor=world.inspector, new_deadline=date(2026, 8, 1), reason="延期")

    assert world.app.get_hazard(hazard_id).overdue is False


def test_hazard_is_no_longer_overdue_after_it_is_rectified(world: World) -> None:
    hazard_id = world.assigned()
    world.app.record_deadline_missed(
        hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=_past_deadline(world)
    )

    world.app.rectify_hazard(hazard_id, actor=world.staff, note="已整改")

    assert world.app.get_hazard(hazard_id).overdue is False


def test_extended_deadline_may_be_missed_in_its_turn(world: World) -> None:
    hazard_id = world.assigned()
    world.app.record_deadline_missed(
        hazard_id, actor=SYSTEM_ACTOR, deadline=DEADLINE, occurred_at=_past_deadline(world)
    )
    world.app.extend_deadline(hazard_id, actor=world.inspector, new_deadline=date(2026, 7, 25), reason="延期")
    world.clock.now = deadline_end(date(2026, 7, 25))

    world.app.record_deadline_missed(
        hazard_id, actor=SYSTEM_ACTOR, deadline=date(2026, 7, 25), occurred_at=world.clock.now
    )

    hazard = world.app.get_hazard(hazard_id)
    assert (hazard.missed_deadlines, hazard.overdue) == ([DEADLINE, date(2026, 7, 25)], True)


# --- assign and transfer ----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["assigned", "rectified"])
def test_assign_is_refused_unless_reported(world: World, state: str) -> None:
    hazard_id = _hazard_in(world, state)

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard_id):
        world.app.assign_hazard(
            hazard_id, actor=world.principal, owner=world.staff2.username, owner_unit=world.school, deadline=DEADLINE
        )


@pytest.mark.parametrize("who", ["staff", "officer", "chief"])
def test_assign_by_a_role_that_may_not_assign_is_refused(world: World, who: str) -> None:
    hazard = world.discover()

    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard.id):
        world.app.assign_hazard(
            hazard.id, actor=_actor(world, who), owner=world.staff.username, owner_unit=world.school, deadline=DEADLINE
        )


def test_assign_records_owner_unit_deadline_and_standard(world: World) -> None:
    hazard = world.discover()

    world.app.assign_hazard(
        hazard.id,
        actor=world.inspector,
        owner=world.principal.username,
        owner_unit=world.school,
        deadline=DEADLINE,
        standard="通道畅通",
    )

    assigned = world.app.get_hazard(hazard.id)
    assert (assigned.owner, assigned.owner_unit, assigned.deadline, assigned.standard) == (
        "principal",
        world.school,
        DEADLINE,
        "通道畅通",
    )


@pytest.mark.parametrize(
    ("owner", "unit"),
    [
        ("inspector", "school"),  # holds a role, but in the bureau
        ("staff", "bureau"),  # holds a role, but in the school
        ("nobody", "school"),  # no such user
    ],
)
def test_assign_to_an_owner_without_a_role_in_the_owner_unit_is_refused(world: World, owner: str, unit: str) -> None:
    hazard = world.discover()
    owner_unit: UUID = getattr(world, unit)

    with world.refused(InvalidValue, "invalid_value", hazard=hazard.id):
        world.app.assign_hazard(hazard.id, actor=world.principal, owner=owner, owner_unit=owner_unit, deadline=DEADLINE)


def test_assign_to_an_owner_who_has_left_is_refused(world: World) -> None:
    hazard = world.discover()
    world.app.deactivate_staff(
        actor=world.admin, username="staff2", effective_from=world.clock.now - timedelta(hours=1)
    )

    with world.refused(InvalidValue, "invalid_value", hazard=hazard.id):
        world.app.assign_hazard(
            hazard.id, actor=world.principal, owner="staff2", owner_unit=world.school, deadline=DEADLINE
        )


def test_assign_to_an_owner_appointed_only_after_the_business_time_is_refused(world: World) -> None:
    world.app.appoint_staff(
        actor=world.admin,
        username="newcomer",
        display_name="新老师",
        phone="",
        unit=world.school,
        role=Role.SCHOOL_STAFF,
        effective_from=world.clock.now + timedelta(days=1),
    )
    hazard = world.discover()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard.id):
        world.app.assign_hazard(
            hazard.id, actor=world.principal, owner="newcomer", owner_unit=world.school, deadline=DEADLINE
        )


def test_assign_with_a_deadline_before_today_is_refused(world: World) -> None:
    hazard = world.discover()

    with world.refused(DeadlineInPast, "deadline_in_past", hazard=hazard.id):
        world.app.assign_hazard(
            hazard.id,
            actor=world.principal,
            owner=world.staff.username,
            owner_unit=world.school,
            deadline=date(2026, 7, 9),
        )


def test_assign_with_todays_deadline_is_accepted(world: World) -> None:
    hazard = world.discover()

    world.app.assign_hazard(
        hazard.id,
        actor=world.principal,
        owner=world.staff.username,
        owner_unit=world.school,
        deadline=date(2026, 7, 10),
    )

    assert world.app.get_hazard(hazard.id).deadline == date(2026, 7, 10)


def test_today_is_the_date_in_shanghai_not_in_utc(world: World) -> None:
    # 2026-07-10 01:00 in Shanghai is still 07-09 in UTC: a 07-09 deadline is already past
    world.clock.now = datetime(2026, 7, 10, 1, 0, tzinfo=BUSINESS_TZ)
    hazard = world.discover()

    with world.refused(DeadlineInPast, "deadline_in_past", hazard=hazard.id):
        world.app.assign_hazard(
            hazard.id,
            actor=world.principal,
            owner=world.staff.username,
            owner_unit=world.school,
            deadline=date(2026, 7, 9),
        )


def test_plan_with_a_deadline_before_today_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(DeadlineInPast, "deadline_in_past", hazard=hazard_id):
        world.app.record_plan(hazard_id, actor=world.staff, measures="清理", funds="0", deadline=date(2026, 7, 1))


def test_plan_without_measures_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.record_plan(hazard_id, actor=world.staff, measures=" ", funds="0", deadline=DEADLINE)


def test_plan_records_the_five_implementations_and_beyond_capacity(world: World) -> None:
    hazard_id = world.assigned()

    world.app.record_plan(
        hazard_id,
        actor=world.staff,
        measures="更换消防管网",
        funds="5万元",
        deadline=date(2026, 7, 18),
        contingency="临时灭火器",
        beyond_capacity=True,
    )

    hazard = world.app.get_hazard(hazard_id)
    assert hazard.plan == {
        "measures": "更换消防管网",
        "funds": "5万元",
        "deadline": date(2026, 7, 18),
        "contingency": "临时灭火器",
    }
    assert hazard.beyond_capacity is True


def test_transfer_to_the_same_owner_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.transfer_hazard(
            hazard_id, actor=world.principal, owner=world.staff.username, owner_unit=world.school, reason="移交"
        )


def test_transfer_before_assignment_is_refused(world: World) -> None:
    hazard = world.discover()

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard.id):
        world.app.transfer_hazard(
            hazard.id, actor=world.principal, owner=world.staff2.username, owner_unit=world.school, reason="移交"
        )


def test_transfer_without_a_reason_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.transfer_hazard(
            hazard_id, actor=world.principal, owner=world.staff2.username, owner_unit=world.school, reason=""
        )


def test_transfer_to_an_owner_outside_the_owner_unit_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.transfer_hazard(
            hazard_id, actor=world.principal, owner=world.officer.username, owner_unit=world.school, reason="移交"
        )


def test_transfer_hands_the_hazard_to_the_new_owner(world: World) -> None:
    hazard_id = world.assigned()

    world.app.transfer_hazard(
        hazard_id, actor=world.inspector, owner=world.officer.username, owner_unit=world.station, reason="属公安事项"
    )

    hazard = world.app.get_hazard(hazard_id)
    assert (hazard.owner, hazard.owner_unit, hazard.status) == ("officer", world.station, Status.ASSIGNED)


# --- the owner's work: plan, interim measures, progress, rectify -----------------------------------


OWNER_WORK = ("plan", "interim_measures", "progress", "rectify")


@pytest.mark.parametrize("name", OWNER_WORK)
@pytest.mark.parametrize("who", ["staff2", "leader", "inspector", "officer"])
def test_work_by_a_user_who_is_neither_owner_nor_principal_is_refused(world: World, name: str, who: str) -> None:
    hazard_id = world.assigned()

    with world.refused(NotCurrentOwner, "not_current_owner", hazard=hazard_id):
        COMMANDS[name].run(world, hazard_id, _actor(world, who))


@pytest.mark.parametrize("name", OWNER_WORK)
def test_principal_may_do_the_owners_work(world: World, name: str) -> None:
    hazard_id = world.assigned()
    version = world.app.get_hazard(hazard_id).version

    COMMANDS[name].run(world, hazard_id, world.principal)

    assert world.app.get_hazard(hazard_id).version == version + 1


def test_former_owner_may_no_longer_work_after_a_transfer(world: World) -> None:
    hazard_id = world.assigned()
    world.app.transfer_hazard(
        hazard_id, actor=world.principal, owner=world.staff2.username, owner_unit=world.school, reason="分工调整"
    )

    with world.refused(NotCurrentOwner, "not_current_owner", hazard=hazard_id):
        world.app.rectify_hazard(hazard_id, actor=world.staff, note="已整改")


@pytest.mark.parametrize("percent", [-1, 101])
def test_progress_outside_zero_to_a_hundred_is_refused(world: World, percent: int) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.report_progress(hazard_id, actor=world.staff, note="进度", percent=percent)


@pytest.mark.parametrize("percent", [0, 100])
def test_progress_at_the_bounds_is_accepted(world: World, percent: int) -> None:
    hazard_id = world.assigned()

    world.app.report_progress(hazard_id, actor=world.staff, note="进度", percent=percent)

    assert world.app.get_hazard(hazard_id).progress_percent == percent


def test_progress_before_assignment_is_refused(world: World) -> None:
    hazard = world.discover()

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard.id):
        world.app.report_progress(hazard.id, actor=world.principal, note="进度", percent=10)


def test_rectify_before_assignment_is_refused(world: World) -> None:
    hazard = world.discover()

    with world.refused(InvalidTransition, "invalid_transition", hazard=hazard.id):
        world.app.rectify_hazard(hazard.id, actor=world.principal, note="已整改")


def test_rectify_without_a_note_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.rectify_hazard(hazard_id, actor=world.staff, note="  ")


def test_interim_measures_without_text_are_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.record_interim_measures(hazard_id, actor=world.staff, measures="")


def test_interim_measures_accumulate(world: World) -> None:
    hazard_id = world.assigned()

    world.app.record_interim_measures(hazard_id, actor=world.staff, measures="设置警示带")
    world.app.record_interim_measures(hazard_id, actor=world.principal, measures="专人值守")

    assert world.app.get_hazard(hazard_id).interim_measures == ["设置警示带", "专人值守"]


# --- auditors write nothing ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_auditor_is_refused_every_write(world: World, name: str) -> None:
    command = COMMANDS[name]
    hazard_id = _hazard_in(world, command.state)

    with world.refused(ReadOnlyRole, "read_only_role", hazard=hazard_id):
        command.run(world, hazard_id, world.auditor)


def test_auditor_is_refused_discovering_a_hazard(world: World) -> None:
    with world.refused(ReadOnlyRole, "read_only_role"):
        world.discover(actor=world.auditor)


def test_an_auditor_cannot_be_made_owner(world: World) -> None:
    hazard = world.discover()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard.id):
        world.app.assign_hazard(
            hazard.id, actor=world.inspector, owner=world.auditor.username, owner_unit=world.bureau, deadline=DEADLINE
        )


# --- escalation (上报) -----------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["school", "other_school", "station"])
def test_escalation_to_a_unit_that_is_not_a_bureau_is_refused(world: World, target: str) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidEscalationTarget, "invalid_escalation_target", hazard=hazard_id):
        world.app.escalate_hazard(hazard_id, actor=world.principal, to_unit=getattr(world, target), reason="无力整改")


@pytest.mark.parametrize("target", ["bureau", "city_police"])
def test_escalation_to_a_bureau_marks_the_hazard_escalated(world: World, target: str) -> None:
    hazard_id = world.assigned()

    world.app.escalate_hazard(hazard_id, actor=world.principal, to_unit=getattr(world, target), reason="无力整改")

    hazard = world.app.get_hazard(hazard_id)
    assert (hazard.escalated, hazard.escalated_to) == (True, [getattr(world, target)])


def test_escalation_of_a_rectified_hazard_is_accepted(world: World) -> None:
    hazard_id = world.rectified()

    world.app.escalate_hazard(hazard_id, actor=world.principal, to_unit=world.bureau, reason="需主管部门验收")

    assert world.app.get_hazard(hazard_id).escalated is True


@pytest.mark.parametrize("who", ["staff", "officer", "chief"])
def test_escalation_by_a_role_that_may_not_escalate_is_refused(world: World, who: str) -> None:
    hazard_id = world.assigned()

    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard_id):
        world.app.escalate_hazard(hazard_id, actor=_actor(world, who), to_unit=world.bureau, reason="无力整改")


def test_escalation_without_a_reason_is_refused(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.escalate_hazard(hazard_id, actor=world.principal, to_unit=world.bureau, reason="")


# --- discovery ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["station", "bureau", "city_police"])
def test_discovery_at_a_unit_that_is_not_a_school_is_refused(world: World, unit: str) -> None:
    with world.refused(NotASchool, "not_a_school"):
        world.discover(school=getattr(world, unit))


def test_discovery_at_a_school_outside_the_campaign_is_refused(world: World) -> None:
    with world.refused(SchoolNotInCampaign, "school_not_in_campaign"):
        world.discover(school=world.other_school)


def test_discovery_in_an_unknown_campaign_is_refused(world: World) -> None:
    with world.refused(CampaignNotFound, "campaign_not_found"):
        world.discover(campaign=uuid4())


def test_discovery_on_an_item_not_in_the_checklist_is_refused(world: World) -> None:
    with world.refused(UnknownChecklistItem, "unknown_item"):
        world.discover(item="SZ-01")


def test_discovery_without_a_description_is_refused(world: World) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        world.discover(description="  ")


@pytest.mark.parametrize("who", ["staff", "principal", "officer", "chief", "inspector", "leader", "police"])
def test_school_station_and_bureau_roles_discover_hazards(world: World, who: str) -> None:
    hazard = world.discover(actor=_actor(world, who))

    assert world.app.get_hazard(hazard.id).discovered_by == who


def test_category_is_taken_from_the_checklist_item_when_not_given(world: World) -> None:
    hazard = world.discover(item="CZ-05")

    assert world.app.get_hazard(hazard.id).category == "校车与交通安全"


def test_a_given_category_wins_over_the_checklist_items(world: World) -> None:
    hazard = world.discover(item="CZ-05", category="消防安全")

    assert world.app.get_hazard(hazard.id).category == "消防安全"


def test_category_defaults_to_other_without_item_or_category(world: World) -> None:
    hazard = world.discover(item="")

    assert world.app.get_hazard(hazard.id).category == "其他"


def test_discovery_during_an_inspection_of_another_school_is_refused(world: World) -> None:
    # the other school is in a second campaign together with ours, and inspected there
    second = world.app.launch_campaign(
        actor=world.leader,
        title="暑期安全专项检查",
        document_no="",
        template="",
        checklist=[{"code": "X-01", "title": "消防通道", "category": "消防安全"}],
        phases=[],
        statistics_cutoff=date(2026, 7, 31),
        report_deadline=date(2026, 8, 7),
        scope=[world.school, world.other_school],
        recipients=[world.bureau],
    ).id
    inspection = world.app.schedule_inspection(
        actor=world.inspector,
        campaign=second,
        school=world.other_school,
        kind=InspectionKind.ONSITE,
        inspectors=["inspector"],
    )

    with world.refused(InvalidValue, "invalid_value"):
        world.discover(campaign=second, item="X-01", inspection=inspection.id)


def test_discovery_records_its_inspection(world: World) -> None:
    inspection = world.app.schedule_inspection(
        actor=world.inspector,
        campaign=world.campaign,
        school=world.school,
        kind=InspectionKind.ONSITE,
        inspectors=["inspector"],
    )

    hazard = world.discover(actor=world.inspector, inspection=inspection.id, severity=Severity.MAJOR)

    found = world.app.get_hazard(hazard.id)
    assert (found.inspection, found.severity, found.status) == (inspection.id, Severity.MAJOR, Status.REPORTED)


# --- refusal order: who (403) before the input (400) before the hazard's state (409) ------------------------


def test_bad_input_on_a_closed_hazard_is_refused_for_the_input_not_the_state(world: World) -> None:
    hazard_id = world.closed()
    commands: list[Callable[[], object]] = [
        lambda: world.app.rectify_hazard(hazard_id, actor=world.staff, note=" "),
        lambda: world.app.report_progress(hazard_id, actor=world.staff, note="", percent=150),
        lambda: world.app.record_interim_measures(hazard_id, actor=world.staff, measures=" "),
        lambda: world.app.escalate_hazard(hazard_id, actor=world.principal, to_unit=world.bureau, reason=" "),
    ]
    for command in commands:
        with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
            command()


def test_a_rejection_without_a_reason_of_a_closed_hazard_is_refused_for_the_reason(world: World) -> None:
    hazard_id = world.closed()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.verify_hazard(hazard_id, actor=world.inspector, accepted=False, note=" ")


def test_a_reopening_without_a_reason_of_an_open_hazard_is_refused_for_the_reason(world: World) -> None:
    hazard_id = world.assigned()

    with world.refused(InvalidValue, "invalid_value", hazard=hazard_id):
        world.app.reopen_hazard(hazard_id, actor=world.inspector, reason=" ")
