"""Many aggregates' events in one read: each aggregate's events as ``app.events.get`` gives them."""

from __future__ import annotations

from uuid import uuid4

from django.utils import timezone

from benchmarks.generate import Generator
from domain.application import SafetyApplication
from projections.eventlog import events_of


def test_each_aggregates_events_in_version_order_keyed_as_asked(app: SafetyApplication) -> None:
    generator = Generator(app, seed=3, now=timezone.now(), batch=100)
    generator.directory(schools=2)
    for _ in range(5):
        generator.hazard()
    generator.flush()
    ids = [*{n.originator_id for n in app.recorder.select_notifications(start=1, limit=400)}]
    unknown = uuid4()

    found = events_of(app, [unknown, *reversed(ids), ids[0]])

    assert list(found) == [unknown, *reversed(ids)]
    assert found[unknown] == []
    assert found == {unknown: [], **{i: list(app.events.get(i)) for i in ids}}
    assert events_of(app, []) == {}
