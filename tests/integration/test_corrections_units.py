"""A unit's name, district or 属地派出所 changes from a business time on: reports of an earlier moment show what held
then; who sees the school follows the change at once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from api.demo import ADMIN, World
from domain.application import SafetyApplication
from domain.directory.aggregate import Unit
from domain.hazard.aggregate import Severity
from projections.hazard.projector import projector as hazard_projector
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up

from apihelpers import API, ok, post, refused

Client = Any


def summary_row(client: Client, world: World, when: Any, school: str) -> list[Any]:
    response = client.get(
        f"{API}reports/changzhou-district-summary/",
        {"format": "json", "campaign": str(world.campaign), "as_of": when.isoformat()},
    )
    assert response.status_code == 200, response.content[:300]
    rows = json.loads(response.content)["tables"][0]["rows"]
    return next(r for r in rows if school in (r[2],))


def test_a_school_whose_station_changes_from_the_first_shows_the_old_station_before_it(
    app: SafetyApplication, world: World, user: Client
) -> None:
    """红梅实验小学 passes from 红梅派出所 to 青龙派出所 five days ago; a summary of six days ago shows 红梅派出所."""
    school, effective = world.units["hongmei_school"], timezone.now() - timedelta(days=5)
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,  # type: ignore[arg-type]
        school=school,
        description="围墙局部破损",
        severity=Severity.GENERAL,
        occurred_at=timezone.now() - timedelta(days=8),
    ).id
    catch_up(app)

    changed = post(
        user("admin"),
        f"units/{school}/change/",
        {"police_station": str(world.units["qinglong_station"]), "effective_from": effective.isoformat()},
    )

    assert changed["police_station"] == str(world.units["qinglong_station"])
    bureau = user("tn_inspector")
    assert summary_row(bureau, world, effective - timedelta(days=1), "红梅实验小学")[1] == "红梅派出所"
    assert summary_row(bureau, world, timezone.now(), "红梅实验小学")[1] == "青龙派出所"
    # who sees the school follows the directory as it is now
    ok(user("ql_chief").get(f"{API}hazards/{hazard}/"))
    refused(user("hm_chief").get(f"{API}hazards/{hazard}/"), 404, "hazard_not_found")


def test_a_renamed_school_keeps_its_old_name_in_a_ledger_of_before(world: World, user: Client) -> None:
    school, effective = world.units["lanling_school"], timezone.now() - timedelta(days=3)
    post(user("admin"), f"units/{school}/change/", {"name": "兰陵实验幼儿园", "effective_from": effective.isoformat()})

    def subtitle(when: Any) -> str:
        response = user("tn_inspector").get(
            f"{API}reports/school-ledger/", {"format": "json", "school": str(school), "as_of": when.isoformat()}
        )
        assert response.status_code == 200, response.content[:300]
        return str(json.loads(response.content)["subtitle"])

    assert subtitle(effective - timedelta(days=1)).startswith("学校：兰陵幼儿园")
    assert subtitle(timezone.now()).startswith("学校：兰陵实验幼儿园")
    assert ok(user("admin").get(f"{API}units/", {"limit": 100}))["results"]  # the directory reads the current name
    assert {r["name"] for r in ok(user("admin").get(f"{API}units/", {"limit": 100}))["results"]} >= {"兰陵实验幼儿园"}


def test_unit_change_refusals_come_in_order_and_record_nothing(
    app: SafetyApplication, world: World, user: Client, anonymous: Client
) -> None:
    school = world.units["hongmei_school"]
    when = timezone.now().isoformat()
    events = app.recorder.max_notification_id()
    body = {"name": "新名称", "effective_from": when}
    refused(anonymous.post(f"{API}units/{school}/change/", body, format="json"), 401, "not_authenticated")
    refused(user("tn_leader").post(f"{API}units/{school}/change/", body, format="json"), 403, "role_not_permitted")
    admin = user("admin")
    refused(
        admin.post(f"{API}units/{'0' * 8}-0000-0000-0000-{'0' * 12}/change/", body, format="json"),
        404,
        "unit_not_found",
    )
    refused(admin.post(f"{API}units/{school}/change/", {"name": "新名称"}, format="json"), 400, "invalid")
    refused(admin.post(f"{API}units/{school}/change/", {"effective_from": when}, format="json"), 400, "invalid_value")
    station = {"police_station": str(world.units["district_bureau"]), "effective_from": when}
    refused(admin.post(f"{API}units/{school}/change/", station, format="json"), 400, "invalid_value")
    assert app.recorder.max_notification_id() == events

    post(admin, f"units/{school}/change/", body)
    earlier = {"district": "钟楼区", "effective_from": (timezone.now() - timedelta(days=1)).isoformat()}
    refused(admin.post(f"{API}units/{school}/change/", earlier, format="json"), 400, "effective_from_out_of_order")


def test_the_unit_history_is_the_same_after_a_rebuild(app: SafetyApplication, world: World, user: Client) -> None:
    from django.core.management import call_command

    from projections.directory import UnitVersion  # new with unit changes

    admin, school = user("admin"), world.units["qinglong_school"]
    post(admin, f"units/{school}/change/", {"name": "青龙实验中学", "effective_from": timezone.now().isoformat()})
    fields = (
        "unit",
        "version",
        "name",
        "district",
        "police_station",
        "valid_from",
        "recorded_at",
        "next_valid",
        "next_recorded",
    )
    before = sorted(UnitVersion.objects.values_list(*fields), key=repr)
    assert len(before) == len(world.units) + 1

    call_command("rebuild_projections", batch_size=7)

    assert sorted(UnitVersion.objects.values_list(*fields), key=repr) == before


def test_a_school_that_moves_takes_its_hazards_along_and_an_older_change_projected_again_changes_nothing(
    app: SafetyApplication, world: World
) -> None:
    """The ledger keeps its copy of the school's district and 属地派出所 (the hazard projector writes it): after two
    changes the hazard's row shows the second; the first projected again leaves it so."""
    school, station = world.units["hongmei_school"], world.units["qinglong_station"]
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,  # type: ignore[arg-type]
        school=school,
        description="消防通道堆放杂物",
        severity=Severity.GENERAL,
        occurred_at=timezone.now() - timedelta(days=4),
    ).id
    catch_up(app)

    app.change_unit(school, actor=ADMIN, police_station=station, effective_from=timezone.now() - timedelta(days=2))
    app.change_unit(school, actor=ADMIN, district="钟楼区", effective_from=timezone.now() - timedelta(days=1))
    catch_up(app)

    row = HazardLedger.objects.get(id=hazard)
    assert (row.district, row.police_station) == ("钟楼区", station)
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10_000)]
    changes = [e for e in events if isinstance(e, Unit.Changed) and e.originator_id == school]
    assert len(changes) == 2
    with transaction.atomic():
        hazard_projector.apply_batch([changes[0]])  # the first change again: the unit is past it
    row = HazardLedger.objects.get(id=hazard)
    assert (row.district, row.police_station) == ("钟楼区", station)
