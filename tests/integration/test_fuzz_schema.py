"""Property-based fuzzing of the OpenAPI schema with schemathesis (DESIGN §9): for several roles, generated valid
and invalid requests to every operation never get a 5xx, and every response conforms to the schema.

Budget: ``FUZZ_EXAMPLES`` examples per operation, generation mode and role (default 3: a short run for CI).
A long run, e.g. ``FUZZ_EXAMPLES=2000 pytest tests/integration/test_fuzz_schema.py -s``, prints its figures
(BENCHMARKS.md keeps the last ones). Ids in paths, bodies and queries are half the time real ones of the demo
district, so the fuzzing reaches the commands and not only their 404s. Date-time fields and parameters are
often ancient or far-future (year 1, year 9999, with and without offset), and every operation that takes a body
also gets JSON nested 500 deep: both must be a 400, never a 500.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api import demo
from api.services import execute
from domain.application import SafetyApplication
from projections.campaigns import CampaignView
from projections.directory import StaffView, UnitView
from projections.hazard.rows import HazardLedger
from projections.inspections import InspectionView
from projections.jointforms import JointFormView
from projections.runner import catch_up
from reports.registry import load_all

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
ROLES = ("hm_principal", "hm_chief", "tn_inspector", "auditor", "admin")
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
DATE_TIMES = {"occurred_at", "effective_from", "as_of", "at", "known_at"}  # every date-time a request can carry
HOSTILE_MOMENTS = st.sampled_from([
    "0001-01-01", "0001-01-01T00:00:00", "0001-01-01T07:59:59", "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59", "9999-12-31T23:59:59-12:00", "1969-12-31T23:59:59Z", "9000-01-01",
])
DEEP_BODIES = ("[" * 500 + "]" * 500, '{"a":' * 500 + "1" + "}" * 500)
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class Known:
    """Real ids of the demo district, by the path segment or field that names them."""

    by_path: dict[str, list[str]] = field(default_factory=dict)  # "hazards" → hazard ids, "users" → usernames …
    by_field: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict)

    def path_choices(self, path: str, name: str) -> list[str]:
        if name == "name":
            return self.by_path["reports"]
        if name == "line":
            return ["education", "police"]
        collection = path.strip("/").split("/")[2]  # /api/v1/<collection>/{id}/…
        return self.by_path.get(collection, [])


def known_ids() -> Known:
    ids: dict[str, list[str]] = {
        "hazards": [str(i) for i in HazardLedger.objects.values_list("id", flat=True)],
        "inspections": [str(i) for i in InspectionView.objects.values_list("id", flat=True)],
        "joint-forms": [str(i) for i in JointFormView.objects.values_list("id", flat=True)],
        "units": [str(i) for i in UnitView.objects.values_list("id", flat=True)],
        "campaigns": [str(i) for i in CampaignView.objects.values_list("id", flat=True)],
        "users": list(StaffView.objects.values_list("username", flat=True)),
        "reports": sorted(load_all()),
        "submissions": [],
    }
    schools = [str(i) for i in UnitView.objects.filter(kind="school").values_list("id", flat=True)]
    one = st.sampled_from
    fields: dict[str, st.SearchStrategy[Any]] = {
        "campaign": one(ids["campaigns"]), "school": one(schools), "hazard": one(ids["hazards"]),
        "inspection": one(ids["inspections"]), "form": one(ids["joint-forms"]), "report": one(ids["reports"]),
        "owner": one(ids["users"]), "username": one(ids["users"]), "item": one(["CZ-01", "CZ-02", "CZ-03"]),
        "inspectors": st.lists(one(ids["users"]), min_size=1, max_size=3),
        **{name: one(ids["units"]) for name in ("unit", "owner_unit", "to_unit", "parent", "police_station")},
    }
    return Known(ids, fields)


def realistic(case: schemathesis.Case, data: st.DataObject, known: Known) -> None:
    """Half the time, put real ids where the generated request names a hazard, a school, a user …"""
    for name in list(case.path_parameters or {}):
        choices = known.path_choices(case.operation.path, name)
        if choices and data.draw(st.booleans()):
            case.path_parameters[name] = data.draw(st.sampled_from(choices))  # type: ignore[index]
    for container in (case.query, case.body):
        if not isinstance(container, dict):
            continue
        for key in list(container):
            if key in known.by_field and data.draw(st.booleans()):
                container[key] = data.draw(known.by_field[key])
    hostile(case, data)


def hostile(case: schemathesis.Case, data: st.DataObject) -> None:
    """Now and then, a date-time of year 1 or 9999 where the request takes a date-time (query or body)."""
    declared = [parameter.name for parameter in case.operation.query if parameter.name in DATE_TIMES]
    if declared and data.draw(st.booleans()):
        case.query = {**(case.query or {}), data.draw(st.sampled_from(declared)): data.draw(HOSTILE_MOMENTS)}
    if isinstance(case.body, dict):
        for key in [key for key in case.body if key in DATE_TIMES]:
            if data.draw(st.booleans()):
                case.body[key] = data.draw(HOSTILE_MOMENTS)


@pytest.fixture
def wsgi() -> Iterator[Any]:
    """The real WSGI application, minus closing the database connection after each request (as Django's test
    client does): the test's transaction must outlive the requests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def district(app: SafetyApplication) -> Known:
    """The full demo district (hazards in every status, inspections, a campaign), a joint form, the admin."""
    world = demo.load(app, timezone.now())
    get_user_model().objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
    school, officer = world.units["hongmei_school"], world.actor("hm_officer")
    form = execute(lambda a: a.open_joint_form(actor=officer, campaign=world.campaign, school=school))
    execute(lambda a: a.update_joint_form(form.id, actor=officer, changes={"sensitive_notes": "机密线索"}))
    catch_up(app)
    return known_ids()


