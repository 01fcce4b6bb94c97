"""Which of a hazard's commands an actor may run now: each command tried on a copy of the hazard with an input
that passes the command's own input checks, so the answer is the commands' rules themselves — who may (the role,
the current owner, 验收 of a major hazard by a bureau, separation of duties) and the hazard's state — and never a
second statement of them. Nothing tried is recorded: the copies are thrown away.

What depends on the input the actor will give (the new owner's appointment, the escalation target, a photo) is
judged when the command runs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, datetime
from uuid import UUID

from domain.errors import DomainError
from domain.hazard.aggregate import Hazard
from domain.policy import Actor

_FAR = date(8999, 12, 31)  # a deadline later than any the hazard has: only the rules of who and when remain
_NOBODY = "\x00probe"  # an owner differing from the current one (the rule "not the same owner" is input)
_NO_UNIT = UUID(int=0)
_TEXT = "probe"

Probe = Callable[[Hazard, Actor, datetime], None]

PROBES: dict[str, Probe] = {
    "assign": lambda h, a, t: h.assign(
        owner=_NOBODY, owner_unit=_NO_UNIT, deadline=_FAR, standard="", actor=a, occurred_at=t
    ),
    "transfer": lambda h, a, t: h.transfer(owner=_NOBODY, owner_unit=_NO_UNIT, reason=_TEXT, actor=a, occurred_at=t),
    "plan": lambda h, a, t: h.record_plan(
        measures=_TEXT, funds="", deadline=_FAR, contingency="", beyond_capacity=False, actor=a, occurred_at=t
    ),
    "interim-measures": lambda h, a, t: h.record_interim_measures(measures=_TEXT, actor=a, occurred_at=t),
    "progress": lambda h, a, t: h.report_progress(note="", percent=0, actor=a, occurred_at=t),
    "extend": lambda h, a, t: h.extend_deadline(new_deadline=_FAR, reason=_TEXT, actor=a, occurred_at=t),
    "escalate": lambda h, a, t: h.escalate(to_unit=_NO_UNIT, reason=_TEXT, actor=a, occurred_at=t),
    "supervise": lambda h, a, t: h.supervise(note="", actor=a, occurred_at=t),
    "rectify": lambda h, a, t: h.rectify(note=_TEXT, evidence=[], actor=a, occurred_at=t, photo_required=False),
    "verify": lambda h, a, t: h.verify(accepted=True, note="", actor=a, occurred_at=t),
    "reopen": lambda h, a, t: h.reopen(reason=_TEXT, actor=a, occurred_at=t),
    "void": lambda h, a, t: h.void(reason=_TEXT, actor=a, occurred_at=t),
}


def permitted(hazard: Hazard, actor: Actor, now: datetime) -> frozenset[str]:
    """The names (as ``PROBES``, the API's command names) of the commands ``actor`` may run on ``hazard`` at
    ``now``, each tried on its own copy."""
    allowed = set()
    for name, probe in PROBES.items():
        try:
            probe(copy.deepcopy(hazard), actor, now)
        except DomainError:
            continue
        allowed.add(name)
    return frozenset(allowed)
