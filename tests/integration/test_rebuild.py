"""A rebuild from the log yields exactly the rows that incremental, in-process projection produced."""
# ruff: noqa: B023 — each move lambda is called at once, inside the iteration that built it

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.management import call_command
from django.db import models
from django.utils import timezone

from api.demo import ADMIN, World
from domain.application import SafetyApplication
from domain.attachments import AttachmentRef
from domain.errors import DomainError
from domain.hazard.aggregate import Severity
from domain.policy import SYSTEM_ACTOR
from domain.timerules import deadline_end
from projections.models import (
    AssessmentView,
    AttachmentUse,
    CampaignView,
    HazardLedger,
    HazardVersion,
    InspectionView,
    StaffInterval,
    StaffView,
    UnitVersion,
    UnitView,
)
from projections.runner import catch_up

READ_MODELS: tuple[type[models.Model], ...] = (
    UnitView,
    UnitVersion,
    StaffView,
    StaffInterval,
    CampaignView,
    InspectionView,
    AssessmentView,
    HazardLedger,
    HazardVersion,
    AttachmentUse,
)


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every read-model row without surrogate keys, in a stable order."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for model in READ_MODELS:
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if not (f.primary_key and f.attname == "id" and isinstance(f, models.AutoField))
        ]
        rows[model.__name__] = sorted(
            (dict(zip(fields, values, strict=True)) for values in model.objects.values_list(*fields)), key=repr
        )
    return rows


def random_history(app: SafetyApplication, world: World, rng: random.Random, commands: int) -> Iterator[None]:
    """Random commands over a handful of hazards; refusals record nothing and are part of the mix."""
    clock = iter(timezone.now() - timedelta(days=25) + timedelta(minutes=20 * i) for i in range(10_000))
    schools = ["hongmei_school", "qinglong_school", "lanling_school"]
    people = {
        "hongmei_school": ["hm_staff", "hm_staff2", "hm_principal"],
        "qinglong_school": ["ql_staff", "ql_principal"],
        "lanling_school": ["lh_principal"],
    }
    principal = {"hongmei_school": "hm_principal", "qinglong_school": "ql_principal", "lanling_school": "lh_principal"}
    hazards: list[tuple[Any, str]] = []
    inspector, leader = world.actor("tn_inspector"), world.actor("tn_leader")

    def later(days: int) -> date:
        return (timezone.now() + timedelta(days=days)).date()

    def photos() -> list[AttachmentRef]:  # references as events record them (the rows they name: not read here)
        return [
            AttachmentRef(UUID(int=rng.getrandbits(128)), "a" * 64, "b" * 64, 1000, "image/jpeg")
            for _ in range(rng.randint(1, 2))
        ]

    for _ in range(commands):
        when = next(clock)
        school = rng.choice(schools)
        if not hazards or rng.random() < 0.15:
            severity = rng.choice(list(Severity))
            hazards.append(
                (
                    app.discover_hazard(
                        actor=inspector,
                        campaign=world.campaign,
                        school=world.units[school],  # type: ignore[arg-type]
                        description=f"隐患{len(hazards)}",
                        item=rng.choice(["CZ-01", "CZ-03", "CZ-05"]),
                        severity=severity,
                        rectified_on_spot=severity is Severity.GENERAL and rng.random() < 0.05,
                        occurred_at=when,
                    ).id,
                    school,
                )
            )
            yield
            continue
        hazard, school = rng.choice(hazards)
        boss = world.actor(principal[school])
        someone = world.actor(rng.choice(people[school]))
        unit = world.units[school]
        moves: list[Callable[[], object]] = [
            lambda: app.assign_hazard(
                hazard,
                actor=boss,
                owner=someone.username,
                owner_unit=unit,
                deadline=later(rng.randint(1, 30)),
                occurred_at=when,
            ),
            lambda: app.transfer_hazard(
                hazard, actor=boss, owner=someone.username, owner_unit=unit, reason="调整", occurred_at=when
            ),
            lambda: app.record_plan(
                hazard,
                actor=boss,
                measures="措施",
                funds="资金",
                deadline=later(40),
                beyond_capacity=rng.random() < 0.3,
                occurred_at=when,
            ),
            lambda: app.record_interim_measures(
                hazard, actor=boss, measures=f"措施{rng.random():.3f}", occurred_at=when, attachments=photos()
            ),
            lambda: app.report_progress(hazard, actor=boss, note="进度", percent=rng.randint(0, 100), occurred_at=when),
            lambda: app.extend_deadline(
                hazard, actor=leader, new_deadline=later(rng.randint(31, 60)), reason="延期", occurred_at=when
            ),
            lambda: app.escalate_hazard(
                hazard, actor=boss, to_unit=world.units["district_bureau"], reason="无力整改", occurred_at=when
            ),
            lambda: app.supervise_hazard(hazard, actor=leader, note="督办", occurred_at=when),
            lambda: app.rectify_hazard(hazard, actor=boss, note="已整改", occurred_at=when, attachments=photos()),
            lambda: app.verify_hazard(
                hazard, actor=inspector, accepted=rng.random() < 0.6, note="验收意见", occurred_at=when
            ),
            lambda: app.reopen_hazard(hazard, actor=leader, reason="复发", occurred_at=when),
            lambda: rng.random() < 0.1 and app.void_hazard(hazard, actor=boss, reason="误录", occurred_at=when),
            lambda: _miss(app, hazard, when),
        ]
        try:
            rng.choice(moves)()
        except DomainError:
            pass
        yield


