"""倒查追责 findings R1–R7 from the seeds' wording: each fires, each near miss doesn't, and every answer is "as of".

Record time is staged: the events' ``timestamp`` follows the test's clock, so a late entry is an event
recorded (clock) after its business time (``occurred_at``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

import eventsourcing.domain
import pytest

from domain.accountability import RULES, Finding, SelfCheck, Subject, Thresholds, findings
from domain.application import SafetyApplication
from domain.directory.aggregate import Staff, staff_id
from domain.errors import InvalidValue
from domain.hazard.aggregate import Severity
from domain.inspection.aggregate import AssessmentResult, InspectionKind
from domain.policy import SYSTEM_ACTOR, Role
from domain.timerules import BUSINESS_TZ, deadline_end

if TYPE_CHECKING:
    from conftest import Clock, World

START = datetime(2026, 7, 10, 10, 0, tzinfo=BUSINESS_TZ)  # the world's clock; World.assigned() happens here
DEADLINE = date(2026, 7, 20)  # the deadline World.assigned() gives
DUE = deadline_end(DEADLINE)  # 2026-07-21 00:00 Asia/Shanghai
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SECOND = timedelta(seconds=1)
R1, R2, R3, R4 = "R1_OVERDUE_UNRECTIFIED", "R2_UNABLE_NOT_ESCALATED", "R3_MAJOR_WITHOUT_INTERIM", "R4_SELF_CHECK_MISSED"
R5, R6, R7 = "R5_VERIFIED_BUT_RECURRED", "R6_ESCALATION_UNANSWERED", "R7_SUPERVISED_OVERDUE"


@pytest.fixture(autouse=True)
def record_time_follows_the_clock(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    # Aggregate.Event.create_timestamp() calls this module function for every new event's record time.
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: clock.now)


class AppDirectory:
    """The StaffDirectory port over the application's Staff aggregates, each as recorded by ``known_at``."""

    def __init__(self, app: SafetyApplication, usernames: Iterable[str]) -> None:
        self.app = app
        self.usernames = sorted(usernames)

    def holders(self, unit: UUID, role: Role, at: datetime, known_at: datetime) -> list[str]:
        return [name for name in self.usernames if self.appointment(name, at, known_at) == (unit, role)]

    def appointment(self, username: str, at: datetime, known_at: datetime) -> tuple[UUID | None, Role] | None:
        staff = self._staff(username, known_at)
        held = staff.appointment_at(at) if staff else None
        return (held.unit, held.role) if held and held.role else None

    def _staff(self, username: str, known_at: datetime) -> Staff | None:
        known = [e.originator_version for e in self.app.events.get(staff_id(username)) if e.timestamp <= known_at]
        if not known:
            return None
        staff: Staff = self.app.repository.get(staff_id(username), version=known[-1])
        return staff


STAFF = ("staff", "staff2", "principal", "principal2", "officer", "chief", "inspector", "leader", "police", "auditor")


def judge(
    world: World,
    hazard: UUID,
    known_at: datetime,
    *,
    at: datetime | None = None,
    kind: str | None = None,
    self_checks: Sequence[SelfCheck] = (),
    thresholds: Thresholds | None = None,
) -> list[Finding]:
    """Findings as known at ``known_at``, about the moment ``at`` (default: the same moment)."""
    return findings(
        world.app.hazard_events(hazard),
        at=known_at if at is None else at,
        known_at=known_at,
        directory=AppDirectory(world.app, STAFF),
        inspection_kind=kind,
        self_checks=self_checks,
        thresholds=thresholds or Thresholds(),
    )


def codes(found: list[Finding]) -> list[str]:
    return [f.code for f in found]


def person(world: World, name: str) -> Subject:
    actor = getattr(world, name)
    return Subject(actor.username, actor.unit, actor.role.value)


def on(day: int, hour: int = 0, minute: int = 0, month: int = 7) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BUSINESS_TZ)


def miss(world: World, hazard: UUID, *, at: datetime = DUE, deadline: date = DEADLINE) -> None:
    """The deadline watcher records the miss at ``at`` (business and record time)."""
    world.clock.now = at
    world.app.record_deadline_missed(hazard, actor=SYSTEM_ACTOR, deadline=deadline, occurred_at=at)


def recorded(world: World, when: datetime) -> None:
    world.clock.now = when


# --- R1 发现问题有能力整改而未整改 ------------------------------------------------------------------------


