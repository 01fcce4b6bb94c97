"""Unit directory endpoints: units, users, role changes over time, deactivation, staff at a time."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response

from api import twotimes
from api.auth import actor_of, requires
from api.common import DeclaredQuery, parse_uuid, validated
from api.directory.serializers import (
    DeactivateInput,
    RoleInput,
    StaffAtOutput,
    UnitChangeInput,
    UnitInput,
    UnitOutput,
    UserInput,
    UserOutput,
)
from api.idempotency import IdempotentCommand
from api.services import execute
from domain.errors import AlreadyExists, StaffNotFound, UnitNotFound
from domain.policy import CHANGE_ROLE, CHANGE_UNIT, CREATE_USER, DEACTIVATE_USER, REGISTER_UNIT, Role, UnitKind
from projections import scope
from projections.directory import StaffView, UnitView, code_taken, staff_at

User = get_user_model()


class UnitFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=[(k.value, k.value) for k in UnitKind])
    district = django_filters.CharFilter(max_length=100)

    class Meta:
        model = UnitView
        fields = ["kind", "district"]


class UnitList(IdempotentCommand, DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    permission_classes = requires(REGISTER_UNIT)
    serializer_class = UnitOutput
    filterset_class = UnitFilter

    def get_queryset(self) -> Any:
        return scope.units(actor_of(self.request))

    @extend_schema(request=UnitInput, responses={201: UnitOutput})
    def post(self, request: Request) -> Response:
        data = validated(UnitInput, request.data)
        kind = UnitKind(data.pop("kind"))
        unit = execute(
            lambda app: app.register_unit(actor=actor_of(request), kind=kind, code_in_use=code_taken, **data)
        )
        return Response(UnitOutput(UnitView.objects.get(id=unit.id)).data, status=201)


class UnitChange(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    permission_classes = requires(CHANGE_UNIT)
    serializer_class = UnitOutput

    @extend_schema(
        request=UnitChangeInput, responses=UnitOutput, summary="变更单位名称、区域或属地派出所（自生效时间起）"
    )
    def post(self, request: Request, pk: str) -> Response:
        unit = scope.units(actor_of(request)).filter(id=parse_uuid(pk, UnitNotFound)).first()
        if unit is None:
            raise UnitNotFound()
        data = validated(UnitChangeInput, request.data)
        execute(lambda app: app.change_unit(unit.id, actor=actor_of(request), code_in_use=code_taken, **data))
        return Response(UnitOutput(UnitView.objects.get(id=unit.id)).data)


class UnitStaff(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = StaffAtOutput
    pagination_class = None

    @extend_schema(
        parameters=[
            *twotimes.parameters(None),
        ],
        responses=StaffAtOutput(many=True),
    )
    def get(self, request: Request, pk: str) -> Response:
        unit = scope.units(actor_of(request)).filter(id=parse_uuid(pk, UnitNotFound)).first()
        if unit is None:
            raise UnitNotFound()
        times = twotimes.from_query(request.query_params, as_of_means="known_at")
        return Response(StaffAtOutput(staff_at(unit.id, times.at, times.known_at), many=True).data)


class UserCreate(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    permission_classes = requires(CREATE_USER)
    serializer_class = UserOutput

    @extend_schema(request=UserInput, responses={201: UserOutput})
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        data = validated(UserInput, request.data)
        password = data.pop("password")
        if User.objects.filter(username=data["username"]).exists():
            raise AlreadyExists("用户名已存在", field="username")
        with transaction.atomic():
            User.objects.create_user(username=data["username"], password=password)
            execute(lambda app: app.appoint_staff(actor=actor, role=Role(data.pop("role")), **data))
        return Response(UserOutput(StaffView.objects.get(username=data["username"])).data, status=201)


class UserRole(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    permission_classes = requires(CHANGE_ROLE)
    serializer_class = UserOutput

    @extend_schema(request=RoleInput, responses=UserOutput)
    def post(self, request: Request, username: str) -> Response:
        data = validated(RoleInput, request.data)
        actor = actor_of(request)
        _require_user(username)
        execute(lambda app: app.change_role(actor=actor, username=username, role=Role(data.pop("role")), **data))
        return Response(UserOutput(StaffView.objects.get(username=username)).data)


class UserDeactivate(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    permission_classes = requires(DEACTIVATE_USER)
    serializer_class = UserOutput

    @extend_schema(request=DeactivateInput, responses=UserOutput)
    def post(self, request: Request, username: str) -> Response:
        data = validated(DeactivateInput, request.data)
        actor = actor_of(request)
        _require_user(username)
        with transaction.atomic():  # the appointment's end and the login's, together or not at all
            execute(lambda app: app.deactivate_staff(actor=actor, username=username, **data))
            if data.get("effective_from", timezone.now()) <= timezone.now():
                # Tokens and the login itself end with the appointment.
                Token.objects.filter(user__username=username).delete()
                User.objects.filter(username=username).update(is_active=False)
        return Response(UserOutput(StaffView.objects.get(username=username)).data)


def _require_user(username: str) -> None:
    if not StaffView.objects.filter(username=username).exists():
        raise StaffNotFound(username=username)
