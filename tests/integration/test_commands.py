"""Management commands: load_demo fills an empty store with every status; rebuild restores the read models."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from domain.application import SafetyApplication
from projections.models import HazardLedger, StaffView, UnitView


def test_load_demo_builds_the_demo_district_with_hazards_in_every_status(app: SafetyApplication) -> None:
    call_command("load_demo")

    assert UnitView.objects.filter(kind="school").count() == 3
    assert UnitView.objects.filter(kind="police_station").count() == 2
    assert {s.role for s in StaffView.objects.all()} >= {
        "school_staff",
        "school_principal",
        "station_officer",
        "station_chief",
        "edu_inspector",
        "edu_leader",
        "police_officer",
        "auditor",
    }
    ledger = HazardLedger.objects.all()
    assert {h.status for h in ledger} == {"reported", "assigned", "rectified", "closed"}
    assert any(h.overdue for h in ledger) and any(h.supervised for h in ledger) and any(h.escalated for h in ledger)
    assert any(h.rectified_on_spot for h in ledger)
    events = {
        type(app.mapper.to_domain_event(n)).__name__ for n in app.recorder.select_notifications(start=1, limit=10_000)
    }
    assert {"Transferred", "Reopened", "Rejected", "DeadlineMissed", "DeadlineExtended"} <= events


def test_load_demo_refuses_a_store_that_already_holds_events(app: SafetyApplication) -> None:
    call_command("load_demo")
    before = app.recorder.max_notification_id()

    with pytest.raises(CommandError, match="事件日志中已有数据"):
        call_command("load_demo")

    assert app.recorder.max_notification_id() == before


def test_rebuild_projections_restores_emptied_read_models(app: SafetyApplication) -> None:
    call_command("load_demo")
    expected = sorted(HazardLedger.objects.values_list("number", "status", "owner", "version"))
    HazardLedger.objects.all().delete()

    call_command("rebuild_projections")

    assert sorted(HazardLedger.objects.values_list("number", "status", "owner", "version")) == expected


def test_rebuild_projections_refuses_a_batch_size_below_one(app: SafetyApplication) -> None:
    with pytest.raises(CommandError):
        call_command("rebuild_projections", batch_size=0)
