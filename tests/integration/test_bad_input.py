"""Bad input over HTTP is refused with an exact status and code, never a 500, and records nothing (DESIGN §5)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import pytest
from django.test import Client as PageClient
from django.utils import timezone
from rest_framework.test import APIClient

from api.demo import DEMO_PASSWORD, World
from domain.application import SafetyApplication
from projections.hazard.rows import HazardLedger

from apihelpers import API, HAZARD_COMMANDS, ok, refused

Client = Callable[[str], APIClient]
ON_POSTGRES = bool(os.environ.get("DATABASE_URL"))
MIB = 1024 * 1024


@pytest.fixture
def hazard(world: World, user: Client, past: Callable[[float], str]) -> str:
    """A general hazard at 红梅实验小学: discovered at past(1), assigned to hm_staff at past(2) (version 2)."""
    school = str(world.units["hongmei_school"])
    discovered = ok(user("hm_staff").post(f"{API}hazards/", {
        "campaign": str(world.campaign), "school": school, "item": "CZ-01", "severity": "general",
        "description": "南校门缺少升降柱", "occurred_at": past(1),
    }, format="json"), 201)
    ok(user("hm_principal").post(f"{API}hazards/{discovered['id']}/assign/", {
        "owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01", "occurred_at": past(2),
    }, format="json"), 200)
    return str(discovered["id"])


@pytest.fixture
def inspection(world: World, user: Client) -> str:
    """An open self-inspection of 红梅实验小学 by hm_staff."""
    body = ok(user("hm_staff").post(f"{API}inspections/", {
        "campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "kind": "self",
        "inspectors": ["hm_staff"],
    }, format="json"), 201)
    return str(body["id"])





@contextmanager
def nothing_recorded(app: SafetyApplication, hazard_id: str | None = None) -> Iterator[None]:
    """No event was stored and the hazard's ledger row kept its version."""
    events = app.recorder.max_notification_id()
    version = HazardLedger.objects.get(id=hazard_id).version if hazard_id else None
    yield
    assert app.recorder.max_notification_id() == events, "an event was recorded"
    if hazard_id:
        assert HazardLedger.objects.get(id=hazard_id).version == version, "the hazard changed"


