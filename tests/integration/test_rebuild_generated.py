"""The bulk projectors over the benchmark's generated history: a rebuild in large batches yields exactly the rows
that tiny batches (hazards and inspections split across batches, rows reloaded each time) produced."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.db import models
from django.utils import timezone

from benchmarks.generate import Generator
from domain.application import SafetyApplication
from projections.runner import PROJECTORS, catch_up


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row without surrogate keys, in a stable order."""
    rows = {}
    for model in {m for projector in PROJECTORS for m in projector.models}:
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if not (f.primary_key and f.attname == "id" and isinstance(f, models.AutoField))
        ]
        rows[model.__name__] = sorted(model.objects.values_list(*fields), key=repr)
    return rows


def test_rebuild_in_large_batches_equals_projection_in_small_ones(app: SafetyApplication) -> None:
    generator = Generator(app, seed=11, now=timezone.now(), batch=50)
    generator.directory(schools=3)
    generator.inspections()
    while generator.history.events < 2500:
        generator.hazard()
    generator.flush()
    catch_up(app, batch_size=7)  # hazards and inspections cut across batches
    small = snapshot()
    assert len(small["HazardVersion"]) > 1500 and len(small["AssessmentView"]) > 50
    assert {"deadline_missed", "escalated", "supervised"} <= {row[3] for row in small["NotificationView"]}

    call_command("rebuild_projections", batch_size=1000)

    assert snapshot() == small


def test_one_event_per_batch_matches_one_batch(app: SafetyApplication) -> None:
    generator = Generator(app, seed=12, now=timezone.now(), batch=1)
    generator.directory(schools=2)
    generator.inspections()
    while generator.history.events < 1200:
        generator.hazard()
    generator.flush()
    catch_up(app, batch_size=1)  # as in embedded mode: every event in its own batch
    split = snapshot()

    call_command("rebuild_projections", batch_size=5000)

    assert snapshot() == split
