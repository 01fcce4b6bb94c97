"""Property: ``ownership/`` (an indexed query on the bitemporal history) equals a brute-force replay of the log."""
# ruff: noqa: B023 — each command lambda is called at once, inside the iteration that built it

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.demo import World
from domain.application import SafetyApplication
from domain.errors import DomainError
from domain.hazard.aggregate import Hazard, Severity
from projections.hazard.queries import open_at, owners
from projections.runner import catch_up

pytestmark = pytest.mark.usefixtures("rectify_without_photo")  # rectified through the application: no photo

OWNERS = ("hm_staff", "hm_staff2", "hm_principal")
MOVES = ("assign", "transfer", "extend", "rectify", "accept", "reject", "reopen", "miss", "progress")

operations = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(MOVES), st.integers(1, 30), st.integers(0, 2), st.integers(-3, 9)),
    min_size=1,
    max_size=20,
)
probes = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=6)


def play(
    app: SafetyApplication, world: World, ops: list[tuple[int, str, int, int, int]]
) -> tuple[list[UUID], datetime]:
    """Random commands over three fresh hazards; refusals are part of the mix and record nothing."""
    clock = timezone.now() - timedelta(days=40)
    school = world.units["hongmei_school"]
    principal, leader, inspector = world.actor("hm_principal"), world.actor("tn_leader"), world.actor("tn_inspector")
    hazards = [
        app.discover_hazard(
            actor=inspector,
            campaign=world.campaign,
            school=school,  # type: ignore[arg-type]
            description=f"隐患{i}",
            severity=Severity.GENERAL,
            occurred_at=clock,
        ).id
        for i in range(3)
    ]
    for index, move, hours, who, days in ops:
        clock += timedelta(hours=hours)
        hazard, when = hazards[index], clock
        day: date = (clock + timedelta(days=days)).date()
        commands: dict[str, Any] = {
            "assign": lambda: app.assign_hazard(
                hazard, actor=principal, owner=OWNERS[who], owner_unit=school, deadline=day, occurred_at=when
            ),
            "transfer": lambda: app.transfer_hazard(
                hazard, actor=principal, owner=OWNERS[who], owner_unit=school, reason="调整", occurred_at=when
            ),
            "extend": lambda: app.extend_deadline(
                hazard, actor=leader, new_deadline=day + timedelta(days=5), reason="延期", occurred_at=when
            ),
            "rectify": lambda: app.rectify_hazard(hazard, actor=principal, note="已整改", occurred_at=when),
            "accept": lambda: app.verify_hazard(hazard, actor=inspector, accepted=True, occurred_at=when),
            "reject": lambda: app.verify_hazard(
                hazard, actor=inspector, accepted=False, note="不合格", occurred_at=when
            ),
            "reopen": lambda: app.reopen_hazard(hazard, actor=leader, reason="复发", occurred_at=when),
            "miss": lambda: app.record_due_deadline_miss(hazard, now=when),
            "progress": lambda: app.report_progress(hazard, actor=principal, note="进展", percent=50, occurred_at=when),
        }
        try:
            commands[move]()
        except DomainError:
            pass
    return hazards, clock


def replayed(app: SafetyApplication, hazard: UUID, at: datetime, known_at: datetime) -> Hazard | None:
    """The hazard's state at ``at`` as known at ``known_at``, by replaying its events."""
    events = app.hazard_events(hazard)
    known = [e for e in events if e.timestamp <= known_at and e.occurred_at <= at]  # type: ignore[attr-defined]
    return app.repository.get(hazard, version=len(known)) if known else None  # type: ignore[no-any-return]


def replayed_owners(
    app: SafetyApplication, hazard: UUID, known_at: datetime
) -> list[tuple[str, datetime, datetime | None]]:
    intervals: list[list[Any]] = []
    for event in app.hazard_events(hazard):
        if event.timestamp > known_at:
            break
        owner = getattr(event, "owner", None) if type(event).__name__ in ("Assigned", "Transferred") else None
        if owner is not None and (not intervals or intervals[-1][0] != owner):
            if intervals:
                intervals[-1][2] = event.occurred_at  # type: ignore[attr-defined]
            intervals.append([owner, event.occurred_at, None])  # type: ignore[attr-defined]
    return [tuple(i) for i in intervals]  # type: ignore[misc]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, probes=probes)
def test_ownership_equals_a_brute_force_replay(
    app: SafetyApplication, world: World, ops: list[tuple[int, str, int, int, int]], probes: list[tuple[float, float]]
) -> None:
    hazards, end = play(app, world, ops)
    catch_up(app)
    start = min(e.occurred_at for h in hazards for e in app.hazard_events(h))  # type: ignore[attr-defined]
    recorded = sorted(e.timestamp for h in hazards for e in app.hazard_events(h))

    for at_fraction, known_fraction in probes:
        at = start + (end - start) * at_fraction
        known_at = recorded[int(known_fraction * (len(recorded) - 1))]
        expected = {}
        for hazard in hazards:
            state = replayed(app, hazard, at, known_at)
            if state is not None and state.status != "closed":
                expected[hazard] = (state.owner, state.deadline, state.status.value, state.overdue)
        actual = {
            row.hazard: (row.owner, row.deadline, row.status, row.overdue)
            for row in open_at(at, known_at).filter(hazard__in=hazards)
        }
        assert actual == expected, (at, known_at)
        for hazard in hazards:
            got = [(o["owner"], o["from"], o["to"]) for o in owners(hazard, known_at)]
            assert got == replayed_owners(app, hazard, known_at)
