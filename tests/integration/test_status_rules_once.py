"""A hazard's status is decided once, in ``domain/hazard/status.py``: the aggregate, the ledger (台账), the hazard's
versions (history) and 倒查追责 agree after every event kind, and no other module lists the open/done statuses."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.utils import timezone

from api.demo import World
from domain.accountability import _Fact, _State
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity, Status
from domain.policy import SYSTEM_ACTOR
from domain.timerules import business_date, deadline_end
from projections.hazard.rows import HazardLedger, HazardVersion
from projections.runner import catch_up

pytestmark = pytest.mark.usefixtures("rectify_without_photo")  # rectified through the application: no photo

ROOT = Path(__file__).resolve().parents[2]
STATUS_WORDS = {status.value for status in Status}


def _statuses(app: SafetyApplication, hazard: UUID) -> dict[str, str]:
    """The status as the aggregate, the ledger row, the newest version row and 倒查追责's fold each see it."""
    catch_up(app)
    state = _State()
    for event in app.hazard_events(hazard):
        state = state.apply(_Fact.of(event))
    newest = HazardVersion.objects.filter(hazard=hazard).order_by("-version").first()
    assert newest is not None
    return {
        "aggregate": app.get_hazard(hazard).status.value,
        "ledger": HazardLedger.objects.get(id=hazard).status,
        "history": newest.status,
        "accountability": str(state.status),
    }


def _replay(app: SafetyApplication, hazard: UUID, steps: list[tuple[str, Callable[[], Any]]]) -> list[str]:
    """Run each step; after each, the four readers agree. Returns the event kinds and statuses seen."""
    seen = []
    for expected_kind, step in steps:
        step()
        assert type(app.hazard_events(hazard)[-1]).__name__ == expected_kind
        statuses = _statuses(app, hazard)
        assert len(set(statuses.values())) == 1, f"after {expected_kind}: {statuses}"
        seen.append(f"{expected_kind}:{statuses['aggregate']}")
    return seen


def test_aggregate_ledger_history_and_accountability_agree_on_the_status_after_every_event_kind(
    app: SafetyApplication, world: World
) -> None:
    # given a hazard found three weeks ago at 红梅实验小学 and worked through every command, each recorded on its day
    staff, staff2, principal = world.actor("hm_staff"), world.actor("hm_staff2"), world.actor("hm_principal")
    leader, inspector = world.actor("tn_leader"), world.actor("tn_inspector")
    school, bureau = world.units["hongmei_school"], world.units["district_bureau"]
    now = timezone.now()

    def day(n: int) -> datetime:
        return now - timedelta(days=n)

    first_deadline = business_date(day(15))
    hazard = app.discover_hazard(
        actor=staff,
        campaign=world.campaign,  # type: ignore[arg-type]
        school=school,
        description="消防通道被杂物堵塞",
        severity=Severity.GENERAL,
        occurred_at=day(21),
    ).id
    h = hazard
    steps: list[tuple[str, Callable[[], Any]]] = [
        (
            "Assigned",
            lambda: app.assign_hazard(
                h, actor=principal, owner="hm_staff", owner_unit=school, deadline=first_deadline, occurred_at=day(20)
            ),
        ),
        (
            "Transferred",
            lambda: app.transfer_hazard(
                h, actor=principal, owner="hm_staff2", owner_unit=school, reason="分工调整", occurred_at=day(19)
            ),
        ),
        (
            "PlanRecorded",
            lambda: app.record_plan(
                h, actor=staff2, measures="清理杂物", funds="500元", deadline=first_deadline, occurred_at=day(19)
            ),
        ),
        (
            "InterimMeasuresRecorded",
            lambda: app.record_interim_measures(h, actor=staff2, measures="设置警示带", occurred_at=day(18)),
        ),
        (
            "ProgressReported",
            lambda: app.report_progress(h, actor=staff2, note="已清理一半", percent=50, occurred_at=day(17)),
        ),
        (
            "Escalated",
            lambda: app.escalate_hazard(h, actor=principal, to_unit=bureau, reason="需区局协调", occurred_at=day(17)),
        ),
        ("Supervised", lambda: app.supervise_hazard(h, actor=leader, note="挂牌督办", occurred_at=day(16))),
        (
            "DeadlineMissed",
            lambda: app.record_deadline_missed(
                h, actor=SYSTEM_ACTOR, deadline=first_deadline, occurred_at=deadline_end(first_deadline)
            ),
        ),
        (
            "DeadlineExtended",
            lambda: app.extend_deadline(
                h,
                actor=leader,
                new_deadline=business_date(now) + timedelta(days=10),
                reason="需采购",
                occurred_at=day(13),
            ),
        ),
        ("Rectified", lambda: app.rectify_hazard(h, actor=staff2, note="杂物已清理", occurred_at=day(12))),
        (
            "Rejected",
            lambda: app.verify_hazard(h, actor=principal, accepted=False, note="标识未设置", occurred_at=day(11)),
        ),
        ("Rectified", lambda: app.rectify_hazard(h, actor=staff2, note="标识已设置", occurred_at=day(10))),
        ("Verified", lambda: app.verify_hazard(h, actor=principal, accepted=True, occurred_at=day(9))),
        ("Reopened", lambda: app.reopen_hazard(h, actor=inspector, reason="复查发现再次堵塞", occurred_at=day(8))),
        ("Voided", lambda: app.void_hazard(h, actor=principal, reason="误录", occurred_at=day(7))),
    ]
    seen = _replay(app, hazard, steps)

    # and one rectified on the spot (立行立改), closed from its discovery, later reopened with nobody ever its owner
    on_spot = app.discover_hazard(
        actor=staff,
        campaign=world.campaign,  # type: ignore[arg-type]
        school=school,
        description="灭火器过期",
        severity=Severity.GENERAL,
        rectified_on_spot=True,
        occurred_at=day(6),
    ).id
    discovered = _statuses(app, on_spot)
    reopened = _replay(
        app,
        on_spot,
        [("Reopened", lambda: app.reopen_hazard(on_spot, actor=inspector, reason="再次发现过期", occurred_at=day(5)))],
    )

    # then every reader saw the same status after each event, the one the rules give
    assert seen == [
        "Assigned:assigned",
        "Transferred:assigned",
        "PlanRecorded:assigned",
        "InterimMeasuresRecorded:assigned",
        "ProgressReported:assigned",
        "Escalated:assigned",
        "Supervised:assigned",
        "DeadlineMissed:assigned",
        "DeadlineExtended:assigned",
        "Rectified:rectified",
        "Rejected:assigned",
        "Rectified:rectified",
        "Verified:closed",
        "Reopened:assigned",
        "Voided:assigned",  # a void keeps the status: the hazard leaves the counts by its flag
    ]
    assert set(discovered.values()) == {"closed"}
    assert reopened == ["Reopened:reported"]


