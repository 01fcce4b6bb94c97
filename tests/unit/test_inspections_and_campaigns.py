"""Campaigns (专项排查) launched by the education bureau, and the inspections (检查) held in them."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest

from domain.campaign.aggregate import scope_covers
from domain.errors import (
    DomainError,
    InspectionCompleted,
    InspectionNotFound,
    InvalidValue,
    NotASchool,
    NotPermitted,
    ReadOnlyRole,
    SchoolNotInCampaign,
    UnitNotFound,
    UnknownChecklistItem,
    VersionConflict,
)
from domain.inspection.aggregate import AssessmentResult, Inspection, InspectionKind
from domain.policy import Actor, Role, UnitKind

if TYPE_CHECKING:
    from conftest import World

CHECKLIST = [
    {"code": "X-01", "title": "消防通道是否畅通", "category": "消防安全"},
    {"code": "X-02", "title": "门卫是否落实登记制度", "category": "人防物防技防"},
]
PHASES = [
    {"kind": "self_check", "label": "学校自查", "start": date(2026, 7, 10), "end": date(2026, 7, 20)},
    {"kind": "onsite", "label": "现场检查", "start": date(2026, 7, 21), "end": date(2026, 7, 31)},
]
NON_SELF_KINDS = [InspectionKind.ONSITE, InspectionKind.SUPERVISION, InspectionKind.JOINT]


def _launch(world: World, **overrides: Any) -> UUID:
    kwargs: dict[str, Any] = {
        "actor": world.leader,
        "title": "暑期校园安全专项排查",
        "document_no": "武教安〔2026〕3号",
        "template": "",
        "checklist": CHECKLIST,
        "phases": PHASES,
        "statistics_cutoff": date(2026, 7, 31),
        "report_deadline": date(2026, 8, 7),
        "scope": [world.school],
        "recipients": [world.bureau, world.city_police],
        **overrides,
    }
    return world.app.launch_campaign(**kwargs).id


def _schedule(world: World, kind: InspectionKind, actor: str, inspectors: list[str] | None = None) -> Inspection:
    return world.app.schedule_inspection(
        actor=getattr(world, actor),
        campaign=world.campaign,
        school=world.school,
        kind=kind,
        inspectors=inspectors or [actor],
    )


# --- campaigns -----------------------------------------------------------------------------------------


def test_campaign_launched_from_the_changzhou_template_carries_its_checklist_and_dates(world: World) -> None:
    campaign = world.app.get_campaign(world.campaign)

    assert campaign.template == "changzhou"
    assert "常州" in campaign.title
    assert campaign.issuer == world.bureau
    assert [item["code"] for item in campaign.checklist] == [f"CZ-{n:02}" for n in range(1, 11)]
    assert campaign.item("CZ-07") == {
        "code": "CZ-07",
        "title": campaign.checklist[6]["title"],
        "category": "护学岗与巡逻",
    }
    assert (campaign.statistics_cutoff, campaign.report_deadline) == (date(2026, 7, 31), date(2026, 8, 7))
    assert [(p["kind"], p["start"], p["end"]) for p in campaign.phases] == [
        ("self_check", date(2026, 7, 10), date(2026, 7, 31)),
        ("supervision", date(2026, 7, 25), date(2026, 8, 7)),
    ]
    assert (campaign.scope, campaign.recipients) == ([world.school], [world.bureau, world.city_police])


def test_campaign_covers_only_the_schools_in_its_scope(world: World) -> None:
    assert world.app.campaign_covers(world.campaign, world.school) is True
    assert world.app.campaign_covers(world.campaign, world.other_school) is False


def test_campaign_with_an_empty_scope_covers_every_school_of_the_issuing_district(world: World) -> None:
    campaign = _launch(world, scope=[])
    elsewhere = world.app.register_unit(
        actor=Actor("admin", Role.ADMIN),
        kind=UnitKind.SCHOOL,
        name="红梅实验小学",
        district="天宁区",
        police_station=world.station,
    )

    assert world.app.campaign_covers(campaign, world.school)
    assert world.app.campaign_covers(campaign, world.other_school)
    assert not world.app.campaign_covers(campaign, elsewhere.id)


def test_campaign_scope_and_recipients_are_deduplicated_in_order(world: World) -> None:
    campaign = world.app.get_campaign(
        _launch(
            world,
            scope=[world.other_school, world.school, world.other_school],
            recipients=[world.city_police, world.city_police],
        )
    )

    assert (campaign.scope, campaign.recipients) == ([world.other_school, world.school], [world.city_police])


def test_edu_inspector_launches_a_campaign(world: World) -> None:
    campaign = world.app.get_campaign(_launch(world, actor=world.inspector, title="  督查  "))

    assert (campaign.title, campaign.issuer) == ("督查", world.bureau)


@pytest.mark.parametrize("who", ["staff", "principal", "officer", "chief", "police"])
def test_campaign_launched_by_a_role_outside_the_education_bureau_is_refused(world: World, who: str) -> None:
    with world.refused(NotPermitted, "role_not_permitted"):
        _launch(world, actor=getattr(world, who))


def test_campaign_launched_by_an_auditor_is_refused_as_read_only(world: World) -> None:
    with world.refused(ReadOnlyRole, "read_only_role"):
        _launch(world, actor=world.auditor)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"checklist": []}, id="empty-checklist"),
        pytest.param({"checklist": [*CHECKLIST, {"code": "X-01", "title": "重复", "category": "其他"}]}, id="dup-code"),
        pytest.param({"statistics_cutoff": date(2026, 8, 8)}, id="cutoff-after-deadline"),
        pytest.param(
            {"phases": [{"kind": "onsite", "label": "现场", "start": date(2026, 7, 21), "end": date(2026, 7, 20)}]},
            id="phase-start-after-end",
        ),
        pytest.param(
            {"phases": [{"kind": "inspection", "label": "检查", "start": date(2026, 7, 1), "end": date(2026, 7, 2)}]},
            id="unknown-phase-kind",
        ),
        pytest.param({"title": "   "}, id="empty-title"),
    ],
)
def test_campaign_with_an_invalid_definition_is_refused(world: World, overrides: dict[str, Any]) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        _launch(world, **overrides)


def test_campaign_with_cutoff_on_the_deadline_and_a_one_day_phase_is_accepted(world: World) -> None:
    phases = [{"kind": "supervision", "label": "督查", "start": date(2026, 8, 1), "end": date(2026, 8, 1)}]

    campaign = world.app.get_campaign(_launch(world, statistics_cutoff=date(2026, 8, 7), phases=phases))

    assert campaign.statistics_cutoff == campaign.report_deadline


@pytest.mark.parametrize("field", ["scope", "recipients"])
def test_campaign_naming_an_unknown_unit_is_refused(world: World, field: str) -> None:
    with world.refused(UnitNotFound, "unit_not_found"):
        _launch(world, **{field: [uuid4()]})


def test_open_ended_phase_is_accepted_or_refused_with_a_domain_error(world: World) -> None:
    open_ended = [{"kind": "supervision", "label": "组织开展工作督查", "start": date(2026, 7, 25), "end": None}]

    try:
        _launch(world, phases=open_ended)
    except DomainError as refused:
        assert refused.code == "invalid_value"


# --- who may hold which kind of inspection ---------------------------------------------------------------


@pytest.mark.parametrize("who", ["staff", "principal"])
def test_school_roles_hold_a_self_inspection(world: World, who: str) -> None:
    inspection = _schedule(world, InspectionKind.SELF, who)

    found = world.app.get_inspection(inspection.id)
    assert (found.kind, found.school, found.campaign, found.inspectors) == (
        InspectionKind.SELF,
        world.school,
        world.campaign,
        [who],
    )
    assert found.started_at == world.clock.now


@pytest.mark.parametrize("who", ["inspector", "leader", "police", "officer", "chief"])
def test_self_inspection_by_a_role_outside_the_school_is_refused(world: World, who: str) -> None:
    with world.refused(NotPermitted, "role_not_permitted"):
        _schedule(world, InspectionKind.SELF, who)


@pytest.mark.parametrize("kind", NON_SELF_KINDS)
@pytest.mark.parametrize("who", ["inspector", "leader", "police"])
def test_bureau_roles_hold_onsite_supervision_and_joint_inspections(
    world: World, kind: InspectionKind, who: str
) -> None:
    inspection = _schedule(world, kind, who)

    assert world.app.get_inspection(inspection.id).kind is kind


@pytest.mark.parametrize("kind", NON_SELF_KINDS)
@pytest.mark.parametrize("who", ["staff", "principal", "officer", "chief"])
def test_onsite_supervision_and_joint_by_a_non_bureau_role_are_refused(
    world: World, kind: InspectionKind, who: str
) -> None:
    with world.refused(NotPermitted, "role_not_permitted"):
        _schedule(world, kind, who, inspectors=["inspector"])


@pytest.mark.parametrize("kind", [InspectionKind.SELF, *NON_SELF_KINDS])
def test_auditor_holding_an_inspection_is_refused_as_read_only(world: World, kind: InspectionKind) -> None:
    with world.refused(ReadOnlyRole, "read_only_role"):
        _schedule(world, kind, "auditor", inspectors=["inspector"])


def test_joint_inspection_records_its_station_inspectors_departments_and_leader(world: World) -> None:
    inspection = world.app.schedule_inspection(
        actor=world.leader,
        campaign=world.campaign,
        school=world.school,
        kind=InspectionKind.JOINT,
        inspectors=["leader", "officer", "chief", "officer"],
        leader_participated=True,
        departments=["教育局", "派出所"],
    )

    found = world.app.get_inspection(inspection.id)
    assert (found.inspectors, found.leader_participated, found.departments) == (
        ["leader", "officer", "chief"],
        True,
        ["教育局", "派出所"],
    )


def test_inspection_without_inspectors_is_refused(world: World) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        world.app.schedule_inspection(
            actor=world.inspector,
            campaign=world.campaign,
            school=world.school,
            kind=InspectionKind.ONSITE,
            inspectors=[],
        )


def test_inspection_with_an_unknown_inspector_is_refused(world: World) -> None:
    with world.refused(InvalidValue, "invalid_value"):
        _schedule(world, InspectionKind.ONSITE, "inspector", inspectors=["inspector", "nobody"])


@pytest.mark.parametrize("unit", ["station", "bureau"])
def test_inspection_of_a_unit_that_is_not_a_school_is_refused(world: World, unit: str) -> None:
    with world.refused(NotASchool, "not_a_school"):
        world.app.schedule_inspection(
            actor=world.inspector,
            campaign=world.campaign,
            school=getattr(world, unit),
            kind=InspectionKind.ONSITE,
            inspectors=["inspector"],
        )


def test_inspection_of_a_school_outside_the_campaign_is_refused(world: World) -> None:
    with world.refused(SchoolNotInCampaign, "school_not_in_campaign"):
        world.app.schedule_inspection(
            actor=world.inspector,
            campaign=world.campaign,
            school=world.other_school,
            kind=InspectionKind.ONSITE,
            inspectors=["inspector"],
        )


# --- assessing items and completing ---------------------------------------------------------------------


def test_items_are_assessed_and_the_inspection_completed(world: World) -> None:
    inspection = _schedule(world, InspectionKind.SELF, "principal", inspectors=["principal", "staff"])

    world.app.assess_item(inspection.id, actor=world.staff, item="CZ-01", result=AssessmentResult.PASS)
    world.app.assess_item(
        inspection.id, actor=world.principal, item="CZ-05", result=AssessmentResult.FAIL, note="校门口无隔离栏"
    )
    world.app.assess_item(inspection.id, actor=world.staff, item="CZ-01", result=AssessmentResult.NOT_APPLICABLE)
    world.app.complete_inspection(inspection.id, actor=world.principal)

    found = world.app.get_inspection(inspection.id)
    assert found.assessments == {
        "CZ-01": (AssessmentResult.NOT_APPLICABLE, ""),
        "CZ-05": (AssessmentResult.FAIL, "校门口无隔离栏"),
    }
    assert (found.is_completed, found.completed_at) == (True, world.clock.now)


def test_assessing_an_item_not_in_the_checklist_is_refused(world: World) -> None:
    inspection = _schedule(world, InspectionKind.SELF, "staff")

    with world.refused(UnknownChecklistItem, "unknown_item", aggregate=inspection.id):
        world.app.assess_item(inspection.id, actor=world.staff, item="SZ-01", result=AssessmentResult.PASS)


def test_assessing_after_completion_is_refused(world: World) -> None:
    inspection = _schedule(world, InspectionKind.SELF, "staff")
    world.app.complete_inspection(inspection.id, actor=world.staff)

    with world.refused(InspectionCompleted, "inspection_completed", aggregate=inspection.id):
        world.app.assess_item(inspection.id, actor=world.staff, item="CZ-01", result=AssessmentResult.PASS)


def test_completing_twice_is_refused(world: World) -> None:
    inspection = _schedule(world, InspectionKind.ONSITE, "inspector")
    world.app.complete_inspection(inspection.id, actor=world.inspector)

    with world.refused(InspectionCompleted, "inspection_completed", aggregate=inspection.id):
        world.app.complete_inspection(inspection.id, actor=world.inspector)


def test_station_officer_listed_on_a_joint_inspection_assesses_items(world: World) -> None:
    inspection = _schedule(world, InspectionKind.JOINT, "leader", inspectors=["leader", "officer"])

    world.app.assess_item(
        inspection.id, actor=world.officer, item="CZ-07", result=AssessmentResult.FAIL, note="无护学岗"
    )

    assert world.app.get_inspection(inspection.id).assessments["CZ-07"][0] is AssessmentResult.FAIL


def test_station_officer_not_listed_on_a_joint_inspection_is_refused(world: World) -> None:
    inspection = _schedule(world, InspectionKind.JOINT, "leader")

    with world.refused(NotPermitted, "role_not_permitted", aggregate=inspection.id):
        world.app.assess_item(inspection.id, actor=world.chief, item="CZ-07", result=AssessmentResult.FAIL)


@pytest.mark.parametrize("who", ["inspector", "leader", "police", "officer"])
def test_unlisted_user_outside_the_school_assessing_a_self_inspection_is_refused(world: World, who: str) -> None:
    inspection = _schedule(world, InspectionKind.SELF, "staff")

    with world.refused(NotPermitted, "role_not_permitted", aggregate=inspection.id):
        world.app.assess_item(inspection.id, actor=getattr(world, who), item="CZ-01", result=AssessmentResult.PASS)


def test_auditor_assessing_or_completing_is_refused_as_read_only(world: World) -> None:
    inspection = _schedule(world, InspectionKind.ONSITE, "inspector")

    with world.refused(ReadOnlyRole, "read_only_role", aggregate=inspection.id):
        world.app.assess_item(inspection.id, actor=world.auditor, item="CZ-01", result=AssessmentResult.PASS)
    with world.refused(ReadOnlyRole, "read_only_role", aggregate=inspection.id):
        world.app.complete_inspection(inspection.id, actor=world.auditor)


def test_auditor_listed_as_an_inspector_is_still_refused_as_read_only(world: World) -> None:
    inspection = _schedule(world, InspectionKind.ONSITE, "inspector", inspectors=["inspector", "auditor"])

    with world.refused(ReadOnlyRole, "read_only_role", aggregate=inspection.id):
        world.app.assess_item(inspection.id, actor=world.auditor, item="CZ-01", result=AssessmentResult.PASS)


def test_assessment_with_a_stale_expected_version_is_refused(world: World) -> None:
    inspection = _schedule(world, InspectionKind.SELF, "staff")
    world.app.assess_item(inspection.id, actor=world.staff, item="CZ-01", result=AssessmentResult.PASS)

    with world.refused(VersionConflict, "version_conflict", aggregate=inspection.id):
        world.app.assess_item(
            inspection.id, actor=world.staff, item="CZ-02", result=AssessmentResult.PASS, expected_version=1
        )


def test_unknown_inspection_is_not_found(world: World) -> None:
    with world.refused(InspectionNotFound, "inspection_not_found"):
        world.app.get_inspection(uuid4())
    with world.refused(InspectionNotFound, "inspection_not_found"):
        world.app.complete_inspection(world.campaign, actor=world.inspector)


# --- scope of units of any kind (issue 14) ------------------------------------------------------------


def _register_school(world: World, name: str, *, district: str = "武进区", station: UUID | None = None) -> UUID:
    return world.app.register_unit(
        actor=world.admin,
        kind=UnitKind.SCHOOL,
        name=name,
        district=district,
        parent=world.bureau,
        police_station=station or world.station,
    ).id


def _schools(world: World, *ids: UUID) -> list[Any]:
    return [world.app.get_unit(school) for school in ids]


def test_a_campaign_scoped_to_a_district_bureau_covers_every_school_of_its_district_even_one_registered_later(
    world: World,
) -> None:
    # given: 武进区教育局 launches a campaign scoped to itself; a school of 天宁区 exists
    tianning = _register_school(world, "红梅实验小学", district="天宁区")
    campaign = _launch(world, scope=[world.bureau], schools=_schools(world, world.school, tianning))
    # when: a school is registered in 武进区 after the launch, and its teacher records a hazard in the campaign
    later = _register_school(world, "湖塘新城小学")
    world.app.appoint_staff(
        actor=world.admin,
        username="later_staff",
        display_name="钱老师",
        phone="13800000001",
        unit=later,
        role=Role.SCHOOL_STAFF,
        effective_from=world.clock() - timedelta(days=1),
    )
    hazard = world.discover(
        actor=Actor("later_staff", Role.SCHOOL_STAFF, later), campaign=campaign, school=later, item="X-01"
    )
    # then: every school of the district is covered, the one of another district is not
    assert hazard.school == later
    assert [world.app.campaign_covers(campaign, s) for s in (world.school, world.other_school, later)] == [True] * 3
    assert world.app.campaign_covers(campaign, tianning) is False
    with pytest.raises(SchoolNotInCampaign):
        _schedule_at(world, campaign, tianning)


def test_a_campaign_scoped_to_a_police_station_covers_the_schools_it_is_the_local_station_of(world: World) -> None:
    # given: another station with one school of the same district
    other_station = world.app.register_unit(
        actor=world.admin,
        kind=UnitKind.POLICE_STATION,
        name="南夏墅派出所",
        district="武进区",
        parent=world.city_police,
    ).id
    far_school = _register_school(world, "南夏墅小学", station=other_station)
    # when: a campaign is scoped to 湖塘派出所
    campaign = _launch(world, scope=[world.station], schools=_schools(world, world.school, far_school))
    # then: the schools whose 属地派出所 it is are covered, the other station's school is not
    assert world.app.campaign_covers(campaign, world.school)
    assert world.app.campaign_covers(campaign, world.other_school)
    assert not world.app.campaign_covers(campaign, far_school)


def test_a_campaign_scoped_to_the_city_police_bureau_covers_every_school(world: World) -> None:
    tianning = _register_school(world, "红梅实验小学", district="天宁区")

    campaign = _launch(world, scope=[world.city_police], schools=_schools(world, tianning))

    assert world.app.campaign_covers(campaign, tianning) and world.app.campaign_covers(campaign, world.school)


def test_a_scope_that_covers_no_school_is_refused_at_launch(world: World) -> None:
    # given: a police station that is the 属地派出所 of no school
    idle_station = world.app.register_unit(
        actor=world.admin, kind=UnitKind.POLICE_STATION, name="空派出所", district="武进区", parent=world.city_police
    ).id
    # when / then
    with pytest.raises(InvalidValue) as refused:
        _launch(world, scope=[idle_station], schools=_schools(world, world.school, world.other_school))
    assert refused.value.context["field"] == "scope"


def test_scope_covers_is_one_pure_rule_over_unit_kinds() -> None:
    station, school_id = uuid4(), uuid4()
    school = SimpleNamespace(id=school_id, district="武进区", police_station=station)

    def unit(kind: UnitKind, unit_id: UUID | None = None, district: str = "武进区") -> Any:
        return SimpleNamespace(id=unit_id or uuid4(), kind=kind, district=district)

    assert scope_covers([unit(UnitKind.SCHOOL, school_id)], None, school)
    assert not scope_covers([unit(UnitKind.SCHOOL)], None, school)
    assert scope_covers([unit(UnitKind.DISTRICT_EDU_BUREAU)], None, school)
    assert not scope_covers([unit(UnitKind.DISTRICT_EDU_BUREAU, district="天宁区")], None, school)
    assert scope_covers([unit(UnitKind.CITY_EDU_BUREAU, district="")], None, school)
    assert scope_covers([unit(UnitKind.POLICE_STATION, station)], None, school)
    assert not scope_covers([unit(UnitKind.POLICE_STATION)], None, school)
    assert scope_covers([], unit(UnitKind.DISTRICT_EDU_BUREAU), school)  # empty: every school under the issuer
    assert not scope_covers([], unit(UnitKind.DISTRICT_EDU_BUREAU, district="天宁区"), school)


def _schedule_at(world: World, campaign: UUID, school: UUID) -> Inspection:
    return world.app.schedule_inspection(
        actor=world.inspector, campaign=campaign, school=school, kind=InspectionKind.ONSITE, inspectors=["inspector"]
    )