def test_r1_deadline_passed_unrectified_names_the_owner_and_the_principal_then(world: World) -> None:
    # given a hazard assigned to a teacher with a deadline of 7/20, missed at 24:00
    hazard = world.assigned()
    miss(world, hazard)

    # when the findings are asked an hour later
    [finding] = judge(world, hazard, DUE + HOUR)

    # then 发现问题有能力整改而未整改, from the deadline's end, still ongoing, proven by Assigned + DeadlineMissed
    assert (finding.code, finding.wording) == (R1, "发现问题有能力整改而未整改")
    assert finding.hazard == hazard
    assert finding.subjects == (person(world, "staff"), person(world, "principal"))
    assert (finding.start, finding.end) == (DUE, None)
    assert finding.evidence == (2, 3)
    for text in ("整改时限2026年7月20日届满", "整改责任人staff", "时任校长principal", "截至2026年7月21日仍未整改"):
        assert text in finding.summary


class Book:
    """The summaries' names, as the directory would answer them."""

    def __init__(self, world: World) -> None:
        self.units = {world.school: "红梅实验小学"}
        self.people = {"staff": "李安全", "principal": "王校长"}

    def unit_name(self, unit: UUID | None) -> str | None:
        return self.units.get(unit) if unit else None

    def person_name(self, username: str | None) -> str | None:
        return self.people.get(username or "")


def test_r1_summary_names_people_with_their_school_given_the_names(world: World) -> None:
    hazard = world.assigned()
    miss(world, hazard)

    [finding] = findings(
        world.app.hazard_events(hazard),
        at=DUE + HOUR,
        known_at=DUE + HOUR,
        directory=AppDirectory(world.app, STAFF),
        inspection_kind=None,
        names=Book(world),
    )

    assert "整改责任人李安全（红梅实验小学）、时任校长王校长（红梅实验小学）负有责任" in finding.summary
    assert "staff" not in finding.summary and str(world.school) not in finding.summary


