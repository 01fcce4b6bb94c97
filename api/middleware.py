"""Request guards applied before any view (body size, NUL characters) and the pages' Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RequestGuardMiddleware:
    """Refuse oversized bodies (413) and NUL characters in the path (400) before parsing.

    DRF's parsers read the raw stream, so Django's own body-size check never runs for API requests;
    PostgreSQL text cannot hold NUL, so such input must never reach a query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"code": "malformed_request", "detail": "Content-Length 无效"}, status=400)
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return JsonResponse({"code": "request_too_large", "detail": "请求体过大（上限1MB）"}, status=413)
        if "\x00" in request.path:  # query parameters are validated (and named) by each view's filters
            return JsonResponse({"code": "invalid", "detail": "请求路径中含有非法字符"}, status=400)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """``Content-Security-Policy`` (settings) on every HTML response: the pages, the login, admin and API docs.

    Django 5.2 has no CSP of its own; JSON, PDF and XLSX responses are data, not documents that run anything.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