def in_hours(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


# --- bodies that are not JSON objects ----------------------------------------------------------


@pytest.mark.parametrize("path", ["hazards/", "hazards/{hazard}/progress/", "inspections/", "campaigns/"])
def test_malformed_json_body_is_malformed_request(
    app: SafetyApplication, user: Client, hazard: str, path: str
) -> None:
    with nothing_recorded(app, hazard):
        url = API + path.format(hazard=hazard)
        sender = "hm_staff" if "progress" in path else "tn_leader"  # progress is the owner's to report
        response = user(sender).post(url, data='{"x":', content_type="application/json")
        refused(response, 400, "malformed_request")


@pytest.mark.parametrize("body", ["[]", '[{"percent": 50}]', "42", '"fifty"', "null"])
def test_json_that_is_not_an_object_is_invalid(app: SafetyApplication, user: Client, hazard: str, body: str) -> None:
    with nothing_recorded(app, hazard):
        response = user("hm_staff").post(f"{API}hazards/{hazard}/progress/", data=body, content_type="application/json")
        refused(response, 400, "invalid")


def test_discovery_with_a_json_array_is_invalid(app: SafetyApplication, world: World, user: Client) -> None:
    body = json.dumps([{"campaign": str(world.campaign), "school": str(world.units["hongmei_school"]),
                        "severity": "general", "description": "x"}])
    with nothing_recorded(app):
        refused(user("hm_staff").post(f"{API}hazards/", data=body, content_type="application/json"), 400, "invalid")


@pytest.mark.parametrize("body", ["[]", "null"])
def test_completing_an_inspection_with_a_non_object_body_is_invalid(
    app: SafetyApplication, user: Client, inspection: str, body: str
) -> None:
    with nothing_recorded(app):
        response = user("hm_staff").post(f"{API}inspections/{inspection}/complete/", data=body,
                                         content_type="application/json")
        refused(response, 400, "invalid")


# --- wrong types, unknown enum values, oversized text -----------------------------------------------

WRONG_TYPES = [
    ("progress", {"percent": "abc"}, "percent"),
    ("progress", {"percent": 150}, "percent"),
    ("progress", {"percent": 50, "expected_version": "two"}, "expected_version"),
    ("progress", {"percent": 50, "expected_version": 0}, "expected_version"),
    ("progress", {"percent": 50, "occurred_at": "yesterday"}, "occurred_at"),
    ("verify", {"accepted": "maybe"}, "accepted"),
    ("assign", {"owner": "hm_staff", "owner_unit": "{school}", "deadline": "tomorrow"}, "deadline"),
    ("assign", {"owner": "hm_staff", "owner_unit": "not-a-uuid", "deadline": "2099-01-01"}, "owner_unit"),
    ("transfer", {"owner": ["hm_staff2"], "owner_unit": "{school}", "reason": "调岗"}, "owner"),
    ("extend", {"new_deadline": "2099-02-30", "reason": "资金"}, "new_deadline"),
    ("escalate", {"to_unit": "district-bureau", "reason": "无力整改"}, "to_unit"),
    ("rectify", {"note": "已整改", "evidence": "photo.jpg"}, "evidence"),
    ("plan", {"measures": {"a": 1}, "deadline": "2099-01-01"}, "measures"),
    ("rectify", {"note": "NUL\x00byte"}, "note"),
]


@pytest.mark.parametrize(("command", "body", "field"), WRONG_TYPES, ids=[f"{c}-{f}" for c, _, f in WRONG_TYPES])
def test_wrong_types_in_a_command_are_invalid_and_name_the_field(
    app: SafetyApplication, world: World, user: Client, hazard: str, command: str, body: dict[str, Any], field: str
) -> None:
    school = str(world.units["hongmei_school"])
    body = {k: v.format(school=school) if isinstance(v, str) and "{" in v else v for k, v in body.items()}
    with nothing_recorded(app, hazard):
        username = "tn_inspector" if command == "extend" else "hm_principal"  # a principal may not extend (403)
        response = user(username).post(f"{API}hazards/{hazard}/{command}/", body, format="json")
        refused(response, 400, "invalid", field)


def test_oversized_description_is_invalid(app: SafetyApplication, world: World, user: Client) -> None:
    with nothing_recorded(app):
        response = user("hm_staff").post(f"{API}hazards/", {
            "campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "severity": "general",
            "description": "隐" * 5000,
        }, format="json")
        refused(response, 400, "invalid", "description")


def test_oversized_rectification_note_is_invalid(app: SafetyApplication, user: Client, hazard: str) -> None:
    with nothing_recorded(app, hazard):
        response = user("hm_staff").post(f"{API}hazards/{hazard}/rectify/", {"note": "x" * 5000}, format="json")
        refused(response, 400, "invalid", "note")


def _unknown_enum_cases(world: World, inspection: str) -> dict[str, tuple[str, str, dict[str, Any], str]]:
    campaign, school = str(world.campaign), str(world.units["hongmei_school"])
    return {
        "severity": ("hm_staff", "hazards/", {
            "campaign": campaign, "school": school, "severity": "catastrophic", "description": "x"}, "severity"),
        "inspection kind": ("hm_staff", "inspections/", {
            "campaign": campaign, "school": school, "kind": "party", "inspectors": ["hm_staff"]}, "kind"),
        "assessment result": ("hm_staff", f"inspections/{inspection}/assessments/", {
            "item": "CZ-01", "result": "meh"}, "result"),
        "role": ("admin", "users/", {
            "username": "new_user", "password": "long-enough-1", "display_name": "新人", "unit": school,
            "role": "king"}, "role"),
        "unit kind": ("admin", "units/", {"kind": "castle", "name": "城堡", "district": "天宁区"}, "kind"),
        "phase kind": ("tn_leader", "campaigns/", {
            "title": "专项排查", "template": "changzhou", "statistics_cutoff": "2099-01-01",
            "report_deadline": "2099-01-08", "phases": [{"kind": "party", "start": "2099-01-01",
                                                        "end": "2099-01-02"}]}, "phases"),
    }


@pytest.mark.parametrize(
    "case", ["severity", "inspection kind", "assessment result", "role", "unit kind", "phase kind"]
)
def test_unknown_enum_values_are_invalid(
    app: SafetyApplication, world: World, user: Client, inspection: str, case: str
) -> None:
    username, path, body, field = _unknown_enum_cases(world, inspection)[case]
    with nothing_recorded(app):
        refused(user(username).post(API + path, body, format="json"), 400, "invalid", field)


# --- business time ------------------------------------------------------------------------------


def test_discovery_an_hour_in_the_future_is_refused(app: SafetyApplication, world: World, user: Client) -> None:
    with nothing_recorded(app):
        response = user("hm_staff").post(f"{API}hazards/", {
            "campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "severity": "general",
            "description": "楼梯扶手松动", "occurred_at": in_hours(1),
        }, format="json")
        refused(response, 400, "occurred_in_future")


def test_command_an_hour_in_the_future_is_refused(app: SafetyApplication, user: Client, hazard: str) -> None:
    with nothing_recorded(app, hazard):
        response = user("hm_staff").post(f"{API}hazards/{hazard}/progress/",
                                         {"percent": 10, "occurred_at": in_hours(1)}, format="json")
        refused(response, 400, "occurred_in_future")


def test_command_a_minute_in_the_future_is_tolerated(user: Client, hazard: str) -> None:
    response = user("hm_staff").post(f"{API}hazards/{hazard}/progress/",
                                     {"percent": 10, "occurred_at": in_hours(1 / 60)}, format="json")
    assert ok(response, 200)["version"] == 3


def test_command_earlier_than_the_hazards_latest_event_is_refused(
    app: SafetyApplication, user: Client, hazard: str, past: Callable[[float], str]
) -> None:
    with nothing_recorded(app, hazard):
        response = user("hm_staff").post(f"{API}hazards/{hazard}/progress/",
                                         {"percent": 10, "occurred_at": past(1.5)}, format="json")
        refused(response, 400, "occurred_out_of_order")


# --- hazards that do not exist -----------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["random-uuid4", "abc", "1; drop table", "campaign-id"])
def test_unknown_or_malformed_hazard_ids_are_hazard_not_found_everywhere(
    app: SafetyApplication, world: World, user: Client, bad_id: str
) -> None:
    hazard_id = {"random-uuid4": str(uuid4()), "campaign-id": str(world.campaign)}.get(bad_id, bad_id)
    base = f"{API}hazards/{quote(hazard_id)}/"
    client = user("tn_inspector")
    with nothing_recorded(app):
        for path in (base, f"{base}history/"):
            refused(client.get(path), 404, "hazard_not_found")
        for command in HAZARD_COMMANDS:
            response = client.post(f"{base}{command}/", {"reason": "x", "note": "x", "accepted": True}, format="json")
            refused(response, 404, "hazard_not_found")


@pytest.mark.parametrize("path", ["nothing-here/", "nothing-here", "hazards/{hazard}/explode/", "v2/hazards/"])
def test_unknown_urls_under_the_api_are_json_404(user: Client, hazard: str, path: str) -> None:
    client = user("hm_staff")
    for response in (client.get(API + path.format(hazard=hazard)), client.post(API + path.format(hazard=hazard), {})):
        refused(response, 404, "not_found")


# --- optimistic concurrency -------------------------------------------------------------------------


def test_stale_expected_version_is_a_version_conflict(app: SafetyApplication, user: Client, hazard: str) -> None:
    with nothing_recorded(app, hazard):
        response = user("hm_staff").post(f"{API}hazards/{hazard}/progress/",
                                         {"percent": 10, "expected_version": 1}, format="json")
        refused(response, 409, "version_conflict")
    current = user("hm_staff").post(f"{API}hazards/{hazard}/progress/",
                                    {"percent": 10, "expected_version": 2}, format="json")
    assert ok(current, 200)["version"] == 3


# --- query parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["version=abc", "version=0", "version=-1", "version=1.5", "as_of=garbage",
                                   "as_of=2026-13-45T00:00:00Z"])
