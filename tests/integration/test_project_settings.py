"""What a Django team expects: Chinese, Shanghai time with aware datetimes, JSON logs, a health check."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.test import Client

from api.logging import JsonFormatter
from domain.application import SafetyApplication


def test_language_and_time_zone_are_for_chinese_users() -> None:
    assert (settings.LANGUAGE_CODE, settings.TIME_ZONE, settings.USE_TZ) == ("zh-hans", "Asia/Shanghai", True)


def test_log_lines_are_json_objects_with_their_context() -> None:
    record = logging.LogRecord("api", logging.INFO, __file__, 1, "命令已执行 %s", ("assign",), None)
    record.hazard = "H-1"

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "命令已执行 assign"
    assert (line["level"], line["logger"], line["hazard"]) == ("INFO", "api", "H-1")


def test_healthz_reports_both_stores(app: SafetyApplication) -> None:
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["event_store"] == "ok"
    assert response.json()["checks"]["read_models"] == "ok"


def test_healthz_is_503_when_the_event_store_fails(app: SafetyApplication, monkeypatch: object) -> None:
    def broken() -> None:
        raise OSError("event store unreachable")

    monkeypatch.setattr(app.recorder, "max_notification_id", broken)  # type: ignore[attr-defined]
    response = Client().get("/healthz")

    assert response.status_code == 503 and response.json()["status"] == "error"
