"""``/dashboard/`` 统计: the figures of ``statistics/`` by school, category and week, at any ``at`` as known at any
``known_at`` — the tables rendered here (no script needed), the charts drawn by ``static/web/dashboard.js`` from
the endpoint itself. Counted by ``api.statistics.statistics_for``, the endpoint's own function, in the caller's scope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from api.auth import actor_for
from api.errors import STATUS_BY_KIND
from api.statistics import DEFINITIONS, Statistics, statistics_for
from api.web.page import visitor_label
from api.web.views import WebPage
from domain.errors import DomainError, InvalidValue
from domain.timerules import BUSINESS_TZ
from projections import scope
from projections.campaigns import CampaignView
from projections.statistics import GROUP_LABELS, GROUPS, Figures

LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"  # <input type="datetime-local" step="1">: Beijing time, to the second
TIME_LABELS = {"at": "统计时点（业务时间）", "known_at": "按此时系统所知（记录时间）"}
DEFINITION_ORDER = ("found", "rectified", "rectification_rate", "open", "overdue", "overdue_rate", "major")
DEFINITION_ORDER += ("supervised", "known_at", "week")


def percent(rate: float | None) -> str:
    """A rate as the page shows it: one decimal, e.g. 40.0%; — when there is nothing to divide by."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def row(name: str, figures: Figures) -> dict[str, Any]:
    return {
        "name": name,
        "found": figures.found,
        "rectified": figures.rectified,
        "rectification_rate": percent(figures.rectification_rate),
        "open": figures.open,
        "overdue": figures.overdue,
        "overdue_rate": percent(figures.overdue_rate),
        "major": figures.major,
        "supervised": figures.supervised,
    }


def local_input(raw: str, name: str) -> str:
    """A picker's value (Beijing time, no offset) as the API's ISO 8601 with +08:00; an ISO value passes as is."""
    raw = raw.strip()
    if not raw:
        return ""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as error:
        raise InvalidValue(f"{TIME_LABELS[name]}不是有效的日期时间", field=name) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BUSINESS_TZ)
    return moment.isoformat()


def picker_value(moment: datetime) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime(LOCAL_FORMAT)


class Dashboard(WebPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        campaigns = [c for c in CampaignView.objects.order_by("-launched_at", "title") if scope.sees_campaign(actor, c)]
        asked = {"campaign": request.GET.get("campaign", "").strip()}
        context: dict[str, Any] = {
            "visitor": visitor_label(actor),
            "campaigns": [(str(c.id), c.title) for c in campaigns],
            "asked": asked,
            "at_value": request.GET.get("at", ""),
            "known_at_value": request.GET.get("known_at", ""),
            "definitions": [DEFINITIONS[key] for key in DEFINITION_ORDER],
        }
        try:
            asked["at"] = local_input(request.GET.get("at", ""), "at")
            asked["known_at"] = local_input(request.GET.get("known_at", ""), "known_at")
            found = {group: statistics_for(actor, {**asked, "group": group}) for group in GROUPS}
        except DomainError as error:
            context["error"] = error.detail
            return render(request, "web/dashboard/dashboard.html", context, status=STATUS_BY_KIND[error.kind])
        first: Statistics = found["school"]
        # The charts ask the endpoint for exactly the moments the tables show (the defaults resolved once, here).
        times = {"at": first.query.at.isoformat(), "known_at": first.query.known_at.isoformat()}
        query = {k: v for k, v in {"campaign": asked["campaign"], **times}.items() if v}
        context.update(
            {
                "at": first.query.at,
                "known_at": first.query.known_at,
                "at_value": picker_value(first.query.at),
                "known_at_value": picker_value(first.query.known_at),
                "campaign_title": first.query.campaign.title if first.query.campaign else "全部专项排查",
                "total": row("合计", first.total),
                "tables": [
                    {
                        "group": group,
                        "label": GROUP_LABELS[group],
                        "rows": [row(name, figures) for _, name, figures in found[group].groups],
                        "src": f"{reverse('statistics')}?{urlencode({**query, 'group': group})}",
                    }
                    for group in GROUPS
                ],
            }
        )
        return render(request, "web/dashboard/dashboard.html", context)
