"""Who read police-only content (公安专属内容查阅记录): every read recorded, listed to police leaders and auditors."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import DeclaredQuery
from api.models import PoliceContentRead
from domain.errors import NotPermitted
from domain.policy import Actor, Role, UnitKind
from projections import scope
from projections.directory import StaffView, UnitView
from projections.jointforms import JointFormView
from projections.submissions import SubmissionView

# 所长 for their station's schools, 市公安局 for the city, auditors for everything (DESIGN §5 roles).
OVERSEERS = frozenset({Role.STATION_CHIEF, Role.POLICE_OFFICER, Role.AUDITOR})
VIA_LABELS = {
    "api": "接口查看报表",
    "history": "接口查看变更记录",
    "page": "网页查看报表",
    "submission_copy": "下载公安线报送副本",
}


def record_read(
    actor: Actor, *, via: str, school: UUID | None, form: UUID | None = None, submission: UUID | None = None
) -> None:
    """Note that ``actor`` was just shown police-only content (call it where the content leaves the server)."""
    PoliceContentRead.objects.create(
        read_at=timezone.now(),
        username=actor.username,
        role=actor.role.value,
        unit=actor.unit,
        via=via,
        form=form,
        submission=submission,
        school=school,
    )


def record_submission_read(actor: Actor, submission: SubmissionView) -> None:
    """A police line's copy fetched: its school is the one the report names, through its form, or the sender."""
    params = submission.parameters
    school = params.get("school") or (
        JointFormView.objects.filter(id=params["form"]).values_list("school", flat=True).first()
        if params.get("form")
        else UnitView.objects.filter(id=submission.unit, kind=UnitKind.SCHOOL).values_list("id", flat=True).first()
    )
    record_read(actor, via="submission_copy", submission=submission.id, school=UUID(str(school)) if school else None)


class PoliceReadOutput(serializers.Serializer):  # type: ignore[type-arg]
    read_at = serializers.DateTimeField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.CharField()
    unit = serializers.UUIDField(allow_null=True)
    unit_name = serializers.CharField()
    via = serializers.ChoiceField(choices=list(VIA_LABELS))
    via_label = serializers.CharField()
    form = serializers.UUIDField(allow_null=True)
    submission = serializers.UUIDField(allow_null=True)
    school = serializers.UUIDField(allow_null=True)
    school_name = serializers.CharField()


class PoliceAccessLog(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    """Every read of police-only content, newest first: 所长 (their station's schools), 市公安局民警, auditors."""

    serializer_class = PoliceReadOutput

    @extend_schema(responses=PoliceReadOutput(many=True))
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        if actor.role not in OVERSEERS:
            raise NotPermitted("只有所长、市公安局民警和审计/督导人员可以查看公安专属内容的查阅记录")
        rows = scope.filter_by_school(PoliceContentRead.objects.order_by("-read_at", "-id"), actor)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(_with_names(page or []))


def _with_names(rows: list[PoliceContentRead]) -> list[dict[str, Any]]:
    people = dict(
        StaffView.objects.filter(username__in={r.username for r in rows}).values_list("username", "display_name")
    )
    units = dict(
        UnitView.objects.filter(id__in={u for r in rows for u in (r.unit, r.school) if u}).values_list("id", "name")
    )
    return [
        {
            "read_at": r.read_at,
            "username": r.username,
            "display_name": people.get(r.username, ""),
            "role": r.role,
            "unit": r.unit,
            "unit_name": units.get(r.unit, ""),
            "via": r.via,
            "via_label": VIA_LABELS.get(r.via, r.via),
            "form": r.form,
            "submission": r.submission,
            "school": r.school,
            "school_name": units.get(r.school, ""),
        }
        for r in rows
    ]
