"""``bench/plain-upload/``: what a plain Django project does with an upload — ``FileSystemStorage`` saves the file
and it is fsynced (the file and its directory) — beside every route of the product (``api.urls``); and
``PhotoRuleMiddleware``, for the rectify comparison's two sides in one server."""

from __future__ import annotations

import os
from collections.abc import Callable
from uuid import uuid4

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from api.middleware import MULTIPART_OVERHEAD, RequestGuardMiddleware, attachment_too_large
from api.urls import handler400, handler403, handler404, handler500
from api.urls import urlpatterns as product

PLAIN_PATH = "/bench/plain-upload/"
PHOTO_RULE_HEADER = "X-Bench-Rectify-Requires-Photo"

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


class GuardMiddleware(RequestGuardMiddleware):
    """The product's guard, but the plain upload is allowed the attachment limit (not 1 MiB) as the product's is."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == PLAIN_PATH:
            if int(request.META.get("CONTENT_LENGTH") or 0) > settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD:
                return attachment_too_large()
            return self.get_response(request)
        return super().__call__(request)


class PhotoRuleMiddleware:
    """The setting ``RECTIFY_REQUIRES_PHOTO`` (read at each command: ``InlineApplication.rectify_requires_photo``)
    for one request, from the header ``X-Bench-Rectify-Requires-Photo: 1|0``, restored after it. Process-wide, not
    per thread: ``benchmarks.uploads`` sends one request at a time, both sides with the header (same cost)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        wanted = request.headers.get(PHOTO_RULE_HEADER)
        if wanted is None:
            return self.get_response(request)
        before = settings.RECTIFY_REQUIRES_PHOTO
        settings.RECTIFY_REQUIRES_PHOTO = wanted == "1"
        try:
            return self.get_response(request)
        finally:
            settings.RECTIFY_REQUIRES_PHOTO = before


@csrf_exempt
def plain_upload(request: HttpRequest) -> HttpResponse:
    upload = request.FILES["file"]
    storage = FileSystemStorage(location=settings.PLAIN_UPLOAD_DIR)
    name = storage.save(f"{uuid4().hex}{os.path.splitext(upload.name or '')[1]}", upload)
    for target in (storage.path(name), settings.PLAIN_UPLOAD_DIR):  # the bytes, then the directory entry
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return JsonResponse({"name": name, "size": storage.size(name)}, status=201)


urlpatterns = [path(PLAIN_PATH.strip("/") + "/", plain_upload), *product]
