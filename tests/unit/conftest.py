"""Shared builders for the domain unit tests: a controllable clock and a small world to act in."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.application import SafetyApplication
from domain.campaign.templates import get_template
from domain.errors import DomainError
from domain.hazard.aggregate import Hazard, Severity
from domain.policy import Actor, Role, UnitKind
from domain.timerules import BUSINESS_TZ

START = datetime(2026, 7, 10, 10, 0, tzinfo=BUSINESS_TZ)
APPOINTED_FROM = datetime(2026, 1, 1, tzinfo=BUSINESS_TZ)
DEADLINE = date(2026, 7, 20)
ADMIN = Actor(username="admin", role=Role.ADMIN)
IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class FakeCipher:
    """The police key port (``domain.jointform.police.Cipher``) without cryptography: bytes masked, not hidden —
    enough to see what the domain seals, where, and how long it is; a fresh random nonce each time."""

    def seal(self, plaintext: bytes, associated: bytes) -> dict[str, str]:
        nonce = os.urandom(12).hex()
        return {"enc": "fake", "kid": "test", "nonce": nonce, "ct": bytes(b ^ 0x5A for b in plaintext).hex(),
                "ad": associated.hex()}

    def open(self, sealed: Mapping[str, str], associated: bytes) -> bytes:
        assert sealed["ad"] == associated.hex(), "opened in another place"
        return bytes(b ^ 0x5A for b in bytes.fromhex(sealed["ct"]))


class Clock:
    """The application's clock (business "now"), fixed until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


@dataclass
class World:
    """A district with one school in a campaign's scope, its 属地派出所, the bureaus and one user per role."""

    app: SafetyApplication
    clock: Clock
    bureau: UUID  # 区教育局
    city_police: UUID  # 市公安局
    station: UUID  # 派出所
    school: UUID  # in the campaign's scope
    other_school: UUID  # same district, outside the campaign's scope
    campaign: UUID
    staff: Actor
    staff2: Actor
    principal: Actor
    officer: Actor
    chief: Actor
    inspector: Actor
    leader: Actor
    police: Actor
    auditor: Actor
    admin: Actor = ADMIN

    # --- hazards in a given state ------------------------------------------------------------------

    def discover(self, *, severity: Severity = Severity.GENERAL, **overrides: Any) -> Hazard:
        kwargs: dict[str, Any] = {
            "actor": self.staff,
            "campaign": self.campaign,
            "school": self.school,
            "description": "消防通道被杂物堵塞",
            "severity": severity,
            "item": "CZ-01",
            "location": "教学楼一楼东侧",
            **overrides,
        }
        return self.app.discover_hazard(**kwargs)

    def assigned(self, *, severity: Severity = Severity.GENERAL, deadline: date = DEADLINE) -> UUID:
        hazard = self.discover(severity=severity)
        self.app.assign_hazard(
            hazard.id,
            actor=self.principal,
            owner=self.staff.username,
            owner_unit=self.school,
            deadline=deadline,
            standard="通道畅通、标识清晰",
        )
        return hazard.id

    def rectified(self, *, severity: Severity = Severity.GENERAL, by: Actor | None = None) -> UUID:
        hazard_id = self.assigned(severity=severity)
        self.app.rectify_hazard(hazard_id, actor=by or self.staff, note="杂物已清理", evidence=["photo-1.jpg"])
        return hazard_id

    def closed(self) -> UUID:
        hazard_id = self.rectified()
        self.app.verify_hazard(hazard_id, actor=self.principal, accepted=True, note="现场验收合格")
        return hazard_id

    def event_names(self, hazard_id: UUID) -> list[str]:
        return [type(e).__name__ for e in self.app.hazard_events(hazard_id)]

    # --- refusals ----------------------------------------------------------------------------------

    @contextmanager
    def refused(
        self, error: type[DomainError], code: str, *, hazard: UUID | None = None, aggregate: UUID | None = None
    ) -> Iterator[pytest.ExceptionInfo[DomainError]]:
        """Expect exactly ``error`` with its stable ``code``, and nothing recorded anywhere."""
        before = self._snapshot(hazard, aggregate)
        with pytest.raises(error) as caught:
            yield caught
        assert type(caught.value) is error, f"expected exactly {error.__name__}, got {type(caught.value).__name__}"
        assert caught.value.code == code
        assert self._snapshot(hazard, aggregate) == before

    def _snapshot(self, hazard: UUID | None, aggregate: UUID | None) -> tuple[Any, ...]:
        state: tuple[Any, ...] = (self.app.recorder.max_notification_id(),)
        if hazard is not None:
            state += (self.app.get_hazard(hazard).version, len(self.app.hazard_events(hazard)))
        if aggregate is not None:
            state += (self.app.repository.get(aggregate).version,)
        return state


