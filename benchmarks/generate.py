"""A seeded generator of a realistic history: units and staff, a campaign per seed template, self / onsite /
joint inspections of every school, hazards with their whole lives (transfers, extensions, escalations, 挂牌督办,
missed deadlines and late rectifications, rejections, reopenings).

Aggregates are driven through their real command methods (every rule applies) and saved in batches, so a
million events take a minute, not hours. Business times lie in the last ~150 days, never in the future.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.application import SafetyApplication
from domain.campaign.aggregate import Campaign
from domain.campaign.templates import TEMPLATES
from domain.directory.aggregate import Staff, Unit
from domain.errors import DomainError
from domain.hazard.aggregate import Hazard, Severity
from domain.inspection.aggregate import AssessmentResult, Inspection, InspectionKind
from domain.policy import SYSTEM_ACTOR, Actor, Role, UnitKind
from domain.timerules import business_date, deadline_end

SIZES = {"small": 10_000, "medium": 100_000, "large": 1_000_000}
ADMIN = Actor("admin", Role.ADMIN)
HOUR = timedelta(hours=1)


@dataclass
class School:
    unit: Unit
    district: str
    principal: Actor
    staff: list[Actor]
    bureau: Actor  # the district's inspector
    leader: Actor  # the district's leader
    bureau_unit: UUID
    officer: Actor | None = None  # of the school's 属地派出所
    inspections: dict[UUID, list[Visit]] = field(default_factory=dict)  # per campaign


@dataclass(frozen=True)
class Visit:
    """An inspection of a school in a campaign, where hazards are found."""

    id: UUID
    at: datetime
    finder: Actor
    items: tuple[str, ...]


@dataclass
class History:
    events: int = 0
    hazards: int = 0
    inspections: int = 0
    schools: list[School] = field(default_factory=list)
    campaigns: list[UUID] = field(default_factory=list)
    checklists: dict[UUID, tuple[str, ...]] = field(default_factory=dict)


class Generator:
    def __init__(self, app: SafetyApplication, *, seed: int, now: datetime, batch: int = 5000) -> None:
        self.app, self.rng, self.now, self.batch = app, random.Random(seed), now, batch
        self.pending: list[Aggregate] = []
        self.pending_events = 0
        self.history = History()
        self.start = now - timedelta(days=150)

    def save(self, aggregate: Aggregate, flush: bool = False) -> None:
        self.history.events += len(aggregate.pending_events)
        self.pending_events += len(aggregate.pending_events)
        self.pending.append(aggregate)
        # Bounded in events, not aggregates: a huge pipelined INSERT can stall psycopg's pipeline mode.
        if flush or self.pending_events >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.app.save(*self.pending)
            self.pending, self.pending_events = [], 0

    # --- directory and campaigns ---------------------------------------------------------------------------

    def directory(self, schools: int) -> None:
        at = self.start - timedelta(days=30)
        city_police = Unit.register(
            kind=UnitKind.CITY_POLICE_BUREAU,
            name="市公安局",
            district="",
            parent=None,
            police_station=None,
            stage="",
            boarding=False,
            actor="admin",
            occurred_at=at,
        )
        self.save(city_police)
        districts = max(1, schools // 200)
        for d in range(districts):
            name = f"第{d + 1}区"
            bureau = Unit.register(
                kind=UnitKind.DISTRICT_EDU_BUREAU,
                name=f"{name}教育局",
                district=name,
                parent=None,
                police_station=None,
                stage="",
                boarding=False,
                actor="admin",
                occurred_at=at,
            )
            stations = [
                Unit.register(
                    kind=UnitKind.POLICE_STATION,
                    name=f"{name}第{s + 1}派出所",
                    district=name,
                    parent=city_police,
                    police_station=None,
                    stage="",
                    boarding=False,
                    actor="admin",
                    occurred_at=at,
                )
                for s in range(3)
            ]
            for unit in (bureau, *stations):
                self.save(unit)
            inspector = self.person(f"d{d}_inspector", bureau, Role.EDU_INSPECTOR, at)
            leader = self.person(f"d{d}_leader", bureau, Role.EDU_LEADER, at)
            officers = {}
            for s, station in enumerate(stations):
                self.person(f"d{d}p{s}_chief", station, Role.STATION_CHIEF, at)
                officers[station.id] = self.person(f"d{d}p{s}_officer", station, Role.STATION_OFFICER, at)
            for s in range(schools // districts):
                station = self.rng.choice(stations)
                school = Unit.register(
                    kind=UnitKind.SCHOOL,
                    name=f"{name}第{s + 1}学校",
                    district=name,
                    parent=bureau,
                    police_station=station,
                    stage="小学",
                    boarding=self.rng.random() < 0.2,
                    actor="admin",
                    occurred_at=at,
                )
                self.save(school)
                key = f"d{d}s{s}"
                self.history.schools.append(
                    School(
                        unit=school,
                        district=name,
                        bureau=inspector,
                        leader=leader,
                        bureau_unit=bureau.id,
                        principal=self.person(f"{key}_principal", school, Role.SCHOOL_PRINCIPAL, at),
                        staff=[self.person(f"{key}_staff{i}", school, Role.SCHOOL_STAFF, at) for i in range(2)],
                        officer=officers[station.id],
                    )
                )
        for template in TEMPLATES:
            campaign = Campaign.launch(
                title=template.title,
                document_no=template.document_no,
                issuer=None,
                template=template.key,
                checklist=[{"code": i.code, "title": i.title, "category": i.category} for i in template.items],
                phases=[],
                statistics_cutoff=business_date(self.now),
                report_deadline=business_date(self.now),
                scope=[],
                scope_units=[],
                recipients=[],
                actor="admin",
                occurred_at=self.start,
            )
            self.save(campaign)
            self.history.campaigns.append(campaign.id)
            self.history.checklists[campaign.id] = tuple(i.code for i in template.items)
        self.flush()

    # --- inspections: each school checks itself, the bureau comes on site, some get a joint team ---------

    def inspections(self) -> None:
        for school in self.history.schools:
            for campaign in self.history.campaigns:
                items = self.history.checklists[campaign]
                visits = school.inspections.setdefault(campaign, [])
                day = self.rng.uniform(0, 15)
                visits.append(self.inspect(campaign, school, InspectionKind.SELF, school.principal, day, items))
                visits.append(self.inspect(campaign, school, InspectionKind.ONSITE, school.bureau, day + 20, items))
                if school.officer is not None and self.rng.random() < 0.3:
                    visits.append(self.inspect(campaign, school, InspectionKind.JOINT, school.bureau, day + 40, items))
        self.flush()

    def inspect(
        self, campaign: UUID, school: School, kind: InspectionKind, lead: Actor, day: float, items: tuple[str, ...]
    ) -> Visit:
        rng, at = self.rng, self.start + timedelta(days=day + self.rng.uniform(0, 5))
        team = {
            InspectionKind.SELF: [school.principal, school.staff[0]],
            InspectionKind.ONSITE: [school.bureau, school.leader] if rng.random() < 0.3 else [school.bureau],
            InspectionKind.JOINT: [school.bureau, school.officer or school.bureau],
        }[kind]
        inspection = Inspection.schedule(
            campaign=campaign,
            school=school.unit.id,
            kind=kind,
            inspectors=[a.username for a in team],
            leader_participated=school.leader in team,
            departments=["教育局", "公安派出所"] if kind is InspectionKind.JOINT else [],
            actor=lead,
            occurred_at=at,
        )
        checked = items if kind is InspectionKind.SELF else tuple(rng.sample(items, k=max(1, len(items) // 2)))
        for step, item in enumerate(checked):
            failed = rng.random() < (0.05 if kind is InspectionKind.SELF else 0.2)
            inspection.assess(
                item=item,
                result=AssessmentResult.FAIL if failed else AssessmentResult.PASS,
                note="存在问题" if failed else "",
                actor=lead,
                occurred_at=at + timedelta(minutes=10 * (step + 1)),
            )
        done = at + timedelta(hours=4)
        inspection.complete(actor=lead, occurred_at=done)
        self.history.inspections += 1
        self.save(inspection)
        return Visit(inspection.id, done, team[-1] if kind is InspectionKind.JOINT else lead, checked)

    def person(self, username: str, unit: Unit, role: Role, at: datetime) -> Actor:
        staff = Staff.appoint(
            username=username,
            display_name=username,
            phone="",
            unit_id=unit.id,
            unit_kind=unit.kind,
            role=role,
            effective_from=at,
            actor="admin",
            occurred_at=at,
        )
        self.save(staff)
        return Actor(username, role, unit.id)

    # --- hazards -------------------------------------------------------------------------------------------

    def hazards(self, events: int, progress: Callable[[int], None] | None = None) -> None:
        while self.history.events < events:
            before = self.history.events
            self.hazard()
            if progress:
                progress(self.history.events - before)
        self.flush()

    def hazard(self) -> None:
        """A hazard found on an inspection of its school (most) or reported by the school at any time."""
        rng, school = self.rng, self.rng.choice(self.history.schools)
        campaign = rng.choice(self.history.campaigns)
        visits = school.inspections.get(campaign, [])
        visit = rng.choice(visits) if visits and rng.random() < 0.7 else None
        if visit is not None:
            t, finder, item = visit.at + timedelta(minutes=rng.uniform(1, 120)), visit.finder, rng.choice(visit.items)
        else:
            t, finder, item = self.start + timedelta(hours=rng.uniform(0, 140 * 24)), school.staff[0], ""
        major = rng.random() < 0.1
        hazard = Hazard.discover(
            campaign=campaign,
            school=school.unit.id,
            inspection=visit.id if visit else None,
            item=item,
            category=rng.choice(["消防安全", "人防物防技防", "食品安全", "校车安全", "危化品管理"]),
            description="隐患问题表现描述",
            severity=Severity.MAJOR if major else Severity.GENERAL,
            location="教学楼",
            rectified_on_spot=not major and rng.random() < 0.08,
            actor=finder,
            occurred_at=t,
        )
        self.history.hazards += 1
        script = Script(self, hazard, school, t)
        script.run()
        self.save(hazard)


class Script:
    """One hazard's life, command by command, each a few hours to days after the last, never in the future."""

    def __init__(self, gen: Generator, hazard: Hazard, school: School, t: datetime) -> None:
        self.gen, self.rng, self.hazard, self.school, self.t = gen, gen.rng, hazard, school, t

    def step(self, hours: float) -> bool:
        self.t += timedelta(hours=hours * self.rng.uniform(0.5, 1.5))
        due = self.hazard.due_deadline(min(self.t, self.gen.now))
        if due is not None:
            self.hazard.record_deadline_missed(deadline=due, actor=SYSTEM_ACTOR, occurred_at=deadline_end(due))
        return self.t < self.gen.now

    def do(self, command: Callable[[], None]) -> None:
        try:
            command()
        except DomainError:
            pass  # a refusal records nothing, as in real use

    def run(self) -> None:
        h, s, rng = self.hazard, self.school, self.rng
        if h.status == "closed" or not self.step(rng.uniform(2, 48)):
            return
        if h.severity is Severity.MAJOR:
            self.do(lambda: h.record_interim_measures(measures="临时围挡", actor=s.principal, occurred_at=self.t))
            if not self.step(4):
                return
        owner = rng.choice(s.staff)
        deadline: date = business_date(self.t) + timedelta(days=rng.randint(5, 40))
        self.do(
            lambda: h.assign(
                owner=owner.username,
                owner_unit=s.unit.id,
                deadline=deadline,
                standard="按标准整改",
                actor=s.principal,
                occurred_at=self.t,
            )
        )
        for action, chance, hours in (
            ("plan", 0.6, 24),
            ("transfer", 0.15, 48),
            ("progress", 0.5, 72),
            ("extend", 0.1, 24),
            ("escalate", 0.1, 24),
            ("supervise", 0.05, 24),
        ):
            if rng.random() < chance:
                if not self.step(hours):
                    return
                self.act(action)
        if rng.random() < 0.2 or not self.step(rng.uniform(24, 24 * 40)):
            return  # left open
        # the generated history has no uploads to attach: rectified as an installation without the photo rule
        self.do(
            lambda: h.rectify(note="已整改", evidence=[], actor=self.owner(), occurred_at=self.t, photo_required=False)
        )
        if rng.random() < 0.1 and self.step(24):
            self.do(lambda: h.verify(accepted=False, note="不合格", actor=s.bureau, occurred_at=self.t))
            if not self.step(72):
                return
            self.do(
                lambda: h.rectify(
                    note="再次整改", evidence=[], actor=self.owner(), occurred_at=self.t, photo_required=False
                )
            )
        if not self.step(48):
            return
        self.do(lambda: h.verify(accepted=True, note="验收合格", actor=s.bureau, occurred_at=self.t))
        if rng.random() < 0.03 and self.step(24 * 30):
            self.do(lambda: h.reopen(reason="复发", actor=s.leader, occurred_at=self.t))

    def owner(self) -> Actor:
        return next(
            (a for a in (*self.school.staff, self.school.principal) if a.username == self.hazard.owner),
            self.school.principal,
        )

    def act(self, action: str) -> None:
        h, s = self.hazard, self.school
        commands: dict[str, Callable[[], None]] = {
            "plan": lambda: h.record_plan(
                measures="整改措施",
                funds="自筹",
                deadline=h.deadline or date.today(),
                contingency="预案",
                beyond_capacity=self.rng.random() < 0.2,
                actor=s.principal,
                occurred_at=self.t,
            ),
            "transfer": lambda: h.transfer(
                owner=self.rng.choice([a for a in s.staff if a.username != h.owner]).username,
                owner_unit=s.unit.id,
                reason="分工调整",
                actor=s.principal,
                occurred_at=self.t,
            ),
            "progress": lambda: h.report_progress(
                note="进行中", percent=self.rng.randint(10, 90), actor=self.owner(), occurred_at=self.t
            ),
            "extend": lambda: h.extend_deadline(
                new_deadline=(h.deadline or date.today()) + timedelta(days=15),
                reason="资金审批",
                actor=s.leader,
                occurred_at=self.t,
            ),
            "escalate": lambda: h.escalate(
                to_unit=s.bureau_unit, reason="学校无力整改", actor=s.principal, occurred_at=self.t
            ),
            "supervise": lambda: h.supervise(note="挂牌督办", actor=s.leader, occurred_at=self.t),
        }
        self.do(commands[action])


def generate(
    app: SafetyApplication,
    events: int,
    *,
    seed: int = 20261123,
    now: datetime | None = None,
    schools: int | None = None,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> History:
    """At least ``events`` events: a directory sized to the history (or of ``schools``), a campaign per template,
    inspections of every school, hazards until full; saved ``batch`` aggregates at a time."""
    gen = Generator(app, seed=seed, now=now or datetime.now(UTC), batch=batch)
    gen.directory(schools=schools or max(20, events // 500))
    gen.inspections()
    gen.hazards(events, progress)
    return gen.history
