"""The hazard page ``/hazards/<id>/``: its state, 五落实 plan, photos, timeline (every event with both times and
its chain hash), the actions the visitor may take now — and time travel.

Time travel takes the API's parameters and semantics (``hazards/{id}/?at=&known_at=&version=``, ``history/``):
the state is ``projections.hazard.queries.state_as_of`` (``at`` left out: every state recorded, whatever its business
time), the timeline the events recorded by ``known_at`` (and, as the 隐患档案 lists them, occurred by ``at``; up to
``version``). Scope is the API's (``projections.scope.filter_by_school``): outside it the hazard does not exist (404).
"""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from eventsourcing.domain import Aggregate
from rest_framework import serializers

from api import twotimes
from api.attachments import refs_json
from api.auth import actor_for
from api.common import query_param
from api.errors import STATUS_BY_KIND
from api.web.hazard_actions import action_forms
from api.web.page import visitor_label
from api.web.views import WebPage
from domain.attachments import attachments_of
from domain.errors import DomainError, HazardNotFound
from domain.eventinfo import event_data, event_type
from domain.hazard.aggregate import SEVERITY_LABELS, STATUS_LABELS
from domain.policy import Actor
from domain.timerules import BUSINESS_TZ
from projections import integrity, scope
from projections.campaigns import CampaignView
from projections.eventstore import get_application
from projections.hazard import queries
from projections.hazard.rows import STATE_FIELDS, HazardLedger
from reports.accountability import Names
from reports.base import chinese_date, clock
from reports.dossier import AFTER_EVENTS, BEFORE_EVENTS, CHAIN_PREFIX, EVENT_NAMES
from reports.dossier import _content as event_content

SYSTEM_NAME = "系统（自动记录）"
LATE_AFTER_SECONDS = 24 * 3600  # recorded more than a day after it happened: marked 补录 on the timeline
TRAVEL_FIELDS = ("at", "known_at", "version")
VERSION = serializers.IntegerField(min_value=1, max_value=2**31)


class TimeTravel:
    """What the visitor asked for: ``at`` / ``known_at`` / ``version`` (None when absent), parsed as the API does."""

    def __init__(self, params: QueryDict) -> None:
        self.raw = {name: params.get(name, "") for name in TRAVEL_FIELDS}
        self.version: int | None = query_param(SimpleNamespace(query_params=params), "version", VERSION)
        asked = twotimes.parse(params)
        self.active = self.version is not None or any(asked.values())
        times = twotimes.resolve(**asked, as_of_means="known_at")
        self.at: datetime | None = times.at if asked["at"] is not None else None
        self.known_at: datetime | None = times.known_at if self.active else None
        self.known_at_asked = asked["known_at"] is not None or asked["as_of"] is not None

    def banner(self) -> str:
        """正在查看 … 时的状态（截至 … 已记录的信息）."""
        parts = []
        if self.at is not None:
            parts.append(f"{clock(self.at, seconds=True)}（北京时间）")
        if self.version is not None:
            parts.append(f"第 {self.version} 版")
        seen = "、".join(parts) or "全部已记录业务时间"
        assert self.known_at is not None
        known = (
            f"截至 {clock(self.known_at, seconds=True)} 已记录的信息" if self.known_at_asked else "截至现在已记录的信息"
        )
        return f"正在查看 {seen} 时的状态（{known}）"

    def shows(self, event: Aggregate.Event) -> bool:
        """Whether the event belongs to the page as asked: recorded by ``known_at``, occurred by ``at``, up to
        ``version`` (the 隐患档案's rule for ``at`` and ``known_at``)."""
        if self.known_at is not None and event.timestamp > self.known_at:
            return False
        if self.at is not None and event.occurred_at > self.at:  # type: ignore[attr-defined]
            return False
        return self.version is None or event.originator_version <= self.version


class PageNames(Names):
    """Names as the page shows them: a person by name alone (the 档案's 姓名（用户名） is for paper)."""

    def person(self, username: str | None) -> str:
        if username == "system":
            return SYSTEM_NAME
        return (self.person_name(username) or username or "") if username else ""


def local_input(moment: datetime | None) -> str:
    """A moment as an ``<input type=datetime-local>`` value in Beijing time."""
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M:%S") if moment else ""


class HazardPage(WebPage):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except HazardNotFound as error:  # missing or out of scope alike: nothing tells one from the other
            visitor = visitor_label(actor_for(request.user))  # type: ignore[arg-type]
            context = {"message": error.detail, "visitor": visitor}
            return render(request, "web/hazard/missing.html", context, status=404)

    def get(self, request: HttpRequest, pk: UUID) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        row = scope.filter_by_school(HazardLedger.objects.filter(id=pk), actor).first()
        if row is None:
            raise HazardNotFound(id=str(pk))
        try:
            travel = TimeTravel(request.GET)
        except DomainError as error:  # a malformed or future time: the page as it is now, the refusal by the form
            context = hazard_context(request, actor, row, TimeTravel(QueryDict()))
            context["travel_error"] = error.detail
            context["travel_values"] = {name: request.GET.get(name, "") for name in TRAVEL_FIELDS}
            return render(request, "web/hazard/page.html", context, status=STATUS_BY_KIND[error.kind])
        if travel.active:
            assert travel.known_at is not None
            past = queries.state_as_of(row.id, version=travel.version, at=travel.at, known_at=travel.known_at)
            if past is None:
                context = base_context(request, actor, row, travel)
                context["travel_error"] = "该时间点尚无此隐患的记录"
                return render(request, "web/hazard/page.html", context, status=404)
            return render(request, "web/hazard/page.html", hazard_context(request, actor, row, travel, past.state))
        return render(request, "web/hazard/page.html", hazard_context(request, actor, row, travel))


