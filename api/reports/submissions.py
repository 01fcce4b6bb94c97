"""``submissions/``: a report sent to its recipient lines, each copy's exact bytes kept with its SHA-256."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import CanonicalUUID, DeclaredQuery, Moment, parse_uuid, validated
from api.idempotency import IdempotentCommand
from api.models import SubmissionCopy
from api.policeaccess import record_submission_read
from api.reports.query import build_query
from api.reports.views import JOINT_FORM_REPORT, ReportNotFound, report_file
from api.services import execute
from domain.application import SafetyApplication
from domain.errors import FormAlreadySubmitted, NotFound, OutOfScope
from domain.policy import EDU_BUREAU_KINDS, POLICE_KINDS, Actor, require_writer
from projections import scope
from projections.campaigns import CampaignView
from projections.directory import DisplayNames, UnitView, unit_names
from projections.jointforms import JointFormView
from projections.submissions import SubmissionView
from reports.base import statistics_day
from reports.registry import ReportQuery, ReportSpec, load_all

SUBMIT_HELP = (
    "按专项排查的接收单位分教育线、公安线各生成一份PDF副本并保存其字节和SHA-256。回执 copies 列出每条报送线的"
    "接收单位和报送时间；哈希、大小和下载地址仅给可下载该线副本的用户（公安线仅公安单位用户）。"
    "已报送的学校及周边安全排查整改情况报表（changzhou-school-form 带 form）不再另行报送："
    "409 form_already_submitted，submission 为已有的报送记录。"
)


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


class RecipientOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = CanonicalUUID()
    name = serializers.CharField(help_text="接收单位名称")


class SubmittedCopyOutput(serializers.Serializer):  # type: ignore[type-arg]
    """回执: one line the submission went to; its bytes' hash, size and URL only where the caller may fetch them."""

    line = serializers.ChoiceField(choices=["education", "police"], help_text="报送线：教育线或公安线")
    recipients = RecipientOutput(many=True, help_text="本线的接收单位（专项排查的接收单位中该线的单位）")
    sent_at = serializers.DateTimeField(help_text="报送时间（+08:00）")
    sha256 = serializers.CharField(
        required=False, help_text="副本字节的 SHA-256；仅当调用者可下载本线副本时给出（公安线仅公安单位用户）"
    )
    size = serializers.IntegerField(required=False, help_text="副本字节数；同上")
    url = serializers.URLField(required=False, help_text="副本下载地址 submissions/{id}/copies/{line}/；同上")


class SubmissionOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = CanonicalUUID()
    report = serializers.CharField()
    campaign = CanonicalUUID(allow_null=True)
    unit = CanonicalUUID(allow_null=True)
    unit_name = serializers.CharField(allow_null=True, help_text="填报单位名称")
    at = serializers.DateTimeField(help_text="业务时间：报表描述的时刻")
    known_at = serializers.DateTimeField(help_text="记录时间：报表按系统当时所知的记录编制")
    submitted_by = serializers.CharField()
    submitted_by_name = serializers.CharField(allow_null=True, help_text="报送人姓名")
    submitted_at = serializers.DateTimeField()
    copies = SubmittedCopyOutput(
        many=True,
        help_text="每条报送线的回执：接收单位和报送时间人人可见；哈希、大小和下载地址仅给可下载该线副本的用户",
    )


