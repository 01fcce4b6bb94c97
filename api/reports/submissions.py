"""``submissions/``: a report sent to its recipient lines, each copy's exact bytes kept with its SHA-256."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import CanonicalUUID, DeclaredQuery, Moment, parse_uuid, validated
from api.models import SubmissionCopy
from api.policeaccess import record_submission_read
from api.reports.query import build_query
from api.reports.views import ReportNotFound, report_file
from api.services import execute
from domain.errors import NotFound, OutOfScope
from domain.policy import EDU_BUREAU_KINDS, POLICE_KINDS, Actor, require_writer
from projections import scope
from projections.campaigns import CampaignView
from projections.directory import UnitView
from projections.submissions import SubmissionView
from reports.base import statistics_day
from reports.registry import ReportQuery, ReportSpec, load_all


class SubmissionNotFound(NotFound):
    code = "submission_not_found"
    message = "报送记录不存在或不在您的管辖范围内"


class SubmitInput(serializers.Serializer):  # type: ignore[type-arg]
    report = serializers.CharField(max_length=50)
    campaign = CanonicalUUID(required=False, allow_null=True)
    unit = CanonicalUUID(required=False, allow_null=True)
    at = Moment(
        required=False,
        allow_null=True,
        help_text="业务时间：报表描述的时刻，默认专项排查统计截止日24:00（若晚于现在则为现在）；不得晚于现在5分钟以上",
    )
    known_at = Moment(
        required=False, allow_null=True, help_text="记录时间：按系统当时所知的记录，默认现在；不得晚于现在5分钟以上"
    )
    as_of = Moment(required=False, allow_null=True, help_text="at 的旧名称，与 at 不能同时给出")
    district = serializers.CharField(required=False, allow_blank=True, max_length=100)
    school = CanonicalUUID(required=False, allow_null=True)
    form = CanonicalUUID(required=False, allow_null=True)
    hazard = CanonicalUUID(required=False, allow_null=True)


class SubmittedCopyOutput(serializers.Serializer):  # type: ignore[type-arg]
    line = serializers.ChoiceField(choices=["education", "police"])
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.URLField()


class SubmissionOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = CanonicalUUID()
    report = serializers.CharField()
    campaign = CanonicalUUID(allow_null=True)
    unit = CanonicalUUID(allow_null=True)
    at = serializers.DateTimeField(help_text="业务时间：报表描述的时刻")
    known_at = serializers.DateTimeField(help_text="记录时间：报表按系统当时所知的记录编制")
    submitted_by = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    copies = SubmittedCopyOutput(many=True, help_text="调用者可见的报送副本（公安线副本仅公安单位用户可见）")


class Submissions(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = SubmissionOutput

    @extend_schema(responses=SubmissionOutput(many=True))
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        rows = scope.filter_submissions(SubmissionView.objects.all(), actor)
        page = self.paginate_queryset(rows.order_by("-submitted_at", "id"))
        return self.get_paginated_response([submission_json(row, actor, request) for row in page])

    @extend_schema(request=SubmitInput, responses={201: SubmissionOutput})
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        require_writer(actor)
        data = validated(SubmitInput, request.data)
        spec = load_all().get(data["report"])
        if spec is None:
            raise ReportNotFound(name=data["report"])
        params = {k: str(v) for k, v in data.items() if v not in (None, "") and k != "report"}
        query = build_query(spec, params, actor)
        if not actor.is_admin and (query.unit is None or query.unit.id != actor.unit):
            raise OutOfScope("只能以本单位名义报送", field="unit")
        lines = lines_of(query.campaign)
        copies = [_copy(request, spec, replace(query, police_line=line == "police"), line) for line in lines]
        with transaction.atomic():
            submission = execute(
                lambda app: app.submit_report(
                    actor=actor,
                    report=spec.name,
                    campaign=query.campaign.id if query.campaign else None,
                    unit=query.unit.id if query.unit else None,
                    at=query.at,
                    known_at=query.known_at,
                    parameters=params,
                    copies=[{k: v for k, v in c.items() if k != "content"} for c in copies],
                )
            )
            SubmissionCopy.objects.bulk_create(
                SubmissionCopy(submission=submission.id, **{k: v for k, v in c.items() if k != "size"}) for c in copies
            )
        return Response(submission_json(SubmissionView.objects.get(id=submission.id), actor, request), status=201)


class SubmissionDetail(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = SubmissionOutput

    def get(self, request: Request, pk: str) -> Response:
        actor = actor_of(request)
        return Response(submission_json(visible_submission(actor, pk), actor, request))


class SubmissionCopyView(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: str, line: str) -> HttpResponse:
        actor = actor_of(request)
        row = visible_submission(actor, pk)
        if line not in visible_lines(actor):
            raise SubmissionNotFound(id=pk)
        copy = SubmissionCopy.objects.filter(submission=row.id, line=line).first()
        if copy is None:
            raise SubmissionNotFound(id=pk)
        if line == "police":
            record_submission_read(actor, row)
        response = HttpResponse(bytes(copy.content), content_type=copy.content_type)
        response["Content-Disposition"] = content_disposition_header(True, copy.filename)
        response["X-Content-SHA256"] = copy.sha256
        return response


def lines_of(campaign: CampaignView | None) -> tuple[str, ...]:
    """双报送: the education line, and the police line when the campaign also reports to a police unit."""
    if campaign is None:
        return ("education",)
    kinds = set(UnitView.objects.filter(id__in=campaign.recipients).values_list("kind", flat=True))
    lines = [line for line, of in (("education", EDU_BUREAU_KINDS), ("police", POLICE_KINDS)) if kinds & set(of)]
    return tuple(lines) or ("education",)


def visible_lines(actor: Actor) -> tuple[str, ...]:
    return ("education", "police") if scope.sees_police_content(actor) else ("education",)


def visible_submission(actor: Actor, pk: str) -> SubmissionView:
    rows = SubmissionView.objects.filter(id=parse_uuid(pk, SubmissionNotFound))
    row = scope.filter_submissions(rows, actor).first()
    if row is None:
        raise SubmissionNotFound(id=pk)
    return row


def submission_json(row: SubmissionView, actor: Actor, request: Request) -> dict[str, Any]:
    lines = visible_lines(actor)
    return {
        "id": row.id,
        "report": row.report,
        "campaign": row.campaign,
        "unit": row.unit,
        "at": row.at,
        "known_at": row.known_at,
        "submitted_by": row.submitted_by,
        "submitted_at": row.submitted_at,
        "copies": [
            {
                "line": c["line"],
                "sha256": c["sha256"],
                "size": c["size"],
                "url": request.build_absolute_uri(f"/api/v1/submissions/{row.id}/copies/{c['line']}/"),
            }
            for c in row.copies
            if c["line"] in lines
        ],
    }


def _copy(request: Request, spec: ReportSpec, query: ReportQuery, line: str) -> dict[str, Any]:
    """One line's copy as the PDF that is sent (as ``reports/{name}/?format=pdf`` gives it)."""
    report, content = report_file(request, spec, query, "pdf")
    filename = f"{report.title}-{statistics_day(report.at).isoformat()}-{'公安' if line == 'police' else '教育'}.pdf"
    return {
        "line": line,
        "content_type": "application/pdf",
        "filename": filename,
        "content": content,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }
