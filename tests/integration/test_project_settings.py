"""What a Django team expects: Chinese, Shanghai time with aware datetimes, JSON logs, a health check; and in
production no debug, secrets from the environment (refusing to start with the public defaults), secure headers."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from api.logging import JsonFormatter
from domain.application import SafetyApplication

ROOT = Path(__file__).resolve().parents[2]


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


# --- production settings: DEBUG off, secrets from the environment, refuse to start with defaults -----------

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-production-secret-that-nobody-else-knows-4f9c2e",
    "INTEGRITY_SIGNING_KEY": "7f" * 32,
    "POLICE_CONTENT_KEY": "3c" * 32,
    "DJANGO_ALLOWED_HOSTS": "safety.example.invalid",
}
SHOW_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
    "'DEBUG': s.DEBUG, 'SESSION_COOKIE_SECURE': s.SESSION_COOKIE_SECURE, 'CSRF_COOKIE_SECURE': s.CSRF_COOKIE_SECURE,"
    "'SECURE_HSTS_SECONDS': s.SECURE_HSTS_SECONDS, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS}))"
)


def start_django(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    """``django.setup()`` in a fresh interpreter with exactly these project variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTEGRITY_", "KAFKA_", "POLICE_"))}
    env = {**clean, "DJANGO_SETTINGS_MODULE": "api.settings", "SAFETY_VAR_DIR": str(tmp_path), **environ}
    return subprocess.run([sys.executable, "-c", SHOW_SETTINGS], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_development_starts_with_the_public_defaults(tmp_path: Path) -> None:
    started = start_django(tmp_path)

    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout.splitlines()[-1])["DEBUG"] is True


def test_production_with_its_own_secrets_starts_with_secure_cookies_and_hsts(tmp_path: Path) -> None:
    started = start_django(tmp_path, **PRODUCTION)

    assert started.returncode == 0, started.stderr
    shown = json.loads(started.stdout.splitlines()[-1])
    assert shown["DEBUG"] is False
    assert shown["SESSION_COOKIE_SECURE"] is True and shown["CSRF_COOKIE_SECURE"] is True
    assert shown["SECURE_HSTS_SECONDS"] >= 31536000
    assert shown["ALLOWED_HOSTS"] == ["safety.example.invalid"]


@pytest.mark.parametrize(("variable", "value"), [
    ("DJANGO_SECRET_KEY", None),
    ("DJANGO_SECRET_KEY", ""),
    ("DJANGO_SECRET_KEY", settings.DEV_SECRET_KEY),
    ("INTEGRITY_SIGNING_KEY", None),
    ("INTEGRITY_SIGNING_KEY", settings.DEV_INTEGRITY_SIGNING_KEY),
    ("POLICE_CONTENT_KEY", None),
    ("POLICE_CONTENT_KEY", settings.DEV_POLICE_CONTENT_KEY),
    ("POLICE_CONTENT_KEY", "3c" * 16),
    ("DJANGO_ALLOWED_HOSTS", None),
    ("DJANGO_ALLOWED_HOSTS", ""),
])
def test_production_refuses_to_start_with_a_default_or_missing_variable_and_names_it(
    tmp_path: Path, variable: str, value: str | None
) -> None:
    environ = {k: v for k, v in PRODUCTION.items() if k != variable}
    if value is not None:
        environ[variable] = value

    started = start_django(tmp_path, **environ)

    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and variable in started.stderr
    others = {"DJANGO_SECRET_KEY", "INTEGRITY_SIGNING_KEY", "POLICE_CONTENT_KEY", "DJANGO_ALLOWED_HOSTS"} - {variable}
    assert not any(f"{other} is unset" in started.stderr for other in others), started.stderr


def test_production_with_nothing_set_names_every_missing_variable(tmp_path: Path) -> None:
    started = start_django(tmp_path, DJANGO_DEBUG="0")

    assert started.returncode != 0
    for variable in ("DJANGO_SECRET_KEY", "INTEGRITY_SIGNING_KEY", "POLICE_CONTENT_KEY", "DJANGO_ALLOWED_HOSTS"):
        assert variable in started.stderr


# --- response headers --------------------------------------------------------------------------------------


def test_pages_forbid_framing_sniffing_and_anything_but_their_own_resources(db: None) -> None:
    response = Client().get("/accounts/login/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'" and "unsafe-inline" not in policy["script-src"]
    assert policy["form-action"] == "'self'" and policy["base-uri"] == "'none'"


def test_api_docs_run_no_inline_script_so_the_policy_holds(db: None) -> None:
    page = Client().get("/api/v1/docs/")

    assert page.status_code == 200 and "Content-Security-Policy" in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.content.decode(), flags=re.S)
    assert scripts and all('src="' in attributes and not body.strip() for attributes, body in scripts)
    start_up = Client().get("/api/v1/docs/", {"script": ""})
    assert start_up.status_code == 200 and start_up["Content-Type"].startswith("application/javascript")


def test_json_answers_are_not_sniffed_or_framed(app: SafetyApplication) -> None:
    response = Client().get("/api/v1/hazards/")

    assert response.status_code == 401
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
