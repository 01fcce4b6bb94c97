"""From request parameters to a ReportQuery: ids parsed, scope checked, ``at`` and ``known_at`` defaulted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from django.db.models import Model, QuerySet
from django.utils import timezone
from rest_framework import serializers

from api import twotimes
from api.common import CanonicalUUID
from domain.errors import CampaignNotFound, HazardNotFound, InvalidValue, JointFormNotFound, NotFound, UnitNotFound
from domain.policy import Actor, UnitKind
from projections import scope
from projections.campaigns import CampaignView
from projections.directory import StaffView, UnitView
from projections.hazard.rows import HazardLedger
from projections.jointforms import JointFormView
from reports.base import Caller
from reports.registry import ReportQuery, ReportSpec

M = TypeVar("M", bound=Model)


def caller_of(actor: Actor) -> Caller:
    staff = StaffView.objects.filter(username=actor.username).first()
    unit = UnitView.objects.filter(id=actor.unit).first() if actor.unit else None
    return Caller(
        unit_name=unit.name if unit else "",
        display_name=staff.display_name if staff else actor.username,
        phone=staff.phone if staff else "",
    )


def build_query(spec: ReportSpec, params: Mapping[str, Any], actor: Actor, police_line: bool = False) -> ReportQuery:
    """Every object the request names is judged against ``scope.reported_schools`` before anything is read."""
    values = {name: _param(params, name, field) for name, field in PARAMETERS.items()}
    asked = twotimes.parse(params)
    unit = scope.unit_in_charge(actor, values["unit"] or actor.unit)
    schools = scope.reported_schools(actor, unit).values("id")
    school = _school(actor, schools, values["school"])
    form = _in(JointFormView, schools, values["form"], JointFormNotFound)
    hazard = _in(HazardLedger, schools, values["hazard"], HazardNotFound)
    if values["campaign"] is None and form is not None:
        # A form belongs to one campaign: its cutoff is the default moment, as for any campaign report.
        values["campaign"] = form.campaign
    campaign = _campaign(actor, values["campaign"]) if values["campaign"] else None
    for name in spec.needs:
        if values.get(name) is None:
            raise InvalidValue(f"缺少参数 {name}", field=name)
    now = timezone.now()
    default_at = twotimes.cutoff_moment(campaign.statistics_cutoff if campaign else None, now)
    times = twotimes.resolve(**asked, as_of_means="at", default_at=default_at, now=now)
    return ReportQuery(
        actor=actor,
        caller=caller_of(actor),
        at=times.at,
        known_at=times.known_at,
        campaign=campaign,
        unit=unit,
        district=values["district"] or (unit.district if unit else ""),
        school=school,
        form=form.id if form else None,
        hazard=hazard.id if hazard else None,
        police_line=police_line,
    )


PARAMETERS: dict[str, serializers.Field] = {  # type: ignore[type-arg]
    "campaign": CanonicalUUID(),
    "unit": CanonicalUUID(),
    "district": serializers.CharField(max_length=100),
    "school": CanonicalUUID(),
    "form": CanonicalUUID(),
    "hazard": CanonicalUUID(),
}
TIMES = twotimes.NAMES  # at, known_at, as_of (the old name of at): parsed by api.twotimes


def _param(params: Mapping[str, Any], name: str, field: serializers.Field) -> Any:  # type: ignore[type-arg]
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as error:
        raise InvalidValue(f"参数 {name} 无效", field=name) from error


def _campaign(actor: Actor, campaign_id: Any) -> CampaignView:
    found = CampaignView.objects.filter(id=campaign_id).first()
    if found is None or not scope.sees_campaign(actor, found):
        raise CampaignNotFound(id=str(campaign_id))
    return found


def _school(actor: Actor, schools: QuerySet[UnitView], school_id: UUID | None) -> UnitView | None:
    """``school``: one of the schools the report may contain; a unit the actor cannot see → 404."""
    if school_id is None:
        return None
    found = UnitView.objects.filter(id=school_id, id__in=schools).first()
    if found is not None:
        return found
    named = scope.units(actor).filter(id=school_id).first()
    if named is None:
        raise UnitNotFound(id=str(school_id))
    if named.kind != UnitKind.SCHOOL:
        raise InvalidValue("school 必须是学校", field="school")
    raise InvalidValue("该学校不在填报单位的范围内", field="school")


def _in(model: type[M], schools: QuerySet[UnitView], pk: UUID | None, not_found: type[NotFound]) -> M | None:
    """A form or hazard the request names, found only among the schools the report may contain."""
    if pk is None:
        return None
    found = model.objects.filter(id=pk, school__in=schools).first()  # type: ignore[attr-defined]
    if found is None:
        raise not_found(id=str(pk))
    return found  # type: ignore[no-any-return]
