"""倒查追责 findings for the API: the pure rules of domain/accountability fed from the log and the read models."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.conf import settings

from domain.accountability import Finding, SelfCheck, Thresholds, findings
from domain.application import SafetyApplication
from projections.directory import StaffDirectoryView
from projections.inspections import InspectionView
from projections.ledger import HazardLedger


def thresholds() -> Thresholds:
    return Thresholds(**settings.ACCOUNTABILITY_THRESHOLDS)


def hazard_findings(app: SafetyApplication, hazard: HazardLedger, as_of: datetime) -> list[Finding]:
    """Findings on one hazard, as knowable at record time ``as_of``."""
    kind = InspectionView.objects.filter(id=hazard.inspection).values_list("kind", flat=True).first()
    return findings(
        app.hazard_events(hazard.id),
        as_of=as_of,
        directory=StaffDirectoryView(),
        inspection_kind=kind,
        self_checks=self_checks(app, hazard.campaign, hazard.school),
        thresholds=thresholds(),
    )


def self_checks(app: SafetyApplication, campaign: UUID, school: UUID) -> list[SelfCheck]:
    """Every item assessment of the school's own self-inspections in the campaign, from the log."""
    checks = []
    inspections = InspectionView.objects.filter(campaign=campaign, school=school, kind="self")
    for inspection in inspections:
        for event in app.events.get(inspection.id):
            if type(event).__name__ == "ItemAssessed":
                checks.append(
                    SelfCheck(
                        inspection=inspection.id,
                        inspectors=tuple(inspection.inspectors),
                        item=event.item,  # type: ignore[attr-defined]
                        result=event.result,  # type: ignore[attr-defined]
                        assessed_at=event.occurred_at,  # type: ignore[attr-defined]
                        recorded_at=event.timestamp,  # type: ignore[attr-defined]
                    )
                )
    return checks
