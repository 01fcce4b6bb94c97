"""``audit/``: the integrity of the log (DESIGN §3) — verify the chain, list checkpoints, the public key."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import DeclaredQuery
from domain.errors import NotPermitted
from domain.policy import Actor, Role
from projections import blobcheck, integrity, scope
from projections.eventstore import get_application
from projections.signingkeys import SigningKey, key_id_of
from projections.tracking import VERIFY_RUN, record_run

VERIFIERS = frozenset({Role.AUDITOR, Role.ADMIN, Role.EDU_LEADER, Role.EDU_INSPECTOR, Role.POLICE_OFFICER})


class SubjectOut(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.CharField(help_text="hazard | inspection | …: the aggregate whose event references the file")
    id = serializers.UUIDField()
    number = serializers.CharField(allow_null=True, help_text="a hazard's 序号")


class EventOut(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.CharField()
    version = serializers.IntegerField()
    position = serializers.IntegerField()


class ProblemOut(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(
        [
            "modified",
            "missing",
            "inserted",
            "reordered",
            "unchained",
            "bad_signature",
            "key_compromised",
            "blob_modified",
            "blob_missing",
        ]
    )
    position = serializers.IntegerField(help_text="the log position (0 for an upload no event references)")
    detail = serializers.CharField()
    # An attachment's problem only (blob_modified, blob_missing), for those who see its school:
    subject = SubjectOut(required=False, help_text="the hazard or inspection whose event references the file")
    event = EventOut(required=False)
    attachment = serializers.UUIDField(required=False)
    blob = serializers.ChoiceField(
        ["sha256", "sha256_original", "thumbnail_sha256"],
        required=False,
        help_text="which file of the upload: the served copy, the original, the thumbnail",
    )


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
    blobs_checked = serializers.IntegerField(help_text="distinct attachment files read and hashed")


class CheckpointOut(serializers.Serializer):  # type: ignore[type-arg]
    position = serializers.IntegerField()
    hash = serializers.CharField()
    signature = serializers.CharField()
    public_key = serializers.CharField()
    key_id = serializers.CharField(help_text="the signing key's id (audit/public-key/ lists every key)")
    signed_at = serializers.DateTimeField()


class AuditVerify(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    """Recompute the whole chain now and check every attachment file (auditors, bureaus and admins: it reads every
    event). An attachment's problem names its hazard, event and upload only to those who see its school."""

    serializer_class = VerifyOut
    pagination_class = None

    def get(self, request: Request) -> Response:
        return Response(VerifyOut(verify_log(actor_of(request)).as_dict()).data)


def verify_log(actor: Actor) -> integrity.Report:
    """The whole chain and every attachment file checked now, problems named as far as the actor may see them
    (``audit/verify/`` and the 审计 page)."""
    if actor.role not in VERIFIERS:
        raise NotPermitted("只有审计/督导人员、教育局、市公安局和系统管理员可以校验事件日志")
    report = blobcheck.verify(get_application())
    record_run(VERIFY_RUN, ok=report.ok, count=len(report.problems))  # /metrics: the last verify and its result
    visible = scope.school_ids(actor)
    schools = None if visible is scope.ALL else set(visible.values_list("id", flat=True))
    return blobcheck.scoped(report, schools, police=scope.sees_police_content(actor))


class AuditCheckpoints(DeclaredQuery, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = CheckpointOut

    def get_queryset(self) -> Any:
        return integrity.Checkpoint.objects.order_by("-position")


class KeyOut(serializers.Serializer):  # type: ignore[type-arg]
    key_id = serializers.CharField(help_text="first 16 hex digits of SHA-256 of the raw public key")
    algorithm = serializers.CharField()
    public_key = serializers.CharField()
    valid_from_position = serializers.IntegerField(help_text="the first log position the key may sign")
    valid_until_position = serializers.IntegerField(
        allow_null=True, help_text="the last log position the key may sign (null: the current key)"
    )
    compromised_after_position = serializers.IntegerField(
        allow_null=True, help_text="its checkpoints after this position fail verification (`key_compromised`)"
    )
    created_at = serializers.DateTimeField()
    retired_at = serializers.DateTimeField(allow_null=True)
    compromised_marked_at = serializers.DateTimeField(allow_null=True)


class PublicKeyOut(serializers.Serializer):  # type: ignore[type-arg]
    algorithm = serializers.CharField()
    public_key = serializers.CharField(help_text="the key signing new checkpoints")
    key_id = serializers.CharField()
    keys = KeyOut(many=True, help_text="every key, oldest first, with the log positions it may sign")


class AuditPublicKey(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    """The Ed25519 public keys the checkpoints are signed with, each with its validity by log position (public:
    anyone may check a checkpoint)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    pagination_class = None
    serializer_class = PublicKeyOut

    @extend_schema(responses=PublicKeyOut)
    def get(self, request: Request) -> Response:
        public = integrity.public_key_hex()
        keys = [key.as_dict() for key in SigningKey.objects.order_by("valid_from_position", "created_at")]
        for key in keys:
            del key["record"], key["revision"]
        return Response({"algorithm": "Ed25519", "public_key": public, "key_id": key_id_of(public), "keys": keys})
