"""/healthz: the event store and the read-model database both answer."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse

from projections.eventstore import get_application
from projections.runner import pending


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["read_models"] = "ok"
    except Exception as error:  # noqa: BLE001 — a health check reports any failure, it never raises
        checks["read_models"] = f"error: {error}"
    try:
        app = get_application()
        checks["event_store"] = "ok"
        checks["projection_lag"] = str(pending(app))
    except Exception as error:  # noqa: BLE001
        checks["event_store"] = f"error: {error}"
    ok = checks.get("read_models") == "ok" and checks.get("event_store") == "ok"
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503)
