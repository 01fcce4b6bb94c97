"""Which commands an actor may run on a hazard now (domain.hazard.probe): the commands' own rules, tried on copies —
the role, the current owner, the status, 验收 of a major hazard by a bureau, separation of duties — nothing recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.hazard.aggregate import Severity
from domain.hazard.probe import permitted

if TYPE_CHECKING:
    from conftest import World


def allowed(world: World, hazard_id: object, actor: object) -> frozenset[str]:
    return permitted(world.app.get_hazard(hazard_id), actor, world.clock())  # type: ignore[arg-type]


def test_a_reported_hazard_is_assigned_by_a_principal_or_bureau_and_worked_on_by_nobody_yet(world: World) -> None:
    hazard = world.discover()
    assert "assign" in allowed(world, hazard.id, world.principal)
    assert "assign" in allowed(world, hazard.id, world.inspector)
    assert allowed(world, hazard.id, world.staff) == frozenset()  # neither assigner nor owner
    assert "verify" not in allowed(world, hazard.id, world.inspector)  # nothing rectified yet
    assert allowed(world, hazard.id, world.auditor) == frozenset()  # read-only


def test_the_owner_works_on_an_assigned_hazard_and_cannot_accept_their_own_work(world: World) -> None:
    hazard = world.assigned()
    owner = world.staff  # world.assigned() gives it to the staff member
    assert {"plan", "interim-measures", "progress", "rectify"} <= allowed(world, hazard, owner)
    assert "assign" not in allowed(world, hazard, world.principal)  # already assigned: transfer instead
    assert "transfer" in allowed(world, hazard, world.principal)
    assert "rectify" not in allowed(world, hazard, world.staff2)  # not the owner

    rectified = world.rectified(by=world.principal)
    assert "verify" not in allowed(world, rectified, world.principal)  # separation of duties
    assert "verify" in allowed(world, rectified, world.inspector)


def test_a_major_hazard_is_accepted_by_a_bureau_only(world: World) -> None:
    rectified = world.rectified(severity=Severity.MAJOR)
    assert "verify" not in allowed(world, rectified, world.principal)
    assert "verify" in allowed(world, rectified, world.inspector)


def test_a_closed_hazard_can_only_be_reopened_and_nothing_tried_is_recorded(world: World) -> None:
    closed = world.closed()
    before = world.event_names(closed)
    assert allowed(world, closed, world.inspector) <= {"reopen", "void"}
    assert "reopen" in allowed(world, closed, world.inspector)
    hazard = world.app.get_hazard(closed)
    version = hazard.version
    permitted(hazard, world.inspector, world.clock())
    assert hazard.version == version and not hazard.collect_events()
    assert world.event_names(closed) == before
