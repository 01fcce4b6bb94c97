"""Hazard endpoints: discover, list (filtered, in scope), state now or in the past, history, commands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate
from uuid import UUID

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api import twotimes
from api.attachments import refs_json
from api.auth import actor_of, requires
from api.common import (
    CanonicalUUIDFilter,
    DeclaredQuery,
    Moment,
    MomentFilter,
    TrueFalseFilter,
    enum_choices,
    parse_uuid,
    query_param,
    validated,
)
from api.hazards import serializers as s
from api.idempotency import IdempotentCommand
from api.services import attached, execute
from domain.application import SafetyApplication
from domain.attachments import attachments_of
from domain.errors import HazardNotFound, OutOfScope
from domain.eventinfo import event_data, event_type
from domain.hazard import aggregate as hazard_rules
from domain.hazard.aggregate import Hazard, Severity, Status
from domain.policy import Actor, Requirement
from projections import directory, integrity, scope
from projections.eventstore import get_application
from projections.hazard import queries
from projections.hazard.rows import HazardLedger


class HazardFilter(django_filters.FilterSet):
    school = CanonicalUUIDFilter()
    campaign = CanonicalUUIDFilter()
    status = django_filters.ChoiceFilter(choices=[(v, v) for v in enum_choices(Status)])
    severity = django_filters.ChoiceFilter(choices=[(v, v) for v in enum_choices(Severity)])
    overdue = TrueFalseFilter()
    owner = django_filters.CharFilter(help_text="整改责任人（用户名）")
    supervised = TrueFalseFilter(help_text="是否挂牌督办")
    escalated = TrueFalseFilter(help_text="是否已上报")
    discovered_after = MomentFilter(
        field_name="discovered_at", bound="after", help_text="发现时间不早于（日期 YYYY-MM-DD 或 ISO 8601 时间）"
    )
    voided = django_filters.ChoiceFilter(
        choices=[("false", "false"), ("true", "true"), ("all", "all")],
        method="filter_voided",
        help_text="作废的隐患：false（默认，不列出）、true（只列作废的）、all（全部）",
    )
    text = django_filters.CharFilter(method="filter_text", help_text="文字：隐患编号、问题表现、位置或类别中包含")
    discovered_before = MomentFilter(
        field_name="discovered_at", bound="before", help_text="发现时间早于该时间，或不晚于该日期（含当日）"
    )

    class Meta:
        model = HazardLedger
        fields = ["school", "campaign", "status", "severity", "overdue", "owner", "supervised", "escalated"]

    def filter_queryset(self, queryset: Any) -> Any:
        if not self.form.cleaned_data.get("voided"):  # absent: voided hazards are out of the list by default
            queryset = queryset.filter(voided=False)
        return super().filter_queryset(queryset)

    def filter_text(self, queryset: Any, name: str, value: str) -> Any:
        words = value.split()
        for word in words:
            queryset = queryset.filter(
                Q(number__icontains=word)
                | Q(description__icontains=word)
                | Q(location__icontains=word)
                | Q(category__icontains=word)
            )
        return queryset

    def filter_voided(self, queryset: Any, name: str, value: str) -> Any:
        return queryset if value == "all" else queryset.filter(voided=value == "true")


class HazardList(IdempotentCommand, DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    permission_classes = requires(hazard_rules.DISCOVER)
    serializer_class = s.HazardOutput
    filterset_class = HazardFilter

    def get_queryset(self) -> Any:
        return scope.filter_by_school(HazardLedger.objects.order_by("discovered_at", "id"), actor_of(self.request))

    @extend_schema(request=s.DiscoverInput, responses={201: s.HazardOutput})
    def post(self, request: Request) -> Response:
        data = validated(s.DiscoverInput, request.data)
        actor = actor_of(request)
        if not scope.can_see_school(actor, data["school"]):
            raise OutOfScope(school=str(data["school"]))
        severity = Severity(data.pop("severity"))
        code = directory.code_of(data["school"])  # fixed into the number (HM01-2026-0001) at discovery
        hazard = execute(
            lambda app: app.discover_hazard(actor=actor, severity=severity, code=code, **attached(actor, data))
        )
        return Response(s.HazardOutput(_row(hazard.id)).data, status=201)


class HazardDetail(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = s.HazardOutput

    @extend_schema(
        parameters=[
            OpenApiParameter("version", int, description="返回该版本时的状态"),
            *twotimes.parameters("known_at", "默认现在"),
        ],
        description="给出 version、at、known_at 或 as_of（known_at 的旧名称）之一时，返回过去的状态："
        "业务时间 at 时、按记录时间 known_at 时系统所知的状态。",
    )
    def get(self, request: Request, pk: str) -> Response:
        row = visible_hazard(request, pk)
        version = query_param(request, "version", serializers.IntegerField(min_value=1, max_value=2**31))
        asked = twotimes.parse(request.query_params)
        if version is None and not any(asked.values()):
            return Response(s.HazardOutput(row).data)
        times = twotimes.resolve(**asked, as_of_means="known_at")
        at = times.at if asked["at"] is not None else None  # no ``at``: every state recorded, whatever its time
        past = queries.state_as_of(row.id, version=version, at=at, known_at=times.known_at)
        if past is None:
            raise HazardNotFound("该时间点尚无此隐患的记录")
        return Response(s.HazardOutput(past.state).data)


class HazardHistory(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = s.HistoryItem
    pagination_class = None

    @extend_schema(responses=s.HistoryItem(many=True))
    def get(self, request: Request, pk: str) -> Response:
        row = hazard_in_scope(request, pk)
        events = get_application().hazard_events(row.id)
        hashes = integrity.hashes_of(row.id)
        listed = refs_json([attachments_of(e) for e in events], request)
        items = [
            {
                "version": e.originator_version,
                "type": event_type(e),
                "occurred_at": e.occurred_at,  # type: ignore[attr-defined]
                "recorded_at": e.timestamp,
                "actor": e.actor,  # type: ignore[attr-defined]
                "data": event_data(e),
                "hash": hashes.get(e.originator_version),
                "attachments": attachments,
            }
            for e, attachments in zip(events, listed, strict=True)
        ]
        return Response(s.HistoryItem(items, many=True).data)


class HazardOwners(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = s.OwnerInterval
    pagination_class = None

    @extend_schema(
        parameters=[OpenApiParameter("known_at", str, description="记录时间：当时系统所知的责任人，默认现在")],
        responses=s.OwnerInterval(many=True),
    )
    def get(self, request: Request, pk: str) -> Response:
        row = hazard_in_scope(request, pk)
        known_at = query_param(request, "known_at", Moment()) or timezone.now()
        return Response(s.OwnerInterval(queries.owners(row.id, known_at), many=True).data)


HazardCommandMethod = Callable[Concatenate[SafetyApplication, UUID, ...], Hazard]


@dataclass(frozen=True)
class CommandSpec:
    """A hazard command as the API runs it: the application method, its input, who may run it (judged before the
    input). The endpoints below and the web page's forms (``api.web.hazard_actions``) are both made from these."""

    command: HazardCommandMethod
    input_class: type[serializers.Serializer]  # type: ignore[type-arg]
    summary: str
    requirement: Requirement | None = None
    owner_work: bool = False

    def check(self, actor: Actor, owner: str | None) -> None:
        """The right to run the command on a hazard owned by ``owner`` (403), before its input is read."""
        if self.requirement is not None:
            self.requirement.check(actor)
        if self.owner_work:
            hazard_rules.require_owner_or_principal(actor, owner)


