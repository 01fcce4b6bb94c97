"""倒查追责: accountability findings R1–R7, pure functions of one hazard's events at a business time ``at`` as
known at a record time ``known_at``.

Conventions shared by every rule (DESIGN §2 "Accountability rules"):

* **Known.** Only events with ``timestamp <= known_at`` (record time) count, and only self-checks with
  ``recorded_at <= known_at``. A late entry — recorded after ``known_at`` even if backdated — is unknown.
* **Nothing after ``at``.** Only events and self-checks that occurred by ``at`` (business time) count, and a
  time-based rule fires only once ``at`` has reached its moment (the deadline's 24:00,
  the threshold's end). Every window is closed at its end: an act at exactly the moment is in time
  (interim measures at 24 h, escalation at exactly 3 days, an answer at exactly 5 days, a deadline's
  24:00 itself). Day thresholds are elapsed durations (N × 24 h) from the business time of the act.
* **Start.** A breach of a duty starts at the moment the duty fell due (R1, R2, R3, R6, R7); R4 and R5
  cover the period from the negligent act (the self-check "pass", the 验收) to its exposure.
* **Subjects as they were.** Owners come from the Assigned/Transferred events in force at the moment;
  roles, units and the school's 校长 come from the staff directory *at that moment, as it was known at
  known_at*. When no 校长 is known the school itself is named (unit alone): 追究学校责任.
* **Missed deadlines.** A deadline is missed when its DeadlineMissed is recorded or — while the deadline
  watcher has not recorded it yet — when its 24:00 has passed with that deadline in force and the hazard
  not rectified; the finding then cites the event that set the deadline instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.hazard.status import OPEN_STATUSES, Status, initial_status, next_status
from domain.policy import Role
from domain.timerules import BUSINESS_TZ, deadline_end

RULES: tuple[tuple[str, str], ...] = (
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
_WORDING = dict(RULES)
_NOT_SELF_KINDS = {"onsite": "教育局现场检查", "supervision": "督查", "joint": "多部门联合检查"}


@dataclass(frozen=True)
class Thresholds:
    escalate_within_days: int = 3  # R2 ESCALATE_WITHIN_DAYS
    major_response_hours: int = 24  # R3 MAJOR_RESPONSE_HOURS
    recur_within_days: int = 90  # R5 RECUR_WITHIN_DAYS
    respond_within_days: int = 5  # R6 RESPOND_WITHIN_DAYS


@dataclass(frozen=True)
class Subject:
    username: str | None  # None when the subject is a unit alone
    unit: UUID | None
    role: str | None  # the role held AT THE TIME (Role value); None for a unit alone


@dataclass(frozen=True)
class Finding:
    code: str
    wording: str
    hazard: UUID
    subjects: tuple[Subject, ...]
    start: datetime
    end: datetime | None  # None while the failure is still ongoing as of the record time asked
    evidence: tuple[int, ...]
    summary: str


class StaffDirectory(Protocol):
    def holders(self, unit: UUID, role: Role, at: datetime, known_at: datetime) -> list[str]:
        """Usernames holding ``role`` in ``unit`` at valid time ``at``,
        as the directory knew it at record time ``known_at``."""
        ...

    def appointment(self, username: str, at: datetime, known_at: datetime) -> tuple[UUID | None, Role] | None:
        """(unit, role) the user held at ``at`` as known at ``known_at``; None if none."""
        ...


class NameBook(Protocol):
    """Display names for the summaries' words (the directory answers; None where it does not know)."""

    def unit_name(self, unit: UUID | None) -> str | None: ...

    def person_name(self, username: str | None) -> str | None: ...


class NoNames:
    """Summaries with ids and usernames, where no directory is at hand."""

    def unit_name(self, unit: UUID | None) -> str | None:
        return None

    def person_name(self, username: str | None) -> str | None:
        return None


