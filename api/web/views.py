"""The joint form pages: the table for each party to fill, sign and submit, its list, and its PDF.

Every action goes through the same application methods as the API; a refusal is shown on the page and
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import content_disposition_header
from django.views import View
from rest_framework.exceptions import APIException

from api import renderpool
from api.auth import UserInactive, actor_for
from api.errors import STATUS_BY_KIND
from api.jointforms.service import cutoff_counts, form_query, submit_form, visible_form
from api.reports.submissions import receipts
from api.reports.views import JOINT_FORM_REPORT, report_file
from api.services import execute
from api.web.forms import changes_from_post, posted_version
from api.web.page import STATUS_LABELS, page_context, party_for, unit_names
from domain.application import SafetyApplication
from domain.errors import DomainError, InvalidValue, JointFormNotFound, OutOfScope
from domain.jointform.aggregate import party_of
from domain.jointform.fields import TITLE
from domain.policy import Actor
from projections import scope
from projections.campaigns import CampaignView
from projections.directory import UnitView
from projections.jointforms import JointFormView
from projections.submissions import SubmissionView
from reports.registry import load_all

Command = Callable[[SafetyApplication], Any]
DONE = {
    "save": "已保存本方填写内容。",
    "sign": "已签字。",
    "submit": "已报送：教育副本报教育部门，公安副本报公安机关。",
}


class WebPage(LoginRequiredMixin, View):
    """Session login required; a visitor without a role now, or outside the form's scope, gets a Chinese page."""

    login_url = reverse_lazy("web:login")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]
        except UserInactive as error:
            return render(request, "web/refused.html", {"message": str(error.detail)}, status=403)
        except JointFormNotFound as error:
            return render(request, "web/refused.html", {"message": error.detail}, status=404)


class JointFormList(WebPage):
    """Every form the visitor may see, with its campaign and status; for school and station users also each
    (campaign, school) of theirs without a form yet, with a 新建 button (``joint-forms/`` POST's command)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        return render(request, "web/joint_form_list.html", list_context(actor))

    def post(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        try:
            campaign = _posted_uuid(request.POST.get("campaign", ""), "campaign")
            school = _posted_uuid(request.POST.get("school", ""), "school")
            if not scope.can_see_school(actor, school):
                raise OutOfScope(school=str(school))
            form = execute(lambda app: app.open_joint_form(actor=actor, campaign=campaign, school=school))
        except DomainError as error:
            context = list_context(actor, error=error)
            return render(request, "web/joint_form_list.html", context, status=STATUS_BY_KIND[error.kind])
        messages.success(request, "已新建报表，请填写本方栏目。")
        return redirect("web:joint-form", pk=form.id)


def _posted_uuid(value: str, name: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidValue("请选择专项排查和学校", field=name) from None


def list_context(actor: Actor, *, error: DomainError | None = None) -> dict[str, Any]:
    forms = list(scope.filter_by_school(JointFormView.objects.order_by("-updated_at"), actor))
    campaigns = [c for c in CampaignView.objects.order_by("-launched_at") if scope.sees_campaign(actor, c)]
    titles = {c.id: c.title for c in campaigns} | dict(
        CampaignView.objects.filter(id__in={f.campaign for f in forms}).values_list("id", "title")
    )
    opened = {(f.campaign, f.school) for f in forms}
    unopened = [
        (campaign, school)
        for campaign in campaigns
        for school in scope.campaign_schools(campaign, scope.units(actor))
        if (campaign.id, school.id) not in opened and _may_open(actor, school)
    ]
    names = unit_names(*{f.school for f in forms} | {f.station for f in forms})
    items = [
        {
            "id": f.id,
            "campaign": titles.get(f.campaign, ""),
            "school": names.get(f.school, ""),
            "station": names.get(f.station, ""),
            "status": STATUS_LABELS.get(f.status, f.status),
            "updated_at": f.updated_at,
        }
        for f in forms
    ]
    station_names = unit_names(*{s.police_station for _, s in unopened if s.police_station})
    new = [
        {
            "campaign_id": c.id,
            "campaign": c.title,
            "school_id": s.id,
            "school": s.name,
            "station": station_names.get(s.police_station, "") if s.police_station else "",
        }
        for c, s in unopened
    ]
    return {"forms": items, "new": new, "title": TITLE, "error": _refusal(error)}


def _may_open(actor: Actor, school: UnitView) -> bool:
    """Whether the visitor is a party of this school's form (the domain's rule: its staff, its station's police)."""
    try:
        party_of(actor, school.id, school.police_station)
    except DomainError:
        return False
    return True


def _refusal(error: DomainError | None) -> str:
    if error is None:
        return ""
    return error.message if error.detail == error.message else f"{error.message}：{error.detail}"


class JointFormPage(WebPage):
    def get(self, request: HttpRequest, pk: UUID) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        row = visible_form(actor, pk)
        context = page_context(row, actor)
        submission = SubmissionView.objects.filter(id=row.submission).first() if row.submission else None
        context["receipts"] = receipts(submission, actor, request) if submission else []
        return render(request, "web/joint_form.html", context)

    def post(self, request: HttpRequest, pk: UUID) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        row = visible_form(actor, pk)
        action = request.POST.get("action", "")
        try:
            if action == "submit":
                submit_form(request, row, actor)
                messages.success(request, DONE[action])
                return redirect(request.path)
            command = self.command(action, request.POST, row, actor)
            if command is None:
                messages.info(request, "没有修改任何栏目。")
                return redirect(request.path)
            execute(command)
        except DomainError as error:
            context = page_context(JointFormView.objects.get(id=row.id), actor, posted=request.POST, error=error)
            return render(request, "web/joint_form.html", context, status=STATUS_BY_KIND[error.kind])
        messages.success(request, DONE[action])
        return redirect(request.path)

    @staticmethod
    def command(action: str, post: QueryDict, row: JointFormView, actor: Actor) -> Command | None:
        if action == "save":
            current = {**row.fields, **row.police_only}
            changes = changes_from_post(post, current, party_for(actor, row))
            version = posted_version(post)
            if not changes:
                return None
            return lambda app: app.update_joint_form(row.id, actor=actor, changes=changes, expected_version=version)
        if action == "sign":
            signed, counts = post.get("content_hash", ""), cutoff_counts(row.campaign, row.school)
            return lambda app: app.sign_joint_form(row.id, actor=actor, content_hash=signed, counts=counts)
        raise InvalidValue("未知的操作", field="action")


class JointFormPdf(WebPage):
    """The education copy as A4 PDF, never with police-only content, as ``changzhou-school-form`` gives it (the
    one code path that renders the form): once submitted, the bytes that were sent."""

    def get(self, request: HttpRequest, pk: UUID) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        row = visible_form(actor, pk)
        try:
            _, content = report_file(request, load_all()[JOINT_FORM_REPORT], form_query(row, actor), "pdf")
        except APIException as refused:  # busy, timed out, or nobody waiting: a page, as for every refusal here
            response = render(request, "web/refused.html", {"message": refused.detail}, status=refused.status_code)
            if isinstance(refused, renderpool.TooManyRenders):
                response["Retry-After"] = str(renderpool.RETRY_AFTER_SECONDS)
            return response
        response = HttpResponse(content, content_type="application/pdf")
        filename = f"{TITLE}-{unit_names(row.school).get(row.school, '')}.pdf"
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response
