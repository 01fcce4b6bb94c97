"""``audit/``: the integrity of the log (DESIGN §3) — verify the chain, list checkpoints, the public key."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import DeclaredQuery
from domain.errors import NotPermitted
from domain.policy import Role
from projections import integrity
from projections.eventstore import get_application

VERIFIERS = frozenset({Role.AUDITOR, Role.ADMIN, Role.EDU_LEADER, Role.EDU_INSPECTOR, Role.POLICE_OFFICER})


class ProblemOut(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(["modified", "missing", "inserted", "reordered", "unchained", "bad_signature"])
    position = serializers.IntegerField()
    detail = serializers.CharField()


class HeadOut(serializers.Serializer):  # type: ignore[type-arg]
    position = serializers.IntegerField()
    hash = serializers.CharField()


class VerifyOut(serializers.Serializer):  # type: ignore[type-arg]
    ok = serializers.BooleanField()
    events_checked = serializers.IntegerField()
    head = HeadOut(allow_null=True)
    problems = ProblemOut(many=True)
    log_head = serializers.IntegerField(
        help_text="the newest stored event's position (the chain's head must reach it: else `unchained`)"
    )


class CheckpointOut(serializers.Serializer):  # type: ignore[type-arg]
    position = serializers.IntegerField()
    hash = serializers.CharField()
    signature = serializers.CharField()
    public_key = serializers.CharField()
    signed_at = serializers.DateTimeField()


class AuditVerify(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    """Recompute the whole chain now (auditors, bureaus and admins: it reads every event)."""

    serializer_class = VerifyOut
    pagination_class = None

    def get(self, request: Request) -> Response:
        if actor_of(request).role not in VERIFIERS:
            raise NotPermitted("只有审计/督导人员、教育局、市公安局和系统管理员可以校验事件日志")
        report = integrity.verify(integrity.stored_events(get_application().recorder))
        return Response(VerifyOut(report.as_dict()).data)


class AuditCheckpoints(DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = CheckpointOut

    def get_queryset(self) -> Any:
        return integrity.Checkpoint.objects.order_by("-position")


class AuditPublicKey(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    """The Ed25519 public key the checkpoints are signed with (public: anyone may check a checkpoint)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    pagination_class = None

    @extend_schema(
        responses=inline_serializer(
            "PublicKey", {"algorithm": serializers.CharField(), "public_key": serializers.CharField()}
        )
    )
    def get(self, request: Request) -> Response:
        return Response({"algorithm": "Ed25519", "public_key": integrity.public_key_hex()})