def base_context(request: HttpRequest, actor: Actor, row: HazardLedger, travel: TimeTravel) -> dict[str, Any]:
    return {
        "hazard_id": row.id,
        "number": row.number,
        "visitor": visitor_label(actor),
        "travel": travel,
        "banner": travel.banner() if travel.active else "",
        "travel_values": {
            "at": local_input(travel.at),
            "known_at": local_input(travel.known_at) if travel.known_at_asked else "",
            "version": travel.version or "",
        },
        "travel_error": "",
        "now_url": request.path,
    }


def hazard_context(
    request: HttpRequest, actor: Actor, row: HazardLedger, travel: TimeTravel, past: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The page: the state (now: the ledger row, as ``hazards/{id}/`` gives it; in the past: the recorded state),
    and the timeline of the events the state was made of."""
    names = PageNames()
    state = dict(past) if past is not None else {f: getattr(row, f) for f in STATE_FIELDS}
    events = [e for e in get_application().hazard_events(row.id) if travel.shows(e)]
    timeline = timeline_items(request, row.id, events, names)
    context = base_context(request, actor, row, travel)
    context.update(
        state=shown_state(state, names),
        plan=shown_plan(state, names),
        escalations=[i for i in timeline if i["type"] == "escalated"],
        supervisions=[i for i in timeline if i["type"] == "supervised"],
        before=[a for i in timeline if i["type"] in BEFORE_EVENTS for a in i["attachments"]],
        after=[a for i in timeline if i["type"] in AFTER_EVENTS for a in i["attachments"]],
        timeline=timeline,
        actions=[] if travel.active else action_forms(request, row.id),
    )
    return context


def timeline_items(
    request: HttpRequest, hazard: UUID, events: list[Aggregate.Event], names: PageNames
) -> list[dict[str, Any]]:
    """Every event as ``hazards/{id}/history/`` gives it, for a reader: label, both times, actor's name, details,
    attachments, chain hash."""
    hashes = integrity.hashes_of(hazard)
    listed = refs_json([attachments_of(e) for e in events], request)
    items = []
    for event, attachments in zip(events, listed, strict=True):
        kind, envelope = event_type(event), vars(event)
        occurred, recorded = envelope["occurred_at"], event.timestamp
        chain = hashes.get(event.originator_version)
        items.append(
            {
                "version": event.originator_version,
                "type": kind,
                "label": EVENT_NAMES.get(kind, kind),
                "occurred_at": clock(occurred, seconds=True),
                "recorded_at": clock(recorded, seconds=True),
                "late": (recorded - occurred).total_seconds() > LATE_AFTER_SECONDS,
                "actor": names.person(envelope["actor"]),
                "details": event_content(kind, event_data(event), names),
                "attachments": [_attachment(a, kind, occurred) for a in attachments],
                "hash": chain[:CHAIN_PREFIX] if chain else "",
                "full_hash": chain or "",
            }
        )
    return items


def _attachment(ref: dict[str, Any], kind: str, occurred: datetime) -> dict[str, Any]:
    return {
        "url": ref["url"],
        "thumbnail_url": ref["thumbnail_url"],
        "name": ref["caption"] or ref["filename"] or "附件",
        "label": f"{EVENT_NAMES.get(kind, kind)}　{clock(occurred)}",
    }


def shown_state(state: dict[str, Any], names: PageNames) -> dict[str, Any]:
    campaign = CampaignView.objects.filter(id=state["campaign"]).first()
    item = next((i for i in (campaign.checklist if campaign else []) if i.get("code") == state["item"]), None)
    return {
        "number": state["number"],
        "description": state["description"],
        "school": names.unit_name(state["school"]) or "",
        "campaign": campaign.title if campaign else "",
        "category": state["category"],
        "item": f"{state['item']} {item['title']}" if item else state["item"],
        "severity": SEVERITY_LABELS.get(state["severity"], state["severity"]),
        "major": state["severity"] == "major",
        "location": state["location"],
        "status": STATUS_LABELS.get(state["status"], state["status"]),
        "owner": names.person(state["owner"]),
        "owner_unit": names.unit_name(state["owner_unit"]) or "",
        "deadline": _day(state["deadline"]),
        "standard": state["standard"],
        "overdue": state["overdue"],
        "escalated": state["escalated"],
        "supervised": state["supervised"],
        "beyond_capacity": state["beyond_capacity"],
        "interim_measures": list(state["interim_measures"] or []),
        "progress": state["progress"],
        "progress_note": state["progress_note"],
        "discovered_at": _moment(state["discovered_at"]),
        "closed_at": _moment(state["closed_at"]),
        "voided": state.get("voided", False),
        "void_reason": state.get("void_reason", ""),
        "version": state["version"],
    }


def shown_plan(state: dict[str, Any], names: PageNames) -> dict[str, Any] | None:
    """五落实: 责任 (the owner and their unit), 措施, 资金, 时限, 预案."""
    plan = state["plan"]
    if not plan:
        return None
    return {
        "responsible": "，".join(
            part for part in (names.person(state["owner"]), names.unit_name(state["owner_unit"])) if part
        ),
        "measures": plan.get("measures", ""),
        "funds": plan.get("funds", ""),
        "deadline": _day(plan.get("deadline")),
        "contingency": plan.get("contingency", ""),
    }


def _day(value: str | date | None) -> str:
    if not value:
        return ""
    return chinese_date(value if isinstance(value, date) else date.fromisoformat(value))


def _moment(value: str | datetime | None) -> str:
    if not value:
        return ""
    return clock(value if isinstance(value, datetime) else datetime.fromisoformat(value))
