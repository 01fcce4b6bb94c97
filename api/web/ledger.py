"""``/hazards/`` — the 台账: the hazards in the visitor's scope, with the filters of the API's ``hazards/`` list.

The scope is ``projections.scope`` and the filters are ``api.hazards.views.HazardFilter`` (the API's own filterset):
the page adds names, Chinese labels, pagination and the school ledger report's export links.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from api.auth import actor_for
from api.hazards.views import HazardFilter
from api.web.home import hazard_items
from api.web.views import WebPage
from domain.hazard.aggregate import SEVERITY_LABELS, STATUS_LABELS
from domain.policy import Actor
from domain.policy import UnitKind as Kind
from projections import directory, scope
from projections.campaigns import CampaignView
from projections.directory import UnitView
from projections.hazard.rows import HazardLedger

PER_PAGE = 20
FILTERS = ("status", "severity", "school", "campaign", "overdue", "supervised", "owner", "text")
SCHOOL_LEDGER = "/api/v1/reports/school-ledger/"  # reports.school_ledger: needs school=, narrowed by campaign=


def in_scope(actor: Actor) -> Any:
    """What the API's ``hazards/`` lists for the visitor, newest first."""
    return scope.filter_by_school(HazardLedger.objects.order_by("-discovered_at", "-id"), actor)


def schools(actor: Actor) -> list[UnitView]:
    return list(scope.filter_by_school(UnitView.objects.filter(kind=Kind.SCHOOL), actor, field="id").order_by("name"))


def campaigns(actor: Actor) -> list[CampaignView]:
    """The campaigns the API's ``campaigns/`` lists for the visitor."""
    return [c for c in CampaignView.objects.order_by("-launched_at") if scope.sees_campaign(actor, c)]


def owners(rows: Any) -> list[tuple[str, str]]:
    """(username, name) of everyone owning a hazard in the visitor's scope, by name."""
    usernames = set(rows.exclude(owner=None).values_list("owner", flat=True).distinct())
    names = directory.person_names(usernames)
    return sorted(((u, names.get(u, u)) for u in usernames), key=lambda pair: pair[1])


def exports(params: QueryDict, visible_schools: list[UnitView]) -> dict[str, str] | None:
    """The school ledger report (XLSX, PDF) of the school filtered on — or of the visitor's only school."""
    school = params.get("school") or (str(visible_schools[0].id) if len(visible_schools) == 1 else "")
    if school not in {str(s.id) for s in visible_schools}:
        return None
    query = {"school": school, **({"campaign": params["campaign"]} if _is_uuid(params.get("campaign")) else {})}
    return {fmt: f"{SCHOOL_LEDGER}?{urlencode({**query, 'format': fmt})}" for fmt in ("xlsx", "pdf")}


def _is_uuid(value: str | None) -> bool:
    try:
        UUID(value or "")
    except ValueError:
        return False
    return True


class LedgerPage(WebPage):
    def get(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        rows = in_scope(actor)
        params = QueryDict(mutable=True)
        for name in FILTERS:
            if request.GET.get(name, "").strip():
                params[name] = request.GET[name].strip()
        filters = HazardFilter(params, queryset=rows)
        valid = filters.is_valid()
        page = Paginator(filters.qs if valid else rows.none(), PER_PAGE).get_page(request.GET.get("page"))
        visible_schools = schools(actor)
        context = {
            "hazards": hazard_items(page.object_list),
            "page": page,
            "query": params.urlencode(),
            "chosen": params,
            "errors": [] if valid else [f"{_label(f)}：{'；'.join(e)}" for f, e in filters.errors.items()],
            "statuses": [(k.value, v) for k, v in STATUS_LABELS.items()],
            "severities": [(k.value, v) for k, v in SEVERITY_LABELS.items()],
            "schools": [(str(s.id), s.name) for s in visible_schools],
            "campaigns": [(str(c.id), c.title) for c in campaigns(actor)],
            "owners": owners(rows),
            "exports": exports(params, visible_schools),
        }
        return render(request, "web/ledger/ledger.html", context)


LABELS = {
    "status": "状态",
    "severity": "等级",
    "school": "学校",
    "campaign": "专项排查",
    "overdue": "逾期",
    "supervised": "挂牌督办",
    "owner": "整改责任人",
    "text": "关键字",
}


def _label(field: str) -> str:
    return LABELS.get(field, field)