def _status_rules_outside_the_domain() -> list[str]:
    """Where a source module outside ``domain/hazard/`` (tests and migrations aside) spells a status rule itself:
    a tuple/list/set of two or more statuses (``("rectified", "closed")``, ``{Status.REPORTED, Status.ASSIGNED}``),
    a dict mapping to two or more statuses (event → status), a choice between two statuses (``"assigned" if owner
    else "reported"``) or a status given to a ``.status`` / ``status=`` (a transition decided in place)."""
    found = []
    for package in ("domain", "projections", "reports", "api", "consumers"):
        for source in sorted((ROOT / package).rglob("*.py")):
            relative = source.relative_to(ROOT).as_posix()
            if relative.startswith("domain/hazard/") or "/migrations/" in relative:
                continue
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if _spells_a_rule(node):
                    found.append(f"{relative}:{getattr(node, 'lineno', '?')}")
    return found


def _spells_a_rule(node: ast.AST) -> bool:
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return sum(_status_word(element) is not None for element in node.elts) >= 2
    if isinstance(node, ast.Dict):
        return sum(_status_word(value) is not None for value in node.values) >= 2
    if isinstance(node, ast.IfExp):
        return _status_word(node.body) is not None and _status_word(node.orelse) is not None
    if isinstance(node, ast.Assign):
        return any(_status_word(value) is not None for value in _assigned_to_status(node))
    if isinstance(node, ast.keyword):
        return node.arg == "status" and _status_word(node.value) is not None
    return False


def _assigned_to_status(node: ast.Assign) -> list[ast.expr]:
    """The values an assignment gives to a ``….status`` (also within ``a.status, a.b = x, y``)."""
    values = []
    for target in node.targets:
        if isinstance(target, ast.Attribute) and target.attr == "status":
            values.append(node.value)
        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            values += [
                value
                for element, value in zip(target.elts, node.value.elts, strict=False)
                if isinstance(element, ast.Attribute) and element.attr == "status"
            ]
    return values


def _status_word(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and node.value in STATUS_WORDS:
        return str(node.value)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Status":
        return node.attr
    return None


def test_no_module_outside_the_hazard_domain_lists_the_open_or_done_statuses_or_decides_a_transition() -> None:
    # given every source module of the installation but the hazard's own domain package
    # then none spells a set of statuses or a transition itself: they use OPEN_STATUSES / DONE_STATUSES /
    # NOT_CLOSED_STATUSES and initial_status / next_status
    assert _status_rules_outside_the_domain() == []
