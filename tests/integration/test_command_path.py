"""The work one command does on its way through HTTP (issue 8): bounded queries, one catch-up transaction,
nothing done twice when another request's catch-up already applied the command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api.demo import World
from projections.hazard.rows import HazardLedger
from projections.runner import POSITION_NAME

from apihelpers import assigned_hazard

Client = Callable[[str], APIClient]


def _locks(queries: list[dict[str, Any]]) -> int:
    """Transactions that took the read models' position row (the catch-up passes)."""
    return sum(1 for q in queries if f"'{POSITION_NAME}'" in q["sql"] and "FOR UPDATE" in q["sql"].upper())


def test_a_command_catches_up_in_one_locked_pass_and_answers_without_rereading(
    world: World, client_for: Client, past: Callable[[float], str]
) -> None:
    hid = assigned_hazard(client_for, world, past)
    principal = client_for("hm_principal")
    principal.get("/api/v1/hazards/")  # the login's first request is not the one measured

    with CaptureQueriesContext(connection) as queries:
        answer = principal.post(f"/api/v1/hazards/{hid}/progress/", {"note": "进行中", "percent": 40}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["version"] == 3 and body["number"] == HazardLedger.objects.get(id=hid).number
    assert HazardLedger.objects.get(id=hid).progress == 40  # read-your-writes: the ledger has it already
    captured = queries.captured_queries
    assert _locks(captured) == (0 if connection.vendor == "sqlite" else 1), [q["sql"] for q in captured]
    # the ledger row is read twice at most (scope check, projector), never again for the answer
    ledger_reads = [q for q in captured if q["sql"].startswith("SELECT") and "projections_hazardledger" in q["sql"]]
    assert len(ledger_reads) <= 2, [q["sql"][:120] for q in ledger_reads]
    assert len(captured) <= 20, [q["sql"][:120] for q in captured]
