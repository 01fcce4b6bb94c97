"""The supervisor's and auditor's pages: 督办 board, 谁负责, 审计 (verify, 倒查追责, dossiers), 报表 and 报送.

Read-only but for 报送; each calls what the API's view calls (``api/hazards/ownership.py``, ``api/audit.py``,
``api/hazards/accountability.py``, ``api/reports/``), in the same scope; a refusal is a page in Chinese.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from rest_framework.exceptions import APIException, ValidationError

from api import twotimes
from api.audit import VERIFIERS, verify_log
from api.auth import actor_for
from api.common import validated
from api.errors import STATUS_BY_KIND
from api.hazards.accountability import findings_in_scope
from api.hazards.ownership import OwnershipFilter, open_hazards
from api.reports.submissions import SubmitInput, submit_report
from api.web import oversightdata as data
from api.web.page import visitor_label
from api.web.views import WebPage
from domain.errors import DomainError, NotPermitted
from domain.policy import BUREAU_ROLES, STATION_ROLES, Actor, Role
from domain.timerules import BUSINESS_TZ

SUPERVISORS = BUREAU_ROLES | STATION_ROLES | {Role.ADMIN}


class OversightPage(WebPage):
    """A page for some roles only (``roles``; None: every role); any refusal of the domain is a Chinese page."""

    roles: frozenset[Role] | None = None
    refusal = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except DomainError as error:
            return render(request, "web/refused.html", {"message": _text(error)}, status=STATUS_BY_KIND[error.kind])

    def actor(self, request: HttpRequest) -> Actor:
        actor = actor_for(request.user)
        if self.roles is not None and actor.role not in self.roles:
            raise NotPermitted(self.refusal)
        return actor

    def page(self, request: HttpRequest, template: str, actor: Actor, context: dict[str, Any]) -> HttpResponse:
        return render(request, f"web/oversight/{template}", {"visitor": visitor_label(actor), **context})


class Supervision(OversightPage):
    roles = SUPERVISORS
    refusal = "督办一览仅供教育局、市公安局和派出所使用"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor, now = self.actor(request), timezone.now()
        board = data.supervision_board(actor, now)
        return self.page(request, "supervision.html", actor, {"board": board, "now": now})


class Ownership(OversightPage):
    """谁负责: ``ownership/`` with the same parameters (``at``, ``known_at``, ``school``): every hazard open then."""

    def get(self, request: HttpRequest) -> HttpResponse:
        actor, now = self.actor(request), timezone.now()
        context: dict[str, Any] = {
            "schools": data.schools_in_scope(actor),
            "at": request.GET.get("at", ""),
            "known_at": request.GET.get("known_at", ""),
            "school": request.GET.get("school", ""),
        }
        try:
            times = data.page_times(request.GET, now)
        except DomainError as refused:
            return self.page(request, "ownership.html", actor, {**context, "error": _text(refused)})
        filtered = OwnershipFilter(data={"school": context["school"]}, queryset=open_hazards(actor, times))
        if not filtered.is_valid():
            return self.page(request, "ownership.html", actor, {**context, "error": "所选学校无效"})
        items = data.ownership_items(filtered.qs)
        shown = {"at": data.moment_label(times.at), "known_at": data.moment_label(times.known_at)}
        return self.page(request, "ownership.html", actor, {**context, "times": shown, "items": items})


class Audit(OversightPage):
    """审计: verify the log (``audit/verify/``), 倒查追责 findings (``accountability/``), dossier downloads."""

    roles = VERIFIERS
    refusal = "审计页面仅供审计/督导人员、教育局、市公安局和系统管理员使用"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor(request)
        return self.page(request, "audit.html", actor, self.context(actor))

    def post(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor(request)
        verified = data.verify_context(verify_log(actor))
        return self.page(request, "audit.html", actor, {**self.context(actor), "verified": verified})

    @staticmethod
    def context(actor: Actor) -> dict[str, Any]:
        now = timezone.now()
        found = findings_in_scope(actor, twotimes.TwoTimes(at=now, known_at=now))
        return {
            "findings": data.finding_items(found),
            "hazards": data.hazard_choices(actor),
            "accountability": [
                {"format": fmt.upper(), "url": data.report_url("accountability", {}, fmt)}
                for fmt in ("pdf", "xlsx", "json")
            ],
            "now": now,
        }


class Reports(OversightPage):
    """报表: each report's parameters, the API's PDF/XLSX/JSON links, 报送 and the receipts of every line."""

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor(request)
        return self.page(request, "reports.html", actor, self.context(request, actor, request.GET))

    def post(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor(request)
        asked = {k: v for k, v in request.POST.items() if k in SubmitInput().fields and v}
        try:
            row = submit_report(request, actor, validated(SubmitInput, asked))
        except DomainError as refused:
            return self._refused(request, actor, _text(refused), STATUS_BY_KIND[refused.kind])
        except ValidationError as refused:
            return self._refused(request, actor, f"报送参数无效：{_first(refused.detail)}", 400)
        except APIException as refused:  # rendering busy or timed out
            return self._refused(request, actor, str(refused.detail), refused.status_code)
        when = row.submitted_at.astimezone(BUSINESS_TZ)
        messages.success(request, f"已报送（{when:%Y-%m-%d %H:%M}），各报送线的回执见下方。")
        return redirect(f"{request.path}#submissions")

    def _refused(self, request: HttpRequest, actor: Actor, message: str, status: int) -> HttpResponse:
        context = self.context(request, actor, request.POST)
        response = self.page(request, "reports.html", actor, {**context, "submit_error": message})
        response.status_code = status
        return response

    @staticmethod
    def context(request: HttpRequest, actor: Actor, params: Any) -> dict[str, Any]:
        return {
            "cards": data.report_cards(actor, params, timezone.now()),
            "asked": params.get("report", ""),
            "can_submit": actor.role is not Role.AUDITOR,
            "submissions": data.submission_items(actor, request),
        }


def _text(error: DomainError) -> str:
    return error.message if error.detail == error.message else f"{error.message}：{error.detail}"


def _first(detail: Any) -> str:
    if isinstance(detail, dict):
        return "；".join(f"{k}：{_first(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return "；".join(_first(v) for v in detail)
    return str(detail)
