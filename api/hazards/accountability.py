"""倒查追责 endpoints: findings for one hazard, and for a campaign or unit, at a business time as known at a record
time (``as_of``, the old name, means ``known_at`` here)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api import twotimes
from api.auth import actor_of
from api.common import CanonicalUUID, DeclaredQuery, query_param
from api.hazards.views import visible_hazard
from api.names import NamedOutput, PersonName, UnitName
from domain.accountability import Finding
from domain.errors import UnitNotFound
from domain.policy import Actor
from projections import scope
from projections.accountability import FINDINGS_READ, findings_for, hazard_findings
from projections.directory import UnitView
from projections.eventstore import get_application
from projections.hazard.rows import HazardLedger

TIMES = twotimes.parameters("known_at")


class SubjectOutput(NamedOutput):
    username = serializers.CharField(allow_null=True)
    name = PersonName("username", help_text="责任人姓名（追究单位责任时为 null）")
    unit = CanonicalUUID(allow_null=True)
    unit_name = UnitName("unit")
    role = serializers.CharField(allow_null=True)


class FindingOutput(NamedOutput):
    code = serializers.CharField()
    wording = serializers.CharField()
    hazard = CanonicalUUID()
    subjects = SubjectOutput(many=True)
    to = serializers.DateTimeField(source="end", allow_null=True)
    evidence = serializers.ListField(child=serializers.IntegerField())
    summary = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        # "from" is a Python keyword, so the field cannot be declared as a class attribute.
        fields = super().get_fields()
        ordered = ["code", "wording", "hazard", "subjects", "from", "to", "evidence", "summary"]
        fields["from"] = serializers.DateTimeField(source="start")
        return {name: fields[name] for name in ordered}


class HazardAccountability(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = FindingOutput
    pagination_class = None

    @extend_schema(parameters=TIMES, responses=FindingOutput(many=True))
    def get(self, request: Request, pk: str) -> Response:
        row = visible_hazard(request, pk)
        times = twotimes.from_query(request.query_params, as_of_means="known_at")
        found = hazard_findings(get_application(), row, times.at, times.known_at)
        return Response(FindingOutput(found, many=True).data)


class Accountability(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = FindingOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("campaign", UUID, description="专项排查"),
            OpenApiParameter("unit", UUID, description="单位：学校、派出所或教育局（含其辖下学校及被追责的单位本身）"),
            *TIMES,
        ],
        responses=FindingOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        times = twotimes.from_query(request.query_params, as_of_means="known_at")
        campaign = query_param(request, "campaign", CanonicalUUID())
        unit_id = query_param(request, "unit", CanonicalUUID())
        found = findings_in_scope(actor_of(request), times, campaign=campaign, unit_id=unit_id)
        page = self.paginate_queryset(found)
        return self.get_paginated_response(FindingOutput(page, many=True).data)


def findings_in_scope(
    actor: Actor, times: twotimes.TwoTimes, *, campaign: UUID | None = None, unit_id: UUID | None = None
) -> list[Finding]:
    """Findings on the hazards in the actor's scope (of ``campaign``; concerning ``unit_id``), in school and
    序号 order: ``accountability/`` and the 审计 page."""
    unit = _unit(actor, unit_id) if unit_id is not None else None
    rows = HazardLedger.objects.only(*FINDINGS_READ).order_by("school", "number")
    hazards = scope.filter_by_school(rows, actor)
    if campaign is not None:
        hazards = hazards.filter(campaign=campaign)
    per_hazard = findings_for(get_application(), list(hazards), times.at, times.known_at)
    found = [f for of_one in per_hazard.values() for f in of_one]
    return _concerning(found, unit, hazards) if unit is not None else found


def _unit(actor: Actor, unit_id: UUID) -> UnitView:
    unit = scope.units(actor).filter(id=unit_id).first()
    if unit is None:
        raise UnitNotFound(id=str(unit_id))
    return unit


def _concerning(found: list[Finding], unit: UnitView, hazards: Any) -> list[Finding]:
    """Findings on hazards of the unit's schools, or naming the unit among their subjects."""
    under = set(hazards.filter(school__in=scope.schools_under(unit).values("id")).values_list("id", flat=True))
    return [f for f in found if f.hazard in under or any(s.unit == unit.id for s in f.subjects)]
