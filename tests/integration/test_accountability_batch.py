"""倒查追责 in a batch: ``findings_for`` many hazards equals each hazard judged alone (the log, the inspection's
kind, the school's self-checks and the staff directory read afresh for each), in a bounded number of queries."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from uuid import UUID

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.generate import generate
from domain.accountability import Finding, SelfCheck, findings
from domain.application import SafetyApplication
from projections.accountability import findings_for, thresholds
from projections.directory import DisplayNames, StaffDirectoryView
from projections.hazard.rows import HazardLedger
from projections.inspections import InspectionView
from projections.runner import catch_up


def judged_alone(app: SafetyApplication, hazard: HazardLedger, now: datetime) -> list[Finding]:
    """One hazard's findings with nothing shared or remembered between hazards or lookups."""
    kind = InspectionView.objects.filter(id=hazard.inspection).values_list("kind", flat=True).first()
    return findings(
        app.hazard_events(hazard.id),
        at=now,
        known_at=now,
        directory=StaffDirectoryView(),
        inspection_kind=kind,
        self_checks=self_checks(app, hazard),
        thresholds=thresholds(),
        names=DisplayNames(),
    )


def self_checks(app: SafetyApplication, hazard: HazardLedger) -> list[SelfCheck]:
    inspections = InspectionView.objects.filter(campaign=hazard.campaign, school=hazard.school, kind="self")
    return [
        SelfCheck(i.id, tuple(i.inspectors), e.item, e.result, e.occurred_at, e.timestamp)
        for i in inspections
        for e in app.events.get(i.id)
        if type(e).__name__ == "ItemAssessed"
    ]


@pytest.fixture
def history(app: SafetyApplication) -> datetime:
    """A generated history of a few schools (self, onsite and joint inspections; hazards in every state)."""
    generate(app, 1500, seed=5, schools=3, batch=200)
    catch_up(app, batch_size=500)
    return timezone.now()  # the events' record times are when they were saved: all of them are known now


def test_findings_of_many_hazards_equal_each_hazard_judged_alone(app: SafetyApplication, history: datetime) -> None:
    hazards = list(HazardLedger.objects.order_by("school", "number", "id"))

    batch = findings_for(app, hazards, history, history)

    assert list(batch) == [h.id for h in hazards]
    assert batch == {h.id: judged_alone(app, h, history) for h in hazards}
    codes = Counter(f.code for found in batch.values() for f in found)
    assert {"R1_OVERDUE_UNRECTIFIED", "R4_SELF_CHECK_MISSED"} <= set(codes), codes


def test_findings_of_a_schools_hazards_take_a_few_queries_however_many_hazards(
    app: SafetyApplication, history: datetime
) -> None:
    school, campaign = HazardLedger.objects.values_list("school", "campaign").first()
    hazards = list(HazardLedger.objects.filter(school=school, campaign=campaign))
    assert len(hazards) >= 5

    with CaptureQueriesContext(connection) as queries:
        found = findings_for(app, hazards, history, history)

    assert any(found.values())
    # the inspections' kinds, the school's self-inspections, the staff intervals, the names of the units and
    # people (+ one for anyone unforeseen)
    assert len(queries) <= 6, [q["sql"] for q in queries]


def test_a_hazard_of_another_school_is_judged_by_its_own_schools_self_checks(
    app: SafetyApplication, history: datetime
) -> None:
    by_school: dict[UUID, HazardLedger] = {}
    for hazard in HazardLedger.objects.exclude(item="").order_by("number"):
        by_school.setdefault(hazard.school, hazard)
    hazards = list(by_school.values())
    assert len(hazards) >= 2

    assert findings_for(app, hazards, history, history) == {h.id: judged_alone(app, h, history) for h in hazards}
