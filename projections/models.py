"""Django model discovery: the read models live one per module; this only gathers them."""

from projections.attachments import Attachment, AttachmentBlob, StoredFile
from projections.attachmentuse import AttachmentUse
from projections.campaigns import CampaignView
from projections.directory import StaffInterval, StaffView, UnitVersion, UnitView
from projections.hazard.rows import HazardLedger, HazardVersion
from projections.inspections import AssessmentView, InspectionView
from projections.integrity import ChainLink, Checkpoint
from projections.jointforms import JointFormCopy, JointFormView
from projections.notifications import NotificationAck, NotificationHazard, NotificationUnit, NotificationView
from projections.policemirror import PoliceCheckpoint, PoliceEventCopy, PoliceFormMirror
from projections.signingkeys import PoliceSigningKey, SigningKey
from projections.submissions import SubmissionView
from projections.tracking import ConsumerOffset, OperationRun, ParkedMessage, ProjectionPosition

__all__ = [
    "AssessmentView",
    "Attachment",
    "AttachmentBlob",
    "AttachmentUse",
    "CampaignView",
    "ChainLink",
    "Checkpoint",
    "ConsumerOffset",
    "HazardLedger",
    "HazardVersion",
    "InspectionView",
    "JointFormCopy",
    "JointFormView",
    "NotificationAck",
    "NotificationHazard",
    "NotificationUnit",
    "NotificationView",
    "OperationRun",
    "ParkedMessage",
    "PoliceCheckpoint",
    "PoliceEventCopy",
    "PoliceFormMirror",
    "PoliceSigningKey",
    "ProjectionPosition",
    "SigningKey",
    "StaffInterval",
    "StaffView",
    "StoredFile",
    "SubmissionView",
    "UnitVersion",
    "UnitView",
]