def launch_from_template(
    app: SafetyApplication, *, actor: Actor, key: str, year: int, scope: list[UUID], recipients: list[UUID]
) -> UUID:
    """Launch a campaign from a seed template, dating its "MM-DD"s in ``year``; open phase ends are filled in."""
    template = get_template(key)
    launched_on = app.clock().astimezone(BUSINESS_TZ).date()
    report_deadline = date.fromisoformat(f"{year}-{template.report_deadline}")

    def on(mm_dd: str, default: date) -> date:
        return date.fromisoformat(f"{year}-{mm_dd}") if mm_dd else default

    campaign = app.launch_campaign(
        actor=actor,
        title=template.title,
        document_no=template.document_no,
        template=template.key,
        checklist=[{"code": i.code, "title": i.title, "category": i.category} for i in template.items],
        phases=[
            {"kind": p.kind, "label": p.label, "start": on(p.start, launched_on), "end": on(p.end, report_deadline)}
            for p in template.phases
        ],
        statistics_cutoff=date.fromisoformat(f"{year}-{template.statistics_cutoff}"),
        report_deadline=report_deadline,
        scope=scope,
        recipients=recipients,
    )
    return campaign.id


def build_world(app: SafetyApplication, clock: Clock) -> World:
    def unit(kind: UnitKind, name: str, **extra: Any) -> UUID:
        return app.register_unit(actor=ADMIN, kind=kind, name=name, district="武进区", **extra).id

    bureau = unit(UnitKind.DISTRICT_EDU_BUREAU, "武进区教育局")
    city_police = unit(UnitKind.CITY_POLICE_BUREAU, "常州市公安局")
    station = unit(UnitKind.POLICE_STATION, "湖塘派出所", parent=city_police)
    school = unit(UnitKind.SCHOOL, "湖塘实验中学", parent=bureau, police_station=station, stage="初中")
    other_school = unit(UnitKind.SCHOOL, "湖塘小学", parent=bureau, police_station=station, stage="小学")

    def person(username: str, name: str, role: Role, unit_id: UUID) -> Actor:
        app.appoint_staff(
            actor=ADMIN,
            username=username,
            display_name=name,
            phone="13800000000",
            unit=unit_id,
            role=role,
            effective_from=APPOINTED_FROM,
        )
        return Actor(username=username, role=role, unit=unit_id)

    leader = person("leader", "王局长", Role.EDU_LEADER, bureau)
    return World(
        app=app,
        clock=clock,
        bureau=bureau,
        city_police=city_police,
        station=station,
        school=school,
        other_school=other_school,
        campaign=launch_from_template(
            app, actor=leader, key="changzhou", year=2026, scope=[school], recipients=[bureau, city_police]
        ),
        staff=person("staff", "李老师", Role.SCHOOL_STAFF, school),
        staff2=person("staff2", "赵老师", Role.SCHOOL_STAFF, school),
        principal=person("principal", "张校长", Role.SCHOOL_PRINCIPAL, school),
        officer=person("officer", "陈警官", Role.STATION_OFFICER, station),
        chief=person("chief", "刘所长", Role.STATION_CHIEF, station),
        inspector=person("inspector", "周督学", Role.EDU_INSPECTOR, bureau),
        leader=leader,
        police=person("police", "吴警官", Role.POLICE_OFFICER, city_police),
        auditor=person("auditor", "孙督导", Role.AUDITOR, bureau),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def make_app(clock: Clock) -> Callable[..., SafetyApplication]:
    def make(env: dict[str, str] | None = None, *, rectify_requires_photo: bool = False) -> SafetyApplication:
        # Photos are the rule's own tests' (test_rectify_photo.py); elsewhere rectify without one
        return SafetyApplication(
            env=env or IN_MEMORY, clock=clock, police_cipher=FakeCipher(), rectify_requires_photo=rectify_requires_photo
        )

    return make


@pytest.fixture
def app(make_app: Callable[..., SafetyApplication]) -> SafetyApplication:
    return make_app()


@pytest.fixture
def world(app: SafetyApplication, clock: Clock) -> World:
    return build_world(app, clock)


@pytest.fixture
def make_world(make_app: Callable[..., SafetyApplication], clock: Clock) -> Callable[..., World]:
    """The same world on other persistence (e.g. an SQLite file), sharing the test's clock."""

    def make(env: dict[str, str]) -> World:
        return build_world(make_app(env), clock)

    return make