def fuzz(operation: Any, mode: schemathesis.GenerationMode, username: str, known: Known) -> int:
    """Run one operation's examples; the number of requests sent (a failure raises after shrinking)."""
    sent = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize="FUZZ_EXAMPLES" not in os.environ,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def check(case: schemathesis.Case, data: st.DataObject) -> None:
        nonlocal sent
        realistic(case, data, known)
        # A fresh token each time: the fuzzing may revoke the role's own token (auth/token/revoke/).
        token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username=username))
        response = case.call(headers={"Authorization": f"Token {token.key}"})
        sent += 1
        case.validate_response(response, checks=CHECKS)

    check()
    return sent


def modes(operation: Any) -> tuple[schemathesis.GenerationMode, ...]:
    """Invalid input exists only where there is a body or a query: a free-text path id is never wrong."""
    if operation.body or operation.query:
        return MODES
    return (schemathesis.GenerationMode.POSITIVE,)


@pytest.mark.parametrize("username", ROLES)
def test_fuzzing_the_openapi_schema_finds_no_server_error_and_no_response_off_the_schema(
    district: Known, wsgi: Any, username: str
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi)
    operations = [result.ok() for result in schema.get_all_operations()]
    started, sent, runs, failures = time.monotonic(), 0, 0, []
    for operation in operations:
        for mode in modes(operation):
            runs += 1
            try:
                sent += fuzz(operation, mode, username, district)
            except (Exception, BaseExceptionGroup) as error:  # every operation is fuzzed; all failures listed below
                failures.append(f"{operation.label} [{mode.value}]: {error}"[:3000])
    seconds = time.monotonic() - started
    print(f"\nfuzz {username}: {sent} requests, {len(operations)} operations ({runs} with valid or invalid input), "
          f"{EXAMPLES} examples each, {seconds:.1f} s, {len(failures)} failing")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("username", ["admin", "hm_principal"])
def test_every_operation_with_a_body_refuses_deep_nesting_before_parsing_it(
    district: Known, wsgi: Any, username: str
) -> None:
    """Real ids in the path, so the body is what is judged: 400 ``malformed_request`` — or, for a caller who may
    not act there, the 403/404 that comes before any judgement of the body. Never a 500."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi)
    token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username=username))
    client, answers, multipart_only = Client(HTTP_AUTHORIZATION=f"Token {token.key}"), {}, set()
    for operation in (result.ok() for result in schema.get_all_operations()):
        if not operation.body:
            continue
        if all(body.media_type != "application/json" for body in operation.body):
            multipart_only.add(operation.label)  # an upload: JSON is refused by its media type, unread (415)
        paths = [operation.path]
        for parameter in operation.path_parameters:
            choices = (district.path_choices(operation.path, parameter.name) or ["x"])[:10]
            paths = [path.replace("{" + parameter.name + "}", choice) for path in paths for choice in choices]
        for body in DEEP_BODIES:
            for path in paths:  # the first id the caller may see, so the body is what is judged
                response = getattr(client, operation.method.lower())(path, data=body, content_type="application/json")
                answers[f"{operation.label}"] = (response.status_code, response.json().get("code"))
                if response.status_code != 404:
                    break
    malformed = {label for label, answer in answers.items() if answer == (400, "malformed_request")}
    unsupported = {label: answers.pop(label) for label in multipart_only}
    assert multipart_only and set(unsupported.values()) == {(415, "unsupported_media_type")}, unsupported
    assert all(status in (400, 403, 404) for status, _ in answers.values()), answers
    assert len(malformed) >= len(answers) // 2, answers
