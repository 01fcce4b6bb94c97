"""The application: one method per command — load → decide (aggregate rules) → save.

The commands live with their context (``domain/<context>/commands.py``, one mixin each); the shared mechanics in
``domain.core``; here the application they make up, its wiring (clock, police cipher) and its event-store hooks.
"""

from __future__ import annotations

from eventsourcing.persistence import JSONTranscoder

from domain.campaign.commands import CampaignCommands
from domain.core import Clock, Core, utc_now
from domain.directory.commands import DirectoryCommands
from domain.hazard.commands import HazardCommands
from domain.hazard.rectification import RectificationCommands
from domain.inspection.commands import InspectionCommands
from domain.jointform.commands import JointFormCommands
from domain.jointform.police import Cipher
from domain.submission.commands import SubmissionCommands
from domain.topics import register_renamed_topics
from domain.transcodings import AttachmentRefAsDict, DateAsISO

__all__ = ["Clock", "SafetyApplication", "utc_now"]

register_renamed_topics()  # events stored under the old topic of a renamed or moved class load as today's


class SafetyApplication(
    DirectoryCommands,
    CampaignCommands,
    InspectionCommands,
    HazardCommands,
    RectificationCommands,
    JointFormCommands,
    SubmissionCommands,
    Core,
):
    """School-safety hazard ledger (校园安全隐患排查整治) as an event-sourced application."""

    name = "SafetyApp"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Clock = utc_now,
        police_cipher: Cipher | None = None,
        rectify_requires_photo: bool = True,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.rectify_requires_photo = rectify_requires_photo
        self.police_cipher = police_cipher  # seals police-only content (domain.jointform.police)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(AttachmentRefAsDict())
