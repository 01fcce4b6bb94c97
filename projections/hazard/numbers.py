"""隐患编号: a hazard's number, fixed by the order of the log (the hazard projector's, and a rebuild's count)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db.models import Count

from domain.hazard.aggregate import Hazard
from domain.timerules import business_date
from projections import bulk
from projections.hazard.rows import HazardLedger


class Numbers:
    """隐患编号, fixed by the order of the log: ``{series}-{sequence}`` counted per school and series, the series
    being ``{school code}-{year}`` for a hazard whose Discovered carries its school's code (HM01-2026-0001: unique
    across the district, codes being unique there) and ``{year}`` for one discovered before codes existed
    (2026-0001, as it was numbered then). Per school, so a parallel rebuild can share the schools out among its
    workers (``projections.rebuild``). Continues from what the ledger already holds (one query per batch)."""

    def __init__(self, discoveries: Iterable[Hazard.Discovered]) -> None:
        wanted = {(e.school, series(e)) for e in discoveries}
        self.last: dict[tuple[UUID, str], int] = dict.fromkeys(wanted, 0)
        if wanted:
            counted = (
                HazardLedger.objects.filter(
                    bulk.among("school", {school for school, _ in wanted}),
                    bulk.among("series", {name for _, name in wanted}),
                )
                .values_list("school", "series")
                .annotate(n=Count("id"))
                .order_by()
            )
            for school, name, n in counted:
                if (school, name) in self.last:
                    self.last[school, name] = n

    def next(self, event: Hazard.Discovered) -> str:
        key = (event.school, series(event))
        self.last[key] += 1
        return f"{key[1]}-{self.last[key]:04d}"


def series(event: Hazard.Discovered) -> str:
    """The numbers a hazard is counted among in its school: ``HM01-2026``, or ``2026`` for one without a code."""
    year = business_date(event.occurred_at).year
    code: str = getattr(event, "code", "")  # absent from events recorded before codes existed
    return f"{code}-{year}" if code else str(year)
