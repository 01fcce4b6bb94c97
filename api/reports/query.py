"""From request parameters to a ReportQuery: ids parsed, scope checked, as_of defaulted to the cutoff."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from api.common import CanonicalUUID, Moment
from domain.errors import CampaignNotFound, HazardNotFound, InvalidValue, JointFormNotFound, UnitNotFound
from domain.policy import Actor
from domain.timerules import deadline_end
from projections import scope
from projections.campaigns import CampaignView
from projections.directory import StaffView, UnitView
from projections.jointforms import JointFormView
from projections.ledger import HazardLedger
from reports.base import Caller
from reports.registry import ReportQuery, ReportSpec


def caller_of(actor: Actor) -> Caller:
    staff = StaffView.objects.filter(username=actor.username).first()
    unit = UnitView.objects.filter(id=actor.unit).first() if actor.unit else None
    return Caller(
        unit_name=unit.name if unit else "",
        display_name=staff.display_name if staff else actor.username,
        phone=staff.phone if staff else "",
    )


def build_query(spec: ReportSpec, params: Mapping[str, Any], actor: Actor, police_line: bool = False) -> ReportQuery:
    values = {name: _param(params, name, field) for name, field in PARAMETERS.items()}
    for name in spec.needs:
        if values.get(name) is None:
            raise InvalidValue(f"缺少参数 {name}", field=name)
    if values["campaign"] is None and values["form"] is not None:
        # A form belongs to one campaign: its cutoff is the default moment, as for any campaign report.
        values["campaign"] = JointFormView.objects.filter(id=values["form"]).values_list("campaign", flat=True).first()
    campaign = _campaign(actor, values["campaign"]) if values["campaign"] else None
    unit = _visible_unit(actor, values["unit"] or actor.unit)
    school = _visible_unit(actor, values["school"]) if values["school"] else None
    form = values["form"]
    if form is not None and not scope.filter_by_school(JointFormView.objects.filter(id=form), actor).exists():
        raise JointFormNotFound(id=str(form))
    hazard = values["hazard"]
    if hazard is not None and not scope.filter_by_school(HazardLedger.objects.filter(id=hazard), actor).exists():
        raise HazardNotFound(id=str(hazard))
    as_of: datetime = values["as_of"] or (deadline_end(campaign.statistics_cutoff) if campaign else timezone.now())
    return ReportQuery(
        actor=actor,
        caller=caller_of(actor),
        as_of=as_of,
        campaign=campaign,
        unit=unit,
        district=values["district"] or (unit.district if unit else ""),
        school=school,
        form=form,
        hazard=hazard,
        police_line=police_line,
    )


PARAMETERS: dict[str, serializers.Field] = {  # type: ignore[type-arg]
    "campaign": CanonicalUUID(),
    "unit": CanonicalUUID(),
    "district": serializers.CharField(max_length=100),
    "school": CanonicalUUID(),
    "form": CanonicalUUID(),
    "hazard": CanonicalUUID(),
    "as_of": Moment(),
}


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


def _visible_unit(actor: Actor, unit_id: Any) -> UnitView | None:
    if unit_id is None:
        return None
    found = scope.units(actor).filter(id=unit_id).first()
    if found is None:
        raise UnitNotFound(id=str(unit_id))
    return found
