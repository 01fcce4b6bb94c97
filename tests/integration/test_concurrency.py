"""Concurrent saves of one aggregate: one wins, the other gets version_conflict, no event is lost."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from api.demo import World
from domain.application import SafetyApplication
from domain.errors import VersionConflict
from domain.hazard.aggregate import Hazard, Severity


@pytest.mark.django_db(transaction=True)  # the two threads have their own connections: the world is committed
def test_two_concurrent_saves_of_one_hazard_one_wins_one_conflicts(app: SafetyApplication, world: World) -> None:
    start = timezone.now() - timedelta(hours=3)
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,
        school=world.units["hongmei_school"],  # type: ignore[arg-type]
        description="楼梯扶手松动",
        severity=Severity.GENERAL,
        occurred_at=start,
    )
    principal, inspector = world.actor("hm_principal"), world.actor("tn_inspector")
    first: Hazard = app.repository.get(hazard.id)
    second: Hazard = app.repository.get(hazard.id)
    first.record_interim_measures(measures="设置警示标志", actor=principal, occurred_at=start + timedelta(hours=1))
    second.escalate(
        to_unit=world.units["district_bureau"],
        reason="需区里协调",
        actor=inspector,
        occurred_at=start + timedelta(hours=1),
    )
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def save(name: str, aggregate: Hazard) -> None:
        barrier.wait()
        try:
            app._save(aggregate)
            outcomes[name] = "saved"
        except VersionConflict as conflict:
            outcomes[name] = conflict.code

    threads = [threading.Thread(target=save, args=args) for args in (("interim", first), ("escalate", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["saved", "version_conflict"]
    events = app.hazard_events(hazard.id)
    assert [e.originator_version for e in events] == [1, 2]
    winner = "interim" if outcomes["interim"] == "saved" else "escalate"
    assert type(events[1]).__name__ == {"interim": "InterimMeasuresRecorded", "escalate": "Escalated"}[winner]


def test_stale_expected_version_is_refused_and_records_nothing(app: SafetyApplication, world: World) -> None:
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,
        school=world.units["hongmei_school"],  # type: ignore[arg-type]
        description="灭火器过期",
        severity=Severity.GENERAL,
    )
    app.record_interim_measures(
        hazard.id, actor=world.actor("hm_principal"), measures="借用备用灭火器", expected_version=1
    )
    try:
        app.record_interim_measures(
            hazard.id, actor=world.actor("hm_principal"), measures="再次记录", expected_version=1
        )
        raise AssertionError("a stale expected_version must be refused")
    except VersionConflict as conflict:
        assert conflict.code == "version_conflict"
    assert len(app.hazard_events(hazard.id)) == 2