def corrections(app: SafetyApplication, world: World) -> None:
    """A school renamed and moved to another station from a past day on; the campaign's deadline amended."""
    school, effective = world.units["hongmei_school"], timezone.now() - timedelta(days=3)
    station = world.units["qinglong_station"]
    app.change_unit(school, actor=ADMIN, name="红梅实验学校", police_station=station, effective_from=effective)
    app.change_unit(school, actor=ADMIN, district="钟楼区", effective_from=timezone.now())
    campaign = app.get_campaign(world.campaign)  # type: ignore[arg-type]
    app.amend_campaign(
        campaign.id, actor=world.actor("tn_leader"), report_deadline=campaign.report_deadline + timedelta(days=3)
    )
    catch_up(app)


def _miss(app: SafetyApplication, hazard: Any, when: datetime) -> None:
    deadline = app.get_hazard(hazard).deadline
    if deadline is not None and deadline_end(deadline) >= when:
        app.record_deadline_missed(hazard, actor=SYSTEM_ACTOR, deadline=deadline, occurred_at=when)


def test_rebuild_equals_incremental_projection_over_random_history(app: SafetyApplication, world: World) -> None:
    rng = random.Random(20261123)
    for _ in random_history(app, world, rng, commands=900):
        catch_up(app)  # embedded mode: projected right after each command
    corrections(app, world)
    events = app.recorder.max_notification_id()
    assert events is not None and events >= 300
    incremental = snapshot()
    assert len(incremental["HazardLedger"]) >= 20
    assert {row["status"] for row in incremental["HazardLedger"]} >= {"reported", "assigned", "rectified", "closed"}
    assert any(row["voided"] for row in incremental["HazardLedger"])
    assert {row["event"] for row in incremental["AttachmentUse"]} == {"InterimMeasuresRecorded", "Rectified"}

    call_command("rebuild_projections", batch_size=37)

    assert snapshot() == incremental


def test_replaying_already_applied_events_changes_nothing(app: SafetyApplication, world: World) -> None:
    rng = random.Random(7)
    for _ in random_history(app, world, rng, commands=120):
        pass
    catch_up(app)
    before = snapshot()
    from projections.runner import apply_notifications

    apply_notifications(app, app.recorder.select_notifications(start=1, limit=10_000))  # every event, again

    assert snapshot() == before
