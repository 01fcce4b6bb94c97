"""Campaign (专项排查): a launched inspection campaign with its checklist, phases and cutoff."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.directory.aggregate import Unit
from domain.errors import InvalidValue
from domain.policy import UnitKind

PHASE_KINDS = ("self_check", "onsite", "supervision")


class Campaign(Aggregate):
    @event("Launched")
    def __init__(
        self,
        *,
        title: str,
        document_no: str,
        issuer: UUID,
        template: str,
        checklist: list[dict[str, str]],
        phases: list[dict[str, Any]],
        statistics_cutoff: date,
        report_deadline: date,
        scope: list[UUID],
        recipients: list[UUID],
        actor: str,
        occurred_at: datetime,
    ) -> None:
        self.title = title
        self.document_no = document_no
        self.issuer = issuer
        self.template = template
        self.checklist = checklist
        self.phases = phases
        self.statistics_cutoff = statistics_cutoff
        self.report_deadline = report_deadline
        self.scope = scope
        self.recipients = recipients
        self.last_occurred_at = occurred_at

    @classmethod
    def launch(cls, **kwargs: Any) -> Campaign:
        _check_launch(
            title=kwargs["title"],
            checklist=kwargs["checklist"],
            phases=kwargs["phases"],
            statistics_cutoff=kwargs["statistics_cutoff"],
            report_deadline=kwargs["report_deadline"],
        )
        return cls(**kwargs)

    def item(self, code: str) -> dict[str, str] | None:
        return next((item for item in self.checklist if item["code"] == code), None)

    def covers(self, school: Unit, issuer: Unit | None) -> bool:
        """An explicit scope lists its schools; an empty one means every school under the issuer."""
        if self.scope:
            return school.id in self.scope
        if issuer is None or issuer.kind is not UnitKind.DISTRICT_EDU_BUREAU:
            return True  # a city bureau (or the administrator) covers the whole city
        return school.district == issuer.district


def _check_launch(
    *,
    title: str,
    checklist: list[dict[str, str]],
    phases: list[dict[str, Any]],
    statistics_cutoff: date,
    report_deadline: date,
) -> None:
    if not title.strip():
        raise InvalidValue("专项排查标题不能为空", field="title")
    if not checklist:
        raise InvalidValue("排查清单不能为空", field="checklist")
    codes = [item["code"] for item in checklist]
    if len(set(codes)) != len(codes):
        raise InvalidValue("排查清单的编号不能重复", field="checklist")
    for phase in phases:
        if phase.get("kind") not in PHASE_KINDS:
            raise InvalidValue("未知的排查阶段", field="phases")
        start, end = phase.get("start"), phase.get("end")  # either may be open (the seeds leave some open)
        if start and end and start > end:
            raise InvalidValue("排查阶段的开始日期不能晚于结束日期", field="phases")
    if statistics_cutoff > report_deadline:
        raise InvalidValue("统计截止日期不能晚于上报截止日期", field="statistics_cutoff")
