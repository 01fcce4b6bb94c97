"""苏州 (seed 000): 附件1 排查情况汇总表 and 附件2 排查问题隐患清单."""

from __future__ import annotations

from datetime import timedelta

from domain.hazard.status import OPEN_STATUSES
from domain.timerules import deadline_end
from projections import scope
from projections.directory import UnitView
from projections.hazard.queries import states_at
from projections.hazard.rows import HazardLedger
from projections.inspections import InspectionView
from projections.statistics import tally
from reports.base import Report, Table, cell, chinese_date, numbered, progress_text
from reports.registry import ReportQuery, register

SUMMARY_TITLE = "中小学课后服务期间校园安全防范工作排查情况汇总表"
LIST_TITLE = "中小学课后服务期间校园安全防范工作排查问题隐患清单"
SUMMARY_COLUMNS = (
    "类别",
    "督查检查次数 (次)",
    "排查学校个数 (个)",
    "发现隐患问题数 (处)",
    "已整改完成隐患 问题数(处)",
    "未整改完成隐患 问题数(处)",
)
SUMMARY_NOTE = (
    "注:督查检查次数统计口径,一类为有本地教育行政部门班子成员及以上领导参与的督查检查次数,"
    "另一类为多部门组成的联合检查组开展的督查检查次数。"
)
CATEGORIES = (
    ("有本地教育行政部门班子成员及以上领导参与的督查检查", "leader"),
    ("多部门组成的联合检查组开展的督查检查", "joint"),
)
LIST_COLUMNS = ("序号", "问题表现", "责任单位", "整改标准", "整改时限", "整改进度")
LIST_NOTE = "注：问题隐患为在上报截止日期前一周仍未完成整改的问题隐患，若已全部整改完成则不需要填报。"


@register("suzhou-summary", SUMMARY_TITLE, needs=("campaign",), narrow_by=("unit",))
def suzhou_summary(query: ReportQuery) -> Report:
    """Inspections with bureau leadership / by multi-department teams, their schools and what they found."""
    campaign = query.campaign
    assert campaign is not None  # guaranteed by ``needs``
    schools = scope.reported_schools(query.actor, query.unit).values("id")
    inspections = InspectionView.objects.filter(
        campaign=campaign.id, school__in=schools, started_at__lte=query.at
    ).exclude(kind="self")
    groups = {
        "leader": set(inspections.filter(leader_participated=True).values_list("id", "school")),
        "joint": set(inspections.filter(kind="joint").values_list("id", "school")),
    }
    states = states_at(query.at, query.known_at).filter(campaign=campaign.id, school__in=schools)

    def figures(found: set[tuple[object, object]]) -> tuple[int, int, int, int, int]:
        found_by = HazardLedger.objects.filter(inspection__in=[i for i, _ in found]).values("id")
        hazards = tally(states.filter(hazard__in=found_by)).total  # 发现数 / 整改数 as projections.statistics counts
        schools_found = len({s for _, s in found})
        return len(found), schools_found, hazards.found, hazards.rectified, hazards.found - hazards.rectified

    rows = [(label, *figures(groups[key])) for label, key in CATEGORIES]
    total = ("合计", *figures(groups["leader"] | groups["joint"]))
    return Report(
        name="suzhou-summary",
        title=SUMMARY_TITLE,
        attachment="附件1",
        at=query.at,
        known_at=query.known_at,
        caller=query.caller,
        tables=(
            Table(
                columns=SUMMARY_COLUMNS, rows=tuple(rows), total=total, notes=(SUMMARY_NOTE,), widths=(6, 3, 3, 3, 3, 3)
            ),
        ),
        parameters={"campaign": str(campaign.id), "unit": str(query.unit.id) if query.unit else None},
    )


@register("suzhou-hazard-list", LIST_TITLE, needs=("campaign",), narrow_by=("unit",))
def suzhou_hazard_list(query: ReportQuery) -> Report:
    """Hazards still not rectified one week before the report deadline (附件2's rule)."""
    campaign = query.campaign
    assert campaign is not None
    week_before = deadline_end(campaign.report_deadline - timedelta(days=7))
    then = min(week_before, query.at)  # never a moment after the one the report describes
    schools = scope.reported_schools(query.actor, query.unit).values("id")
    open_then = (
        states_at(then, query.known_at)
        .filter(campaign=campaign.id, school__in=schools)
        .filter(status__in=sorted(OPEN_STATUSES))
        .order_by("school", "number")
    )
    units = dict(UnitView.objects.values_list("id", "name"))
    rows = [
        (
            row.state["description"],
            units.get(row.owner_unit) or units.get(row.school, ""),
            row.state.get("standard") or None,
            cell(row.deadline),
            progress_text(row.state),
        )
        for row in open_then
    ]
    return Report(
        name="suzhou-hazard-list",
        title=LIST_TITLE,
        attachment="附件2",
        subtitle=f"（截至{chinese_date(campaign.report_deadline - timedelta(days=7))}仍未完成整改）",
        at=query.at,
        known_at=query.known_at,
        caller=query.caller,
        tables=(Table(columns=LIST_COLUMNS, rows=numbered(rows), notes=(LIST_NOTE,), widths=(2, 10, 5, 7, 4, 6)),),
        landscape=True,
        parameters={"campaign": str(campaign.id), "unit": str(query.unit.id) if query.unit else None},
    )
