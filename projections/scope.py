"""Scope queries (DESIGN §5): which schools and units an actor may see."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet

from domain.campaign.aggregate import covered_schools
from domain.errors import OutOfScope, UnitNotFound
from domain.policy import Actor, Role, UnitKind
from projections.campaigns import CampaignView
from projections.directory import UnitView

CITY_KINDS = (UnitKind.CITY_EDU_BUREAU, UnitKind.CITY_POLICE_BUREAU)
ALL = None  # no restriction: admins, auditors and city bureaus see everything under the city


@dataclass(frozen=True)
class SchoolRule:
    """Which schools an actor may see: those whose directory row (``UnitView``) has ``value`` at ``field``. The
    one rule, asked of the database (``school_ids``) or of a school's row already read (``sees_school``)."""

    field: str
    value: Any


NO_SCHOOL = SchoolRule("id", None)  # no school has no id


def school_rule(actor: Actor) -> SchoolRule | None:
    """The actor's rule; ``None`` (``ALL``) for every school."""
    if actor.role in (Role.ADMIN, Role.AUDITOR):
        return ALL
    unit = _unit(actor)
    match UnitKind(unit.kind) if unit is not None else None:
        case UnitKind.CITY_EDU_BUREAU | UnitKind.CITY_POLICE_BUREAU:
            return ALL
        case UnitKind.DISTRICT_EDU_BUREAU:
            return SchoolRule("district", unit.district)  # type: ignore[union-attr]
        case UnitKind.POLICE_STATION:
            return SchoolRule("police_station", unit.id)  # type: ignore[union-attr]
        case UnitKind.SCHOOL:
            return SchoolRule("id", unit.id)  # type: ignore[union-attr]
        case _:
            return NO_SCHOOL


def school_ids(actor: Actor) -> QuerySet[UnitView] | None:
    """The ids of the schools the actor may see, as a subquery; ``None`` means all of them."""
    rule = school_rule(actor)
    if rule is ALL:
        return ALL
    return UnitView.objects.filter(kind=UnitKind.SCHOOL, **{rule.field: rule.value}).values("id")


def sees_school(actor: Actor, school: Mapping[str, Any] | None) -> bool:
    """``school_ids``'s rule for a school whose directory row is in hand (``kind``, ``id``, ``district``,
    ``police_station``; None: not in the directory)."""
    rule = school_rule(actor)
    if rule is ALL:
        return True
    return school is not None and school["kind"] == UnitKind.SCHOOL and school[rule.field] == rule.value


def units(actor: Actor) -> QuerySet[UnitView]:
    """Units visible to the actor: their own, the schools in scope with their stations, and the bureaus above."""
    visible = school_ids(actor)
    if visible is ALL:
        return UnitView.objects.all()
    own = _unit(actor)
    stations = UnitView.objects.filter(id__in=visible).values("police_station")
    condition = Q(id__in=visible) | Q(id__in=stations) | Q(kind__in=CITY_KINDS)
    if own is not None:
        condition |= Q(id=own.id) | Q(kind=UnitKind.DISTRICT_EDU_BUREAU, district=own.district)
    return UnitView.objects.filter(condition)


def units_in_charge(actor: Actor) -> QuerySet[UnitView]:
    """The units the actor answers for: their own and those below it in their scope — a station's and a district
    bureau's schools; every district bureau, station and school for a city bureau; any unit for auditors and
    admins. A unit the actor merely sees (the bureaus above, a school's station) is not among them."""
    if actor.role in (Role.ADMIN, Role.AUDITOR):
        return UnitView.objects.all()
    own = _unit(actor)
    if own is None:
        return UnitView.objects.none()
    if own.kind in CITY_KINDS:
        return UnitView.objects.filter(Q(id=own.id) | ~Q(kind__in=CITY_KINDS))
    return UnitView.objects.filter(Q(id=own.id) | Q(id__in=schools_under(own).values("id")))


def unit_in_charge(actor: Actor, unit_id: UUID | None) -> UnitView | None:
    """填报单位 of a report or a submission: a unit the actor answers for; one they see but that is above or beside
    them → 403 ``out_of_scope``; one they cannot see → 404, as for every object out of scope."""
    if unit_id is None:
        return None
    found = units_in_charge(actor).filter(id=unit_id).first()
    if found is not None:
        return found
    if units(actor).filter(id=unit_id).exists():
        raise OutOfScope("只能以本单位或下级单位名义填报", field="unit", unit=str(unit_id))
    raise UnitNotFound(id=str(unit_id))


