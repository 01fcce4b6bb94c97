"""The API root: where everything is."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from api.common import DeclaredQuery
from reports.registry import load_all

# Every endpoint whose path has no id in it (reports: one link per report name).
TOP_LEVEL = (
    "auth-token",
    "auth-token-revoke",
    "units",
    "users",
    "campaign-templates",
    "campaigns",
    "inspections",
    "hazards",
    "ownership",
    "accountability",
    "joint-forms",
    "submissions",
    "attachments",
    "notifications",
    "notifications-sent",
    "audit-verify",
    "audit-checkpoints",
    "audit-public-key",
    "audit-police-access",
    "statistics",
    "schema",
    "docs",
)


class ApiRoot(DeclaredQuery, APIView):
    """The API's entry: a link to every top-level endpoint and every report."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        links = {name: reverse(name, request=request) for name in TOP_LEVEL}
        links.update(
            {f"report-{name}": reverse("report", args=[name], request=request) for name in sorted(load_all())}
        )
        return Response({"name": "校园安全隐患排查整治", "links": links})


api_root = ApiRoot.as_view()
