"""Django model discovery: the read models live one per module; this only gathers them."""

from projections.campaigns import CampaignView
from projections.directory import StaffInterval, StaffView, UnitView
from projections.history import HazardVersion
from projections.inspections import AssessmentView, InspectionView
from projections.jointforms import JointFormCopy, JointFormView
from projections.ledger import HazardLedger
from projections.submissions import SubmissionView
from projections.tracking import ProjectionPosition

__all__ = [
    "AssessmentView",
    "CampaignView",
    "HazardLedger",
    "HazardVersion",
    "InspectionView",
    "JointFormCopy",
    "JointFormView",
    "ProjectionPosition",
    "StaffInterval",
    "StaffView",
    "SubmissionView",
    "UnitView",
]
