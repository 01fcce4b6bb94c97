"""学校安全隐患台账 (seed 003): 隐患清单, 责任清单, 整改清单 of one school, as of a moment.

The three lists carry the 五落实 of each hazard: 措施, 资金, 预案 (整改清单), 责任 and 时限 (责任清单).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.hazard.aggregate import SEVERITY_LABELS, STATUS_LABELS, Severity, Status
from domain.hazard.status import DONE_STATUSES, OPEN_STATUSES
from domain.timerules import business_date
from projections.directory import names_at, person_names, unit_names
from projections.hazard.queries import states_at
from reports.base import Cell, Report, Table, cell, chinese_date, numbered, progress_text, statistics_day
from reports.registry import ReportQuery, register

TITLE = "学校安全隐患台账"
HAZARD_COLUMNS = ("序号", "隐患编号", "发现日期", "类别", "隐患描述/问题表现", "位置", "等级", "状态", "照片/附件数")
DUTY_COLUMNS = ("序号", "隐患编号", "责任单位", "责任人", "整改时限", "挂牌督办")
WORK_COLUMNS = ("序号", "隐患编号", "整改措施", "资金", "预案", "临时防范措施", "进度", "整改完成/销号情况")
NOTE = "注：隐患整改做到预案、措施、责任、资金、时限“五落实”；重大隐患挂牌督办。“/”表示不适用。"
GRADES = {severity: label.removesuffix("隐患") for severity, label in SEVERITY_LABELS.items()}  # 一般 / 重大


@register("school-ledger", TITLE, needs=("school",), narrow_by=("campaign",))
def school_ledger(query: ReportQuery) -> Report:
    """Every hazard of the school (of the campaign, when given) in its state at ``query.at`` as known at
    ``query.known_at``."""
    school = query.school
    assert school is not None  # guaranteed by ``needs``
    states = states_at(query.at, query.known_at).filter(school=school.id)
    if query.campaign is not None:
        states = states.filter(campaign=query.campaign.id)
    hazards = [(row.number, row.state) for row in states.order_by("number", "hazard").only("number", "state")]
    units = {str(unit): name for unit, name in unit_names(_all(hazards, "owner_unit")).items()}
    people = person_names(_all(hazards, "owner"))
    name_then = names_at([school.id], query.at, query.known_at)[school.id]  # the school's name at the moment
    campaign = f"　专项排查：{query.campaign.title}" if query.campaign else ""
    return Report(
        name="school-ledger",
        title=TITLE,
        subtitle=f"学校：{name_then}{campaign}　（截至{chinese_date(statistics_day(query.at))}）",
        at=query.at,
        known_at=query.known_at,
        caller=query.caller,
        tables=(
            Table(
                title="一、隐患清单",
                columns=HAZARD_COLUMNS,
                rows=numbered([_hazard_row(number, state) for number, state in hazards]),
                widths=(3, 6, 7, 6, 18, 8, 4, 6, 6),
            ),
            Table(
                title="二、责任清单",
                columns=DUTY_COLUMNS,
                rows=numbered([_duty_row(number, state, units, people) for number, state in hazards]),
                widths=(3, 6, 12, 8, 8, 5),
            ),
            Table(
                title="三、整改清单",
                columns=WORK_COLUMNS,
                rows=numbered([_work_row(number, state) for number, state in hazards]),
                notes=(NOTE,),
                widths=(3, 6, 13, 8, 10, 11, 8, 12),
            ),
        ),
        landscape=True,
        parameters={
            "school": str(school.id),
            "campaign": str(query.campaign.id) if query.campaign else None,
            "hazards": len(hazards),
        },
    )


def _hazard_row(number: str, state: dict[str, Any]) -> tuple[Cell, ...]:
    return (
        number,
        _day(state.get("discovered_at")),
        state.get("category") or None,
        state["description"],
        state.get("location") or None,
        GRADES[Severity(state["severity"])],
        _status(state),
        state.get("attachment_count", 0),  # the photos and documents its events recorded by then
    )


def _duty_row(number: str, state: dict[str, Any], units: dict[str, str], people: dict[str, str]) -> tuple[Cell, ...]:
    owner, unit = state.get("owner"), state.get("owner_unit")
    waiting = "待分派" if state["status"] == Status.REPORTED else None
    return (
        number,
        units.get(unit, unit) if unit else waiting,
        people.get(owner, owner) if owner else waiting,
        _day(state.get("deadline")) or waiting,
        cell(bool(state.get("supervised"))),
    )


def _work_row(number: str, state: dict[str, Any]) -> tuple[Cell, ...]:
    plan = state.get("plan") or {}
    missing = "未制定" if state["status"] in OPEN_STATUSES else None
    interim = "；".join(state.get("interim_measures") or ())
    return (
        number,
        plan.get("measures") or missing,
        plan.get("funds") or missing,
        plan.get("contingency") or missing,
        interim or None,
        "100%" if state["status"] in DONE_STATUSES else progress_text(state),
        _completion(state),
    )


def _status(state: dict[str, Any]) -> str:
    label = STATUS_LABELS[Status(state["status"])]
    return f"{label}（逾期）" if state.get("overdue") else label


def _completion(state: dict[str, Any]) -> str:
    """整改完成/销号情况: closed with its date, rectified awaiting 验收, or still open."""
    status = Status(state["status"])
    if status is Status.CLOSED:
        closed = _day(state.get("closed_at"))
        return f"已销号（{chinese_date(closed)}）" if closed else "已销号"
    if status is Status.RECTIFIED:
        return "已整改，待验收"
    return "未完成（已逾期）" if state.get("overdue") else "未完成"


def _day(iso: str | None) -> date | None:
    """An ISO date or moment from the state JSON as the business day it falls on (a date cell)."""
    if not iso:
        return None
    return business_date(datetime.fromisoformat(iso)) if "T" in iso else date.fromisoformat(iso)


def _all(hazards: list[tuple[str, dict[str, Any]]], key: str) -> set[str]:
    return {state[key] for _, state in hazards if state.get(key)}
