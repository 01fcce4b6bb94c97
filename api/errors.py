"""The one place where errors become HTTP responses: ``{"code", "detail"}`` with a Chinese message."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from api.logging import REQUEST_ID
from domain.errors import DomainError

logger = logging.getLogger(__name__)

STATUS_BY_KIND = {
    "invalid": status.HTTP_400_BAD_REQUEST,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "not_found": status.HTTP_404_NOT_FOUND,
    "conflict": status.HTTP_409_CONFLICT,
}
NOT_FOUND = {"code": "not_found", "detail": "对象不存在或不在您的管辖范围内"}
DATABASE_BUSY = {"code": "database_busy", "detail": "数据库正忙，本次操作未完成，请稍后重试"}
BUSY_RETRY_AFTER_SECONDS = 5
# How the stores say that a lock was not obtained in time: SQLite's busy timeout, PostgreSQL's lock_timeout.
BUSY_MESSAGES = ("database is locked", "lock timeout")


def database_busy(exc: BaseException) -> bool:
    """A lock on the database not obtained in time — Django's error, the event store's, or the driver's beneath
    either: the command did not happen, and may be sent again; not an internal error."""
    import sqlite3

    import psycopg
    from django.db import OperationalError
    from eventsourcing.persistence import OperationalError as StoreOperationalError

    kinds = (OperationalError, StoreOperationalError, sqlite3.OperationalError, psycopg.OperationalError)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds) and any(message in str(seen).lower() for message in BUSY_MESSAGES):
            return True
        seen = seen.__cause__
    return False


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"code": exc.code, "detail": exc.detail}
        body.update({key: exc.context[key] for key in ("field", "submission", "missing") if key in exc.context})
        return Response(body, status=STATUS_BY_KIND[exc.kind])
    if isinstance(exc, Http404 | exceptions.NotFound):
        return Response(NOT_FOUND, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, RequestDataTooBig):
        return Response({"code": "request_too_large", "detail": "请求体过大"}, status=413)
    if isinstance(exc, exceptions.ParseError):
        ours = exc.get_codes() in ("unencodable_text", "too_deep")  # api.parsers' own refusals, in Chinese
        detail = str(exc.detail) if ours else "请求体不是有效的JSON"
        return Response({"code": "malformed_request", "detail": detail}, status=400)
    if isinstance(exc, exceptions.ValidationError):
        return Response({"code": "invalid", "detail": "输入有误，请检查各字段", "errors": exc.detail}, status=400)
    if isinstance(exc, exceptions.NotAuthenticated):
        return Response({"code": "not_authenticated", "detail": "请先登录"}, status=401)
    if isinstance(exc, exceptions.AuthenticationFailed):
        code = exc.get_codes() if exc.get_codes() == "user_inactive" else "not_authenticated"
        return Response({"code": code, "detail": str(exc.detail)}, status=401)
    if isinstance(exc, exceptions.PermissionDenied):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "forbidden"
        return Response({"code": code, "detail": str(exc.detail)}, status=403)
    if database_busy(exc):
        logger.warning("database busy: %s", exc)
        return Response(DATABASE_BUSY, status=503, headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)})
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {"code": codes if isinstance(codes, str) else "error", "detail": str(exc.detail)}
    return response


def busy_response() -> JsonResponse:
    """The 503 ``database_busy`` answer where DRF's exception handler does not reach (a transaction's begin)."""
    response = JsonResponse(DATABASE_BUSY, status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


def json_not_found(request: Any, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(NOT_FOUND, status=404)


def json_bad_request(request: Any, exception: Exception | None = None) -> JsonResponse:
    """A request Django refuses before any view (e.g. a Host header not in ALLOWED_HOSTS)."""
    return JsonResponse({"code": "bad_request", "detail": "请求无效"}, status=400)


def json_forbidden(request: Any, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"code": "forbidden", "detail": "无权访问"}, status=403)


def json_server_error(request: Any) -> JsonResponse:
    """The answer to an unhandled error: no detail of it, only the request id its traceback is logged under."""
    body = {"code": "internal_error", "detail": "服务器内部错误", "request_id": REQUEST_ID.get()}
    return JsonResponse(body, status=500)
