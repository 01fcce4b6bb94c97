"""Small HTTP helpers shared by the integration tests."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

API = "/api/v1/"
HAZARD_COMMANDS = (
    "assign", "transfer", "plan", "interim-measures", "progress", "extend",
    "escalate", "supervise", "rectify", "verify", "reopen",
)


def ok(response: Any, status: int = 200) -> Any:
    """The response has this status; its JSON body."""
    assert response.status_code == status, response.content.decode()[:500]
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is a JSON error with this status and code (and, for 400 ``invalid``, names ``field``)."""
    assert response.status_code == status, response.content.decode()[:500]
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body.get("detail"), body
    if field is not None:
        assert field in body.get("errors", {}) or body.get("field") == field, body
    return body


def post(client: APIClient, path: str, body: dict[str, Any], status: int = 200) -> Any:
    return ok(client.post(API + path, body, format="json"), status)
