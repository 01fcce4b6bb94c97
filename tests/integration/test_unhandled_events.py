"""A hazard event that reaches no ledger handler stops the catch-up with an error naming it: nothing is skipped
in silence (before, the ledger stopped following that hazard — every later event refused by the version check)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from api.demo import World
from consumers import envelope
from domain.application import SafetyApplication
from domain.hazard.aggregate import Hazard, Severity
from projections import integrity, policemirror
from projections.base import UnhandledEvent
from projections.hazard.projector import projector as hazard_projector
from projections.hazard.rows import HazardLedger
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
        patched.delitem(hazard_projector.handlers.handlers, Hazard.Voided)
        patched.setattr(hazard_projector.handlers, "_route", {})
        app.void_hazard(hazard.id, actor=world.actor("hm_principal"), reason="误录：不是本校的隐患")
        with pytest.raises(UnhandledEvent, match="hazards.*Hazard.Voided"):
            catch_up(app)
        assert position() == before  # the batch rolled back: the void is not passed over
        assert not HazardLedger.objects.get(id=hazard.id).voided
    catch_up(app)
    assert HazardLedger.objects.get(id=hazard.id).voided


def test_the_police_mirror_follows_a_form_by_its_event_classes_and_refuses_an_unknown_one(
    app: SafetyApplication, world: World
) -> None:
    """The police side's copy of a joint form, fed the envelopes the relay sends (here built directly, no broker):
    fields filled by the school and by the station (the sensitive note opened with the police key)."""
    form = app.open_joint_form(
        actor=world.actor("hm_principal"), campaign=world.campaign, school=world.units["hongmei_school"]
    )
    app.update_joint_form(form.id, actor=world.actor("hm_principal"), changes={"guards_total": 4})
    app.update_joint_form(form.id, actor=world.actor("hm_officer"), changes={"sensitive_notes": "周边有涉校矛盾纠纷"})
    catch_up(app)  # the chain links
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    for n in notifications:
        event = app.mapper.to_domain_event(n)
        if type(event).__qualname__.split(".")[0] in (policemirror.FORM_AGGREGATE, policemirror.NOTES_AGGREGATE):
            hash_ = integrity.hash_of(n.originator_id, n.originator_version) or ""
            policemirror.apply_event(envelope.build(n, event, hash_, None))
    copy = policemirror.PoliceFormMirror.objects.get(id=form.id)
    assert copy.fields["guards_total"] == 4 and copy.fields["sensitive_notes"] == "周边有涉校矛盾纠纷"
    assert copy.version == 2  # opened, the school's fields; the police notes are their own aggregate
    stranger = {**envelope.build(n, event, "0" * 64, None), "position": 10**9, "type": "blessed"}
    stranger["aggregate"] = policemirror.FORM_AGGREGATE
    with pytest.raises(UnhandledEvent, match="JointForm.blessed"):
        policemirror.apply_event(stranger)
