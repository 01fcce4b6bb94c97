"""Bitemporal rows: what held from ``valid_from`` (business time), as recorded at ``recorded_at``.

Each row is one change of one thing (a hazard's state after an event, a person's appointment). A thing's
changes come in the same order in both times (the domain refuses out-of-order business times), so a row's
end in both times is simply its successor's: ``next_valid`` / ``next_recorded`` (null while it has none).
"What held at T, as known at R" is then one indexed filter, never a replay.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q


class Bitemporal(models.Model):
    valid_from = models.DateTimeField("生效时间（业务时间）")
    recorded_at = models.DateTimeField("记录时间")
    next_valid = models.DateTimeField("失效时间（业务时间）", null=True)
    next_recorded = models.DateTimeField("失效记录时间", null=True)

    class Meta:
        abstract = True

    def valid_to(self, known_at: datetime) -> datetime | None:
        """The end of this row's validity as known at ``known_at`` (None: still in force)."""
        return self.next_valid if self.next_recorded is not None and self.next_recorded <= known_at else None

    def in_force_at(self, at: datetime, known_at: datetime) -> bool:
        """``in_force`` for a row already read: valid at ``at`` as the system knew it at ``known_at``."""
        if self.valid_from > at or self.recorded_at > known_at:
            return False
        if self.next_recorded is None or self.next_recorded > known_at:
            return True
        return self.next_valid is not None and self.next_valid > at


def in_force(at: datetime, known_at: datetime) -> Q:
    """Rows valid at ``at`` as the system knew it at ``known_at``."""
    return Q(valid_from__lte=at, recorded_at__lte=known_at) & (
        Q(next_recorded__isnull=True) | Q(next_recorded__gt=known_at) | Q(next_valid__gt=at)
    )
