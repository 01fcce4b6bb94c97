"""The unit directory: units, and staff whose roles change over time ("who was 校长 on 7/20")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from domain.directory.aggregate import Appointment, default_code, staff_id
from domain.errors import (
    AlreadyExists,
    EffectiveFromOutOfOrder,
    InvalidValue,
    NotPermitted,
    ReadOnlyRole,
    RoleNotForUnit,
    SchoolCodeTaken,
    StaffAlreadyLeft,
    StaffNotFound,
    UnitNotFound,
    VersionConflict,
)
from domain.policy import Role, UnitKind
from domain.timerules import BUSINESS_TZ

if TYPE_CHECKING:
    from conftest import World

JAN_1 = datetime(2026, 1, 1, tzinfo=BUSINESS_TZ)
JUL_15 = datetime(2026, 7, 15, tzinfo=BUSINESS_TZ)
AUG_1 = datetime(2026, 8, 1, tzinfo=BUSINESS_TZ)


# --- units --------------------------------------------------------------------------------------------


def test_school_is_registered_with_its_police_station(world: World) -> None:
    school = world.app.get_unit(world.school)

    assert (school.kind, school.name, school.district) == (UnitKind.SCHOOL, "湖塘实验中学", "武进区")
    assert (school.police_station, school.parent, school.stage) == (world.station, world.bureau, "初中")


def test_a_schools_code_is_kept_upper_cased_and_fixed_into_its_hazards(world: World) -> None:
    school = world.app.register_unit(
        actor=world.admin, kind=UnitKind.SCHOOL, name="湖塘二小", police_station=world.station, code=" ht02 "
    )
    assert world.app.get_unit(school.id).code == "HT02"


@pytest.mark.parametrize(
    ("code", "kind"), [("S12", UnitKind.SCHOOL), ("湖塘", UnitKind.SCHOOL), ("JY01", UnitKind.DISTRICT_EDU_BUREAU)]
)
def test_a_default_like_a_foreign_or_a_non_schools_code_is_refused(world: World, code: str, kind: UnitKind) -> None:
    station = world.station if kind is UnitKind.SCHOOL else None
    with world.refused(InvalidValue, "invalid_value"):
        world.app.register_unit(actor=world.admin, kind=kind, name="新单位", police_station=station, code=code)


def test_a_code_the_district_already_uses_is_refused(world: World) -> None:
    with world.refused(SchoolCodeTaken, "school_code_taken"):
        world.app.register_unit(
            actor=world.admin,
            kind=UnitKind.SCHOOL,
            name="湖塘二小",
            police_station=world.station,
            code="HT01",
            code_in_use=lambda district, code: (district, code) == ("", "HT01"),
        )


def test_the_default_code_is_the_next_free_one() -> None:
    assert default_code({"HM01", "QL01", "LL01"}) == "S004"
    assert default_code({"S001", "S003"}) == "S004"


def test_school_without_a_police_station_is_refused(world: World) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        world.app.register_unit(actor=world.admin, kind=UnitKind.SCHOOL, name="无派出所小学")


@pytest.mark.parametrize("not_a_station", ["bureau", "city_police", "other_school"])
def test_school_whose_police_station_is_another_kind_of_unit_is_refused(world: World, not_a_station: str) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        world.app.register_unit(
            actor=world.admin, kind=UnitKind.SCHOOL, name="新学校", police_station=getattr(world, not_a_station)
        )


def test_police_station_for_a_unit_that_is_not_a_school_is_refused(world: World) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        world.app.register_unit(
            actor=world.admin, kind=UnitKind.DISTRICT_EDU_BUREAU, name="天宁区教育局", police_station=world.station
        )


def test_unit_without_a_name_is_refused(world: World) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        world.app.register_unit(actor=world.admin, kind=UnitKind.POLICE_STATION, name="  ")


def test_unit_with_an_unknown_parent_is_refused(world: World) -> None:
    with world.refused(UnitNotFound, "unit_not_found"):
        world.app.register_unit(actor=world.admin, kind=UnitKind.POLICE_STATION, name="新派出所", parent=uuid4())


@pytest.mark.parametrize("who", ["leader", "inspector", "principal", "police"])
def test_only_an_admin_registers_units(world: World, who: str) -> None:
    with world.refused(NotPermitted, "role_not_permitted"):
        world.app.register_unit(actor=getattr(world, who), kind=UnitKind.POLICE_STATION, name="新派出所")


def test_auditor_registering_a_unit_is_refused_as_read_only(world: World) -> None:
    with world.refused(ReadOnlyRole, "read_only_role"):
        world.app.register_unit(actor=world.auditor, kind=UnitKind.POLICE_STATION, name="新派出所")


def test_unknown_unit_is_not_found(world: World) -> None:
    with world.refused(UnitNotFound, "unit_not_found"):
        world.app.get_unit(uuid4())
    with world.refused(UnitNotFound, "unit_not_found"):
        world.app.get_unit(world.campaign)


# --- staff appointed, role changed, left ---------------------------------------------------------------


def test_staff_is_found_by_username(world: World) -> None:
    principal = world.app.get_staff("principal")

    assert principal.id == staff_id("principal")
    assert (principal.display_name, principal.current) == (
        "张校长",
        Appointment(world.school, Role.SCHOOL_PRINCIPAL, JAN_1),
    )


def test_unknown_username_is_not_found(world: World) -> None:
    with world.refused(StaffNotFound, "user_not_found"):
        world.app.get_staff("nobody")


def test_appointment_at_answers_who_held_which_role_when(world: World) -> None:
    # given staff2 becomes principal on 7/15 and leaves on 8/1
    world.app.change_role(
        actor=world.admin, username="staff2", unit=world.school, role=Role.SCHOOL_PRINCIPAL, effective_from=JUL_15
    )
    world.app.deactivate_staff(actor=world.admin, username="staff2", effective_from=AUG_1)

    staff2 = world.app.get_staff("staff2")

    assert staff2.appointment_at(JAN_1 - timedelta(seconds=1)) is None
    assert staff2.appointment_at(JAN_1) == Appointment(world.school, Role.SCHOOL_STAFF, JAN_1)
    assert staff2.appointment_at(JUL_15 - timedelta(seconds=1)).role is Role.SCHOOL_STAFF  # type: ignore[union-attr]
    assert staff2.appointment_at(JUL_15).role is Role.SCHOOL_PRINCIPAL  # type: ignore[union-attr]
    assert staff2.appointment_at(AUG_1 - timedelta(seconds=1)).role is Role.SCHOOL_PRINCIPAL  # type: ignore[union-attr]
    assert staff2.appointment_at(AUG_1) is None
    assert staff2.has_left is True


def test_moving_to_another_unit_is_a_role_change(world: World) -> None:
    world.app.change_role(
        actor=world.admin, username="officer", unit=world.station, role=Role.STATION_CHIEF, effective_from=JUL_15
    )
    world.app.change_role(
        actor=world.admin, username="officer", unit=world.city_police, role=Role.POLICE_OFFICER, effective_from=AUG_1
    )

    officer = world.app.get_staff("officer")
    assert [(a.unit, a.role) for a in officer.appointments] == [
        (world.station, Role.STATION_OFFICER),
        (world.station, Role.STATION_CHIEF),
        (world.city_police, Role.POLICE_OFFICER),
    ]


def test_role_change_records_its_effective_time_separately_from_its_business_time(world: World) -> None:
    world.app.change_role(
        actor=world.admin, username="staff2", unit=world.school, role=Role.SCHOOL_PRINCIPAL, effective_from=AUG_1
    )

    staff2 = world.app.get_staff("staff2")
    assert (staff2.current.effective_from, staff2.last_occurred_at) == (AUG_1, world.clock.now)


def test_effective_from_defaults_to_the_business_time(world: World) -> None:
    world.app.appoint_staff(
        actor=world.admin,
        username="newcomer",
        display_name="新老师",
        phone="",
        unit=world.school,
        role=Role.SCHOOL_STAFF,
    )

    assert world.app.get_staff("newcomer").current.effective_from == world.clock.now


@pytest.mark.parametrize(
    ("role", "unit"),
    [
        (Role.SCHOOL_PRINCIPAL, "station"),
        (Role.STATION_CHIEF, "school"),
        (Role.EDU_LEADER, "city_police"),
        (Role.POLICE_OFFICER, "bureau"),
        (Role.SCHOOL_STAFF, "bureau"),
        (Role.EDU_INSPECTOR, "station"),
    ],
)
def test_appointing_a_role_that_does_not_fit_the_unit_kind_is_refused(world: World, role: Role, unit: str) -> None:
    with world.refused(RoleNotForUnit, "role_not_for_unit"):
        world.app.appoint_staff(
            actor=world.admin, username="newcomer", display_name="新人", phone="", unit=getattr(world, unit), role=role
        )


def test_a_unit_role_without_a_unit_is_refused(world: World) -> None:
    with world.refused(RoleNotForUnit, "role_not_for_unit"):
        world.app.appoint_staff(
            actor=world.admin, username="newcomer", display_name="新人", phone="", unit=None, role=Role.EDU_LEADER
        )


@pytest.mark.parametrize("unit", [None, "school", "station", "city_police"])
def test_auditors_sit_in_any_unit_or_none(world: World, unit: str | None) -> None:
    world.app.appoint_staff(
        actor=world.admin,
        username="auditor2",
        display_name="督导",
        phone="",
        unit=getattr(world, unit) if unit else None,
        role=Role.AUDITOR,
    )

    assert world.app.get_staff("auditor2").current.role is Role.AUDITOR


def test_appointing_the_system_role_is_refused(world: World) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        world.app.appoint_staff(
            actor=world.admin, username="robot", display_name="系统", phone="", unit=None, role=Role.SYSTEM
        )


def test_changing_to_a_role_that_does_not_fit_the_unit_is_refused(world: World) -> None:
    staff = world.app.get_staff("principal")

    with world.refused(RoleNotForUnit, "role_not_for_unit", aggregate=staff.id):
        world.app.change_role(
            actor=world.admin,
            username="principal",
            unit=world.station,
            role=Role.SCHOOL_PRINCIPAL,
            effective_from=AUG_1,
        )


def test_duplicate_username_is_refused(world: World) -> None:
    with world.refused(AlreadyExists, "already_exists", aggregate=staff_id("staff")):
        world.app.appoint_staff(
            actor=world.admin,
            username="staff",
            display_name="同名",
            phone="",
            unit=world.school,
            role=Role.SCHOOL_STAFF,
        )


def test_empty_username_is_refused(world: World) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        world.app.appoint_staff(
            actor=world.admin, username=" ", display_name="无名", phone="", unit=world.school, role=Role.SCHOOL_STAFF
        )


def test_role_change_effective_before_the_current_appointment_is_refused(world: World) -> None:
    world.app.change_role(
        actor=world.admin, username="staff2", unit=world.school, role=Role.SCHOOL_PRINCIPAL, effective_from=JUL_15
    )

    with world.refused(EffectiveFromOutOfOrder, "effective_from_out_of_order", aggregate=staff_id("staff2")):
        world.app.change_role(
            actor=world.admin,
            username="staff2",
            unit=world.school,
            role=Role.SCHOOL_STAFF,
            effective_from=JUL_15 - timedelta(days=1),
        )


def test_leaving_effective_before_the_current_appointment_is_refused(world: World) -> None:
    with world.refused(EffectiveFromOutOfOrder, "effective_from_out_of_order", aggregate=staff_id("staff2")):
        world.app.deactivate_staff(actor=world.admin, username="staff2", effective_from=JAN_1 - timedelta(days=1))


def test_staff_who_left_cannot_change_role(world: World) -> None:
    world.app.deactivate_staff(actor=world.admin, username="staff2", effective_from=JUL_15)

    with world.refused(StaffAlreadyLeft, "staff_left", aggregate=staff_id("staff2")):
        world.app.change_role(
            actor=world.admin, username="staff2", unit=world.school, role=Role.SCHOOL_PRINCIPAL, effective_from=AUG_1
        )


def test_staff_who_left_cannot_leave_again(world: World) -> None:
    world.app.deactivate_staff(actor=world.admin, username="staff2", effective_from=JUL_15)

    with world.refused(StaffAlreadyLeft, "staff_left", aggregate=staff_id("staff2")):
        world.app.deactivate_staff(actor=world.admin, username="staff2", effective_from=AUG_1)


def test_role_change_of_an_unknown_user_is_refused(world: World) -> None:
    with world.refused(StaffNotFound, "user_not_found"):
        world.app.change_role(actor=world.admin, username="nobody", unit=world.school, role=Role.SCHOOL_STAFF)


@pytest.mark.parametrize("who", ["leader", "inspector", "principal", "chief"])
def test_only_an_admin_appoints_changes_roles_and_deactivates(world: World, who: str) -> None:
    actor = getattr(world, who)

    with world.refused(NotPermitted, "role_not_permitted"):
        world.app.appoint_staff(
            actor=actor, username="newcomer", display_name="新人", phone="", unit=world.school, role=Role.SCHOOL_STAFF
        )
    with world.refused(NotPermitted, "role_not_permitted", aggregate=staff_id("staff2")):
        world.app.change_role(
            actor=actor, username="staff2", unit=world.school, role=Role.SCHOOL_PRINCIPAL, effective_from=AUG_1
        )
    with world.refused(NotPermitted, "role_not_permitted", aggregate=staff_id("staff2")):
        world.app.deactivate_staff(actor=actor, username="staff2", effective_from=AUG_1)


def test_auditor_is_refused_every_directory_write(world: World) -> None:
    with world.refused(ReadOnlyRole, "read_only_role"):
        world.app.appoint_staff(
            actor=world.auditor, username="x", display_name="x", phone="", unit=world.school, role=Role.SCHOOL_STAFF
        )
    with world.refused(ReadOnlyRole, "read_only_role", aggregate=staff_id("staff2")):
        world.app.change_role(actor=world.auditor, username="staff2", unit=world.school, role=Role.SCHOOL_PRINCIPAL)
    with world.refused(ReadOnlyRole, "read_only_role", aggregate=staff_id("staff2")):
        world.app.deactivate_staff(actor=world.auditor, username="staff2")


def test_role_change_with_a_stale_expected_version_is_refused(world: World) -> None:
    with world.refused(VersionConflict, "version_conflict", aggregate=staff_id("staff2")):
        world.app.change_role(
            actor=world.admin,
            username="staff2",
            unit=world.school,
            role=Role.SCHOOL_PRINCIPAL,
            effective_from=AUG_1,
            expected_version=2,
        )
