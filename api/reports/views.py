"""``reports/{name}/?format=json|pdf|xlsx&…``: the seven reports of DESIGN §7."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import generics
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from api.auth import actor_of
from api.reports.query import PARAMETERS, build_query
from domain.errors import InvalidValue, NotFound
from domain.timerules import business_date
from reports.registry import load_all
from reports.render import CONTENT_TYPES, render

FORMATS = tuple(CONTENT_TYPES)


class ReportNotFound(NotFound):
    code = "report_not_found"
    message = "没有这个报表"


class FormatIsOurs(DefaultContentNegotiation):
    """``?format=`` picks the report's file format (json|pdf|xlsx), not a DRF renderer."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class ReportView(generics.GenericAPIView):  # type: ignore[type-arg]
    content_negotiation_class = FormatIsOurs

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(FORMATS), description="json（默认）、pdf 或 xlsx"),
            *[OpenApiParameter(name, str) for name in PARAMETERS],
        ],
        responses={(200, CONTENT_TYPES[fmt]): OpenApiTypes.OBJECT if fmt == "json" else OpenApiTypes.BINARY
                   for fmt in FORMATS},
    )
    def get(self, request: Request, name: str) -> HttpResponse:
        spec = load_all().get(name)
        if spec is None:
            raise ReportNotFound(name=name)
        fmt = request.query_params.get("format") or "json"
        if fmt not in FORMATS:
            raise InvalidValue("format 只能是 json、pdf 或 xlsx", field="format")
        query = build_query(spec, request.query_params, actor_of(request))
        report = spec.build(query)
        content = spec.pdf(query) if fmt == "pdf" and spec.pdf else render(report, fmt)
        response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
        if fmt != "json":
            filename = f"{report.title}-{business_date(report.as_of).isoformat()}.{fmt}"
            response["Content-Disposition"] = content_disposition_header(True, filename)
        return response
