"""``reports/{name}/?format=json|pdf|xlsx&…``: the seven reports of DESIGN §7."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import generics
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from api import renderpool, twotimes
from api.auth import actor_of
from api.common import DeclaredQuery
from api.models import SubmissionCopy
from api.reports.query import PARAMETERS, build_query
from domain.errors import InvalidValue, NotFound
from projections.jointforms import JointFormView
from reports.base import Report, statistics_day
from reports.registry import ReportQuery, ReportSpec, load_all
from reports.render import CONTENT_TYPES, RENDERERS, html_to_pdf, render_json

FORMATS = tuple(CONTENT_TYPES)
JOINT_FORM_REPORT = "changzhou-school-form"  # 附件1: sent once, by the form's submit/; then its PDF is what was sent


class ReportNotFound(NotFound):
    code = "report_not_found"
    message = "没有这个报表"


class ReportTooLarge(InvalidValue):
    code = "report_too_large"
    message = "报表过大，请缩小范围"


NARROWING = {
    "campaign": "campaign=（专项排查）",
    "unit": "unit=（下级单位）",
    "school": "school=（学校）",
    "district": "district=（区县）",
}


class FormatIsOurs(DefaultContentNegotiation):
    """``?format=`` picks the report's file format (json|pdf|xlsx), not a DRF renderer."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class ReportView(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    content_negotiation_class = FormatIsOurs

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=sorted(load_all()), description="报表名称"),
            OpenApiParameter("format", str, enum=list(FORMATS), description="json（默认）、pdf 或 xlsx"),
            *[OpenApiParameter(name, str) for name in PARAMETERS],
            *twotimes.parameters("at", twotimes.AT_CUTOFF + "（无专项排查时默认现在）"),
        ],
        responses={
            (200, CONTENT_TYPES[fmt]): OpenApiTypes.OBJECT if fmt == "json" else OpenApiTypes.BINARY for fmt in FORMATS
        },
    )
    def get(self, request: Request, name: str) -> HttpResponse:
        spec = load_all().get(name)
        if spec is None:
            raise ReportNotFound(name=name)
        fmt = request.query_params.get("format") or "json"
        if fmt not in FORMATS:
            raise InvalidValue("format 只能是 json、pdf 或 xlsx", field="format")
        query = build_query(spec, request.query_params, actor_of(request))
        report, content = report_file(request, spec, query, fmt)
        response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
        if fmt != "json":
            filename = f"{report.title}-{statistics_day(report.at).isoformat()}.{fmt}"
            response["Content-Disposition"] = content_disposition_header(True, filename)
        return response


def report_file(request: Request, spec: ReportSpec, query: ReportQuery, fmt: str) -> tuple[Report, bytes]:
    """The report and its file: refused above its format's row limit, PDF and XLSX rendered by api.renderpool."""
    report = spec.build(query)
    within_limit(spec, report, fmt)
    if fmt == "json":
        return report, render_json(report)
    if fmt == "pdf" and spec.name == JOINT_FORM_REPORT and query.form is not None:
        sent = submitted_form_copy(query.form, "police" if query.police_line else "education")
        if sent is not None:  # WeasyPrint is not byte-stable: a submitted form is the bytes that were sent
            return report, bytes(sent.content)
    if fmt == "pdf" and spec.pdf_html:
        return report, renderpool.render(request, html_to_pdf, spec.pdf_html(query))
    return report, renderpool.render(request, RENDERERS[fmt], report)


def submitted_form_copy(form: UUID, line: str = "education") -> SubmissionCopy | None:
    """A submitted joint form's copy for ``line``, as sent (None before the form is submitted)."""
    submission = JointFormView.objects.filter(id=form).values_list("submission", flat=True).first()
    return SubmissionCopy.objects.filter(submission=submission, line=line).first() if submission else None


def within_limit(spec: ReportSpec, report: Report, fmt: str) -> None:
    """Checked before rendering: a render's time and memory grow with its rows."""
    limits: dict[str, int] = settings.REPORT_MAX_ROWS
    rows, limit = report.row_count, limits[fmt]
    if rows <= limit:
        return
    ways = [f"指定 {NARROWING[name]}" for name in spec.narrow_by]
    if fmt != "json" and rows <= limits["json"]:
        ways.append(f"改用 format=json（上限{limits['json']}行）")
    advice = f"请缩小范围后分次获取：{'，或'.join(ways)}。" if ways else "请缩小范围后分次获取。"
    raise ReportTooLarge(f"报表共{rows}行，超过{fmt.upper()}文件{limit}行的上限。{advice}", field="format")
