"""Inspections (检查): schedule, assess checklist items, complete; list and detail within scope."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import (
    AttachmentIds,
    CanonicalUUID,
    CanonicalUUIDFilter,
    CommandInput,
    DeclaredQuery,
    Moment,
    Text,
    enum_choices,
    parse_uuid,
    validated,
)
from api.idempotency import IdempotentCommand
from api.names import NamedList, PersonName, PersonNames, UnitName
from api.services import attached, execute
from domain.errors import InspectionNotFound, OutOfScope
from domain.inspection.aggregate import AssessmentResult, InspectionKind
from projections import scope
from projections.inspections import AssessmentView, InspectionView


class InspectionInput(serializers.Serializer):  # type: ignore[type-arg]
    campaign = CanonicalUUID()
    school = CanonicalUUID()
    kind = serializers.ChoiceField(choices=enum_choices(InspectionKind))
    inspectors = serializers.ListField(child=serializers.CharField(max_length=150), min_length=1, max_length=50)
    leader_participated = serializers.BooleanField(required=False, default=False)
    departments = serializers.ListField(child=Text(100), required=False, default=list, max_length=50)
    occurred_at = Moment(required=False)


class AssessmentInput(CommandInput):
    item = serializers.CharField(max_length=20)
    result = serializers.ChoiceField(choices=enum_choices(AssessmentResult))
    note = Text(required=False, default="")
    attachments = AttachmentIds()


class AssessmentOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    assessed_by_name = PersonName("assessed_by", help_text="评定人姓名")

    class Meta:
        model = AssessmentView
        fields = ["item", "result", "note", "assessed_at", "assessed_by", "assessed_by_name"]
        list_serializer_class = NamedList


class InspectionOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    assessments = AssessmentOutput(many=True, read_only=True)
    school_name = UnitName("school", help_text="学校名称")
    inspector_names = PersonNames("inspectors", help_text="检查人员姓名（与 inspectors 顺序一致）")
    recorded_by_name = PersonName("recorded_by", help_text="记录人姓名")

    class Meta:
        model = InspectionView
        list_serializer_class = NamedList
        fields = [
            "id",
            "campaign",
            "school",
            "school_name",
            "kind",
            "inspectors",
            "inspector_names",
            "leader_participated",
            "departments",
            "status",
            "started_at",
            "completed_at",
            "recorded_by",
            "recorded_by_name",
            "version",
            "assessments",
        ]


class InspectionFilter(django_filters.FilterSet):
    campaign = CanonicalUUIDFilter()
    school = CanonicalUUIDFilter()
    kind = django_filters.ChoiceFilter(choices=[(v, v) for v in enum_choices(InspectionKind)])

    class Meta:
        model = InspectionView
        fields = ["campaign", "school", "kind"]


class InspectionList(IdempotentCommand, DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = InspectionOutput
    filterset_class = InspectionFilter

    def get_queryset(self) -> Any:
        return scope.filter_by_school(InspectionView.objects.prefetch_related("assessments"), actor_of(self.request))

    @extend_schema(request=InspectionInput, responses={201: InspectionOutput})
    def post(self, request: Request) -> Response:
        data = validated(InspectionInput, request.data)
        actor = actor_of(request)
        if not scope.can_see_school(actor, data["school"]):
            raise OutOfScope(school=str(data["school"]))
        kind = InspectionKind(data.pop("kind"))
        inspection = execute(lambda app: app.schedule_inspection(actor=actor, kind=kind, **data))
        return Response(InspectionOutput(InspectionView.objects.get(id=inspection.id)).data, status=201)


class InspectionDetail(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = InspectionOutput

    def get(self, request: Request, pk: str) -> Response:
        return Response(InspectionOutput(_visible_inspection(request, pk)).data)


class InspectionAssess(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = InspectionOutput

    @extend_schema(request=AssessmentInput, responses={201: InspectionOutput})
    def post(self, request: Request, pk: str) -> Response:
        inspection = _visible_inspection(request, pk)
        data = validated(AssessmentInput, request.data)
        result = AssessmentResult(data.pop("result"))
        actor = actor_of(request)
        execute(lambda app: app.assess_item(inspection.id, actor=actor, result=result, **attached(actor, data)))
        return Response(InspectionOutput(InspectionView.objects.get(id=inspection.id)).data, status=201)


class InspectionComplete(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = InspectionOutput

    @extend_schema(request=CommandInput, responses=InspectionOutput)
    def post(self, request: Request, pk: str) -> Response:
        inspection = _visible_inspection(request, pk)
        data = validated(CommandInput, request.data)
        execute(lambda app: app.complete_inspection(inspection.id, actor=actor_of(request), **data))
        return Response(InspectionOutput(InspectionView.objects.get(id=inspection.id)).data)


def _visible_inspection(request: Request, pk: str) -> InspectionView:
    inspection_id: UUID = parse_uuid(pk, InspectionNotFound)
    found = scope.filter_by_school(InspectionView.objects.filter(id=inspection_id), actor_of(request)).first()
    if found is None:
        raise InspectionNotFound(id=pk)
    return found
