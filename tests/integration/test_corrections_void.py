"""作废: a hazard entered by mistake is voided by the 校长 or the bureau — kept in the log and the dossier, out of
every count and list from the moment the void is known."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.utils import timezone

from api.demo import World
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.timerules import business_date
from projections.runner import catch_up

from apihelpers import API, HAZARD_COMMANDS, ok, post, refused

Client = Any


@pytest.fixture
def mistake(app: SafetyApplication, world: World) -> str:
    """红梅实验小学's staff record on one day a hazard "found" eleven days earlier — at the wrong school."""
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,  # type: ignore[arg-type]
        school=world.units["hongmei_school"],
        description="食堂燃气报警器失效（应为青龙中学）",
        severity=Severity.GENERAL,
        occurred_at=timezone.now() - timedelta(days=11),
    )
    catch_up(app)
    return str(hazard.id)


def void(client: Client, hazard: str, reason: str = "误录：不是本校的隐患") -> Any:
    return client.post(f"{API}hazards/{hazard}/void/", {"reason": reason}, format="json")


def report(client: Client, name: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}reports/{name}/", {"format": "json", **{k: str(v) for k, v in params.items()}})
    assert response.status_code == 200, response.content.decode(errors="replace")[:500]
    return json.loads(response.content)


def hongmei_counts(client: Client, world: World) -> list[Any]:
    data = report(client, "changzhou-district-summary", campaign=world.campaign, as_of=timezone.now().isoformat())
    row = next(r for r in data["tables"][0]["rows"] if r[2] == "红梅实验小学")
    return list(row[5:7])


def test_the_principal_voids_a_mistaken_hazard_and_it_leaves_the_counts_and_the_list(
    world: World, user: Client, mistake: str
) -> None:
    bureau, principal = user("tn_inspector"), user("hm_principal")
    assert hongmei_counts(bureau, world) == [1, 0]

    voided = ok(void(principal, mistake))

    assert voided["voided"] is True and voided["void_reason"] == "误录：不是本校的隐患"
    assert hongmei_counts(bureau, world) == [0, 0]  # the report made after the void does not count it
    listed = ok(bureau.get(f"{API}hazards/"))["results"]
    assert mistake not in {h["id"] for h in listed}
    only_voided = ok(bureau.get(f"{API}hazards/", {"voided": "true"}))["results"]
    assert [h["id"] for h in only_voided] == [mistake]
    assert mistake in {h["id"] for h in ok(bureau.get(f"{API}hazards/", {"voided": "all"}))["results"]}
    assert ok(bureau.get(f"{API}hazards/{mistake}/"))["voided"] is True  # still there, read as voided
    history = ok(bureau.get(f"{API}hazards/{mistake}/history/"))
    assert history[-1]["type"] == "voided" and history[-1]["data"]["reason"] == "误录：不是本校的隐患"
    ledger = report(bureau, "school-ledger", school=world.units["hongmei_school"], as_of=timezone.now().isoformat())
    assert "食堂燃气报警器失效" not in json.dumps(ledger, ensure_ascii=False)


def test_the_dossier_keeps_the_voided_hazard_with_its_reason(world: World, user: Client, mistake: str) -> None:
    ok(void(user("tn_leader"), mistake, "重复登记"))

    dossier = report(user("auditor"), "hazard-dossier", hazard=mistake, as_of=timezone.now().isoformat())

    summary, events = dossier["tables"][0]["rows"][0], dossier["tables"][1]["rows"]
    assert "已作废：重复登记" in summary[6]
    assert events[-1][1] == "作废" and events[-1][5] == "作废原因：重复登记"


def test_ownership_counts_a_voided_hazard_only_as_known_before_the_void(
    app: SafetyApplication, world: World, user: Client, mistake: str
) -> None:
    principal = world.actor("hm_principal")
    app.assign_hazard(
        UUID(mistake),
        actor=principal,
        owner="hm_staff",
        owner_unit=world.units["hongmei_school"],
        deadline=business_date(timezone.now()) + timedelta(days=10),
        occurred_at=timezone.now() - timedelta(days=10),
    )
    catch_up(app)
    before_void = timezone.now()
    ok(void(user("hm_principal"), mistake))
    bureau = user("tn_inspector")

    def owned(**params: str) -> set[str]:
        return {item["hazard"] for item in ok(bureau.get(f"{API}ownership/", params))["results"]}

    assert mistake in owned(known_at=before_void.isoformat())  # what a report sent then said stays reproducible
    assert mistake not in owned()
    assert mistake not in owned(at=(timezone.now() - timedelta(days=5)).isoformat())  # a void corrects the past too


def test_a_voided_hazard_takes_no_further_command(world: World, user: Client, mistake: str) -> None:
    ok(void(user("hm_principal"), mistake))
    leader, admin = user("tn_leader"), user("admin")
    for name in HAZARD_COMMANDS:
        response = admin.post(f"{API}hazards/{mistake}/{name}/", {"reason": "再试", "note": "x"}, format="json")
        assert response.status_code in (400, 409), (name, response.content)
    refused(leader.post(f"{API}hazards/{mistake}/supervise/", {"note": "督办"}, format="json"), 409, "hazard_voided")
    refused(leader.post(f"{API}hazards/{mistake}/reopen/", {"reason": "复发"}, format="json"), 409, "hazard_voided")
    refused(void(leader, mistake, "再次作废"), 409, "hazard_voided")


def test_void_refusals_come_in_order_and_record_nothing(
    app: SafetyApplication, world: World, user: Client, anonymous: Client, mistake: str
) -> None:
    events = app.recorder.max_notification_id()
    refused(void(anonymous, mistake), 401, "not_authenticated")
    refused(void(user("hm_staff"), mistake, ""), 403, "role_not_permitted")  # staff may not, whatever the body
    refused(void(user("hm_officer"), mistake), 403, "role_not_permitted")
    refused(void(user("auditor"), mistake), 403, "read_only_role")
    refused(void(user("ql_principal"), mistake), 404, "hazard_not_found")  # another school's 校长
    refused(void(user("hm_principal"), mistake, "   "), 400, "invalid")
    assert app.recorder.max_notification_id() == events


def test_a_voided_hazard_fires_no_finding_after_its_void(app: SafetyApplication, world: World, user: Client) -> None:
    """Overdue since three days before the void: R1 ran from the deadline to the void, and stops there."""
    start = timezone.now() - timedelta(days=20)
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,  # type: ignore[arg-type]
        school=world.units["hongmei_school"],
        description="围墙局部破损",
        severity=Severity.GENERAL,
        occurred_at=start,
    ).id
    deadline = business_date(start) + timedelta(days=5)
    app.assign_hazard(
        hazard,
        actor=world.actor("hm_principal"),
        owner="hm_staff",
        owner_unit=world.units["hongmei_school"],
        deadline=deadline,
        occurred_at=start + timedelta(hours=1),
    )
    catch_up(app)
    voided_at = start + timedelta(days=9)
    post(user("tn_inspector"), f"hazards/{hazard}/void/", {"reason": "重复登记", "occurred_at": voided_at.isoformat()})

    findings = ok(user("tn_inspector").get(f"{API}hazards/{hazard}/accountability/"))

    (overdue,) = [f for f in findings if f["code"].startswith("R1")]
    assert overdue["to"] is not None and overdue["to"].startswith(business_date(voided_at).isoformat())
    assert "作废" in overdue["summary"]
