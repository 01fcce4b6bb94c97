"""Submissions read model (报送记录): what was sent, for whom, as of when, with each copy's SHA-256."""

from __future__ import annotations

from typing import Any

from django.db import models

from domain.eventinfo import plain
from domain.submission.aggregate import Submission
from projections.base import Projector


class SubmissionView(models.Model):
    id = models.UUIDField(primary_key=True)
    report = models.CharField(max_length=50)
    campaign = models.UUIDField(null=True, db_index=True)
    unit = models.UUIDField(null=True, db_index=True)
    as_of = models.DateTimeField()
    parameters = models.JSONField(default=dict)
    copies = models.JSONField(default=list)  # [{line, recipients, sha256, size, content_type, filename}]
    submitted_by = models.CharField(max_length=150)
    submitted_at = models.DateTimeField()

    class Meta:
        verbose_name = "报送记录"
        verbose_name_plural = "报送记录"
        ordering = ["-submitted_at"]


projector = Projector("submissions", (SubmissionView,))


@projector.on(Submission.Submitted)  # type: ignore[attr-defined]
def submitted(event: Any) -> None:
    SubmissionView.objects.get_or_create(
        id=event.originator_id,
        defaults={
            "report": event.report,
            "campaign": event.campaign,
            "unit": event.unit,
            "as_of": event.as_of,
            "parameters": plain(event.parameters),
            "copies": plain(event.copies),
            "submitted_by": event.actor,
            "submitted_at": event.occurred_at,
        },
    )
