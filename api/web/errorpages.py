"""Django's error handlers: JSON under /api/ (api/errors.py), the Chinese pages of templates/ everywhere else.

With DEBUG off (production, and the embedded server unless asked) no error shows a traceback.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from api.errors import json_bad_request, json_forbidden, json_not_found, json_server_error

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return json_not_found(request, exception) if _is_api(request) else defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    return json_server_error(request) if _is_api(request) else defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return json_bad_request(request, exception) if _is_api(request) else defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_forbidden(request, exception)
    return defaults.permission_denied(request, exception)
