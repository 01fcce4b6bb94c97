"""Submissions read model (报送记录): what was sent, for whom, at which two times, with each copy's SHA-256."""

from __future__ import annotations

from typing import Any

from django.db import models

from domain.eventinfo import plain
from domain.submission.aggregate import Submission
from projections.base import Handler, Projector


class SubmissionView(models.Model):
    id = models.UUIDField(primary_key=True)
    report = models.CharField(max_length=50)
    campaign = models.UUIDField(null=True, db_index=True)
    unit = models.UUIDField(null=True, db_index=True)
    at = models.DateTimeField("业务时间（所描述的时刻）")
    known_at = models.DateTimeField("记录时间（当时系统所知）")
    parameters = models.JSONField(default=dict)
    copies = models.JSONField(default=list)  # [{line, recipients, sha256, size, content_type, filename}]
    submitted_by = models.CharField(max_length=150)
    submitted_at = models.DateTimeField()

    class Meta:
        verbose_name = "报送记录"
        verbose_name_plural = "报送记录"
        ordering = ["-submitted_at"]


projector: Projector[Handler] = Projector("submissions", (SubmissionView,), consumes=(Submission,))


@projector.on(Submission.Submitted)  # type: ignore[attr-defined]
def submitted(event: Any) -> None:
    SubmissionView.objects.get_or_create(
        id=event.originator_id,
        defaults={
            "report": event.report,
            "campaign": event.campaign,
            "unit": event.unit,
            "at": event.as_of,  # the event's old name for ``at``
            "known_at": getattr(event, "known_at", None) or event.occurred_at,  # absent from older events
            "parameters": plain(event.parameters),
            "copies": plain(event.copies),
            "submitted_by": event.actor,
            "submitted_at": event.occurred_at,
        },
    )