def test_malformed_past_state_queries_are_invalid(user: Client, hazard: str, query: str) -> None:
    name = query.split("=")[0]
    refused(user("hm_staff").get(f"{API}hazards/{hazard}/?{query}"), 400, "invalid_value", name)


def test_version_beyond_the_latest_answers_the_latest_state(user: Client, hazard: str) -> None:
    """``SafetyApplication.get_hazard`` loads events up to the version, so a larger one is simply the latest."""
    client = user("hm_staff")
    latest = ok(client.get(f"{API}hazards/{hazard}/"), 200)
    beyond = ok(client.get(f"{API}hazards/{hazard}/?version=99"), 200)
    assert beyond["version"] == latest["version"] == 2
    assert beyond["status"] == latest["status"] == "assigned"
    assert ok(client.get(f"{API}hazards/{hazard}/?version=1"), 200)["status"] == "reported"


def test_as_of_before_the_hazard_was_recorded_is_hazard_not_found(user: Client, hazard: str) -> None:
    response = user("hm_staff").get(f"{API}hazards/{hazard}/", {"as_of": "2000-01-01T00:00:00+08:00"})
    refused(response, 404, "hazard_not_found")


@pytest.mark.parametrize("query", ["status=bogus", "severity=catastrophic", "school=not-uuid",
                                   "campaign=1;drop", "owner=%00"])