class Submissions(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = SubmissionOutput

    @extend_schema(responses=SubmissionOutput(many=True))
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        rows = scope.filter_submissions(SubmissionView.objects.all(), actor)
        page = self.paginate_queryset(rows.order_by("-submitted_at", "id"))
        names = DisplayNames().load([row.unit for row in page], [row.submitted_by for row in page])
        return self.get_paginated_response([submission_json(row, actor, request, names) for row in page])

    @extend_schema(request=SubmitInput, responses={201: SubmissionOutput}, description=SUBMIT_HELP)
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        require_writer(actor)
        row = submit_report(request, actor, validated(SubmitInput, request.data))
        return Response(submission_json(row, actor, request), status=201)


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


def submit_report(request: HttpRequest, actor: Actor, data: dict[str, Any]) -> SubmissionView:
    """报送: the report ``data`` (``SubmitInput``, validated) names, in the actor's own unit's name, sent to each
    of its lines (``submissions/`` and the 报表 page)."""
    require_writer(actor)
    spec = load_all().get(data["report"])
    if spec is None:
        raise ReportNotFound(name=data["report"])
    params = {k: str(v) for k, v in data.items() if v not in (None, "") and k != "report"}
    query = build_query(spec, params, actor)
    if not actor.is_admin and (query.unit is None or query.unit.id != actor.unit):
        raise OutOfScope("只能以本单位名义报送", field="unit")
    if spec.name == JOINT_FORM_REPORT and query.form is not None:
        refuse_if_form_submitted(query.form)
    copies = render_copies(request, spec, query)
    sent = sending(spec, query, params, copies)
    return store(copies, lambda app: app.submit_report(actor=actor, **sent).id)


def lines_of(campaign: CampaignView | None) -> dict[str, list[str]]:
    """双报送: each line and its recipients — the education line to the campaign's education bureaus, the police
    line to its police units (no campaign, or no recipient of either kind: the education line alone)."""
    if campaign is None:
        return {"education": []}
    units = UnitView.objects.filter(id__in=campaign.recipients).order_by("name", "id").values_list("id", "kind")
    lines = {
        line: [str(unit) for unit, kind in units if kind in kinds]
        for line, kinds in (("education", EDU_BUREAU_KINDS), ("police", POLICE_KINDS))
    }
    return {line: to for line, to in lines.items() if to} or {"education": []}


def visible_lines(actor: Actor) -> tuple[str, ...]:
    return ("education", "police") if scope.sees_police_content(actor) else ("education",)


def visible_submission(actor: Actor, pk: str) -> SubmissionView:
    rows = SubmissionView.objects.filter(id=parse_uuid(pk, SubmissionNotFound))
    row = scope.filter_submissions(rows, actor).first()
    if row is None:
        raise SubmissionNotFound(id=pk)
    return row


def submission_json(
    row: SubmissionView, actor: Actor, request: HttpRequest, names: DisplayNames | None = None
) -> dict[str, Any]:
    names = names or DisplayNames()
    return {
        "id": row.id,
        "report": row.report,
        "campaign": row.campaign,
        "unit": row.unit,
        "unit_name": names.unit_name(row.unit),
        "at": row.at,
        "known_at": row.known_at,
        "submitted_by": row.submitted_by,
        "submitted_by_name": names.person_name(row.submitted_by),
        "submitted_at": row.submitted_at,
        "copies": receipts(row, actor, request),
    }


def receipts(row: SubmissionView, actor: Actor, request: HttpRequest) -> list[dict[str, Any]]:
    """回执: every line the submission went to, with its recipients by name and the time of sending; a line's
    SHA-256, size and URL only to those who may fetch its bytes (a police copy differs from the education copy by
    police-only text alone: its hash would let a guess of that text be confirmed)."""
    fetchable = visible_lines(actor)
    campaign = CampaignView.objects.filter(id=row.campaign).first() if row.campaign else None
    sent_to = lines_of(campaign)  # for copies recorded before each carried its recipients
    recipients = {c["line"]: c.get("recipients", sent_to.get(c["line"], [])) for c in row.copies}
    names = unit_names(u for to in recipients.values() for u in to)
    items = []
    for copy in row.copies:
        line = copy["line"]
        item: dict[str, Any] = {
            "line": line,
            "recipients": [{"id": UUID(unit), "name": names.get(UUID(unit), "")} for unit in recipients[line]],
            "sent_at": row.submitted_at,
        }
        if line in fetchable:
            url = request.build_absolute_uri(f"/api/v1/submissions/{row.id}/copies/{line}/")
            item.update(sha256=copy["sha256"], size=copy["size"], url=url)
        items.append(item)
    return items


def render_copies(request: HttpRequest, spec: ReportSpec, query: ReportQuery) -> list[dict[str, Any]]:
    """Each line's copy, rendered once: the PDF ``reports/{name}/?format=pdf`` gives for that line."""
    return [
        _copy(request, spec, replace(query, police_line=line == "police"), line, to)
        for line, to in lines_of(query.campaign).items()
    ]


def sending(
    spec: ReportSpec, query: ReportQuery, params: dict[str, str], copies: list[dict[str, Any]]
) -> dict[str, Any]:
    """What ``Submission.submit`` records: the report, its unit and moment, and each copy's receipt (no bytes)."""
    return {
        "report": spec.name,
        "campaign": query.campaign.id if query.campaign else None,
        "unit": query.unit.id if query.unit else None,
        "at": query.at,
        "known_at": query.known_at,
        "parameters": params,
        "copies": [{k: v for k, v in c.items() if k != "content"} for c in copies],
    }


def store(copies: list[dict[str, Any]], record: Callable[[SafetyApplication], UUID]) -> SubmissionView:
    """The submission recorded (``record`` returns its id) and each copy's exact bytes kept beside it at once —
    before waiting for the read models, so a submission accepted while they lag (202) still has its bytes."""

    def command(app: SafetyApplication) -> UUID:
        submission = record(app)
        SubmissionCopy.objects.bulk_create(
            SubmissionCopy(
                submission=submission,
                line=c["line"],
                content_type=c["content_type"],
                filename=c["filename"],
                content=c["content"],
                sha256=c["sha256"],
            )
            for c in copies
        )
        return submission

    return SubmissionView.objects.get(id=execute(command))


def refuse_if_form_submitted(form: UUID) -> None:
    """A submitted form was sent once, with its bytes kept: sending it again would send other bytes."""
    submission = JointFormView.objects.filter(id=form).values_list("submission", flat=True).first()
    if submission is not None:
        raise FormAlreadySubmitted(
            f"该报表已报送，报送记录为 {submission}，请通过 submissions/{submission}/ 查看回执和副本",
            submission=str(submission),
        )


def _copy(
    request: HttpRequest, spec: ReportSpec, query: ReportQuery, line: str, recipients: list[str]
) -> dict[str, Any]:
    """One line's copy as the PDF that is sent (as ``reports/{name}/?format=pdf`` gives it)."""
    report, content = report_file(request, spec, query, "pdf")
    filename = f"{report.title}-{statistics_day(report.at).isoformat()}-{'公安' if line == 'police' else '教育'}.pdf"
    return {
        "line": line,
        "recipients": recipients,
        "content_type": "application/pdf",
        "filename": filename,
        "content": content,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }
