"""Campaign read model (专项排查): title, document number, checklist, phases, cutoff, scope."""

from __future__ import annotations

from django.db import models

from domain.campaign.aggregate import Campaign
from domain.eventinfo import plain
from projections.base import Handler, Projector


class CampaignView(models.Model):
    id = models.UUIDField(primary_key=True)
    title = models.CharField("标题", max_length=300)
    document_no = models.CharField("文号", max_length=100, blank=True)
    issuer = models.UUIDField("发文单位", null=True)
    template = models.CharField("模板", max_length=50, blank=True)
    checklist = models.JSONField("排查清单", default=list)
    phases = models.JSONField("排查阶段", default=list)
    statistics_cutoff = models.DateField("统计截止日期")
    report_deadline = models.DateField("上报截止日期")
    scope = models.JSONField("排查范围", default=list)
    recipients = models.JSONField("报送单位", default=list)
    launched_by = models.CharField("发起人", max_length=150)
    launched_at = models.DateTimeField("发起时间")
    amendments = models.JSONField("修改记录", default=list)
    version = models.IntegerField(default=0)

    class Meta:
        verbose_name = "专项排查"
        verbose_name_plural = "专项排查"
        ordering = ["-launched_at"]

    def __str__(self) -> str:
        return self.title


projector: Projector[Handler] = Projector("campaigns", (CampaignView,), consumes=(Campaign,))


@projector.on(Campaign.Launched)
def launched(event: Campaign.Launched) -> None:
    CampaignView.objects.get_or_create(
        id=event.originator_id,
        defaults={
            "title": event.title,
            "document_no": event.document_no,
            "issuer": event.issuer,
            "template": event.template,
            "checklist": plain(event.checklist),
            "phases": plain(event.phases),
            "statistics_cutoff": event.statistics_cutoff,
            "report_deadline": event.report_deadline,
            "scope": plain(event.scope),
            "recipients": plain(event.recipients),
            "launched_by": event.actor,
            "launched_at": event.occurred_at,
            "version": event.originator_version,
        },
    )


AMENDABLE = ("phases", "statistics_cutoff", "report_deadline", "scope")


@projector.on(Campaign.Amended)
def amended(event: Campaign.Amended) -> None:
    """The campaign shows its amended values; each amendment is kept with what it changed (from → to)."""
    row = CampaignView.objects.filter(id=event.originator_id, version=event.originator_version - 1).first()
    if row is None:
        return  # already applied
    after = {name: plain(getattr(event, name)) for name in AMENDABLE}
    before = {name: plain(getattr(row, name)) for name in AMENDABLE}
    changes = {name: {"from": before[name], "to": after[name]} for name in AMENDABLE if before[name] != after[name]}
    row.amendments = [
        *row.amendments,
        {
            "version": event.originator_version,
            "amended_by": event.actor,
            "amended_at": plain(event.occurred_at),
            "changes": changes,
        },
    ]
    row.phases, row.scope = after["phases"], after["scope"]
    row.statistics_cutoff, row.report_deadline = event.statistics_cutoff, event.report_deadline
    row.version = event.originator_version
    row.save()