def test_malformed_hazard_list_filters_are_invalid(user: Client, query: str) -> None:
    refused(user("tn_inspector").get(f"{API}hazards/?{query}"), 400, "invalid", query.split("=")[0])


def test_malformed_overdue_filter_is_invalid(user: Client) -> None:
    refused(user("tn_inspector").get(f"{API}hazards/?overdue=perhaps"), 400, "invalid", "overdue")


@pytest.mark.parametrize("query", ["campaign=not-uuid", "school=not-uuid"])
def test_malformed_inspection_list_filters_are_invalid(user: Client, query: str) -> None:
    refused(user("tn_inspector").get(f"{API}inspections/?{query}"), 400, "invalid", query.split("=")[0])


@pytest.mark.parametrize("at", ["garbage", "2026-02-30T00:00:00Z"])
def test_malformed_staff_time_is_invalid(world: World, user: Client, at: str) -> None:
    unit = world.units["hongmei_school"]
    response = user("admin").get(f"{API}units/{unit}/staff/", {"at": at})
    assert response.status_code == 400, response.content.decode()[:300]
    assert response.json()["code"] in ("invalid", "invalid_value")


@pytest.mark.parametrize(("method", "path"), [
    ("get", "inspections/?kind=%00"),
    ("get", "units/?district=%00"),
    ("get", "units/?kind=%00"),
    ("post", "users/%00/role/"),
    ("post", "users/%00/deactivate/"),
])
def test_nul_bytes_in_query_or_path_are_never_a_server_error(
    world: World, user: Client, method: str, path: str
) -> None:
    body = {"unit": str(world.units["hongmei_school"]), "role": "school_staff"}
    response = getattr(user("admin"), method)(API + path, *([body] if method == "post" else []), format="json")
    assert response.status_code < 500, response.content.decode()[:300]
    assert response.status_code in (200, 400, 404)


# --- request size --------------------------------------------------------------------------------


def test_oversized_invalid_body_is_refused_without_server_error(
    app: SafetyApplication, user: Client, hazard: str
) -> None:
    body = json.dumps({"note": "x" * (2 * MIB)})
    with nothing_recorded(app, hazard):
        response = user("hm_staff").post(f"{API}hazards/{hazard}/rectify/", data=body, content_type="application/json")
        assert response.status_code in (400, 413), response.content.decode()[:300]
        assert response.json()["code"] in ("invalid", "request_too_large")


