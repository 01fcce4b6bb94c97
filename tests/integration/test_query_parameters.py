"""A schema that tells: every filter documented, a query parameter nobody declared refused (never ignored)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from api.common import DeclaredQuery
from domain.application import SafetyApplication
from projections.hazard.rows import HazardLedger
from reports.registry import load_all

from apihelpers import API, ok, refused

Client = Any


@pytest.fixture
def demo(app: SafetyApplication) -> None:
    call_command("load_demo")


def hazard_ids(response: Any) -> set[str]:
    return {row["id"] for row in ok(response)["results"]}


def test_supervised_filter_lists_only_supervised_hazards(demo: None, client_for: Client) -> None:
    bureau = client_for("tn_inspector")
    supervised = {str(pk) for pk in HazardLedger.objects.filter(supervised=True).values_list("id", flat=True)}
    assert supervised and HazardLedger.objects.filter(supervised=False).exists()

    assert hazard_ids(bureau.get(f"{API}hazards/", {"supervised": "true"})) == supervised
    assert hazard_ids(bureau.get(f"{API}hazards/", {"supervised": "false"})).isdisjoint(supervised)


def test_escalated_filter_and_discovered_between(demo: None, client_for: Client) -> None:
    bureau = client_for("tn_inspector")
    escalated = {str(pk) for pk in HazardLedger.objects.filter(escalated=True).values_list("id", flat=True)}
    assert hazard_ids(bureau.get(f"{API}hazards/", {"escalated": "true"})) == escalated

    first = HazardLedger.objects.order_by("discovered_at").first()
    assert first is not None
    after = {
        str(pk)
        for pk in HazardLedger.objects.filter(discovered_at__gt=first.discovered_at).values_list("id", flat=True)
    }
    moment = (first.discovered_at + timedelta(microseconds=1)).isoformat()
    assert hazard_ids(bureau.get(f"{API}hazards/", {"discovered_after": moment})) == after
    assert hazard_ids(bureau.get(f"{API}hazards/", {"discovered_before": moment})) == {str(first.id)}
    day = timezone.localdate(first.discovered_at).isoformat()  # a date: the whole of that day, both ends
    on_that_day = hazard_ids(bureau.get(f"{API}hazards/", {"discovered_after": day, "discovered_before": day}))
    assert str(first.id) in on_that_day
    refused(bureau.get(f"{API}hazards/", {"discovered_after": "0001-01-01"}), 400, "invalid", "discovered_after")


@pytest.mark.parametrize("path", ["hazards/", "ownership/", "reports/suzhou-summary/", "accountability/"])
def test_an_unknown_query_parameter_is_refused_and_named(demo: None, client_for: Client, path: str) -> None:
    body = refused(client_for("tn_inspector").get(f"{API}{path}", {"nonsense": "1"}), 400, "unknown_parameter")
    assert "nonsense" in body["detail"]


def test_paging_and_format_are_always_allowed(demo: None, client_for: Client) -> None:
    bureau = client_for("tn_inspector")
    page = ok(bureau.get(f"{API}hazards/", {"limit": 2, "offset": 1, "format": "json", "supervised": "true"}))
    assert len(page["results"]) <= 2
    ok(bureau.get(f"{API}ownership/", {"limit": 1, "offset": 0, "overdue": "true", "known_at": timezone.now()}))
    assert bureau.head(f"{API}ownership/", {"at": timezone.now().isoformat()}).status_code == 200
    campaign = HazardLedger.objects.values_list("campaign", flat=True).first()
    ok(bureau.get(f"{API}reports/suzhou-summary/", {"format": "json", "campaign": campaign}))


def test_the_schema_lists_the_hazard_filters_and_the_report_names(world: Any, client_for: Client) -> None:
    schema = ok(client_for("tn_inspector").get(f"{API}schema/", {"format": "json"}))
    hazard_parameters = {p["name"] for p in schema["paths"]["/api/v1/hazards/"]["get"]["parameters"]}
    assert {
        "status", "severity", "school", "campaign", "owner", "overdue",
        "supervised", "escalated", "discovered_after", "discovered_before", "voided",
    } <= hazard_parameters  # fmt: skip
    ownership_parameters = {p["name"] for p in schema["paths"]["/api/v1/ownership/"]["get"]["parameters"]}
    assert {"at", "known_at", "school", "campaign", "overdue"} <= ownership_parameters
    (name,) = [p for p in schema["paths"]["/api/v1/reports/{name}/"]["get"]["parameters"] if p["name"] == "name"]
    assert set(name["schema"]["enum"]) == set(load_all()) and "suzhou-summary" in name["schema"]["enum"]


def _top_level_names(patterns: list[Any], prefix: str = "") -> set[str]:
    """Names of the API's URL patterns whose path takes no argument."""
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) == "api/v1/":
                names |= _top_level_names(pattern.url_patterns, "api/v1/")
        elif isinstance(pattern, URLPattern) and prefix and pattern.name and "<" not in str(pattern.pattern):
            names.add(pattern.name)
    return names - {"api-root"}


def test_the_api_root_links_every_top_level_endpoint_and_every_report(anonymous: Client) -> None:
    links = ok(anonymous.get(API))["links"]
    expected = _top_level_names(get_resolver().url_patterns)
    assert {"ownership", "accountability", "submissions", "notifications", "audit-verify"} <= expected
    assert expected <= set(links)
    reports = {url for url in links.values() if "/reports/" in url}
    assert {url.split("/reports/")[1].strip("/") for url in reports} == set(load_all())


def _api_views(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(route, view class) of every DRF view under /api/v1/."""
    found: list[tuple[str, Any]] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = prefix + str(pattern.pattern)
            if inner.startswith("api/v1/") or "api/v1/".startswith(inner):
                found += _api_views(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and prefix.startswith("api/v1/"):
            view = getattr(pattern.callback, "cls", None)
            if view is not None:
                found.append((prefix + str(pattern.pattern), view))
    return found


DOCUMENTATION = {"api/v1/schema/", "api/v1/docs/"}


def test_every_endpoint_that_answers_a_read_refuses_an_undeclared_parameter() -> None:
    """DeclaredQuery on every GET: what a read accepts is exactly what the schema documents."""
    views = _api_views(get_resolver().url_patterns)
    assert len(views) > 30
    # schema/ and docs/ are drf-spectacular's own views: the OpenAPI document and Swagger UI (``?format=``, ``?lang=``).
    readers = [(route, view) for route, view in views if hasattr(view, "get") and route not in DOCUMENTATION]
    undeclared = [route for route, view in readers if not issubclass(view, DeclaredQuery)]
    assert undeclared == []


def test_every_operation_has_a_chinese_summary(world: Any, client_for: Client) -> None:
    schema = ok(client_for("tn_inspector").get(f"{API}schema/", {"format": "json"}))
    missing = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if not re.search(r"[\u4e00-\u9fff]", operation.get("summary", ""))
    ]
    assert missing == []
