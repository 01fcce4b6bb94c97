"""The campaign's commands: a 专项排查 launched and amended."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.campaign.aggregate import Campaign, SchoolPlace
from domain.core import Core
from domain.errors import CampaignNotFound
from domain.policy import (
    AMEND_CAMPAIGN,
    LAUNCH_CAMPAIGN,
    Actor,
)


class CampaignCommands(Core):
    """Campaigns (专项排查)."""

    def launch_campaign(
        self,
        *,
        actor: Actor,
        title: str,
        document_no: str,
        template: str,
        checklist: Sequence[dict[str, str]],
        phases: Sequence[dict[str, Any]],
        statistics_cutoff: date,
        report_deadline: date,
        scope: Sequence[UUID],
        recipients: Sequence[UUID],
        schools: Iterable[SchoolPlace] | None = None,
        occurred_at: datetime | None = None,
    ) -> Campaign:
        """``schools``: the directory's schools now (the API passes them), so that a scope covering none is refused."""
        LAUNCH_CAMPAIGN.check(actor)
        when = self._when(occurred_at)
        for unit in recipients:
            self.get_unit(unit)
        campaign = Campaign.launch(
            scope_units=[self.get_unit(unit) for unit in scope],
            schools=schools,
            title=title.strip(),
            document_no=document_no.strip(),
            issuer=actor.unit,
            template=template,
            checklist=[dict(item) for item in checklist],
            phases=[dict(phase) for phase in phases],
            statistics_cutoff=statistics_cutoff,
            report_deadline=report_deadline,
            scope=list(dict.fromkeys(scope)),
            recipients=list(dict.fromkeys(recipients)),
            actor=actor.username,
            occurred_at=when,
        )
        self._save(campaign)
        return campaign

    def amend_campaign(
        self,
        campaign_id: UUID,
        *,
        actor: Actor,
        phases: Sequence[dict[str, Any]] | None = None,
        statistics_cutoff: date | None = None,
        report_deadline: date | None = None,
        scope: Sequence[UUID] | None = None,
        schools: Iterable[SchoolPlace] | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Campaign:
        """``schools``: the directory's schools now (the API passes them), so that a scope covering none is refused."""
        AMEND_CAMPAIGN.check(actor)
        scope_units = [self.get_unit(unit) for unit in scope or ()]
        return self._change(
            Campaign,
            campaign_id,
            CampaignNotFound,
            expected_version,
            occurred_at,
            lambda campaign, when: campaign.amend(
                phases=None if phases is None else [dict(phase) for phase in phases],
                statistics_cutoff=statistics_cutoff,
                report_deadline=report_deadline,
                scope=None if scope is None else list(scope),
                scope_units=scope_units,
                schools=schools,
                actor=actor,
                occurred_at=when,
            ),
        )