@pytest.mark.parametrize(("method", "path"), [
    ("post", "hazards/{hazard}/progress/"), ("patch", "joint-forms/{form}/"), ("post", "auth/token/"),
    ("post", "/accounts/login/"),
])
def test_a_body_over_one_mebibyte_is_request_too_large_even_if_otherwise_valid(
    app: SafetyApplication, world: World, user: Client, hazard: str, method: str, path: str
) -> None:
    form = ok(user("hm_staff").post(f"{API}joint-forms/", {
        "campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}, format="json"), 201)["id"]
    url = path if path.startswith("/") else API + path.format(hazard=hazard, form=form)
    body = json.dumps({"percent": 50, "task_force_lead": "李安全", "padding": "x" * MIB})
    with nothing_recorded(app, hazard):
        response = getattr(user("hm_staff"), method)(url, data=body, content_type="application/json")
        refused(response, 413, "request_too_large")


def test_a_body_just_under_one_mebibyte_is_accepted(user: Client, hazard: str) -> None:
    body = json.dumps({"percent": 50, "padding": ""})
    body = json.dumps({"percent": 50, "padding": "x" * (MIB - len(body))})
    assert len(body.encode()) == MIB
    response = user("hm_staff").post(f"{API}hazards/{hazard}/progress/", data=body, content_type="application/json")
    assert ok(response)["version"] == 3


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("get", "hazards/"), ("post", "hazards/"), ("get", "units/"),
                                              ("post", "users/"), ("get", "inspections/")])
def test_unauthenticated_requests_are_not_authenticated(
    app: SafetyApplication, world: World, anonymous: APIClient, method: str, path: str
) -> None:
    with nothing_recorded(app):
        refused(getattr(anonymous, method)(API + path, format="json"), 401, "not_authenticated")


@pytest.mark.parametrize("header", ["Token nope", "Token ", "Token a b", "Token " + "0" * 40, "Bearer xyz"])
def test_bad_tokens_are_refused_with_401(app: SafetyApplication, world: World, header: str) -> None:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=header)
    with nothing_recorded(app):
        response = client.post(f"{API}hazards/", {
            "campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "severity": "general",
            "description": "x"}, format="json")
        refused(response, 401, "not_authenticated")


@pytest.mark.parametrize("body", [{"username": "hm_staff", "password": "wrong-password"},
                                  {"username": "nobody", "password": "demo-pass-2026"},
                                  {"username": "hm_staff"}, {}])
def test_token_request_with_bad_credentials_is_a_400(world: World, anonymous: APIClient, body: dict[str, str]) -> None:
    response = anonymous.post(f"{API}auth/token/", body, format="json")
    assert response.status_code == 400, response.content.decode()[:300]
    assert response.json()["code"] == "invalid" and "token" not in response.json()


def test_token_request_with_malformed_json_is_malformed_request(world: World, anonymous: APIClient) -> None:
    response = anonymous.post(f"{API}auth/token/", data='{"username":', content_type="application/json")
    refused(response, 400, "malformed_request")


# --- login throttling: attempts per client address and username (settings LOGIN_RATE, 10/min) ----------------


def token_attempt(client: APIClient, username: str, address: str = "203.0.113.7", **headers: str) -> Any:
    return client.post(f"{API}auth/token/", {"username": username, "password": "wrong-password"}, format="json",
                       REMOTE_ADDR=address, **headers)


def test_the_eleventh_token_request_in_a_minute_is_too_many_login_attempts(world: World, anonymous: APIClient) -> None:
    for _ in range(10):
        assert token_attempt(anonymous, "hm_staff").status_code == 400
    body = refused(token_attempt(anonymous, "hm_staff"), 429, "too_many_login_attempts")
    assert "秒后重试" in body["detail"]
    right = anonymous.post(f"{API}auth/token/", {"username": "hm_staff", "password": DEMO_PASSWORD}, format="json",
                           REMOTE_ADDR="203.0.113.7")
    refused(right, 429, "too_many_login_attempts")  # even the right password waits: no oracle for guesses
    assert int(right["Retry-After"]) > 0


