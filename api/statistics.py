"""``statistics/``: 发现数, 整改数, 整改率, 逾期数, 逾期率, 重大隐患 and 挂牌督办 in the caller's scope, in total and
by school, category or week, at ``at`` as known at ``known_at`` — counted by ``projections.statistics``, the same
definition as 苏州 附件1 and 常州 附件2, and with the same parameters and defaults as the reports."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import twotimes
from api.auth import actor_of
from api.common import CanonicalUUID, DeclaredQuery
from api.reports.query import build_query
from domain.errors import InvalidValue
from domain.policy import Actor
from projections import scope
from projections.directory import unit_names
from projections.statistics import GROUP_LABELS, GROUPS, Figures, Group, hazard_states, tally
from reports.registry import ReportQuery, ReportSpec

DEFINITIONS = {
    "found": "发现数：截至统计时点（at）已发现的隐患数（已作废的不计）",
    "rectified": "整改数：其中截至统计时点已整改（待验收）或已销号的隐患数",
    "rectification_rate": "整改率 = 整改数 ÷ 发现数",
    "open": "未整改数：其中统计时点仍未整改（已上报、整改中）的隐患数",
    "overdue": "逾期数：统计时点仍未整改且已错过整改时限的隐患数（时限未到的不算逾期；时限为当日24:00）",
    "overdue_rate": "逾期率 = 逾期数 ÷ 统计时点未整改的隐患数",
    "major": "重大隐患数：发现数中等级为重大隐患的数量",
    "supervised": "挂牌督办数：发现数中截至统计时点已被挂牌督办的数量",
    "known_at": "按记录时点（known_at）系统已记录的信息统计：事后补录的隐患，只有在其记录时间之后的记录时点才计入",
    "week": "按周分组时，按隐患的发现时间所在的周（周一至周日，北京时间）归组",
}


def _nothing(query: ReportQuery) -> Any:  # the statistics are no report: build_query only reads the parameters
    raise NotImplementedError


# The parameters and defaults of a campaign report (api.reports.query.build_query): the same campaign check and
# the same ``at`` (the campaign's statistics cutoff 24:00, or now if earlier; now without a campaign) and
# ``known_at`` (now), so the endpoint's figures and the reports' are for the same moment.
SPEC = ReportSpec("statistics", "统计", _nothing)


@dataclass(frozen=True)
class Statistics:
    """What ``statistics/`` answers (and the dashboard page shows): the query, the total and the groups."""

    query: ReportQuery
    group: Group
    total: Figures
    groups: list[tuple[Hashable, str, Figures]]  # (key, display name, figures), in display order


def statistics_for(actor: Actor, params: Mapping[str, Any]) -> Statistics:
    """The figures asked by ``params`` (``campaign``, ``at``, ``known_at``, ``group``) in ``actor``'s scope."""
    query = build_query(SPEC, params, actor)  # a campaign out of scope: 404 before any 400 of ``group``
    group = params.get("group") or "school"
    if group not in GROUPS:
        raise InvalidValue("group 只能是 school（按学校）、category（按类别）或 week（按周）", field="group")
    schools = scope.reported_schools(actor, query.unit)
    campaign = query.campaign.id if query.campaign else None
    found = tally(hazard_states(query.at, query.known_at, schools=schools.values("id"), campaign=campaign), group)
    return Statistics(query=query, group=group, total=found.total, groups=_named(group, found.groups, schools))


def _named(group: Group, figures: dict[Hashable, Figures], schools: Any) -> list[tuple[Hashable, str, Figures]]:
    if group == "school":  # every school in scope, none found included (as 常州 附件2 lists them)
        ids: list[UUID] = [s for s in schools.values_list("id", flat=True)]
        names = unit_names(ids)
        ordered = sorted(ids, key=lambda s: (names.get(s, ""), str(s)))
        return [(s, names.get(s, ""), figures.get(s, Figures())) for s in ordered]
    if group == "category":
        return [(key, str(key) or "（未分类）", figures[key]) for key in sorted(figures, key=str)]
    return [(key, week_label(key), figures[key]) for key in sorted(figures, key=str)]  # type: ignore[arg-type]


def week_label(monday: date) -> str:
    """The week as the tables name it: its Monday and its Sunday, e.g. 2026-11-02 至 11-08."""
    return f"{monday.isoformat()} 至 {monday + timedelta(days=6):%m-%d}"


def figures_json(figures: Figures) -> dict[str, Any]:
    return {
        "found": figures.found,
        "rectified": figures.rectified,
        "rectification_rate": figures.rectification_rate,
        "open": figures.open,
        "overdue": figures.overdue,
        "overdue_rate": figures.overdue_rate,
        "major": figures.major,
        "supervised": figures.supervised,
    }


def statistics_json(found: Statistics) -> dict[str, Any]:
    return {
        "at": found.query.at,
        "known_at": found.query.known_at,
        "campaign": str(found.query.campaign.id) if found.query.campaign else None,
        "campaign_title": found.query.campaign.title if found.query.campaign else None,
        "group": found.group,
        "group_label": GROUP_LABELS[found.group],
        "total": figures_json(found.total),
        "groups": [
            {"key": key.isoformat() if isinstance(key, date) else str(key), "name": name, **figures_json(figures)}
            for key, name, figures in found.groups
        ],
        "definitions": DEFINITIONS,
    }


class FiguresOutput(serializers.Serializer):  # type: ignore[type-arg]
    found = serializers.IntegerField(help_text="发现数")
    rectified = serializers.IntegerField(help_text="整改数")
    rectification_rate = serializers.FloatField(allow_null=True, help_text="整改率（0–1；发现数为0时为 null）")
    open = serializers.IntegerField(help_text="未整改数（统计时点）")
    overdue = serializers.IntegerField(help_text="逾期数")
    overdue_rate = serializers.FloatField(allow_null=True, help_text="逾期率（0–1；未整改数为0时为 null）")
    major = serializers.IntegerField(help_text="重大隐患数")
    supervised = serializers.IntegerField(help_text="挂牌督办数")


class GroupOutput(FiguresOutput):
    key = serializers.CharField(help_text="学校 id、类别名称或该周周一的日期")
    name = serializers.CharField(help_text="学校名称、类别名称或周（显示用）")


class StatisticsOutput(serializers.Serializer):  # type: ignore[type-arg]
    at = serializers.DateTimeField()
    known_at = serializers.DateTimeField()
    campaign = CanonicalUUID(allow_null=True)
    campaign_title = serializers.CharField(allow_null=True)
    group = serializers.ChoiceField(choices=GROUPS)
    group_label = serializers.CharField()
    total = FiguresOutput()
    groups = GroupOutput(many=True)
    definitions = serializers.DictField(child=serializers.CharField(), help_text="各项指标的口径")


class StatisticsView(DeclaredQuery, APIView):
    @extend_schema(
        summary="统计：发现数、整改数、整改率、逾期数、逾期率、重大隐患、挂牌督办（按学校、类别或周）",
        parameters=[
            OpenApiParameter("campaign", str, description="专项排查 id（可选；不给则统计全部专项排查）"),
            OpenApiParameter(
                "group", str, enum=list(GROUPS), description="分组：school 按学校（默认）、category 按类别、week 按周"
            ),
            *twotimes.parameters(None, twotimes.AT_CUTOFF + "（无专项排查时默认现在）"),
        ],
        responses=StatisticsOutput,
    )
    def get(self, request: Request) -> Response:
        return Response(statistics_json(statistics_for(actor_of(request), request.query_params)))