@dataclass(frozen=True)
class SelfCheck:
    """One assessment from the school's own self-inspection (kind "self") in the hazard's campaign."""

    inspection: UUID
    inspectors: tuple[str, ...]
    item: str
    result: str  # "pass" | "fail" | "not_applicable"
    assessed_at: datetime  # occurred_at of the assessment
    recorded_at: datetime  # record time of the assessment


DEFAULT_THRESHOLDS = Thresholds()


def findings(
    events: Sequence[Aggregate.Event],
    *,
    at: datetime,
    known_at: datetime,
    directory: StaffDirectory,
    inspection_kind: str | None,
    self_checks: Sequence[SelfCheck] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    names: NameBook | None = None,
) -> list[Finding]:
    """Every 倒查追责 finding on one hazard at business time ``at`` as known at record time ``known_at``, sorted by
    (start, code): nothing that happened after ``at``, no deadline that has not passed by ``at``. ``names`` words
    the summaries with people's and units' names (李安全（红梅实验小学）) instead of usernames and ids."""
    for name, moment in (("at", at), ("known_at", known_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidValue(f"{name} 必须带时区", field=name)
    known = (_Fact.of(e) for e in events if e.timestamp <= known_at)
    facts = tuple(f for f in known if f.at <= at)
    if not facts or facts[0].kind != "Discovered":
        return []
    case = _Case(events[0].originator_id, facts, at, known_at, directory, thresholds, names or NoNames())
    found = [
        *_overdue(case),
        *_unable_not_escalated(case),
        *_major_without_interim(case),
        *_self_check_missed(case, inspection_kind, self_checks),
        *_verified_but_recurred(case),
        *_escalation_unanswered(case),
    ]
    voided = case.first(case.of("Voided"))
    if voided is not None:
        found = _until_voided(found, voided)
    return sorted(found, key=lambda f: (f.start, f.code, f.evidence, f.summary))


def _until_voided(found: list[Finding], voided: _Fact) -> list[Finding]:
    """A voided hazard (作废) fires nothing from its void on: a finding due later is dropped, one still running
    then ends there; what fell due while it stood in the ledger stays (it was owed then)."""
    note = f"（该隐患已于{_day(voided.at)}作废：{voided.text('reason')}）"
    return [
        replace(f, end=voided.at, summary=f.summary + note) if f.end is None or f.end > voided.at else f
        for f in found
        if f.start < voided.at
    ]


# --- the events, read once -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fact:
    """A hazard event as the rules read it: its type word, version, business time, actor and data."""

    kind: str
    version: int
    at: datetime
    actor: str
    data: dict[str, Any]

    @classmethod
    def of(cls, event: Aggregate.Event) -> _Fact:
        data = vars(event)
        return cls(type(event).__name__, event.originator_version, data["occurred_at"], data["actor"], data)

    def text(self, key: str) -> str:
        value = self.data.get(key)
        return value if isinstance(value, str) else ""

    def unit(self, key: str) -> UUID | None:
        value = self.data.get(key)
        return value if isinstance(value, UUID) else None

    def day(self, key: str) -> date | None:
        value = self.data.get(key)
        return value if isinstance(value, date) else None

    def flag(self, key: str) -> bool:
        return self.data.get(key) is True


@dataclass(frozen=True)
class _State:
    """What the hazard looked like at a business moment (folded from the known events up to it)."""

    status: Status = Status.REPORTED
    owned_by: _Fact | None = None  # the Assigned/Transferred that made the current owner
    deadline: date | None = None
    deadline_set_by: int | None = None
    plan_deadline: bool = False
    interim: bool = False

    def apply(self, fact: _Fact) -> _State:
        if fact.kind == "Discovered":
            return replace(self, status=initial_status(fact.flag("rectified_on_spot")))
        status = next_status(self.status, fact.kind, owner=self.owner)
        if fact.kind == "Assigned":
            return replace(
                self, status=status, owned_by=fact, deadline=fact.day("deadline"), deadline_set_by=fact.version
            )
        if fact.kind == "Transferred":
            return replace(self, owned_by=fact)
        if fact.kind == "DeadlineExtended":
            return replace(self, deadline=fact.day("new_deadline"), deadline_set_by=fact.version)
        if fact.kind == "PlanRecorded":
            return replace(self, plan_deadline=self.plan_deadline or fact.day("deadline") is not None)
        if fact.kind == "InterimMeasuresRecorded":
            return replace(self, interim=True)
        return replace(self, status=status)

    @property
    def owner(self) -> str | None:
        return self.owned_by.text("owner") if self.owned_by else None

    def missing(self) -> list[str]:
        """What a major hazard still lacks of 临时安全防范措施、整改责任单位、责任人与整改时限."""
        have = {
            "临时安全防范措施": self.interim,
            "整改责任单位": self.owned_by is not None and self.owned_by.unit("owner_unit") is not None,
            "责任人": self.owner is not None,
            "整改时限": self.deadline is not None or self.plan_deadline,
        }
        return [name for name, present in have.items() if not present]


@dataclass(frozen=True)
class _Case:
    hazard: UUID
    facts: tuple[_Fact, ...]
    at: datetime  # business time: nothing after it is judged
    known_at: datetime  # record time: what the system knew
    directory: StaffDirectory
    limits: Thresholds
    names: NameBook

    @property
    def discovered(self) -> _Fact:
        return self.facts[0]

    def of(self, *kinds: str) -> list[_Fact]:
        return [f for f in self.facts if f.kind in kinds]

    def first(self, facts: Iterable[_Fact]) -> _Fact | None:
        return next(iter(facts), None)

    def state_at(self, moment: datetime) -> _State:
        state = _State()
        for fact in self.facts:
            if fact.at <= moment:
                state = state.apply(fact)
        return state

    def person(self, username: str, unit: UUID | None, at: datetime) -> Subject:
        held = self.directory.appointment(username, at, self.known_at)
        return Subject(username, unit if unit is not None else (held[0] if held else None), _role(held))

    def unit_of(self, username: str, at: datetime) -> UUID | None:
        held = self.directory.appointment(username, at, self.known_at)
        return held[0] if held else None

    def school_subjects(self, at: datetime) -> list[Subject]:
        """The school's 校长 at ``at``; the school itself when nobody is known to have held the post."""
        school = self.discovered.unit("school")
        if school is None:
            return []
        principals = sorted(self.directory.holders(school, Role.SCHOOL_PRINCIPAL, at, self.known_at))
        if not principals:
            return [Subject(None, school, None)]
        return [Subject(name, school, Role.SCHOOL_PRINCIPAL.value) for name in principals]

    def unit_words(self, unit: UUID | None) -> str:
        return (self.names.unit_name(unit) or str(unit)) if unit else ""

    def person_words(self, username: str, unit: UUID | None) -> str:
        """李安全（红梅实验小学）: the person's name and unit; the username where the directory has no name."""
        where = self.names.unit_name(unit) if unit else None
        return (self.names.person_name(username) or username) + (f"（{where}）" if where else "")

    def actor_words(self, username: str, at: datetime) -> str:
        return self.person_words(username, self.unit_of(username, at))

    def owner_subjects(self, state: _State, at: datetime) -> list[Subject]:
        if state.owned_by is None or state.owner is None:
            return []
        return [self.person(state.owner, state.owned_by.unit("owner_unit"), at)]

    def finding(
        self,
        code: str,
        subjects: Iterable[Subject],
        start: datetime,
        end: datetime | None,
        evidence: Iterable[int | None],
        summary: str,
    ) -> Finding:
        return Finding(
            code=code,
            wording=_WORDING[code],
            hazard=self.hazard,
            subjects=tuple(dict.fromkeys(subjects)),
            start=start,
            end=end,
            evidence=tuple(sorted({v for v in evidence if v is not None})),
            summary=summary,
        )


# --- R1 / R7: a deadline passed unrectified ----------------------------------------------------------


def _overdue(case: _Case) -> list[Finding]:
    found: list[Finding] = []
    for deadline, missed in _missed_deadlines(case):
        due = deadline_end(deadline)
        state = case.state_at(due)
        ended = case.first(f for f in case.of("Rectified", "DeadlineExtended") if f.at > due)
        subjects = list(dict.fromkeys([*case.owner_subjects(state, due), *case.school_subjects(due)]))
        evidence = [state.owned_by.version if state.owned_by else None]
        evidence.append(missed.version if missed else state.deadline_set_by)
        tail = _r1_tail(case, ended)
        who = _describe(case, subjects, owner=state.owner)
        if not case.first(f for f in case.of("Escalated") if f.at <= due):
            summary = f"整改时限{_date(deadline)}届满时隐患未整改，也未在届满前上报，{who}负有责任{tail}"
            found.append(case.finding("R1_OVERDUE_UNRECTIFIED", subjects, due, _at(ended), evidence, summary))
        supervised = case.first(f for f in case.of("Supervised") if f.at <= due)
        if supervised:
            supervisor = case.actor_words(supervised.actor, supervised.at)
            by_unit = supervised.unit("by_unit")
            units = [Subject(None, by_unit, None)] if by_unit else []
            summary = (
                f"{_day(supervised.at)}由{supervisor}挂牌督办的隐患，整改时限{_date(deadline)}届满仍未整改，"
                f"督办未到位，{_describe(case, [*subjects, *units], owner=state.owner)}负有责任{tail}"
            )
            found.append(
                case.finding(
                    "R7_SUPERVISED_OVERDUE",
                    [*subjects, *units],
                    due,
                    _at(ended),
                    [*evidence, supervised.version],
                    summary,
                )
            )
    return found


def _missed_deadlines(case: _Case) -> list[tuple[date, _Fact | None]]:
    """Each passed deadline with its DeadlineMissed, or None while the watcher has not recorded it yet."""
    missed: dict[date, _Fact | None] = {}
    for fact in case.of("DeadlineMissed"):
        deadline = fact.day("deadline")
        if deadline is not None and deadline_end(deadline) <= case.at:
            missed[deadline] = fact
    for fact in case.of("Assigned", "DeadlineExtended"):
        deadline = fact.day("deadline" if fact.kind == "Assigned" else "new_deadline")
        if deadline is None or deadline in missed or deadline_end(deadline) > case.at:
            continue
        state = case.state_at(deadline_end(deadline))
        if state.deadline == deadline and state.status in OPEN_STATUSES:
            missed[deadline] = None
    return sorted(missed.items(), key=lambda item: item[0])


def _r1_tail(case: _Case, ended: _Fact | None) -> str:
    if ended is None:
        return f"；截至{_day(case.at)}仍未整改。"
    if ended.kind == "DeadlineExtended":
        return f"；{_day(ended.at)}整改时限延至{_date(ended.day('new_deadline'))}。"
    return f"；{_day(ended.at)}才完成整改。"


# --- R2: 无力整改也不上报 ------------------------------------------------------------------------------


def _unable_not_escalated(case: _Case) -> list[Finding]:
    """Each time a plan newly declares 无力整改 (beyond capacity), an escalation must follow within the days."""
    found: list[Finding] = []
    for plan in _declared_unable(case):
        due = plan.at + timedelta(days=case.limits.escalate_within_days)
        if case.at < due or case.first(f for f in case.of("Escalated") if f.at <= due):
            continue
        # rectified after all, or a later plan withdrew the declaration: the school was able, nothing to report
        withdrawn = (f for f in case.of("PlanRecorded") if f.version > plan.version and not f.flag("beyond_capacity"))
        if case.first(f for f in [*case.of("Rectified"), *withdrawn] if f.at <= due):
            continue
        state = case.state_at(due)
        late = case.first(f for f in case.of("Escalated") if f.at > due)
        subjects = [*case.school_subjects(due), *case.owner_subjects(state, due)]
        tail = f"；{_day(late.at)}才上报。" if late else f"；截至{_day(case.at)}仍未上报。"
        summary = (
            f"{_day(plan.at)}整改方案认定无力整改，{case.limits.escalate_within_days}日内"
            f"（至{_day(due)}）仍未上报，{_describe(case, subjects, owner=state.owner)}负有责任{tail}"
        )
        evidence = [plan.version, state.owned_by.version if state.owned_by else None, late.version if late else None]
        found.append(case.finding("R2_UNABLE_NOT_ESCALATED", subjects, due, _at(late), evidence, summary))
    return found


def _declared_unable(case: _Case) -> list[_Fact]:
    """Plans newly declaring 无力整改; a plan repeating the declaration continues the earlier one."""
    plans = case.of("PlanRecorded")
    unable = [p.flag("beyond_capacity") for p in plans]
    return [p for i, p in enumerate(plans) if unable[i] and not (i > 0 and unable[i - 1])]


# --- R3: 重大隐患未采取临时安全防范措施、明确责任与时限 ------------------------------------------------------


def _major_without_interim(case: _Case) -> list[Finding]:
    discovered = case.discovered
    hours = case.limits.major_response_hours
    due = discovered.at + timedelta(hours=hours)
    if discovered.text("severity") != "major" or case.at < due:
        return []
    state = case.state_at(due)
    missing = state.missing()
    if state.status not in OPEN_STATUSES or not missing:
        return []  # rectified or closed in time is not 一时无法整改
    ended = None
    for fact in (f for f in case.facts if f.at > due):
        state = state.apply(fact)
        if state.status not in OPEN_STATUSES or not state.missing():
            ended = fact
            break
    subjects = case.school_subjects(due)
    tail = f"；{_minute(ended.at)}方才补齐。" if ended else f"；截至{_day(case.at)}仍未补齐。"
    summary = (
        f"重大隐患于{_minute(discovered.at)}发现，{hours}小时后（{_minute(due)}）仍未"
        f"{'、'.join(_MISSING_VERBS[m] for m in missing)}，{_describe(case, subjects, owner=None)}负有学校责任{tail}"
    )
    return [
        case.finding(
            "R3_MAJOR_WITHOUT_INTERIM", subjects, due, _at(ended), [1, ended.version if ended else None], summary
        )
    ]


_MISSING_VERBS = {
    "临时安全防范措施": "采取临时安全防范措施",
    "整改责任单位": "明确整改责任单位",
    "责任人": "明确责任人",
    "整改时限": "明确整改时限",
}


# --- R4: 学校自查不细致; 谁检查谁负责 ----------------------------------------------------------------------


def _self_check_missed(case: _Case, kind: str | None, self_checks: Sequence[SelfCheck]) -> list[Finding]:
    """The latest self-check of the item per self-inspection, before the discovery, marked pass."""
    discovered = case.discovered
    item = discovered.text("item")
    if kind not in _NOT_SELF_KINDS or not item:
        return []
    latest: dict[UUID, SelfCheck] = {}
    known = (c for c in self_checks if c.recorded_at <= case.known_at and c.assessed_at <= case.at and c.item == item)
    for check in sorted(known, key=lambda c: (c.assessed_at, c.recorded_at)):
        if check.assessed_at <= discovered.at:
            latest[check.inspection] = check
    found = []
    for check in (c for c in latest.values() if c.result == "pass"):
        subjects = [case.person(name, None, check.assessed_at) for name in check.inspectors]
        inspectors = "、".join(case.person_words(s.username or "", s.unit) for s in subjects)
        summary = (
            f"学校自查（{_day(check.assessed_at)}，检查人{inspectors}）将检查项目{item}评为合格，"
            f"{_day(discovered.at)}{_NOT_SELF_KINDS[kind]}却在该项目发现隐患，自查不细致，谁检查谁负责。"
        )
        found.append(case.finding("R4_SELF_CHECK_MISSED", subjects, check.assessed_at, discovered.at, [1], summary))
    return found


# --- R5: 谁验收谁负责 --------------------------------------------------------------------------------------


def _verified_but_recurred(case: _Case) -> list[Finding]:
    """A reopen at most ``recur_within_days`` × 24 h after the 验收 that closed it (exactly 90 days counts)."""
    found = []
    window = timedelta(days=case.limits.recur_within_days)
    for reopened in case.of("Reopened"):
        verified = case.first(reversed([f for f in case.of("Verified") if f.version < reopened.version]))
        if verified is None or reopened.at - verified.at > window:
            continue
        subject = case.person(verified.actor, None, verified.at)
        days = (reopened.at - verified.at).days
        verifier = case.person_words(verified.actor, subject.unit)
        summary = (
            f"验收人{verifier}于{_day(verified.at)}验收销号，{_day(reopened.at)}隐患复发被重新打开，"
            f"相隔{days}日（{case.limits.recur_within_days}日内），谁验收谁负责。"
        )
        evidence = [verified.version, reopened.version]
        found.append(case.finding("R5_VERIFIED_BUT_RECURRED", [subject], verified.at, reopened.at, evidence, summary))
    return found


# --- R6: 业务主管部门指导不到位 ------------------------------------------------------------------------------


def _escalation_unanswered(case: _Case) -> list[Finding]:
    """The unit escalated to must record something on the hazard within (t, t + days]."""
    found = []
    days = case.limits.respond_within_days
    for escalated in case.of("Escalated"):
        unit = escalated.unit("to_unit")
        due = escalated.at + timedelta(days=days)
        if unit is None or case.at < due:
            continue
        by_unit = [f for f in case.facts if f.at > escalated.at and case.unit_of(f.actor, f.at) == unit]
        if case.first(f for f in by_unit if f.at <= due):
            continue
        late = case.first(by_unit)
        tail = f"；{_day(late.at)}才作出处理。" if late else f"；截至{_day(case.at)}仍未处理。"
        summary = (
            f"{_day(escalated.at)}{case.actor_words(escalated.actor, escalated.at)}将隐患上报至"
            f"单位{case.unit_words(unit)}，该单位{days}日内（至{_day(due)}）"
            f"未在本隐患上作出任何处理{tail}"
        )
        evidence = [escalated.version, late.version if late else None]
        found.append(
            case.finding("R6_ESCALATION_UNANSWERED", [Subject(None, unit, None)], due, _at(late), evidence, summary)
        )
    return found


# --- wording ---------------------------------------------------------------------------------------------


def _describe(case: _Case, subjects: Iterable[Subject], *, owner: str | None) -> str:
    parts = []
    for s in subjects:
        if s.username is None:
            parts.append(f"单位{case.unit_words(s.unit)}")
            continue
        who = case.person_words(s.username, s.unit)
        if s.username == owner and s.role != Role.SCHOOL_PRINCIPAL.value:
            parts.append(f"整改责任人{who}")
        elif s.role == Role.SCHOOL_PRINCIPAL.value:
            parts.append(f"时任校长{who}" + ("（整改责任人）" if s.username == owner else ""))
        else:
            parts.append(who)
    return "、".join(parts) or "（责任人未明确）"


def _role(held: tuple[UUID | None, Role] | None) -> str | None:
    return held[1].value if held else None


def _at(fact: _Fact | None) -> datetime | None:
    return fact.at if fact else None


def _date(value: date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else "（未定）"


def _day(moment: datetime) -> str:
    return _date(moment.astimezone(BUSINESS_TZ).date())


def _minute(moment: datetime) -> str:
    local = moment.astimezone(BUSINESS_TZ)
    return f"{_date(local.date())}{local:%H:%M}"
