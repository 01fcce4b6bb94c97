"""Who owned what at T, as the system knew it at R — over HTTP, around transfers, principal changes, late entries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from api.demo import World
from domain.application import SafetyApplication
from domain.directory.aggregate import staff_id
from domain.policy import Role

from apihelpers import API, ok, post

Client = Any


def iso(moment: datetime) -> str:
    return moment.isoformat()


def just_before(recorded_at: str) -> str:
    return iso(datetime.fromisoformat(recorded_at) - timedelta(microseconds=1))


def history(client: APIClient, hazard: str) -> list[dict[str, Any]]:
    return ok(client.get(f"{API}hazards/{hazard}/history/"))  # type: ignore[no-any-return]


def ownership(client: APIClient, **params: str) -> dict[str, dict[str, Any]]:
    return {item["hazard"]: item for item in ok(client.get(f"{API}ownership/", params))["results"]}


def test_a_late_transfer_changes_the_past_only_from_the_moment_it_was_recorded(world: World, user: Client) -> None:
    t0 = timezone.now() - timedelta(days=20)
    school = str(world.units["hongmei_school"])
    principal, inspector = user("hm_principal"), user("tn_inspector")
    hazard = post(
        user("hm_staff"),
        "hazards/",
        {
            "campaign": str(world.campaign),
            "school": school,
            "severity": "general",
            "description": "食堂排烟管道油污",
            "occurred_at": iso(t0),
        },
        201,
    )["id"]
    post(
        principal,
        f"hazards/{hazard}/assign/",
        {
            "owner": "hm_staff",
            "owner_unit": school,
            "deadline": "2099-01-01",
            "occurred_at": iso(t0 + timedelta(days=1)),
        },
    )
    # Recorded today, but it happened on day 10 (a late entry).
    post(
        principal,
        f"hazards/{hazard}/transfer/",
        {"owner": "hm_staff2", "owner_unit": school, "reason": "后勤负责", "occurred_at": iso(t0 + timedelta(days=10))},
    )
    transfer_recorded = history(principal, hazard)[2]["recorded_at"]
    day = lambda n: iso(t0 + timedelta(days=n))  # noqa: E731

    # What the system shows now about day 12: the transferee; about day 5: the first owner.
    assert ownership(inspector, at=day(12))[hazard]["owner"] == "hm_staff2"
    assert ownership(inspector, at=day(5))[hazard]["owner"] == "hm_staff"
    # What it showed just before the transfer was recorded, about day 12: still the first owner.
    before = ownership(inspector, at=day(12), known_at=just_before(transfer_recorded))[hazard]
    assert before["owner"] == "hm_staff"
    assert datetime.fromisoformat(before["owner_since"]) == t0 + timedelta(days=1)  # an instant, in any offset
    # Before discovery, or before it was recorded at all, the hazard is not in the answer.
    assert hazard not in ownership(inspector, at=iso(t0 - timedelta(hours=1)))
    assert hazard not in ownership(inspector, at=day(5), known_at=iso(t0))

    owners_now = ok(inspector.get(f"{API}hazards/{hazard}/owners/"))
    instant = lambda text: text and datetime.fromisoformat(text)  # noqa: E731  (shown in Shanghai time)
    assert [(o["owner"], instant(o["from"]), instant(o["to"])) for o in owners_now] == [
        ("hm_staff", t0 + timedelta(days=1), t0 + timedelta(days=10)),
        ("hm_staff2", t0 + timedelta(days=10), None),
    ]
    owners_then = ok(inspector.get(f"{API}hazards/{hazard}/owners/", {"known_at": just_before(transfer_recorded)}))
    assert [(o["owner"], o["to"]) for o in owners_then] == [("hm_staff", None)]


def test_overdue_at_t_is_what_the_log_says_at_t(app: SafetyApplication, world: World, user: Client) -> None:
    t0 = timezone.now() - timedelta(days=20)
    school = str(world.units["hongmei_school"])
    principal = user("hm_principal")
    hazard = post(
        user("hm_staff"),
        "hazards/",
        {
            "campaign": str(world.campaign),
            "school": school,
            "severity": "general",
            "description": "围墙护栏松动",
            "occurred_at": iso(t0),
        },
        201,
    )["id"]
    deadline = (t0 + timedelta(days=5)).astimezone(timezone.get_current_timezone()).date()
    post(
        principal,
        f"hazards/{hazard}/assign/",
        {
            "owner": "hm_staff",
            "owner_unit": school,
            "deadline": deadline.isoformat(),
            "occurred_at": iso(t0 + timedelta(hours=1)),
        },
    )
    from api.deadlines import record_due_misses

    record_due_misses(app)
    inspector = user("tn_inspector")

    on_time = ownership(inspector, at=iso(t0 + timedelta(days=3)))[hazard]
    late = ownership(inspector, at=iso(t0 + timedelta(days=8)))[hazard]
    assert (on_time["overdue"], late["overdue"]) == (False, True)
    assert set(ownership(inspector, at=iso(t0 + timedelta(days=8)), overdue="true")) == {hazard}
    assert hazard not in ownership(inspector, at=iso(t0 + timedelta(days=3)), overdue="true")


def test_who_was_principal_then_as_known_then(app: SafetyApplication, world: World, user: Client) -> None:
    admin, school = user("admin"), str(world.units["hongmei_school"])
    principal_change = timezone.now() - timedelta(days=5)
    post(
        admin,
        "users/hm_principal/role/",
        {
            "unit": str(world.units["district_bureau"]),
            "role": Role.EDU_INSPECTOR.value,
            "effective_from": iso(principal_change),
        },
    )
    post(
        admin,
        "users/hm_staff2/role/",
        {"unit": school, "role": Role.SCHOOL_PRINCIPAL.value, "effective_from": iso(principal_change)},
    )
    change_recorded = list(app.events.get(staff_id("hm_principal")))[1].timestamp

    def principals(**params: str) -> list[str]:
        staff = ok(user("tn_inspector").get(f"{API}units/{school}/staff/", params))
        return [s["username"] for s in staff if s["role"] == "school_principal"]

    a_week_ago = iso(timezone.now() - timedelta(days=7))
    assert principals(at=a_week_ago) == ["hm_principal"]
    assert principals() == ["hm_staff2"]
    # As the directory knew it just before the change was recorded, today's 校长 was still 王校长.
    assert principals(known_at=iso(change_recorded - timedelta(microseconds=1))) == ["hm_principal"]
