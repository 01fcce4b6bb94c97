"""``Idempotency-Key`` on every command: a retry with the same key answers the first outcome and records nothing
twice; another body or path under the key is refused, another user's key is theirs, an error is not kept."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from api import idempotency
from api.demo import World
from api.models import IdempotencyRecord
from domain.application import SafetyApplication

from apihelpers import API, ok, post, refused
from idempotency_race import held_progress, race

Client = Callable[[str], APIClient]
ROOT = Path(__file__).resolve().parents[2]
RACE = Path(__file__).with_name("idempotency_race.py")
NEW_USER = {"username": "hm_guard", "password": "guard-pass-2026", "display_name": "孙保安", "phone": "0519-1",
            "role": "school_staff"}


def send(client: APIClient, path: str, body: dict[str, Any], key: str) -> Any:
    return client.post(API + path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def event_count(app: SafetyApplication) -> int:
    return len(app.recorder.select_notifications(start=None, limit=1_000_000))


def history_types(client: APIClient, hazard: str) -> list[str]:
    return [item["type"] for item in ok(client.get(f"{API}hazards/{hazard}/history/"))]


def discover_body(world: World, past: Callable[[float], str], description: str = "南校门缺少升降柱") -> dict[str, Any]:
    return {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "severity": "general",
            "description": description, "occurred_at": past(1)}


@pytest.fixture
def assigned(world: World, user: Client, past: Callable[[float], str]) -> str:
    """A hazard of 红梅实验小学 assigned to hm_staff2 (its owner reports progress)."""
    hazard = post(user("hm_staff"), "hazards/", discover_body(world, past), 201)["id"]
    post(user("hm_principal"), f"hazards/{hazard}/assign/", {
        "owner": "hm_staff2", "owner_unit": str(world.units["hongmei_school"]), "deadline": "2099-01-01",
        "standard": "按标准设置升降柱", "occurred_at": past(2)})
    return str(hazard)


def test_a_retried_progress_report_answers_the_first_outcome_and_records_one_event(
    app: SafetyApplication, user: Client, assigned: str, past: Callable[[float], str]
) -> None:
    owner, before = user("hm_staff2"), event_count(app)
    body = {"note": "已订购升降柱", "percent": 40, "occurred_at": past(3)}
    first = send(owner, f"hazards/{assigned}/progress/", body, "progress-1")
    again = send(owner, f"hazards/{assigned}/progress/", body, "progress-1")

    assert ok(first)["version"] == 3 and idempotency.REPLAYED_HEADER not in first
    assert (again.status_code, again.content, again["Content-Type"]) == (200, first.content, first["Content-Type"])
    assert again[idempotency.REPLAYED_HEADER] == "true"
    assert history_types(owner, assigned) == ["discovered", "assigned", "progress_reported"]
    assert event_count(app) == before + 1


def test_a_retried_discovery_answers_the_same_hazard_and_records_one(
    app: SafetyApplication, world: World, user: Client, past: Callable[[float], str]
) -> None:
    staff, before = user("hm_staff"), event_count(app)
    first = send(staff, "hazards/", discover_body(world, past), "discover-7f3a")
    again = send(staff, "hazards/", discover_body(world, past), "discover-7f3a")

    assert (again.status_code, again.json()) == (201, ok(first, 201))
    assert again[idempotency.REPLAYED_HEADER] == "true"
    assert [h["id"] for h in ok(staff.get(f"{API}hazards/"))["results"]] == [first.json()["id"]]
    assert event_count(app) == before + 1


def test_a_retried_user_creation_answers_the_first_201_not_already_exists(
    app: SafetyApplication, world: World, user: Client
) -> None:
    admin, before = user("admin"), event_count(app)
    body = {**NEW_USER, "unit": str(world.units["hongmei_school"])}
    first = send(admin, "users/", body, "new-guard")
    again = send(admin, "users/", body, "new-guard")

    assert ok(first, 201)["username"] == "hm_guard"
    assert (again.status_code, again.content) == (201, first.content)
    assert event_count(app) == before + 1
    refused(admin.post(f"{API}users/", body, format="json"), 409, "already_exists")  # without the key: as before


def test_the_same_key_with_another_body_or_path_is_refused_and_records_nothing(
    app: SafetyApplication, user: Client, assigned: str, past: Callable[[float], str]
) -> None:
    owner = user("hm_staff2")
    ok(send(owner, f"hazards/{assigned}/progress/", {"percent": 40, "occurred_at": past(3)}, "k1"))
    before = event_count(app)

    other_body = send(owner, f"hazards/{assigned}/progress/", {"percent": 60, "occurred_at": past(4)}, "k1")
    other_path = send(owner, f"hazards/{assigned}/plan/", {"percent": 40, "occurred_at": past(3)}, "k1")

    for response in (other_body, other_path):
        body = refused(response, 422, "idempotency_key_reused")
        assert "幂等键" in body["detail"]
    assert event_count(app) == before
    assert history_types(owner, assigned).count("progress_reported") == 1


def test_another_user_with_the_same_key_gets_their_own_execution(
    app: SafetyApplication, world: World, user: Client, past: Callable[[float], str]
) -> None:
    staff, principal, before = user("hm_staff"), user("hm_principal"), event_count(app)
    mine = ok(send(staff, "hazards/", discover_body(world, past), "shared-key"), 201)
    theirs = send(principal, "hazards/", discover_body(world, past), "shared-key")

    assert idempotency.REPLAYED_HEADER not in theirs
    assert ok(theirs, 201)["id"] != mine["id"]
    assert event_count(app) == before + 2


@pytest.mark.parametrize("key", ["", "x" * 256, "键", "tab\there", "\x7f"])
def test_an_invalid_key_is_a_400_and_records_nothing(
    app: SafetyApplication, world: World, user: Client, past: Callable[[float], str], key: str
) -> None:
    before = event_count(app)
    refused(send(user("hm_staff"), "hazards/", discover_body(world, past), key), 400, "invalid_idempotency_key")
    assert event_count(app) == before
    assert not IdempotencyRecord.objects.exists()


def test_the_longest_key_of_printable_ascii_is_accepted(
    world: World, user: Client, past: Callable[[float], str]
) -> None:
    key = "".join(chr(c) for c in range(0x21, 0x7F)) * 3  # 282 characters: too long; 255 of them are fine
    ok(send(user("hm_staff"), "hazards/", discover_body(world, past), key[:255]), 201)


@pytest.mark.parametrize(("bad", "status", "code"), [
    ({"percent": 400}, 400, "invalid"),
    ({"percent": 40, "expected_version": 1}, 409, "version_conflict"),
])
def test_a_refused_command_keeps_nothing_and_the_fixed_request_runs_under_the_same_key(
    app: SafetyApplication, user: Client, assigned: str, past: Callable[[float], str],
    bad: dict[str, Any], status: int, code: str,
) -> None:
    owner, before = user("hm_staff2"), event_count(app)
    refused(send(owner, f"hazards/{assigned}/progress/", {**bad, "occurred_at": past(3)}, "fix-me"), status, code)
    assert event_count(app) == before and not IdempotencyRecord.objects.exists()

    fixed = {"percent": 40, "expected_version": 2, "occurred_at": past(3)}
    first = send(owner, f"hazards/{assigned}/progress/", fixed, "fix-me")
    again = send(owner, f"hazards/{assigned}/progress/", fixed, "fix-me")
    assert ok(first)["version"] == 3 and idempotency.REPLAYED_HEADER not in first
    assert (again.status_code, again.content, again[idempotency.REPLAYED_HEADER]) == (200, first.content, "true")
    assert event_count(app) == before + 1


def test_without_the_header_a_retry_runs_again(
    app: SafetyApplication, user: Client, assigned: str, past: Callable[[float], str]
) -> None:
    owner, before = user("hm_staff2"), event_count(app)
    body = {"percent": 40, "occurred_at": past(3)}
    for version in (3, 4):
        response = owner.post(f"{API}hazards/{assigned}/progress/", body, format="json")
        assert ok(response)["version"] == version and idempotency.REPLAYED_HEADER not in response
    assert event_count(app) == before + 2
    assert not IdempotencyRecord.objects.exists()


def test_an_expired_key_runs_again_and_the_purge_deletes_expired_outcomes(
    app: SafetyApplication, world: World, user: Client, past: Callable[[float], str], settings: Any
) -> None:
    staff = user("hm_staff")
    first = ok(send(staff, "hazards/", discover_body(world, past), "old-key"), 201)
    settings.IDEMPOTENCY_KEY_TTL = timedelta(0)
    later = send(staff, "hazards/", discover_body(world, past), "old-key")
    assert idempotency.REPLAYED_HEADER not in later and ok(later, 201)["id"] != first["id"]
    assert IdempotencyRecord.objects.count() == 1

    printed = io.StringIO()
    call_command("purge_idempotency_keys", stdout=printed)
    assert printed.getvalue().strip() == "deleted 1 expired idempotency keys"
    assert not IdempotencyRecord.objects.exists()


# --- two requests with one key at once ----------------------------------------------------------------------


EXPECTED_RACE = {
    "runs": ["first"],  # the command ran once
    "second_waited": True,
    "statuses": [200, 200],
    "replayed": [None, "true"],
    "same_body": True,
    "events_added": 1,
}


def on_an_embedded_installation(var_dir: Path, mode: str) -> dict[str, Any]:
    """``idempotency_race.py`` run on a new embedded installation (SQLite files, as ``manage.py serve`` has them)."""
    ours = ("DATABASE_URL", "SAFETY_VAR_DIR", "EVENT_STORE_", "KAFKA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(SAFETY_VAR_DIR=str(var_dir), PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="api.settings")
    run = subprocess.run(
        [sys.executable, str(RACE), mode], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_two_requests_with_one_key_at_once_on_an_embedded_installation_record_one_event(tmp_path: Path) -> None:
    """The second waits for SQLite's write lock (``BEGIN IMMEDIATE``) until the first commits, then replays it."""
    assert on_an_embedded_installation(tmp_path, "race") == EXPECTED_RACE