def test_login_throttling_counts_per_address_and_username(world: World, anonymous: APIClient) -> None:
    for _ in range(10):
        token_attempt(anonymous, "hm_staff")
    assert token_attempt(anonymous, "hm_staff").status_code == 429
    assert token_attempt(anonymous, "hm_staff2").status_code == 400  # another user from the same address
    assert token_attempt(anonymous, "hm_staff", address="198.51.100.9").status_code == 400  # another address


def test_a_forged_forwarded_for_header_does_not_reset_the_count(world: World, anonymous: APIClient) -> None:
    for n in range(10):
        token_attempt(anonymous, "hm_staff", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert token_attempt(anonymous, "hm_staff", HTTP_X_FORWARDED_FOR="10.0.0.99").status_code == 429


def test_the_login_page_is_throttled_the_same_way(world: World) -> None:
    page = PageClient(REMOTE_ADDR="203.0.113.7")
    for _ in range(10):
        assert page.post("/accounts/login/", {"username": "hm_staff", "password": "wrong"}).status_code == 200
    throttled = page.post("/accounts/login/", {"username": "hm_staff", "password": DEMO_PASSWORD})
    assert throttled.status_code == 429 and "登录尝试过于频繁" in throttled.content.decode()
    assert "_auth_user_id" not in page.session
    admin_login = page.post("/admin/login/", {"username": "hm_staff", "password": "wrong"})
    assert admin_login.status_code == 429 and "登录尝试过于频繁" in admin_login.content.decode()


# --- text length: every text a request can carry is bounded -----------------------------------------------


def unbounded_inputs(schema: dict[str, Any]) -> list[str]:
    """Request-body properties of the OpenAPI schema with no bound: text without maxLength, enum, format or
    pattern, lists without maxItems."""
    found = []
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue
        for key, prop in component.get("properties", {}).items():
            bounded_text = {"maxLength", "enum", "format", "pattern", "$ref", "allOf", "oneOf"} & set(prop)
            if prop.get("type") == "string" and not bounded_text:
                found.append(f"{name}.{key}")
            if prop.get("type") == "array" and "maxItems" not in prop:
                found.append(f"{name}.{key}[]")
    return found


def test_every_text_and_list_in_a_request_body_has_a_limit(db: None) -> None:
    schema = APIClient().get(f"{API}schema/", {"format": "json"}).json()
    assert any(name.endswith("Request") for name in schema["components"]["schemas"])
    assert unbounded_inputs(schema) == []


@pytest.mark.parametrize(("path", "body", "field"), [
    ("joint-forms/{form}/", {"task_force_lead": "长" * 2001}, "task_force_lead"),
    ("hazards/{hazard}/transfer/", {"owner": "hm_staff2", "owner_unit": "{school}", "reason": "因" * 2001}, "reason"),
    ("hazards/{hazard}/plan/", {"measures": "更换", "funds": "元" * 201, "deadline": "2098-01-01"}, "funds"),
    ("hazards/{hazard}/rectify/", {"note": "已整改", "evidence": ["照" * 501]}, "evidence"),
    ("auth/token/", {"username": "u" * 151, "password": "x"}, "username"),
])
def test_oversized_text_elsewhere_is_refused_and_names_the_field(
    app: SafetyApplication, world: World, user: Client, hazard: str, path: str, body: dict[str, Any], field: str
) -> None:
    school = str(world.units["hongmei_school"])
    form = ok(user("hm_staff").post(f"{API}joint-forms/", {"campaign": str(world.campaign), "school": school},
                                    format="json"), 201)["id"]
    url = API + path.format(form=form, hazard=hazard)
    body = {k: v.format(school=school) if v == "{school}" else v for k, v in body.items()}
    method = "patch" if path.startswith("joint-forms") else "post"
    with nothing_recorded(app, hazard):
        response = getattr(user("hm_principal"), method)(url, body, format="json")
    assert response.status_code == 400, response.content.decode()[:300]
    assert response.json()["code"] in ("invalid", "invalid_value")
    assert field in response.json().get("errors", {}) or response.json().get("field") == field
