"""Hostile input (issue 13): deep nesting, ancient and far-future dates, non-canonical ids, unhandled errors and
the order of refusals — each answered with an exact JSON status and code, quickly, never a 500 or an HTML page."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote
from uuid import UUID

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from rest_framework.test import APIClient

from api.demo import World
from api.hazards import views as hazard_views
from domain.application import SafetyApplication

from apihelpers import API, HAZARD_COMMANDS, ok, refused

Client = Callable[[str], APIClient]
DEEP_BODIES = {
    "arrays": "[" * 500 + "]" * 500,
    "objects": '{"a":' * 500 + "1" + "}" * 500,
    "decoder limit": "[" * 5000 + "]" * 5000,
    "unclosed": "[" * 100_000,
    "in a field": '{"note": ' + "[" * 40 + "]" * 40 + "}",
}


@pytest.fixture
def hazard(world: World, user: Client, past: Callable[[float], str]) -> str:
    """A general hazard at 红梅实验小学, assigned to hm_staff."""
    school = str(world.units["hongmei_school"])
    found = ok(user("hm_staff").post(f"{API}hazards/", {
        "campaign": str(world.campaign), "school": school, "severity": "general", "description": "围墙破损",
        "occurred_at": past(1)}, format="json"), 201)
    ok(user("hm_principal").post(f"{API}hazards/{found['id']}/assign/", {
        "owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01", "occurred_at": past(2)}, format="json"))
    return str(found["id"])


@pytest.fixture
def form(world: World, user: Client) -> str:
    """红梅's joint form, opened by its staff."""
    return str(ok(user("hm_staff").post(f"{API}joint-forms/", {
        "campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}, format="json"), 201)["id"])


def recorded(app: SafetyApplication) -> int:
    return app.recorder.max_notification_id() or 0


# --- deep nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", list(DEEP_BODIES.values()), ids=list(DEEP_BODIES))
@pytest.mark.parametrize("path", ["hazards/", "hazards/{hazard}/progress/", "joint-forms/{form}/", "submissions/",
                                  "inspections/", "campaigns/", "auth/token/"])
def test_json_nested_deeper_than_32_is_malformed_request_quickly(
    app: SafetyApplication, user: Client, hazard: str, form: str, path: str, body: str
) -> None:
    events = recorded(app)
    method = "patch" if path.startswith("joint-forms") else "post"
    sender = user("hm_staff" if "progress" in path else "tn_leader")  # progress is the owner's (403 before 400)
    started = time.monotonic()
    response = getattr(sender, method)(API + path.format(hazard=hazard, form=form), data=body,
                                       content_type="application/json")
    assert time.monotonic() - started < 1.0
    body_json = refused(response, 400, "malformed_request")
    assert "嵌套过深" in body_json["detail"] and len(response.content) < 500
    assert recorded(app) == events


def test_json_nested_32_deep_is_parsed_and_judged_on_its_fields(user: Client, hazard: str) -> None:
    body = '{"percent": 10, "note": ' + "[" * 31 + "]" * 31 + "}"
    refused(user("hm_staff").post(f"{API}hazards/{hazard}/progress/", data=body, content_type="application/json"),
            400, "invalid", "note")


def test_brackets_inside_strings_do_not_count_as_nesting(user: Client, hazard: str) -> None:
    body = '{"percent": 10, "note": "' + "[{" * 300 + '\\"' + "]}" * 300 + '"}'
    assert ok(user("hm_staff").post(f"{API}hazards/{hazard}/progress/", data=body,
                                    content_type="application/json"))["version"] == 3


# --- dates outside 1970–9000 -----------------------------------------------------------------------

ANCIENT_AND_FAR = ["0001-01-01", "0001-01-01T00:00:00", "0001-01-01T07:59:59", "0001-01-01T00:00:00+08:00",
                   "0001-01-01T00:00:00-12:00", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59",
                   "9999-12-31T23:59:59-10:00", "9000-01-01T00:00:00Z"]


def query_urls(world: World, hazard: str) -> dict[str, tuple[str, str, str]]:
    """(user, path, parameter) for every endpoint taking a date-time in its query."""
    campaign, school = str(world.campaign), str(world.units["hongmei_school"])
    return {
        "ownership at": ("tn_leader", "ownership/", "at"),
        "ownership known_at": ("tn_leader", "ownership/", "known_at"),
        "staff at": ("admin", f"units/{school}/staff/", "at"),
        "staff known_at": ("admin", f"units/{school}/staff/", "known_at"),
        "hazard as_of": ("hm_staff", f"hazards/{hazard}/", "as_of"),
        "owners known_at": ("hm_staff", f"hazards/{hazard}/owners/", "known_at"),
        "hazard accountability as_of": ("tn_inspector", f"hazards/{hazard}/accountability/", "as_of"),
        "accountability as_of": ("tn_inspector", f"accountability/?campaign={campaign}", "as_of"),
        "report as_of": ("tn_inspector", f"reports/changzhou-district-summary/?campaign={campaign}", "as_of"),
        "dossier as_of": ("tn_inspector", f"reports/hazard-dossier/?hazard={hazard}", "as_of"),
    }


@pytest.mark.parametrize("moment", ANCIENT_AND_FAR)
@pytest.mark.parametrize("case", ["ownership at", "ownership known_at", "staff at", "staff known_at",
                                  "hazard as_of", "owners known_at", "hazard accountability as_of",
                                  "accountability as_of", "report as_of", "dossier as_of"])
def test_a_query_date_time_outside_1970_to_9000_is_invalid_value(
    world: World, user: Client, hazard: str, case: str, moment: str
) -> None:
    username, path, name = query_urls(world, hazard)[case]
    response = user(username).get(API + path, {name: moment})
    refused(response, 400, "invalid_value", name)


def command_bodies(world: World, hazard: str, form: str) -> dict[str, tuple[str, str, str, dict[str, Any]]]:
    """(user, method, path, body) of commands that take an ``occurred_at``/``effective_from``."""
    campaign, school = str(world.campaign), str(world.units["hongmei_school"])
    return {
        "discover": ("hm_staff", "post", "hazards/", {
            "campaign": campaign, "school": school, "severity": "general", "description": "x"}),
        "progress": ("hm_staff", "post", f"hazards/{hazard}/progress/", {"percent": 10}),
        "inspection": ("hm_staff", "post", "inspections/", {
            "campaign": campaign, "school": school, "kind": "self", "inspectors": ["hm_staff"]}),
        "joint form": ("hm_staff", "patch", f"joint-forms/{form}/", {"task_force_lead": "李安全"}),
        "campaign": ("tn_leader", "post", "campaigns/", {
            "title": "专项排查", "template": "changzhou", "statistics_cutoff": "2099-01-01",
            "report_deadline": "2099-01-08"}),
    }


@pytest.mark.parametrize("moment", ANCIENT_AND_FAR)
@pytest.mark.parametrize("case", ["discover", "progress", "inspection", "joint form", "campaign"])
def test_an_occurred_at_outside_1970_to_9000_is_invalid_and_records_nothing(
    app: SafetyApplication, world: World, user: Client, hazard: str, form: str, case: str, moment: str
) -> None:
    username, method, path, body = command_bodies(world, hazard, form)[case]
    events = recorded(app)
    response = getattr(user(username), method)(API + path, {**body, "occurred_at": moment}, format="json")
    refused(response, 400, "invalid", "occurred_at")
    assert recorded(app) == events


@pytest.mark.parametrize("moment", ["0001-01-01", "9999-12-31T23:59:59"])
def test_an_effective_from_outside_1970_to_9000_is_invalid(world: World, user: Client, moment: str) -> None:
    response = user("admin").post(f"{API}users/", {
        "username": "new_user", "password": "long-enough-1", "display_name": "新人",
        "unit": str(world.units["hongmei_school"]), "role": "school_staff", "effective_from": moment}, format="json")
    refused(response, 400, "invalid", "effective_from")


# --- canonical ids only ----------------------------------------------------------------------------


def spellings(canonical: str) -> dict[str, str]:
    full_width = canonical.translate({ord(d): ord(d) + 0xFF10 - 0x30 for d in "0123456789"})
    return {"braces": "{" + canonical + "}", "urn": "urn:uuid:" + canonical, "no hyphens": canonical.replace("-", ""),
            "full-width digits": full_width, "trailing newline": canonical + "\n", "spaces": f" {canonical} "}


def in_path(text: str) -> str:
    return quote(text, safe="{}:")  # a raw newline would be dropped by URL parsing before the request is sent


SPELLINGS = ["braces", "urn", "no hyphens", "full-width digits", "trailing newline", "spaces"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_ids_in_paths_resolve_only_in_canonical_form(
    world: World, user: Client, hazard: str, form: str, spelling: str
) -> None:
    unit = str(world.units["hongmei_school"])
    cases = [("hm_staff", "hazards/{}/", hazard, "hazard_not_found"),
             ("hm_staff", "hazards/{}/history/", hazard, "hazard_not_found"),
             ("hm_staff", "joint-forms/{}/", form, "joint_form_not_found"),
             ("admin", "units/{}/staff/", unit, "unit_not_found"),
             ("tn_leader", "campaigns/{}/", str(world.campaign), "campaign_not_found")]
    for username, path, canonical, code in cases:
        assert ok(user(username).get(API + path.format(canonical)))
        assert ok(user(username).get(API + path.format(canonical.upper())))  # hex digits in either case
        refused(user(username).get(API + path.format(in_path(spellings(canonical)[spelling]))), 404, code)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_non_canonical_hazard_ids_resolve_to_no_command(
    app: SafetyApplication, user: Client, hazard: str, spelling: str
) -> None:
    events = recorded(app)
    for command in HAZARD_COMMANDS:
        response = user("hm_principal").post(f"{API}hazards/{in_path(spellings(hazard)[spelling])}/{command}/",
                                             {"percent": 10, "reason": "x", "note": "x"}, format="json")
        refused(response, 404, "hazard_not_found")
    assert recorded(app) == events


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_non_canonical_ids_in_bodies_and_queries_are_invalid(
    app: SafetyApplication, world: World, user: Client, spelling: str
) -> None:
    campaign, school = str(world.campaign), str(world.units["hongmei_school"])
    events = recorded(app)
    body = {"campaign": campaign, "school": spellings(school)[spelling], "severity": "general", "description": "x"}
    refused(user("hm_staff").post(f"{API}hazards/", body, format="json"), 400, "invalid", "school")
    refused(user("tn_leader").get(f"{API}hazards/", {"school": spellings(school)[spelling]}), 400, "invalid", "school")
    refused(user("tn_leader").get(f"{API}ownership/", {"campaign": spellings(campaign)[spelling]}),
            400, "invalid", "campaign")
    refused(user("tn_inspector").get(f"{API}reports/changzhou-district-summary/",
                                     {"campaign": spellings(campaign)[spelling]}), 400, "invalid_value", "campaign")
    assert recorded(app) == events


def test_a_uuid_as_a_json_number_is_invalid(world: World, user: Client) -> None:
    body = {"campaign": str(world.campaign), "school": UUID(str(world.units["hongmei_school"])).int,
            "severity": "general", "description": "x"}
    refused(user("hm_staff").post(f"{API}hazards/", body, format="json"), 400, "invalid", "school")


# --- unhandled errors: JSON 500 with a request id, DEBUG or not ---------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_log() -> Iterator[Records]:
    handler, logger = Records(), logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("secret internals: /etc/passwd")


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("where", ["view", "middleware"])
def test_an_unhandled_error_under_the_api_is_a_json_500_with_a_request_id_in_the_log(
    settings: Any, monkeypatch: pytest.MonkeyPatch, user: Client, error_log: Records, debug: bool, where: str
) -> None:
    settings.DEBUG = debug
    client = user("hm_staff")
    if where == "view":
        monkeypatch.setattr(hazard_views.HazardList, "get", boom)
    else:
        monkeypatch.setattr(SessionMiddleware, "process_request", boom)
    response = client.get(f"{API}hazards/", HTTP_ACCEPT="text/html")
    body = refused(response, 500, "internal_error")
    assert body == {"code": "internal_error", "detail": "服务器内部错误", "request_id": response["X-Request-ID"]}
    assert b"secret internals" not in response.content and b"Traceback" not in response.content
    logged = [r for r in error_log.records if r.exc_info and getattr(r, "request_id", None) == body["request_id"]]
    assert logged and "secret internals" in str(logged[0].exc_info[1])  # type: ignore[index]


def test_every_response_carries_its_own_request_id(user: Client) -> None:
    first, second = user("hm_staff").get(f"{API}hazards/"), user("hm_staff").get(f"{API}nothing-here/")
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]


# --- refusals in the order 401 → 403/404 → 400 → 409 ----------------------------------------------------

MALFORMED = '{"percent": '


def malformed_to(client: APIClient, method: str, path: str) -> Any:
    return getattr(client, method)(API + path, data=MALFORMED, content_type="application/json")


@pytest.mark.parametrize(("method", "path"), [
    ("post", "hazards/{hazard}/progress/"), ("post", "hazards/{hazard}/verify/"), ("post", "hazards/"),
    ("patch", "joint-forms/{form}/"), ("post", "joint-forms/{form}/sign/"), ("post", "submissions/"),
])
def test_an_unauthenticated_malformed_request_is_401_not_400(
    anonymous: APIClient, hazard: str, form: str, method: str, path: str
) -> None:
    refused(malformed_to(anonymous, method, path.format(hazard=hazard, form=form)), 401, "not_authenticated")


@pytest.mark.parametrize(("method", "path"), [
    ("post", "hazards/{hazard}/progress/"), ("patch", "joint-forms/{form}/"), ("post", "joint-forms/{form}/submit/"),
])
def test_a_malformed_request_about_an_object_out_of_scope_is_404_not_400(
    user: Client, hazard: str, form: str, method: str, path: str
) -> None:
    code = "hazard_not_found" if path.startswith("hazards") else "joint_form_not_found"
    refused(malformed_to(user("ql_principal"), method, path.format(hazard=hazard, form=form)), 404, code)


@pytest.mark.parametrize(("method", "path"), [
    ("post", "hazards/{hazard}/progress/"), ("post", "hazards/"), ("patch", "joint-forms/{form}/"),
    ("post", "joint-forms/"), ("post", "submissions/"), ("post", "campaigns/"),
])
def test_a_malformed_change_by_a_read_only_role_is_403_not_400(
    user: Client, hazard: str, form: str, method: str, path: str
) -> None:
    refused(malformed_to(user("auditor"), method, path.format(hazard=hazard, form=form)), 403, "read_only_role")


def test_an_auditor_opening_an_existing_form_is_403_not_409(world: World, user: Client, form: str) -> None:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    refused(user("auditor").post(f"{API}joint-forms/", body, format="json"), 403, "read_only_role")


def test_a_non_party_opening_an_existing_form_is_403_not_409(world: World, user: Client, form: str) -> None:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    refused(user("tn_inspector").post(f"{API}joint-forms/", body, format="json"), 403, "not_a_party")


def test_auditors_may_still_log_out(user: Client) -> None:
    auditor = user("auditor")
    assert auditor.post(f"{API}auth/token/revoke/", {}, format="json").status_code == 204
    refused(auditor.get(f"{API}hazards/"), 401, "not_authenticated")


@pytest.mark.parametrize(("username", "method", "path", "code"), [
    ("hm_principal", "post", "users/", "role_not_permitted"),
    ("hm_principal", "post", "units/", "role_not_permitted"),
    ("hm_principal", "post", "users/hm_staff/role/", "role_not_permitted"),
    ("hm_principal", "post", "users/hm_staff/deactivate/", "role_not_permitted"),
    ("hm_staff", "post", "hazards/{hazard}/assign/", "role_not_permitted"),
    ("hm_principal", "post", "hazards/{hazard}/supervise/", "role_not_permitted"),
    ("hm_principal", "post", "hazards/{hazard}/reopen/", "role_not_permitted"),
    ("hm_principal", "post", "hazards/{hazard}/extend/", "role_not_permitted"),
    # work on the hazard is for its owner (hm_staff) or the 校长; 验收 for the 校长 or a bureau
    ("hm_staff2", "post", "hazards/{hazard}/plan/", "not_current_owner"),
    ("hm_staff2", "post", "hazards/{hazard}/interim-measures/", "not_current_owner"),
    ("hm_staff2", "post", "hazards/{hazard}/progress/", "not_current_owner"),
    ("hm_staff2", "post", "hazards/{hazard}/rectify/", "not_current_owner"),
    ("hm_staff", "post", "hazards/{hazard}/verify/", "role_not_permitted"),
])
def test_a_malformed_command_by_a_role_without_the_right_is_403_not_400(
    user: Client, hazard: str, username: str, method: str, path: str, code: str
) -> None:
    refused(malformed_to(user(username), method, path.format(hazard=hazard)), 403, code)


def test_a_non_admin_creating_an_existing_username_is_403_not_409(world: World, user: Client) -> None:
    response = user("hm_principal").post(f"{API}users/", {
        "username": "hm_staff", "password": "long-enough-1", "display_name": "重名",
        "unit": str(world.units["hongmei_school"]), "role": "school_staff"}, format="json")
    refused(response, 403, "role_not_permitted")
