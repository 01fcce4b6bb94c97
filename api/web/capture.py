"""隐患登记 (``/hazards/new/``): a hazard recorded from a phone, with photos straight from its camera.

Each photo is stored as ``POST attachments/`` stores it, then the hazard is discovered with them through the same
service and input serializer as ``POST hazards/``; a refusal (a rule, an invalid input, a file that is no photo)
is shown next to the form and records nothing — the uploads roll back with the refused command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework import serializers

from api.attachments import MEDIA_HELP, clean_filename
from api.auth import actor_for
from api.common import canonical_uuid, validated
from api.errors import STATUS_BY_KIND
from api.hazards import serializers as s
from api.middleware import attachment_limit_detail
from api.services import attached, execute
from api.web.page import visitor_label
from api.web.views import WebPage
from domain.attachments import MAX_PER_EVENT
from domain.errors import DomainError, InvalidValue, OutOfScope
from domain.hazard.aggregate import DISCOVER, SEVERITY_LABELS, Severity
from domain.policy import Actor, UnitKind
from projections import directory, scope
from projections.attachmentmedia import MAX_PIXELS, Processed, TooManyPixels, UnsupportedMedia, process
from projections.attachments import store_upload
from projections.campaigns import CampaignView
from projections.directory import UnitView

PHOTOS = "photos"  # the name of every form's file input
FIELD_LABELS = {
    "campaign": "专项排查",
    "school": "学校",
    "item": "检查项目",
    "category": "隐患类别",
    "description": "问题表现",
    "severity": "隐患等级",
    "location": "具体位置",
    "rectified_on_spot": "立行立改",
    "attachments": "照片",
    "non_field_errors": "",
}


@dataclass(frozen=True)
class Photo:
    processed: Processed
    filename: str


class Refused(Exception):
    """A form's input refused before any command ran: the Chinese text to show next to the form."""

    def __init__(self, text: str, field: str = "", status: int = 400) -> None:
        super().__init__(text)
        self.text, self.field, self.status = text, field, status


def refusal(error: DomainError) -> Refused:
    text = error.message if error.detail == error.message else f"{error.message}：{error.detail}"
    return Refused(text, str(error.context.get("field", "")), STATUS_BY_KIND[error.kind])


def invalid_input(error: serializers.ValidationError, labels: Mapping[str, str]) -> Refused:
    """A serializer's refusal (DRF's messages are Chinese under LANGUAGE_CODE zh-hans), each with its field's label."""
    detail = error.detail if isinstance(error.detail, dict) else {"non_field_errors": error.detail}
    parts = []
    for field, messages in detail.items():
        texts = messages if isinstance(messages, list) else [messages]
        flat = "；".join(str(m) if not isinstance(m, dict | list) else "内容无效" for m in texts)
        label = labels.get(field, field)
        parts.append(f"{label}：{flat}" if label else flat)
    return Refused("输入有误——" + "；".join(parts), next(iter(detail), ""))


def read_photos(files: Sequence[UploadedFile]) -> list[Photo]:
    """Every uploaded file checked as ``POST attachments/`` checks it (size, kind by content, pixels) before anything
    is stored: one bad file refuses the whole form."""
    if len(files) > MAX_PER_EVENT:
        raise Refused(f"照片过多：一次最多{MAX_PER_EVENT}张", PHOTOS, 413)
    photos = []
    for upload in files:
        name = upload.name or ""
        if (upload.size or 0) > settings.ATTACHMENT_MAX_BYTES:
            raise Refused(f"{name}：{attachment_limit_detail()}", PHOTOS, 413)
        try:
            processed = process(upload.read())
        except UnsupportedMedia:
            raise Refused(f"{name}：不支持的文件类型，仅接受{MEDIA_HELP}", PHOTOS, 415) from None
        except TooManyPixels:
            raise Refused(f"{name}：图片像素过多（上限{MAX_PIXELS}像素）", PHOTOS, 413) from None
        photos.append(Photo(processed, clean_filename(name, processed.extension)))
    return photos


def store_photos(photos: Iterable[Photo], actor: Actor) -> list[UUID]:
    """The photos stored as uploads of ``actor`` (call inside the command's transaction: refused, they roll back)."""
    return [store_upload(p.processed, uploaded_by=actor.username, filename=p.filename, caption="").id for p in photos]


def visible_campaigns(actor: Actor) -> list[CampaignView]:
    return [c for c in CampaignView.objects.order_by("-launched_at") if scope.sees_campaign(actor, c)]