def test_a_command_without_a_key_beside_a_keyed_one_on_an_embedded_installation_both_succeed(
    tmp_path: Path,
) -> None:
    outcome = on_an_embedded_installation(tmp_path, "beside")
    assert (outcome["statuses"], outcome["events_added"]) == ([200, 200], 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_once_on_postgresql_record_one_event(
    app: SafetyApplication, user: Client, assigned: str, past: Callable[[float], str], monkeypatch: Any
) -> None:
    """The second waits at the key's unique index until the first commits, then replays it."""
    assert connection.vendor == "postgresql", "this test needs the PostgreSQL run (scripts/test.sh)"
    owner, before = user("hm_staff2"), event_count(app)
    body = {"note": "同时重试", "percent": 50, "occurred_at": past(3)}
    keyed = lambda: send(owner, f"hazards/{assigned}/progress/", body, "at-once")  # noqa: E731
    outcome = race(keyed, keyed, lambda hold: held_progress(hold, monkeypatch.setattr))
    assert {**outcome, "events_added": event_count(app) - before} == EXPECTED_RACE


# --- every command has it, and says so ---------------------------------------------------------------------

NOT_COMMANDS = {"auth/token/", "auth/token/revoke/"}  # logging in and out change no state of the ledger


def api_views() -> list[tuple[str, Any]]:
    def walk(patterns: list[Any], prefix: str) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found += walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append((prefix + str(pattern.pattern), pattern.callback))
        return found

    return [(route, view) for route, view in walk(get_resolver().url_patterns, "") if route.startswith("api/v1/")]


def test_every_command_endpoint_honours_the_key() -> None:
    commands = []
    for route, view in api_views():
        cls = getattr(view, "cls", None)
        writes = cls is not None and any(hasattr(cls, m.lower()) for m in idempotency.COMMAND_METHODS)
        if writes and route.removeprefix("api/v1/") not in NOT_COMMANDS:
            commands.append(route)
            assert issubclass(cls, idempotency.IdempotentCommand), f"{route}: a command view without the key"
    assert len(commands) >= 25


def test_the_schema_documents_the_header_on_every_command_and_only_there(world: World, user: Client) -> None:
    schema = ok(user("admin").get(f"{API}schema/?format=json"))
    documented = {
        (method, path): any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op.get("parameters", []))
        for path, operations in schema["paths"].items()
        for method, op in operations.items()
    }
    assert documented[("post", "/api/v1/hazards/{id}/progress/")]
    assert documented[("patch", "/api/v1/joint-forms/{id}/")]
    assert not documented[("get", "/api/v1/hazards/")] and not documented[("post", "/api/v1/auth/token/")]
    for (method, path), has_header in documented.items():
        assert has_header == (method in ("post", "patch") and not path.startswith("/api/v1/auth/")), (method, path)
    progress = schema["paths"]["/api/v1/hazards/{id}/progress/"]["post"]
    assert "422" in progress["responses"]
