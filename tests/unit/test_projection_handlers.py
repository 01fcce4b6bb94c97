"""Every event an aggregate records reaches each projector that consumes the aggregate: by a handler for its
class, or by an explicit ``ignore`` — never by falling through. A new event class (a correction, say) with neither
fails here, naming the projector and the class, before it is ever recorded."""

from __future__ import annotations

from domain.campaign.aggregate import Campaign
from domain.directory.aggregate import Staff, Unit
from domain.hazard.aggregate import Hazard
from domain.inspection.aggregate import Inspection
from domain.jointform.aggregate import JointForm
from domain.jointform.police import PoliceNotes
from domain.submission.aggregate import Submission
from projections import policemirror
from projections.base import Handlers, Projector, event_classes
from projections.runner import PROJECTORS

AGGREGATES = (Hazard, Unit, Staff, Campaign, Inspection, JointForm, PoliceNotes, Submission)
# Every projector, and the police side's mirror (fed by the Kafka envelopes, its handlers found by type word).
ALL: list[Handlers] = [p.handlers for p in PROJECTORS] + [policemirror.handlers]


def test_every_event_class_of_a_consumed_aggregate_has_a_handler_or_is_ignored() -> None:
    missing = [f"{h.owner}: {cls.__qualname__}" for h in ALL for cls in h.missing()]
    assert not missing, "no handler and not ignored:\n" + "\n".join(missing)


def test_every_aggregate_is_consumed_by_some_projector() -> None:
    consumed = {a for h in ALL for a in h.consumes}
    assert not [a.__name__ for a in AGGREGATES if a not in consumed]


def test_the_event_classes_are_found_on_the_aggregates() -> None:
    names = {cls.__name__ for cls in event_classes(Hazard)}
    assert {"Discovered", "Assigned", "Reopened", "Voided"} <= names
    assert "Event" not in names and "Created" not in names  # bases, never recorded as such
    assert {cls.__name__ for cls in event_classes(Unit)} == {"Registered", "Changed"}
    assert "Amended" in {cls.__name__ for cls in event_classes(Campaign)}


def test_a_projector_refuses_a_class_of_an_aggregate_it_does_not_consume_or_twice() -> None:
    projector: Projector = Projector("test", (), consumes=(Campaign,))
    projector.on(Campaign.Launched)(lambda event: None)
    for register in (lambda: projector.on(Hazard.Voided)(print), lambda: projector.ignore(Campaign.Launched)):
        try:
            register()
        except TypeError:
            continue
        raise AssertionError("registered")
    assert projector.missing() == [Campaign.Amended]