def schools_for(actor: Actor, campaign: CampaignView | None) -> list[UnitView]:
    """The schools the actor may record a hazard of: those in their scope the campaign covers."""
    if campaign is None:
        return []
    visible = scope.filter_by_school(UnitView.objects.filter(kind=UnitKind.SCHOOL), actor, field="id")
    return scope.campaign_schools(campaign, visible)


def checklist_groups(campaign: CampaignView | None) -> list[dict[str, Any]]:
    """The campaign's checklist by category, in its order."""
    groups: dict[str, list[dict[str, str]]] = {}
    for item in campaign.checklist if campaign else []:
        groups.setdefault(item.get("category", ""), []).append(item)
    return [{"category": category, "items": items} for category, items in groups.items()]


class HazardNew(WebPage):
    template = "web/capture/new.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        try:
            DISCOVER.check(actor)
        except DomainError as error:
            return render(request, "web/refused.html", {"message": refusal(error).text}, status=403)
        return render(request, self.template, self.context(actor, request.GET.get("campaign", ""), {}))

    def post(self, request: HttpRequest) -> HttpResponse:
        actor = actor_for(request.user)  # type: ignore[arg-type]
        posted = request.POST
        try:
            hazard = self.record(actor, posted, request.FILES.getlist(PHOTOS))
        except Refused as refused:
            context = self.context(actor, posted.get("campaign", ""), posted, refused)
            return render(request, self.template, context, status=refused.status)
        return redirect(f"/hazards/{hazard}/")

    @staticmethod
    def record(actor: Actor, posted: Mapping[str, Any], files: Sequence[UploadedFile]) -> UUID:
        """The API's checks in the API's order: who may (DISCOVER), the input, the school in scope; then the photos,
        stored and attached in the command's transaction."""
        try:
            DISCOVER.check(actor)
            data = validated(s.DiscoverInput, discover_input(posted))
            if not scope.can_see_school(actor, data["school"]):
                raise OutOfScope("只能登记本人管辖范围内学校的隐患", field="school")
        except serializers.ValidationError as error:
            raise invalid_input(error, FIELD_LABELS) from None
        except DomainError as error:
            raise refusal(error) from None
        photos = read_photos(files)
        severity = Severity(data.pop("severity"))
        code = directory.code_of(data["school"])
        try:
            with transaction.atomic():
                data["attachments"] = store_photos(photos, actor)
                hazard = execute(
                    lambda app: app.discover_hazard(actor=actor, severity=severity, code=code, **attached(actor, data))
                )
        except DomainError as error:
            raise refusal(error) from None
        return hazard.id

    @staticmethod
    def context(
        actor: Actor, campaign_id: str, posted: Mapping[str, Any], refused: Refused | None = None
    ) -> dict[str, Any]:
        campaigns = visible_campaigns(actor)
        wanted = canonical_uuid(campaign_id)
        campaign = next((c for c in campaigns if c.id == wanted), campaigns[0] if campaigns else None)
        schools = schools_for(actor, campaign)
        own_school = actor.unit if any(school.id == actor.unit for school in schools) else None
        return {
            "visitor": visitor_label(actor),
            "campaigns": [{"id": str(c.id), "title": c.title} for c in campaigns],
            "campaign": str(campaign.id) if campaign else "",
            "school_fixed": own_school is not None,
            "schools": [{"id": str(u.id), "name": u.name} for u in schools],
            "groups": checklist_groups(campaign),
            "categories": list(dict.fromkeys(i.get("category", "") for i in (campaign.checklist if campaign else []))),
            "severities": [(v.value, SEVERITY_LABELS[v]) for v in Severity],
            "posted": {key: posted.get(key, "") for key in FIELD_LABELS} | {"school": posted.get("school", "")},
            "error": refused,
            "max_photos": MAX_PER_EVENT,
        }


def discover_input(posted: Mapping[str, Any]) -> dict[str, Any]:
    """The posted form as ``DiscoverInput``'s body: its own field names; the 立行立改 box checked or not."""
    data = {key: posted.get(key, "") for key in ("campaign", "school", "item", "category", "description", "location")}
    data["severity"] = posted.get("severity", "")
    data["rectified_on_spot"] = posted.get("rectified_on_spot", "") == "true"
    if not data["campaign"]:
        raise InvalidValue("请选择专项排查", field="campaign")
    if not data["school"]:
        raise InvalidValue("请选择学校", field="school")
    return data