def command_view(spec: CommandSpec) -> Any:
    """A POST endpoint that validates ``spec.input_class`` and calls ``spec.command``, a ``SafetyApplication``
    method passed itself (not its name: a renamed method fails at import and type check). The hazard must be in the
    caller's scope (404), then ``spec.check`` — a requirement on the role alone or, for ``owner_work``, being its
    current owner or the 校长 — is met (403), before the body is judged (400) and the command runs (409)."""

    command, input_class, summary = spec.command, spec.input_class, spec.summary

    class HazardCommand(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
        serializer_class = s.HazardOutput

        @extend_schema(request=input_class, responses=s.HazardOutput, summary=summary)
        def post(self, request: Request, pk: str) -> Response:
            row = hazard_in_scope(request, pk)
            actor = actor_of(request)
            spec.check(actor, row.owner)
            data = validated(input_class, request.data)
            hazard = execute(lambda app: command(app, row.id, actor=actor, **attached(actor, data)))
            return Response(_hazard_json(hazard, row.number))  # the number never changes

    HazardCommand.__name__ = HazardCommand.__qualname__ = f"Hazard{command.__name__.title().replace('_', '')}"
    return HazardCommand.as_view()


COMMAND_SPECS = {
    "assign": CommandSpec(SafetyApplication.assign_hazard, s.AssignInput, "分派整改责任人", hazard_rules.ASSIGN),
    "transfer": CommandSpec(SafetyApplication.transfer_hazard, s.TransferInput, "移交整改责任", hazard_rules.TRANSFER),
    "plan": CommandSpec(SafetyApplication.record_plan, s.PlanInput, "录入整改方案（五落实）", owner_work=True),
    "interim-measures": CommandSpec(
        SafetyApplication.record_interim_measures, s.InterimMeasuresInput, "录入临时安全防范措施", owner_work=True
    ),
    "progress": CommandSpec(SafetyApplication.report_progress, s.ProgressInput, "报告整改进度", owner_work=True),
    "extend": CommandSpec(SafetyApplication.extend_deadline, s.ExtendInput, "延长整改时限", hazard_rules.EXTEND),
    "escalate": CommandSpec(SafetyApplication.escalate_hazard, s.EscalateInput, "上报", hazard_rules.ESCALATE),
    "supervise": CommandSpec(SafetyApplication.supervise_hazard, s.SuperviseInput, "挂牌督办", hazard_rules.SUPERVISE),
    "rectify": CommandSpec(SafetyApplication.rectify_hazard, s.RectifyInput, "登记整改完成", owner_work=True),
    "verify": CommandSpec(SafetyApplication.verify_hazard, s.VerifyInput, "验收", hazard_rules.VERIFY),
    "reopen": CommandSpec(SafetyApplication.reopen_hazard, s.ReopenInput, "重新打开", hazard_rules.REOPEN),
    "void": CommandSpec(
        SafetyApplication.void_hazard, s.VoidInput, "作废（误录的隐患，保留记录，不再计入统计）", hazard_rules.VOID
    ),
}
COMMANDS = {name: command_view(spec) for name, spec in COMMAND_SPECS.items()}


def visible_hazard(request: Request, pk: str) -> HazardLedger:
    """The hazard's ledger row if the caller may see it; 404 otherwise (also for malformed ids)."""
    hazard_id: UUID = parse_uuid(pk, HazardNotFound)
    row = scope.filter_by_school(HazardLedger.objects.filter(id=hazard_id), actor_of(request)).first()
    if row is None:
        raise HazardNotFound(id=pk)
    return row


def hazard_in_scope(request: Request, pk: str) -> queries.HazardKey:
    """``visible_hazard`` for what needs only the hazard's id, owner and number (a command, its history, its
    owners): one statement compiled once, and the scope rule applied to its school's row (``scope.sees_school``).
    The whole row's query, built and compiled for each request, took more of a command's time than the command's
    own projection."""
    hazard_id: UUID = parse_uuid(pk, HazardNotFound)
    key = queries.hazard_key(hazard_id)
    if key is None or not scope.sees_school(actor_of(request), key.school):
        raise HazardNotFound(id=pk)
    return key


def _row(hazard_id: UUID) -> HazardLedger:
    return HazardLedger.objects.get(id=hazard_id)


def _hazard_json(hazard: Hazard, number: str) -> dict[str, Any]:
    hazard.number = number  # type: ignore[attr-defined]
    return dict(s.HazardOutput(hazard).data)
