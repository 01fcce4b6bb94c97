"""A report submission (报送): which report, for which unit, at which two times, and the SHA-256 of each line's copy.

``as_of`` in the Submitted event is the report's ``at`` (the moment described, business time: its old name);
``known_at`` is what the system knew (record time). Events recorded before ``known_at`` existed lack it: their
report was made from what was known when it was submitted, so it defaults to the submission's time.

The exact bytes are kept in the API's copy store; the log keeps their hashes, so any later fetch can be proven
to be what was sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.eventversions import added, versions
from domain.policy import Actor, require_writer

LINES = ("education", "police")


@versions(Submitted=[added(known_at=None)])  # None: known when submitted (the report's record time)
class Submission(Aggregate):
    @event("Submitted")
    def __init__(
        self,
        *,
        report: str,
        campaign: UUID | None,
        unit: UUID | None,
        as_of: datetime,
        parameters: dict[str, Any],
        copies: list[dict[str, Any]],
        actor: str,
        occurred_at: datetime,
        known_at: datetime | None = None,
    ) -> None:
        self.report, self.campaign, self.unit = report, campaign, unit
        self.at, self.known_at = as_of, known_at or occurred_at
        self.parameters, self.copies = parameters, copies
        self.submitted_by, self.submitted_at = actor, occurred_at

    @classmethod
    def submit(
        cls,
        *,
        report: str,
        campaign: UUID | None,
        unit: UUID | None,
        at: datetime,
        known_at: datetime,
        parameters: dict[str, Any],
        copies: list[dict[str, Any]],
        actor: Actor,
        occurred_at: datetime,
    ) -> Submission:
        require_writer(actor)
        if not copies:
            raise InvalidValue("没有可报送的副本", field="copies")
        for copy in copies:
            if copy.get("line") not in LINES or len(str(copy.get("sha256", ""))) != 64:
                raise InvalidValue("副本的报送线或哈希无效", field="copies")
        return cls(
            report=report,
            campaign=campaign,
            unit=unit,
            as_of=at,
            known_at=known_at,
            parameters=parameters,
            copies=copies,
            actor=actor.username,
            occurred_at=occurred_at,
        )
