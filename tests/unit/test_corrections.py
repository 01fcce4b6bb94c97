"""Corrections as events (given/when/then on the aggregates): 作废 a hazard, a unit's change from a business time on,
a campaign amended by its issuer."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from domain.errors import EffectiveFromOutOfOrder, HazardVoided, InvalidValue, NotPermitted, ReadOnlyRole
from domain.policy import Actor, Role, UnitKind
from domain.timerules import BUSINESS_TZ

if TYPE_CHECKING:
    from conftest import World

AUG_1 = datetime(2026, 8, 1, tzinfo=BUSINESS_TZ)


# --- 作废 ----------------------------------------------------------------------------------------------


def test_a_voided_hazard_records_its_reason_and_takes_no_other_command(world: World) -> None:
    hazard = world.assigned()

    voided = world.app.void_hazard(hazard, actor=world.principal, reason="  误录：重复登记 ")

    assert (voided.voided, voided.void_reason) == (True, "误录：重复登记")
    assert world.event_names(hazard)[-1] == "Voided"
    with world.refused(HazardVoided, "hazard_voided", hazard=hazard):
        world.app.report_progress(hazard, actor=world.staff, note="进行中", percent=10)
    with world.refused(HazardVoided, "hazard_voided", hazard=hazard):
        world.app.void_hazard(hazard, actor=world.leader, reason="再次作废")


def test_only_the_principal_or_an_education_bureau_voids_and_a_reason_is_needed(world: World) -> None:
    hazard = world.discover().id
    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard):
        world.app.void_hazard(hazard, actor=world.staff, reason="误录")
    with world.refused(NotPermitted, "role_not_permitted", hazard=hazard):
        world.app.void_hazard(hazard, actor=world.chief, reason="误录")
    with world.refused(ReadOnlyRole, "read_only_role", hazard=hazard):
        world.app.void_hazard(hazard, actor=world.auditor, reason="误录")
    with world.refused(InvalidValue, "invalid_value", hazard=hazard):
        world.app.void_hazard(hazard, actor=world.inspector, reason=" ")


def test_a_voided_hazard_has_no_deadline_to_miss(world: World) -> None:
    hazard = world.assigned(deadline=world.clock.now.date() + timedelta(days=1))
    world.app.void_hazard(hazard, actor=world.leader, reason="误录")

    assert world.app.record_due_deadline_miss(hazard, now=world.clock.now + timedelta(days=5)) is None


# --- a unit's change ------------------------------------------------------------------------------------


def test_a_school_changes_station_and_name_from_a_business_time_on(world: World) -> None:
    station2 = world.app.register_unit(actor=world.admin, kind=UnitKind.POLICE_STATION, name="湖塘第二派出所").id

    unit = world.app.change_unit(
        world.school, actor=world.admin, name="湖塘实验学校", police_station=station2, effective_from=AUG_1
    )

    assert (unit.name, unit.police_station, unit.district) == ("湖塘实验学校", station2, "武进区")
    with world.refused(EffectiveFromOutOfOrder, "effective_from_out_of_order", aggregate=world.school):
        world.app.change_unit(
            world.school, actor=world.admin, district="钟楼区", effective_from=AUG_1 - timedelta(days=1)
        )
    with world.refused(InvalidValue, "invalid_value", aggregate=world.school):
        world.app.change_unit(world.school, actor=world.admin, name="湖塘实验学校", effective_from=AUG_1)
    with world.refused(InvalidValue, "invalid_value", aggregate=world.bureau):
        world.app.change_unit(world.bureau, actor=world.admin, police_station=station2, effective_from=AUG_1)
    with world.refused(NotPermitted, "role_not_permitted", aggregate=world.school):
        world.app.change_unit(world.school, actor=world.leader, name="别名", effective_from=AUG_1)


# --- a campaign amended ------------------------------------------------------------------------------------


def test_the_issuer_amends_cutoff_and_deadline_validated_as_at_launch(world: World) -> None:
    campaign = world.app.get_campaign(world.campaign)
    cutoff = campaign.statistics_cutoff - timedelta(days=3)

    amended = world.app.amend_campaign(world.campaign, actor=world.inspector, statistics_cutoff=cutoff)

    assert amended.statistics_cutoff == cutoff and amended.report_deadline == campaign.report_deadline
    with world.refused(InvalidValue, "invalid_value", aggregate=world.campaign):
        world.app.amend_campaign(world.campaign, actor=world.leader, report_deadline=cutoff - timedelta(days=1))
    with world.refused(InvalidValue, "invalid_value", aggregate=world.campaign):
        world.app.amend_campaign(world.campaign, actor=world.leader, statistics_cutoff=cutoff)  # nothing changes
    with world.refused(NotPermitted, "role_not_permitted", aggregate=world.campaign):
        world.app.amend_campaign(world.campaign, actor=world.police, report_deadline=date(2026, 12, 31))


def test_only_the_issuing_bureau_amends(world: World) -> None:
    kind = UnitKind.DISTRICT_EDU_BUREAU
    other = world.app.register_unit(actor=world.admin, kind=kind, name="钟楼区教育局", district="钟楼区")
    stranger = Actor(username="zl_inspector", role=Role.EDU_INSPECTOR, unit=other.id)
    with world.refused(NotPermitted, "role_not_permitted", aggregate=world.campaign):
        world.app.amend_campaign(world.campaign, actor=stranger, report_deadline=date(2026, 12, 31))
