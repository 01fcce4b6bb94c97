"""The API root: where everything is."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request: Request) -> Response:
    links = [
        "auth-token",
        "auth-token-revoke",
        "units",
        "users",
        "campaign-templates",
        "campaigns",
        "inspections",
        "hazards",
        "schema",
        "docs",
    ]
    return Response(
        {
            "name": "校园安全隐患排查整治",
            "links": {name: reverse(name, request=request) for name in links},
        }
    )
