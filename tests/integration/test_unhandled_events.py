"""A hazard event that reaches no ledger handler stops the catch-up with an error naming it: nothing is skipped
in silence (before, the ledger stopped following that hazard — every later event refused by the version check)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from api.demo import World
from domain.application import SafetyApplication
from domain.hazard.aggregate import Hazard, Severity
from projections import ledger
from projections.base import UnhandledEvent
from projections.ledger import HazardLedger
from projections.runner import catch_up, position


def test_a_void_with_no_ledger_handler_fails_the_catch_up_and_is_applied_once_it_has_one(
    app: SafetyApplication, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,  # type: ignore[arg-type]
        school=world.units["hongmei_school"],
        description="食堂燃气报警器失效（应为青龙中学）",
        severity=Severity.GENERAL,
        occurred_at=timezone.now() - timedelta(days=11),
    )
    catch_up(app)
    before = position()
    with monkeypatch.context() as patched:  # a ledger that never learnt of Voided
        patched.delitem(ledger.handlers.handlers, Hazard.Voided)
        patched.setattr(ledger.handlers, "_route", {})
        app.void_hazard(hazard.id, actor=world.actor("hm_principal"), reason="误录：不是本校的隐患")
        with pytest.raises(UnhandledEvent, match="hazards.*Hazard.Voided"):
            catch_up(app)
        assert position() == before  # the batch rolled back: the void is not passed over
        assert not HazardLedger.objects.get(id=hazard.id).voided
    catch_up(app)
    assert HazardLedger.objects.get(id=hazard.id).voided
