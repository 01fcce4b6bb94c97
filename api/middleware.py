"""Request ids and JSON 500s, request guards applied before any view (body size, NUL characters), and the pages'
Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from uuid import uuid4

from django.conf import settings
from django.core import signals
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.log import log_response

from api.errors import json_server_error
from api.logging import REQUEST_ID

API_PREFIX = "/api/"
UPLOAD_PATH = "/api/v1/attachments/"
# The web pages' forms that carry photos taken by a phone (隐患登记, a hazard's actions): several photos of a few MB.
PHOTO_FORM_PATH = re.compile(r"/hazards/(new|[0-9a-fA-F-]{36}/do/[a-z-]+)/")
PHOTO_FORM_FILES = 5  # a form's body may hold this many photos of the attachment limit (a phone's are 3–8 MB)
# A multipart body carries the file and a little more: the boundaries, each part's headers and the caption.
MULTIPART_OVERHEAD = 64 * 1024
# Exceptions Django itself answers with a 4xx: not server errors.
_CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


class RequestIdMiddleware:
    """The outermost middleware: every request gets an id, answered in ``X-Request-ID`` and attached to every log
    line written while it is served. An unhandled error under ``/api/`` answers JSON 500 ``internal_error`` with
    that id and its traceback goes to the log, DEBUG or not: Django's DEBUG page (megabytes of HTML, settings and
    source) is never an API answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid4().hex
        token = REQUEST_ID.set(request_id)
        try:
            response = self.get_response(request)
            if _is_api(request) and response.status_code >= 500 and not _is_json(response):
                response = json_server_error(request)  # an error below a view, already logged by Django
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            REQUEST_ID.reset(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """An exception a view did not handle (DRF re-raises those): logged with its traceback, answered as JSON."""
        if not _is_api(request) or isinstance(exception, _CLIENT_ERRORS):
            return None
        response = json_server_error(request)
        signals.got_request_exception.send(sender=None, request=request)
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request, exception=exception
        )
        return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


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
        if _is_upload(request):
            if length > settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD:
                return attachment_too_large()
        elif _is_photo_form(request):
            if length > settings.ATTACHMENT_MAX_BYTES * PHOTO_FORM_FILES + MULTIPART_OVERHEAD:
                return attachment_too_large()
        elif length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return JsonResponse({"code": "request_too_large", "detail": "请求体过大（上限1MB）"}, status=413)
        if "\x00" in request.path:  # query parameters are validated (and named) by each view's filters
            return JsonResponse({"code": "invalid", "detail": "请求路径中含有非法字符"}, status=400)
        return self.get_response(request)


def _is_photo_form(request: HttpRequest) -> bool:
    return (
        request.method == "POST"
        and PHOTO_FORM_PATH.fullmatch(request.path) is not None
        and request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/form-data")
    )


def _is_upload(request: HttpRequest) -> bool:
    """An attachment's upload, as multipart only (JSON stays capped); with ``_is_photo_form`` the only big bodies."""
    return (
        request.method == "POST"
        and request.path == UPLOAD_PATH
        and request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/form-data")
    )


def attachment_limit_detail() -> str:
    limit = settings.ATTACHMENT_MAX_BYTES
    return f"附件过大（上限{limit / 1024 / 1024:g}MB，即{limit}字节）"


def attachment_too_large() -> JsonResponse:
    return JsonResponse({"code": "attachment_too_large", "detail": attachment_limit_detail()}, status=413)


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
