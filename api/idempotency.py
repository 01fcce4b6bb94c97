"""``Idempotency-Key`` on every command: a retry with the same key answers the first outcome, recording nothing twice.

A command view takes the ``IdempotentCommand`` mixin. With the header, the whole request runs in one Django
transaction: the key is claimed first (a row unique per user and key), the command runs (``api.services.execute``'s
own transaction nests as a savepoint), and a 2xx answer is stored in the claimed row before the commit — so the
outcome is stored if and only if the command's writes commit. A retry finds the stored outcome and gets it again
(same status and body, ``Idempotent-Replayed: true``); the command does not run. Only 2xx outcomes are kept: after
an error the claim is dropped, and the client may fix the request and send it again with the same key.

Two requests with one key at once: the second waits for the first to finish — on SQLite at ``BEGIN IMMEDIATE``
(one writer at a time), on PostgreSQL at the claim's insert (the unique index waits for the first transaction) —
then finds its outcome and replays it; if the first failed, the second runs. No "in progress" answer is needed:
a claim is never visible to another transaction before it holds the outcome.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions

from api.errors import busy_response, database_busy
from api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII

PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="幂等键（1–255个可打印ASCII字符，按用户区分，24小时内有效）：同一键重试同一请求时返回首次成功的结果"
    "（响应头 Idempotent-Replayed: true），不会重复记录；同一键用于不同请求时返回422 idempotency_key_reused。"
    "失败的请求不保存结果，可修正后用同一键重试。",
)


class InvalidIdempotencyKey(exceptions.APIException):
    status_code = 400
    default_code = "invalid_idempotency_key"
    default_detail = "Idempotency-Key 须为1至255个可打印ASCII字符"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = "该幂等键已用于另一个请求（路径或请求体不同），请为新请求使用新的幂等键"


@dataclass(frozen=True)
class Fingerprint:
    """What makes a retry the same request: method, path, and the SHA-256 of content type and body."""

    method: str
    path: str
    request_sha256: str

    @classmethod
    def of(cls, request: HttpRequest) -> Fingerprint:
        digest = hashlib.sha256(request.content_type.encode("latin-1", "replace") + b"\n" + request.body)
        return cls(method=request.method or "", path=request.get_full_path(), request_sha256=digest.hexdigest())


class _Replay(Exception):
    """Raised once the request is authenticated and its key names a stored outcome: the command does not run."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__("replay")
        self.response = response


class IdempotentCommand:
    """Mixin for every command view (before ``DeclaredQuery`` and the DRF view): honours ``Idempotency-Key``.

    Without the header, nothing changes. ``tests/integration/test_idempotency.py`` checks that every POST, PUT,
    PATCH and DELETE under ``/api/v1/`` but the token endpoints has it."""

    _fingerprint: Fingerprint | None = None
    _claim: IdempotencyRecord | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in COMMAND_METHODS or HEADER not in request.headers:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        self._fingerprint = self.fingerprint(request)
        try:
            with transaction.atomic():
                response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
                if self._claim is not None:
                    settle(self._claim, response)
        except Exception as error:  # the transaction's begin or commit is outside DRF's exception handler
            if not database_busy(error):
                raise
            return busy_response()
        return response

    def fingerprint(self, request: HttpRequest) -> Fingerprint:
        """What makes a retry the same request: here the raw body, read before DRF parses it."""
        return Fingerprint.of(request)

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        """After authentication and permissions (a 401 or 403 comes first), before the handler: claim or replay."""
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if self._fingerprint is not None and request.user is not None:
            self._claim = claim(request.user, request.headers[HEADER], self._fingerprint)

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)  # type: ignore[misc]


def claim(user: Any, key: str, fingerprint: Fingerprint) -> IdempotencyRecord:
    """A new claim on ``key`` for this request; raises ``_Replay`` with the stored outcome of an earlier one."""
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKey()
    now = timezone.now()
    earlier = _recorded(user, key, now)
    if earlier is None:
        try:
            with transaction.atomic():  # a savepoint: losing the race must not break the request's transaction
                return IdempotencyRecord.objects.create(
                    user=user,
                    key=key,
                    created_at=now,
                    method=fingerprint.method,
                    path=fingerprint.path,
                    request_sha256=fingerprint.request_sha256,
                )
        except IntegrityError:  # a concurrent request with this key committed its outcome while we waited
            earlier = _recorded(user, key, now)
            if earlier is None:
                raise
    if (earlier.method, earlier.path, earlier.request_sha256) != (
        fingerprint.method,
        fingerprint.path,
        fingerprint.request_sha256,
    ):
        raise IdempotencyKeyReused()
    raise _Replay(replayed(earlier))


def _recorded(user: Any, key: str, now: datetime) -> IdempotencyRecord | None:
    """The stored outcome under ``key``; an expired one is deleted, the key free again."""
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is not None and record.created_at <= now - settings.IDEMPOTENCY_KEY_TTL:
        record.delete()
        return None
    return record


def settle(record: IdempotencyRecord, response: HttpResponseBase) -> None:
    """Keep a 2xx answer in the claimed row (in the command's transaction); after an error, drop the claim."""
    if 200 <= response.status_code < 300 and isinstance(response, HttpResponse):
        render = getattr(response, "render", None)
        if callable(render):
            render()
        record.status = response.status_code
        record.response_content_type = response.get("Content-Type", "")
        record.response_body = bytes(response.content)
        record.save(update_fields=["status", "response_content_type", "response_body"])
    elif not transaction.get_rollback():
        record.delete()


def replayed(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body), status=record.status, content_type=record.response_content_type
    )
    response[REPLAYED_HEADER] = "true"
    return response


def purge_expired(now: datetime | None = None) -> int:
    """Delete the outcomes older than ``IDEMPOTENCY_KEY_TTL``; returns how many."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=cutoff).delete()
    return deleted
