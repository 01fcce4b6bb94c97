"""The seven reports of DESIGN §7: what each needs, how it is built, and the query every builder receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.policy import Actor
from projections.campaigns import CampaignView
from projections.directory import UnitView
from reports.base import Caller, Report


@dataclass(frozen=True)
class ReportQuery:
    """What a report is asked for: ``at``, the moment the figures describe (business time), as the system knew
    it at ``known_at`` (record time). The same two times and caller give the same report, so a report for a past
    pair never changes; an entry recorded late about a moment before ``at`` counts once ``known_at`` follows it."""

    actor: Actor
    caller: Caller
    at: datetime
    known_at: datetime
    campaign: CampaignView | None = None
    unit: UnitView | None = None  # 填报单位 (default: the caller's unit)
    district: str = ""
    school: UnitView | None = None
    form: UUID | None = None
    hazard: UUID | None = None
    police_line: bool = False  # the police line's copy (submissions): may carry police-only content


Builder = Callable[[ReportQuery], Report]
PdfLayout = Callable[[ReportQuery], str]


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    build: Builder
    needs: tuple[str, ...] = ()  # query parameters that must be given: campaign, school, form, hazard
    pdf_html: PdfLayout | None = None  # a seed form with a layout of its own: the HTML its PDF is printed from
    narrow_by: tuple[str, ...] = ()  # parameters that make a report too large to render smaller


REPORTS: dict[str, ReportSpec] = {}


def register(
    name: str,
    title: str,
    needs: tuple[str, ...] = (),
    pdf_html: PdfLayout | None = None,
    narrow_by: tuple[str, ...] = (),
) -> Callable[[Builder], Builder]:
    def add(build: Builder) -> Builder:
        REPORTS[name] = ReportSpec(name, title, build, needs, pdf_html, narrow_by)
        return build

    return add


def load_all() -> dict[str, ReportSpec]:
    """Import every report module so that each registers itself."""
    from reports import (  # noqa: F401
        accountability,
        changzhou,
        dossier,
        school_ledger,
        suzhou,
    )

    return REPORTS
