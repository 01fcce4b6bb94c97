"""Campaign (专项排查): a launched inspection campaign with its checklist, phases and cutoff."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue, NotPermitted
from domain.eventversions import versions
from domain.policy import AMEND_CAMPAIGN, Actor, UnitKind

PHASE_KINDS = ("self_check", "onsite", "supervision")


class ScopeUnit(Protocol):
    """A unit named in a campaign's scope (or its issuer): a directory ``Unit`` or its read-model row."""

    @property
    def id(self) -> UUID: ...
    @property
    def kind(self) -> str: ...
    @property
    def district(self) -> str: ...


class SchoolPlace(Protocol):
    """Where a school stands in the directory: its district and its 属地派出所."""

    @property
    def id(self) -> UUID: ...
    @property
    def district(self) -> str: ...
    @property
    def police_station(self) -> UUID | None: ...


def unit_covers(unit: ScopeUnit, school: SchoolPlace) -> bool:
    """A school covers itself; a district bureau the schools of its district; a city bureau (education or police)
    all schools; a police station the schools whose 属地派出所 it is."""
    match UnitKind(unit.kind):
        case UnitKind.SCHOOL:
            return school.id == unit.id
        case UnitKind.DISTRICT_EDU_BUREAU:
            return school.district == unit.district
        case UnitKind.CITY_EDU_BUREAU | UnitKind.CITY_POLICE_BUREAU:
            return True
        case UnitKind.POLICE_STATION:
            return school.police_station == unit.id
    return False  # pragma: no cover - every kind is matched above


def scope_covers(scope: Sequence[ScopeUnit], issuer: ScopeUnit | None, school: SchoolPlace) -> bool:
    """The one rule of a campaign's reach, judged against the directory as it is now (so a school registered later
    in a scoped district is covered): a school covered by any unit of the scope; an empty scope means every school
    under the issuer (a district bureau's district; the whole city for a city bureau or the administrator)."""
    if scope:
        return any(unit_covers(unit, school) for unit in scope)
    if issuer is None or UnitKind(issuer.kind) is not UnitKind.DISTRICT_EDU_BUREAU:
        return True
    return unit_covers(issuer, school)


def covered_schools(
    scope: Sequence[ScopeUnit], issuer: ScopeUnit | None, schools: Iterable[SchoolPlace]
) -> list[SchoolPlace]:
    return [school for school in schools if scope_covers(scope, issuer, school)]


@versions()  # every event class at version 1
class Campaign(Aggregate):
    @event("Launched")
    def __init__(
        self,
        *,
        title: str,
        document_no: str,
        issuer: UUID,
        template: str,
        checklist: list[dict[str, str]],
        phases: list[dict[str, Any]],
        statistics_cutoff: date,
        report_deadline: date,
        scope: list[UUID],
        recipients: list[UUID],
        actor: str,
        occurred_at: datetime,
    ) -> None:
        self.title = title
        self.document_no = document_no
        self.issuer = issuer
        self.template = template
        self.checklist = checklist
        self.phases = phases
        self.statistics_cutoff = statistics_cutoff
        self.report_deadline = report_deadline
        self.scope = scope
        self.recipients = recipients
        self.last_occurred_at = occurred_at

    @classmethod
    def launch(
        cls, *, scope_units: Sequence[ScopeUnit], schools: Iterable[SchoolPlace] | None = None, **kwargs: Any
    ) -> Campaign:
        """``schools``: the directory's schools at launch; a scope naming units must cover at least one of them."""
        if scope_units and schools is not None and not covered_schools(scope_units, None, schools):
            raise InvalidValue("排查范围内没有任何学校", field="scope")
        _check_launch(
            title=kwargs["title"],
            checklist=kwargs["checklist"],
            phases=kwargs["phases"],
            statistics_cutoff=kwargs["statistics_cutoff"],
            report_deadline=kwargs["report_deadline"],
        )
        return cls(**kwargs)

    def amend(
        self,
        *,
        phases: list[dict[str, Any]] | None,
        statistics_cutoff: date | None,
        report_deadline: date | None,
        scope: list[UUID] | None,
        scope_units: Sequence[ScopeUnit],
        schools: Iterable[SchoolPlace] | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        """The issuer corrects its notice (通知): phases, cutoff, deadline, scope — validated as at launch.
        ``scope_units``: the units of the new ``scope``; ``schools``: the directory's schools now."""
        require_issuer(actor, self.issuer)
        new_phases = self.phases if phases is None else phases
        cutoff = self.statistics_cutoff if statistics_cutoff is None else statistics_cutoff
        deadline = self.report_deadline if report_deadline is None else report_deadline
        new_scope = self.scope if scope is None else list(dict.fromkeys(scope))
        if scope and schools is not None and not covered_schools(scope_units, None, schools):
            raise InvalidValue("排查范围内没有任何学校", field="scope")
        _check_launch(
            title=self.title,
            checklist=self.checklist,
            phases=new_phases,
            statistics_cutoff=cutoff,
            report_deadline=deadline,
        )
        if (new_phases, cutoff, deadline, new_scope) == (
            self.phases,
            self.statistics_cutoff,
            self.report_deadline,
            self.scope,
        ):
            raise InvalidValue("没有要修改的内容", field="phases")
        self._amended(
            phases=new_phases,
            statistics_cutoff=cutoff,
            report_deadline=deadline,
            scope=new_scope,
            actor=actor.username,
            occurred_at=occurred_at,
        )

    @event("Amended")
    def _amended(
        self,
        *,
        phases: list[dict[str, Any]],
        statistics_cutoff: date,
        report_deadline: date,
        scope: list[UUID],
        actor: str,
        occurred_at: datetime,
    ) -> None:
        self.phases, self.statistics_cutoff, self.report_deadline, self.scope = (
            phases,
            statistics_cutoff,
            report_deadline,
            scope,
        )
        self.last_occurred_at = occurred_at

    def item(self, code: str) -> dict[str, str] | None:
        return next((item for item in self.checklist if item["code"] == code), None)

    def covers(self, school: SchoolPlace, scope_units: Sequence[ScopeUnit], issuer: ScopeUnit | None) -> bool:
        """``scope_units``: the units of ``self.scope`` as the directory has them now (``scope_covers``)."""
        return scope_covers(scope_units, issuer, school)


def require_issuer(actor: Actor, issuer: UUID | None) -> None:
    """Amending is for those who may launch (403 on the role alone), and of those for the issuing bureau's own."""
    AMEND_CAMPAIGN.check(actor)
    if not actor.is_admin and actor.unit != issuer:
        raise NotPermitted("只有发文单位可以修改专项排查", action="修改专项排查")


def _check_launch(
    *,
    title: str,
    checklist: list[dict[str, str]],
    phases: list[dict[str, Any]],
    statistics_cutoff: date,
    report_deadline: date,
) -> None:
    if not title.strip():
        raise InvalidValue("专项排查标题不能为空", field="title")
    if not checklist:
        raise InvalidValue("排查清单不能为空", field="checklist")
    codes = [item["code"] for item in checklist]
    if len(set(codes)) != len(codes):
        raise InvalidValue("排查清单的编号不能重复", field="checklist")
    for phase in phases:
        if phase.get("kind") not in PHASE_KINDS:
            raise InvalidValue("未知的排查阶段", field="phases")
        start, end = phase.get("start"), phase.get("end")  # either may be open (the seeds leave some open)
        if start and end and start > end:
            raise InvalidValue("排查阶段的开始日期不能晚于结束日期", field="phases")
    if statistics_cutoff > report_deadline:
        raise InvalidValue("统计截止日期不能晚于上报截止日期", field="statistics_cutoff")
