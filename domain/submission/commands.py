"""The report submission's command (报送)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain.core import Core
from domain.policy import Actor
from domain.submission.aggregate import Submission


class SubmissionCommands(Core):
    """Report submissions."""

    def submit_report(
        self,
        *,
        actor: Actor,
        report: str,
        campaign: UUID | None,
        unit: UUID | None,
        at: datetime,
        known_at: datetime,
        parameters: dict[str, Any],
        copies: list[dict[str, Any]],
        occurred_at: datetime | None = None,
    ) -> Submission:
        submission = Submission.submit(
            report=report,
            campaign=campaign,
            unit=unit,
            at=at,
            known_at=known_at,
            parameters=parameters,
            copies=copies,
            actor=actor,
            occurred_at=self._when(occurred_at),
        )
        self._save(submission)
        return submission