def reported_schools(actor: Actor, unit: UnitView | None) -> QuerySet[UnitView]:
    """The one rule for what leaves the server in a report or a submission: the schools under its 填报单位 that
    the actor may see (``None``: every school the actor may see)."""
    return filter_by_school(schools_under(unit), actor, field="id")


def filter_submissions(queryset: QuerySet, actor: Actor) -> QuerySet:  # type: ignore[type-arg]
    """Submissions (报送) the actor may see: those of a unit they answer for (the submitting unit and the units
    above it), those sent to their unit as a recipient of the campaign, and all for auditors and admins — never
    one that merely mentions their school or station. Which copies' bytes they may fetch is ``sees_police_content``."""
    if actor.role in (Role.ADMIN, Role.AUDITOR):
        return queryset
    condition = Q(unit__in=units_in_charge(actor).values("id"))
    if actor.unit is not None:
        received = [c for c, to in CampaignView.objects.values_list("id", "recipients") if str(actor.unit) in to]
        condition |= Q(campaign__in=received)
    return queryset.filter(condition)


def filter_by_school(queryset: QuerySet, actor: Actor, field: str = "school") -> QuerySet:  # type: ignore[type-arg]
    visible = school_ids(actor)
    return queryset if visible is ALL else queryset.filter(**{f"{field}__in": visible})


def can_see_school(actor: Actor, school: UUID) -> bool:
    visible = school_ids(actor)
    return visible is ALL or visible.filter(id=school).exists()


def sees_campaign(actor: Actor, campaign: CampaignView) -> bool:
    """A campaign covering one of the actor's schools (the rule of ``Campaign.covers``), or issued to or by
    the actor's unit; another district's campaign is out of scope."""
    visible = school_ids(actor)
    if visible is ALL or actor.unit == campaign.issuer or str(actor.unit) in campaign.recipients:
        return True
    return bool(campaign_schools(campaign, UnitView.objects.filter(id__in=visible)))


def campaign_schools(campaign: CampaignView, among: QuerySet[UnitView] | None = None) -> list[UnitView]:
    """The schools a campaign covers in the directory as it is now (``domain.campaign.aggregate.scope_covers``),
    optionally only those ``among`` a set of units."""
    schools = UnitView.objects.filter(kind=UnitKind.SCHOOL).order_by("name")
    if among is not None:
        schools = schools.filter(id__in=among.values("id"))
    scope_units = list(UnitView.objects.filter(id__in=campaign.scope))
    issuer = UnitView.objects.filter(id=campaign.issuer).first() if campaign.issuer else None
    return covered_schools(scope_units, issuer, schools)  # type: ignore[return-value]


def directory_schools() -> QuerySet[UnitView]:
    """Every school of the directory, for judging a new campaign's scope at launch."""
    return UnitView.objects.filter(kind=UnitKind.SCHOOL)


def _unit(actor: Actor) -> UnitView | None:
    """The actor's unit row (read once per actor: a request asks several scope questions)."""
    if actor.unit is None:
        return None
    cached: UnitView | None = _UNIT_CACHE.get(actor)
    if cached is None:
        cached = UnitView.objects.filter(id=actor.unit).first()
        if cached is not None:
            _UNIT_CACHE[actor] = cached
    return cached


# Units never change once registered; actors are values (username, role, unit), so this is safe to keep.
_UNIT_CACHE: dict[Actor, UnitView] = {}


def sees_police_content(actor: Actor) -> bool:
    """Police-sensitive content (DESIGN §6) is for users of police units only."""
    unit = _unit(actor)
    return unit is not None and unit.kind in (UnitKind.POLICE_STATION, UnitKind.CITY_POLICE_BUREAU)


def schools_under(unit: UnitView | None) -> QuerySet[UnitView]:
    """The schools a unit answers for: itself (a school), a station's, a district bureau's; a city bureau's all."""
    schools = UnitView.objects.filter(kind=UnitKind.SCHOOL)
    match UnitKind(unit.kind) if unit is not None else None:
        case UnitKind.SCHOOL:
            return schools.filter(id=unit.id)  # type: ignore[union-attr]
        case UnitKind.POLICE_STATION:
            return schools.filter(police_station=unit.id)  # type: ignore[union-attr]
        case UnitKind.DISTRICT_EDU_BUREAU:
            return schools.filter(district=unit.district)  # type: ignore[union-attr]
        case _:
            return schools