def test_r1_near_miss_escalated_an_hour_before_the_deadline(world: World) -> None:
    hazard = world.assigned()
    recorded(world, DUE - HOUR)
    world.app.escalate_hazard(hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改，申请协调")
    miss(world, hazard)

    assert judge(world, hazard, DUE + HOUR) == []


def test_r1_escalated_an_hour_after_the_deadline_is_too_late(world: World) -> None:
    hazard = world.assigned()
    miss(world, hazard)
    recorded(world, DUE + HOUR)
    world.app.escalate_hazard(hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改，申请协调")

    assert codes(judge(world, hazard, DUE + 2 * HOUR)) == [R1]


def test_r1_near_miss_the_deadline_has_not_ended_yet(world: World) -> None:
    hazard = world.assigned()
    recorded(world, DUE - SECOND)

    assert judge(world, hazard, DUE - SECOND) == []


def test_r1_near_miss_rectified_on_the_last_day(world: World) -> None:
    hazard = world.assigned()
    recorded(world, DUE - HOUR)
    world.app.rectify_hazard(hazard, actor=world.staff, note="杂物已清理")

    assert judge(world, hazard, DUE + DAY) == []


def test_r1_near_miss_deadline_extended_before_it_ended(world: World) -> None:
    hazard = world.assigned()
    recorded(world, on(20, 9))
    world.app.extend_deadline(hazard, actor=world.inspector, new_deadline=date(2026, 7, 30), reason="需采购设备")

    assert judge(world, hazard, on(25)) == []


def test_r1_fires_from_the_passed_deadline_before_the_watcher_records_it(world: World) -> None:
    # given the deadline watcher was down at 24:00 and records the miss only at 09:00
    hazard = world.assigned()

    # then as of 01:00 the deadline itself is the fact (cited by the Assigned that set it) ...
    [before] = judge(world, hazard, DUE + HOUR)
    miss(world, hazard, at=DUE + 9 * HOUR)
    # ... and once recorded, the DeadlineMissed is cited; the finding is otherwise the same
    [after] = judge(world, hazard, DUE + 10 * HOUR)

    assert (before.code, before.start, before.evidence) == (R1, DUE, (2,))
    assert (after.code, after.start, after.evidence) == (R1, DUE, (2, 3))
    assert before.subjects == after.subjects


def test_r1_a_deadline_still_ahead_at_the_moment_asked_is_not_judged_however_late_it_is_known(world: World) -> None:
    # given a hazard whose deadline (7/20) passed unrectified, the miss recorded by the watcher at its 24:00
    hazard = world.assigned()
    miss(world, hazard)

    # then about 7/15 — the deadline still ahead — nobody is judged, even as known on 7/30 ...
    assert judge(world, hazard, on(30), at=on(15)) == []
    # ... nor at the very last moment of 7/20; once 24:00 has passed, the finding appears
    assert judge(world, hazard, on(30), at=DUE - SECOND) == []
    [overdue] = judge(world, hazard, on(30), at=DUE)
    assert (overdue.code, overdue.start, overdue.end) == (R1, DUE, None)


def test_r1_a_rectification_after_the_moment_asked_does_not_end_the_finding_then(world: World) -> None:
    # given the deadline was missed and the hazard rectified on 7/25
    hazard = world.assigned()
    miss(world, hazard)
    recorded(world, on(25, 16))
    world.app.rectify_hazard(hazard, actor=world.staff, note="杂物已清理", occurred_at=on(25, 16))

    # then about 7/23 (as known on 7/30) the breach was still going on; about 7/26 it had ended on 7/25
    [then] = judge(world, hazard, on(30), at=on(23))
    [later] = judge(world, hazard, on(30), at=on(26))
    assert (then.end, later.end) == (None, on(25, 16))
    assert "截至2026年7月23日仍未整改" in then.summary


def test_r1_escalation_recorded_late_but_backdated_before_the_deadline_counts_only_once_recorded(
    world: World,
) -> None:
    # given an escalation made at 22:00 on the last day but entered only at 08:00 the next morning,
    # and the watcher recording the miss at 10:00
    hazard = world.assigned()
    recorded(world, DUE + 8 * HOUR)
    world.app.escalate_hazard(
        hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改", occurred_at=DUE - 2 * HOUR
    )
    miss(world, hazard, at=DUE + 10 * HOUR)

    # then as of 07:00 nothing showed an escalation: R1; as of 09:00 and later it does: no R1
    assert codes(judge(world, hazard, DUE + 7 * HOUR)) == [R1]
    assert judge(world, hazard, DUE + 9 * HOUR) == []
    assert judge(world, hazard, DUE + 11 * HOUR) == []


def test_r1_ends_when_rectified_as_soon_as_the_rectification_is_known(world: World) -> None:
    # given the deadline was missed, and rectification on 7/25 was entered on 7/27
    hazard = world.assigned()
    miss(world, hazard)
    recorded(world, on(27, 9))
    world.app.rectify_hazard(hazard, actor=world.staff, note="杂物已清理", occurred_at=on(25, 16))

    [as_of_26] = judge(world, hazard, on(26))
    [as_of_28] = judge(world, hazard, on(28))

    assert (as_of_26.start, as_of_26.end) == (DUE, None)
    assert (as_of_28.start, as_of_28.end) == (DUE, on(25, 16))
    assert as_of_28.evidence == as_of_26.evidence == (2, 3)
    assert "2026年7月25日才完成整改" in as_of_28.summary


def test_r1_ends_when_the_bureau_extends_the_missed_deadline(world: World) -> None:
    hazard = world.assigned()
    miss(world, hazard)
    recorded(world, on(22, 10))
    world.app.extend_deadline(hazard, actor=world.inspector, new_deadline=date(2026, 7, 30), reason="需采购设备")

    [finding] = judge(world, hazard, on(23))

    assert (finding.code, finding.end) == (R1, on(22, 10))
    assert "整改时限延至2026年7月30日" in finding.summary


def test_r1_each_missed_deadline_is_its_own_finding(world: World) -> None:
    hazard = world.assigned()
    miss(world, hazard)
    recorded(world, on(22, 10))
    world.app.extend_deadline(hazard, actor=world.inspector, new_deadline=date(2026, 7, 30), reason="需采购设备")
    miss(world, hazard, at=deadline_end(date(2026, 7, 30)), deadline=date(2026, 7, 30))

    found = judge(world, hazard, on(31, 12))

    assert [(f.code, f.start, f.end, f.evidence) for f in found] == [
        (R1, DUE, on(22, 10), (2, 3)),
        (R1, deadline_end(date(2026, 7, 30)), None, (2, 5)),
    ]


# --- R1: the owner and the 校长 as they were at the deadline, as known at each record time ------------------


def test_r1_owner_is_the_transferee_as_soon_as_a_transfer_before_the_deadline_is_known(world: World) -> None:
    # given: assigned to staff; transferred to staff2 at 15:00 on the last day but entered at 08:00 next day;
    # the miss recorded at 09:00; transferred back to staff on 7/22 (after the deadline)
    hazard = world.assigned()
    recorded(world, DUE + 8 * HOUR)
    world.app.transfer_hazard(
        hazard,
        actor=world.principal,
        owner="staff2",
        owner_unit=world.school,
        reason="分工调整",
        occurred_at=on(20, 15),
    )
    miss(world, hazard, at=DUE + 9 * HOUR)
    recorded(world, on(22, 10))
    world.app.transfer_hazard(hazard, actor=world.principal, owner="staff", owner_unit=world.school, reason="调回")

    def owner_and_evidence(as_of: datetime) -> list[tuple[Subject, tuple[int, ...]]]:
        return [(f.subjects[0], f.evidence) for f in judge(world, hazard, as_of)]

    assert owner_and_evidence(on(20, 18)) == []  # the deadline has not ended
    assert owner_and_evidence(DUE + 7 * HOUR) == [(person(world, "staff"), (2,))]  # the transfer is not known yet
    assert owner_and_evidence(DUE + 8 * HOUR) == [(person(world, "staff2"), (2, 3))]  # Transferred 3 + Assigned 2
    assert owner_and_evidence(DUE + 10 * HOUR) == [(person(world, "staff2"), (3, 4))]  # + DeadlineMissed 4
    assert owner_and_evidence(on(23)) == [(person(world, "staff2"), (3, 4))]  # a later transfer changes nothing


def test_r1_transfer_before_the_deadline_names_the_transferee(world: World) -> None:
    hazard = world.assigned()
    recorded(world, on(18, 9))
    world.app.transfer_hazard(hazard, actor=world.principal, owner="staff2", owner_unit=world.school, reason="分工调整")
    miss(world, hazard)

    [finding] = judge(world, hazard, on(21, 9))

    assert finding.subjects == (person(world, "staff2"), person(world, "principal"))
    assert finding.evidence == (3, 4)


def _appoint(world: World, username: str, role: Role, effective_from: datetime) -> None:
    world.app.appoint_staff(
        actor=world.admin,
        username=username,
        display_name="钱校长",
        phone="13900000000",
        unit=world.school,
        role=role,
        effective_from=effective_from,
    )


def test_r1_names_the_principal_at_the_deadline_not_todays(world: World) -> None:
    # given the deadline was missed under 校长 principal, who handed over to principal2 on 8/1
    hazard = world.assigned()
    miss(world, hazard)
    recorded(world, on(1, 9, month=8))
    world.app.change_role(
        actor=world.admin,
        username="principal",
        unit=world.school,
        role=Role.SCHOOL_STAFF,
        effective_from=on(1, month=8),
    )
    _appoint(world, "principal2", Role.SCHOOL_PRINCIPAL, on(1, month=8))

    [finding] = judge(world, hazard, on(5, month=8))

    assert finding.subjects == (person(world, "staff"), Subject("principal", world.school, "school_principal"))
    assert "principal2" not in finding.summary


def test_r1_a_principal_change_recorded_late_is_named_only_from_then_on(world: World) -> None:
    # given on 8/3 the directory learns that principal2 had been 校长 since 7/15 (principal demoted then)
    hazard = world.assigned()
    miss(world, hazard)
    recorded(world, on(3, 9, month=8))
    world.app.change_role(
        actor=world.admin, username="principal", unit=world.school, role=Role.SCHOOL_STAFF, effective_from=on(15)
    )
    _appoint(world, "principal2", Role.SCHOOL_PRINCIPAL, on(15))

    [as_of_aug_2] = judge(world, hazard, on(2, month=8))
    [as_of_aug_4] = judge(world, hazard, on(4, month=8))

    assert as_of_aug_2.subjects[1] == Subject("principal", world.school, "school_principal")
    assert as_of_aug_4.subjects[1] == Subject("principal2", world.school, "school_principal")


def test_r1_names_the_school_itself_when_no_principal_is_known(world: World) -> None:
    hazard = world.assigned()
    world.app.deactivate_staff(actor=world.admin, username="principal", effective_from=on(15))
    miss(world, hazard)

    [finding] = judge(world, hazard, DUE + HOUR)

    assert finding.subjects == (person(world, "staff"), Subject(None, world.school, None))


# --- R2 无力整改也不上报 -----------------------------------------------------------------------------------


def _beyond_capacity(world: World) -> tuple[UUID, datetime]:
    hazard = world.assigned()
    recorded(world, START + HOUR)
    world.app.record_plan(
        hazard,
        actor=world.staff,
        measures="更换整栋楼电线",
        funds="约30万元",
        deadline=date(2026, 7, 18),
        beyond_capacity=True,
    )
    return hazard, START + HOUR


def test_r2_beyond_capacity_not_escalated_by_day_3(world: World) -> None:
    hazard, declared = _beyond_capacity(world)
    due = declared + 3 * DAY

    assert judge(world, hazard, due - SECOND) == []
    [finding] = judge(world, hazard, due)

    assert (finding.code, finding.wording) == (R2, "无力整改也不上报")
    assert finding.subjects == (person(world, "principal"), person(world, "staff"))
    assert (finding.start, finding.end, finding.evidence) == (due, None, (2, 3))
    assert "2026年7月10日整改方案认定无力整改，3日内（至2026年7月13日）仍未上报" in finding.summary


def test_r2_near_miss_escalated_on_day_2(world: World) -> None:
    hazard, declared = _beyond_capacity(world)
    recorded(world, declared + 2 * DAY)
    world.app.escalate_hazard(hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改")

    assert judge(world, hazard, declared + 4 * DAY) == []


def test_r2_escalated_at_exactly_3_days_is_in_time(world: World) -> None:
    hazard, declared = _beyond_capacity(world)
    recorded(world, declared + 3 * DAY)
    world.app.escalate_hazard(hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改")

    assert judge(world, hazard, declared + 4 * DAY) == []


def test_r2_escalated_on_day_4_ends_the_finding(world: World) -> None:
    hazard, declared = _beyond_capacity(world)
    recorded(world, declared + 4 * DAY)
    world.app.escalate_hazard(hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改")

    [finding] = judge(world, hazard, declared + 4 * DAY + HOUR)

    assert (finding.code, finding.end, finding.evidence) == (R2, declared + 4 * DAY, (2, 3, 4))


def test_r2_escalation_on_day_2_entered_on_day_4_counts_from_day_4(world: World) -> None:
    hazard, declared = _beyond_capacity(world)
    recorded(world, declared + 4 * DAY)
    world.app.escalate_hazard(
        hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改", occurred_at=declared + 2 * DAY
    )

    assert codes(judge(world, hazard, declared + 3 * DAY + 12 * HOUR)) == [R2]
    assert judge(world, hazard, declared + 4 * DAY + HOUR) == []


def test_r2_near_miss_rectified_within_the_days_after_all(world: World) -> None:
    hazard, declared = _beyond_capacity(world)
    recorded(world, declared + 2 * DAY)
    world.app.rectify_hazard(hazard, actor=world.staff, note="争取到经费，已更换")

    assert judge(world, hazard, declared + 4 * DAY) == []


@pytest.mark.parametrize(("still_unable", "expected"), [(True, [R2]), (False, [])], ids=["repeated", "withdrawn"])
def test_r2_a_later_plan_repeats_or_withdraws_the_declaration(
    world: World, still_unable: bool, expected: list[str]
) -> None:
    # a second plan on day 1 either says 无力整改 again (one finding, from the first) or finds the means after all
    hazard, declared = _beyond_capacity(world)
    recorded(world, declared + DAY)
    world.app.record_plan(
        hazard,
        actor=world.staff,
        measures="分批更换",
        funds="学校自筹",
        deadline=DEADLINE,
        beyond_capacity=still_unable,
    )

    found = judge(world, hazard, declared + 4 * DAY)

    assert [(f.code, f.start, f.evidence) for f in found] == [(c, declared + 3 * DAY, (2, 3)) for c in expected]


def test_r2_threshold_is_a_setting(world: World) -> None:
    hazard, declared = _beyond_capacity(world)
    recorded(world, declared + 2 * DAY)
    world.app.escalate_hazard(hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改")

    found = judge(world, hazard, declared + 3 * DAY, thresholds=Thresholds(escalate_within_days=1))

    assert [(f.code, f.start, f.end) for f in found] == [(R2, declared + DAY, declared + 2 * DAY)]


# --- R3 重大隐患一时无法整改，而未采取临时安全防范措施、明确整改责任单位、责任人与整改时限 -----------------


@pytest.mark.parametrize(
    ("after", "fires"),
    [(23 * HOUR, False), (24 * HOUR, False), (25 * HOUR, True)],
    ids=["interim-at-23h", "interim-at-exactly-24h", "interim-at-25h"],
)
def test_r3_major_hazard_interim_measures_within_24_hours(world: World, after: timedelta, fires: bool) -> None:
    # given a major hazard assigned at once (owner, unit and deadline clear), interim measures some hours later
    hazard = world.assigned(severity=Severity.MAJOR)
    recorded(world, START + after)
    world.app.record_interim_measures(hazard, actor=world.staff, measures="设置隔离带，专人值守")

    found = judge(world, hazard, START + 3 * DAY)

    if not fires:
        assert found == []
        return
    [finding] = found
    assert finding.wording == "重大隐患一时无法整改，而未采取临时安全防范措施、明确整改责任单位、责任人与整改时限"
    assert finding.subjects == (person(world, "principal"),)
    assert (finding.start, finding.end, finding.evidence) == (START + 24 * HOUR, START + after, (1, 3))
    assert "24小时后（2026年7月11日10:00）仍未采取临时安全防范措施，" in finding.summary


def test_r3_names_everything_missing_once_24_hours_have_passed(world: World) -> None:
    hazard = world.discover(severity=Severity.MAJOR).id
    due = START + 24 * HOUR

    assert judge(world, hazard, due - SECOND) == []
    [finding] = judge(world, hazard, due)

    assert (finding.code, finding.start, finding.end, finding.evidence) == (R3, due, None, (1,))
    assert "仍未采取临时安全防范措施、明确整改责任单位、明确责任人、明确整改时限" in finding.summary


def test_r3_near_miss_major_hazard_rectified_within_24_hours_was_not_unable_to_rectify(world: World) -> None:
    hazard = world.assigned(severity=Severity.MAJOR)
    recorded(world, START + 20 * HOUR)
    world.app.rectify_hazard(hazard, actor=world.staff, note="已拆除")

    assert judge(world, hazard, START + 3 * DAY) == []


def test_r3_near_miss_a_general_hazard_needs_no_interim_measures(world: World) -> None:
    hazard = world.discover().id

    assert judge(world, hazard, START + 3 * DAY) == []


def test_r3_interim_measures_entered_late_count_only_once_recorded(world: World) -> None:
    hazard = world.assigned(severity=Severity.MAJOR)
    recorded(world, START + 30 * HOUR)
    world.app.record_interim_measures(hazard, actor=world.staff, measures="设置隔离带", occurred_at=START + 20 * HOUR)

    assert [(f.code, f.end) for f in judge(world, hazard, START + 26 * HOUR)] == [(R3, None)]
    assert judge(world, hazard, START + 31 * HOUR) == []


# --- R4 学校自查不细致; 谁检查谁负责 -------------------------------------------------------------------------


def _self_inspection(world: World, result: AssessmentResult, *, item: str = "CZ-01") -> list[SelfCheck]:
    inspection = world.app.schedule_inspection(
        actor=world.principal,
        campaign=world.campaign,
        school=world.school,
        kind=InspectionKind.SELF,
        inspectors=["staff", "staff2"],
    )
    world.app.assess_item(inspection.id, actor=world.staff, item=item, result=result)
    return _self_checks(world, inspection.id)


def _self_checks(world: World, inspection_id: UUID) -> list[SelfCheck]:
    inspectors = tuple(world.app.get_inspection(inspection_id).inspectors)
    return [
        SelfCheck(inspection_id, inspectors, data["item"], data["result"], data["occurred_at"], e.timestamp)
        for e in world.app.events.get(inspection_id)
        if type(e).__name__ == "ItemAssessed"
        for data in [vars(e)]
    ]


def _found_onsite(world: World, when: datetime, *, item: str = "CZ-01") -> UUID:
    recorded(world, when)
    onsite = world.app.schedule_inspection(
        actor=world.inspector,
        campaign=world.campaign,
        school=world.school,
        kind=InspectionKind.ONSITE,
        inspectors=["inspector"],
    )
    return world.discover(actor=world.inspector, inspection=onsite.id, item=item).id


def test_r4_onsite_inspection_finds_what_the_self_check_passed(world: World) -> None:
    # given the school's self-inspection (staff, staff2) marked CZ-01 合格 at 10:00, the bureau found it 2 days later
    checks = _self_inspection(world, AssessmentResult.PASS)
    hazard = _found_onsite(world, START + 2 * DAY)

    [finding] = judge(world, hazard, START + 2 * DAY + HOUR, kind="onsite", self_checks=checks)

    assert (finding.code, finding.wording) == (R4, "学校自查不细致; 谁检查谁负责")
    assert finding.subjects == (person(world, "staff"), person(world, "staff2"))
    assert (finding.start, finding.end, finding.evidence) == (START, START + 2 * DAY, (1,))
    assert "检查人staff、staff2" in finding.summary and "教育局现场检查" in finding.summary


@pytest.mark.parametrize("result", [AssessmentResult.FAIL, AssessmentResult.NOT_APPLICABLE])
def test_r4_near_miss_self_check_did_not_mark_the_item_pass(world: World, result: AssessmentResult) -> None:
    checks = _self_inspection(world, result)
    hazard = _found_onsite(world, START + 2 * DAY)

    assert judge(world, hazard, START + 3 * DAY, kind="onsite", self_checks=checks) == []


def test_r4_near_miss_pass_corrected_to_fail_before_the_discovery(world: World) -> None:
    checks = _self_inspection(world, AssessmentResult.PASS)
    recorded(world, START + HOUR)
    world.app.assess_item(checks[0].inspection, actor=world.staff2, item="CZ-01", result=AssessmentResult.FAIL)
    hazard = _found_onsite(world, START + 2 * DAY)

    found = judge(world, hazard, START + 3 * DAY, kind="onsite", self_checks=_self_checks(world, checks[0].inspection))

    assert found == []


@pytest.mark.parametrize("kind", ["self", None])
def test_r4_near_miss_not_found_by_a_non_self_inspection(world: World, kind: str | None) -> None:
    checks = _self_inspection(world, AssessmentResult.PASS)
    recorded(world, START + DAY)
    hazard = world.discover().id

    assert judge(world, hazard, START + 3 * DAY, kind=kind, self_checks=checks) == []


def test_r4_near_miss_self_check_of_another_item(world: World) -> None:
    checks = _self_inspection(world, AssessmentResult.PASS, item="CZ-02")
    hazard = _found_onsite(world, START + 2 * DAY)

    assert judge(world, hazard, START + 3 * DAY, kind="joint", self_checks=checks) == []


def test_r4_self_check_entered_after_the_known_at_time_is_unknown(world: World) -> None:
    # given the self-check made on 7/10 was entered on 7/15, after the discovery on 7/12
    inspection = world.app.schedule_inspection(
        actor=world.principal,
        campaign=world.campaign,
        school=world.school,
        kind=InspectionKind.SELF,
        inspectors=["staff"],
    )
    hazard = _found_onsite(world, START + 2 * DAY)
    recorded(world, START + 5 * DAY)
    world.app.assess_item(
        inspection.id, actor=world.staff, item="CZ-01", result=AssessmentResult.PASS, occurred_at=START
    )
    checks = _self_checks(world, inspection.id)

    assert judge(world, hazard, START + 4 * DAY, kind="supervision", self_checks=checks) == []
    assert codes(judge(world, hazard, START + 6 * DAY, kind="supervision", self_checks=checks)) == [R4]


# --- R5 谁验收谁负责 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "fires"),
    [(90 * DAY, True), (90 * DAY + SECOND, False), (91 * DAY, False)],
    ids=["reopened-on-day-90", "a-second-after-90-days", "reopened-on-day-91"],
)
def test_r5_reopened_within_90_days_of_the_verification(world: World, after: timedelta, fires: bool) -> None:
    # given the principal verified (验收) and closed the hazard at START
    hazard = world.closed()
    recorded(world, START + after)
    world.app.reopen_hazard(hazard, actor=world.inspector, reason="复查发现再次堵塞")

    found = judge(world, hazard, START + after + HOUR)

    if not fires:
        assert found == []
        return
    [finding] = found
    assert (finding.code, finding.wording) == (R5, "谁验收谁负责")
    assert finding.subjects == (person(world, "principal"),)
    assert (finding.start, finding.end, finding.evidence) == (START, START + after, (4, 5))
    assert "验收人principal于2026年7月10日验收销号" in finding.summary and "相隔90日" in finding.summary


def test_r5_subject_is_the_verifier_in_the_role_held_at_the_verification(world: World) -> None:
    hazard = world.closed()
    recorded(world, START + 30 * DAY)
    world.app.change_role(
        actor=world.admin, username="principal", unit=world.school, role=Role.SCHOOL_STAFF, effective_from=START + DAY
    )
    world.app.reopen_hazard(hazard, actor=world.inspector, reason="复发")

    [finding] = judge(world, hazard, START + 31 * DAY)

    assert finding.subjects == (Subject("principal", world.school, "school_principal"),)


# --- R6 业务主管部门指导不到位 --------------------------------------------------------------------------------


def _escalated(world: World) -> tuple[UUID, datetime]:
    hazard = world.assigned()
    recorded(world, START + HOUR)
    world.app.escalate_hazard(hazard, actor=world.principal, to_unit=world.bureau, reason="需区教育局协调经费")
    return hazard, START + HOUR


@pytest.mark.parametrize(
    ("after", "fires"),
    [(5 * DAY, False), (6 * DAY, True)],
    ids=["bureau-answers-on-day-5", "bureau-answers-on-day-6"],
)
def test_r6_bureau_answers_the_escalation(world: World, after: timedelta, fires: bool) -> None:
    hazard, escalated = _escalated(world)
    recorded(world, escalated + after)
    world.app.supervise_hazard(hazard, actor=world.inspector, note="挂牌督办，协调经费")

    found = judge(world, hazard, escalated + after + HOUR)

    if not fires:
        assert found == []
        return
    [finding] = found
    assert (finding.code, finding.wording) == (R6, "业务主管部门指导不到位")
    assert finding.subjects == (Subject(None, world.bureau, None),)
    assert (finding.start, finding.end, finding.evidence) == (escalated + 5 * DAY, escalated + after, (3, 4))


def test_r6_unanswered_once_5_days_have_passed(world: World) -> None:
    hazard, escalated = _escalated(world)

    assert judge(world, hazard, escalated + 5 * DAY - SECOND) == []
    [finding] = judge(world, hazard, escalated + 5 * DAY)

    assert (finding.code, finding.end, finding.evidence) == (R6, None, (3,))
    assert f"上报至单位{world.bureau}，该单位5日内（至2026年7月15日）未在本隐患上作出任何处理" in finding.summary


def test_r6_near_miss_does_not_count_an_answer_from_another_unit(world: World) -> None:
    hazard, escalated = _escalated(world)
    recorded(world, escalated + 2 * DAY)
    world.app.supervise_hazard(hazard, actor=world.police, note="公安机关挂牌督办")

    found = judge(world, hazard, escalated + 6 * DAY)

    assert [(f.code, f.subjects) for f in found] == [(R6, (Subject(None, world.bureau, None),))]


def test_r6_answer_entered_late_counts_only_once_recorded(world: World) -> None:
    hazard, escalated = _escalated(world)
    recorded(world, escalated + 7 * DAY)
    world.app.supervise_hazard(hazard, actor=world.inspector, note="督办", occurred_at=escalated + 3 * DAY)

    assert codes(judge(world, hazard, escalated + 6 * DAY)) == [R6]
    assert judge(world, hazard, escalated + 7 * DAY + HOUR) == []


# --- R7 挂牌督办…督办到位 -----------------------------------------------------------------------------------


def test_r7_supervised_hazard_missed_its_deadline_adds_the_supervising_unit(world: World) -> None:
    hazard = world.assigned()
    recorded(world, START + DAY)
    world.app.supervise_hazard(hazard, actor=world.leader, note="挂牌督办")
    miss(world, hazard)

    found = judge(world, hazard, DUE + HOUR)

    assert codes(found) == [R1, R7]  # both fire, independently
    r7 = found[1]
    assert r7.wording == "挂牌督办…督办到位"
    assert r7.subjects == (person(world, "staff"), person(world, "principal"), Subject(None, world.bureau, None))
    assert (r7.start, r7.end, r7.evidence) == (DUE, None, (2, 3, 4))
    assert "由leader挂牌督办的隐患，整改时限2026年7月20日届满仍未整改" in r7.summary


def test_r7_fires_without_r1_when_escalated_in_time(world: World) -> None:
    hazard = world.assigned()
    recorded(world, START + HOUR)
    world.app.escalate_hazard(hazard, actor=world.principal, to_unit=world.bureau, reason="无力整改")
    recorded(world, START + 2 * HOUR)
    world.app.supervise_hazard(hazard, actor=world.leader, note="挂牌督办")  # the bureau answered: no R6
    miss(world, hazard)

    assert codes(judge(world, hazard, DUE + HOUR)) == [R7]


def test_r7_near_miss_supervised_only_after_the_deadline(world: World) -> None:
    hazard = world.assigned()
    miss(world, hazard)
    recorded(world, DUE + HOUR)
    world.app.supervise_hazard(hazard, actor=world.leader, note="挂牌督办")

    assert codes(judge(world, hazard, DUE + 2 * HOUR)) == [R1]


# --- the whole answer --------------------------------------------------------------------------------------


def test_findings_are_sorted_by_start_then_code_and_reproducible(world: World) -> None:
    # given a major hazard, assigned, declared beyond capacity, never interim-protected nor escalated
    hazard = world.assigned(severity=Severity.MAJOR)
    world.app.record_plan(
        hazard, actor=world.staff, measures="改造", funds="无", deadline=DEADLINE, beyond_capacity=True
    )
    miss(world, hazard)

    first = judge(world, hazard, on(25))

    assert [(f.code, f.start) for f in first] == [(R3, START + DAY), (R2, START + 3 * DAY), (R1, DUE)]
    assert judge(world, hazard, on(25)) == first


def test_nothing_is_known_before_the_hazard_was_recorded(world: World) -> None:
    recorded(world, on(12))
    hazard = world.discover(severity=Severity.MAJOR).id

    assert judge(world, hazard, on(11)) == []
    assert codes(judge(world, hazard, on(14))) == [R3]


def test_a_moment_without_a_time_zone_is_refused(world: World) -> None:
    hazard = world.discover().id

    with pytest.raises(InvalidValue):
        judge(world, hazard, datetime(2026, 7, 25))


def test_rules_carry_the_seed_wording_in_order() -> None:
    assert RULES == (
        ("R1_OVERDUE_UNRECTIFIED", "发现问题有能力整改而未整改"),
        ("R2_UNABLE_NOT_ESCALATED", "无力整改也不上报"),
        (
            "R3_MAJOR_WITHOUT_INTERIM",
            "重大隐患一时无法整改，而未采取临时安全防范措施、明确整改责任单位、责任人与整改时限",
        ),
        ("R4_SELF_CHECK_MISSED", "学校自查不细致; 谁检查谁负责"),
        ("R5_VERIFIED_BUT_RECURRED", "谁验收谁负责"),
        ("R6_ESCALATION_UNANSWERED", "业务主管部门指导不到位"),
        ("R7_SUPERVISED_OVERDUE", "挂牌督办…督办到位"),
    )
